"""The fault and fuzz suite: every test here is marked `fault` and prints its counts at the end of the run."""

import pytest

from tests.faults import report


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.fault)


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        report.reset()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    lines = report.read()
    if not lines:
        return
    terminalreporter.section("fault and fuzz suite: counts")
    for line in lines:
        suite = line.pop("suite")
        terminalreporter.write_line(f"{suite}: " + ", ".join(f"{key}={value}" for key, value in line.items()))
