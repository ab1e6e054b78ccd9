"""The benchmarks run at a small size in CI so they cannot rot (figures are not asserted)."""

from __future__ import annotations

import pytest

from bench import plan


def test_plan_benchmark_runs_and_agrees_with_its_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert plan.main(["--n", "300"]) == 0
    out = capsys.readouterr().out
    assert "ratio engine/naive throughput" in out and "disagreements: 0" in out
