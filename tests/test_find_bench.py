"""The find benchmark runs at a small size so it cannot rot (figures are not asserted; the
lookups' results are: a wrong one fails the run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import find


def test_the_find_bench_runs_small_and_finds_the_right_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert find.main(["--rows", "2000", "--lookups", "20", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "## find (2,000 grievances" in out and "wrong results: 0" in out
    for key in ("--number", "--ref", "--plate", "--phone", "duplicate hint", "full scan"):
        assert key in out
    assert find.phone_of(5, 10) == find.phone_of(3, 10) != find.phone_of(6, 10)
