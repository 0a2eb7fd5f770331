"""scripts/run-all.sh (what `make run` starts) keeps the web server, the worker and beat running: a child that
dies is started again after a short, growing delay, and one Ctrl-C still stops everything.

The script runs with stand-in commands (KPI_RUN_WEB, KPI_RUN_WORKER, KPI_RUN_BEAT) that write their process id
to a file when they start: a "worker" that crashes half a second after each start, a web server and a beat that
stay up.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run-all.sh"


def started(folder: Path, name: str) -> list[int]:
    """Process ids of the stand-in `name`, one per start."""
    path = folder / f"{name}.pids"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def run_all(tmp_path):
    def stand_in(name: str, then: str) -> str:
        return f"sh -c 'echo $$ >> {tmp_path}/{name}.pids; {then}'"

    env = {
        **os.environ,
        "KPI_RUN_WORKER": stand_in("worker", "sleep 0.5; exit 3"),
        "KPI_RUN_BEAT": stand_in("beat", "exec sleep 60"),
        "KPI_RUN_WEB": stand_in("web", "exec sleep 60"),
        "KPI_RESTART_DELAY": "1",
    }
    # A session of its own, as a terminal gives (Ctrl-C signals the whole foreground process group), and Ctrl-C
    # heard, whether or not this test runs in the background (where SIGINT is ignored, and stays so after exec).
    proc = subprocess.Popen(
        ["bash", str(SCRIPT)], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    yield proc, tmp_path
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_child_that_dies_is_restarted_with_a_growing_delay_and_ctrl_c_stops_everything(run_all):
    proc, folder = run_all
    # given the three started
    assert wait_until(lambda: started(folder, "web") and started(folder, "beat") and started(folder, "worker"), 10)
    # when the worker dies after each start, then it is started again: at about 0, 1.5 and 4 s (delays of 1, 2 s)
    assert wait_until(lambda: len(started(folder, "worker")) >= 3, 15), started(folder, "worker")
    # and the others stay up, started once
    assert len(started(folder, "web")) == len(started(folder, "beat")) == 1
    web, beat = started(folder, "web")[0], started(folder, "beat")[0]
    assert alive(web) and alive(beat)

    # when Ctrl-C is pressed
    os.killpg(proc.pid, signal.SIGINT)
    # then the script ends and takes every child with it
    proc.wait(timeout=10)
    assert wait_until(lambda: not alive(web) and not alive(beat), 5)
    assert all(not alive(pid) for pid in started(folder, "worker"))
    log = proc.stderr.read()
    assert re.search(r"run-all: worker exited \(status 3\) after \d s; restarting it in 1 s\.", log), log
    assert re.search(r"run-all: worker exited \(status 3\) after \d s; restarting it in 2 s\.", log), log
    assert "web exited" not in log and "beat exited" not in log
