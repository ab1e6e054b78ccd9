"""The SLA board benchmark runs at a small size so it cannot rot (figures are not asserted;
the board's count is: the desk's board must count every running timer, or the run fails)."""

from __future__ import annotations

import pytest

from bench import sla_board


def test_the_board_bench_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert sla_board.main(["--grievances", "300", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "| grievances | running timers |" in out and "| 300 | 600 |" in out
