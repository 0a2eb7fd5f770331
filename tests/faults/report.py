"""Counts of the fault and fuzz suite (requests sent, operations, routes × roles, records lost…).

Each test records what it did with `record`; the counts are appended as JSON lines to one file
(xdist workers included) and printed in a table at the end of the run (tests/faults/conftest.py),
so a CI log shows what the suite covered, not only that it passed.
"""

import json
import os
from pathlib import Path

REPORT = Path(os.environ.get("KPI_FAULT_REPORT", Path(__file__).resolve().parents[2] / "var" / "fault-report.jsonl"))


def record(suite: str, **counts: int | float | str) -> None:
    """Add one line of counts for this suite (e.g. record("schemathesis", operations=45, requests=3000))."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"suite": suite, **counts}) + "\n")


def read() -> list[dict]:
    if not REPORT.exists():
        return []
    return [json.loads(line) for line in REPORT.read_text(encoding="utf-8").splitlines() if line.strip()]


def reset() -> None:
    REPORT.unlink(missing_ok=True)
