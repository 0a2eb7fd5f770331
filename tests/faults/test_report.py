"""The suite's own bookkeeping: counts recorded by a test are read back for the end-of-run table."""

from tests.faults import report


def test_recorded_counts_are_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "REPORT", tmp_path / "counts.jsonl")
    report.record("example", requests=3, server_errors=0)
    report.record("example", requests=2, server_errors=0)
    assert report.read() == [
        {"suite": "example", "requests": 3, "server_errors": 0},
        {"suite": "example", "requests": 2, "server_errors": 0},
    ]
