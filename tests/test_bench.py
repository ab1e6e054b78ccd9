"""The benchmarks run at a small size in CI so they cannot rot (figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import plan, sweep


def test_plan_benchmark_runs_and_agrees_with_its_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert plan.main(["--n", "300"]) == 0
    out = capsys.readouterr().out
    assert "ratio engine/naive throughput" in out and "disagreements: 0" in out


def test_sweep_benchmark_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--sizes", "300,1000", "--due", "50", "--dir", str(tmp_path)]
    assert sweep.main(argv) == 0
    out = capsys.readouterr().out
    assert "ratio sweep time 1,000 / 300 open" in out
    assert "ratio full scan / sweep at 1,000 open" in out
    assert "ratio sweep peak memory 1,000 / 300 open" in out
    assert "FAILED" not in out


def test_bulletin_benchmark_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import bulletin

    assert bulletin.main(["--n", "2000", "--repeat", "1", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ratio bulletin / bare GROUP BY" in out
