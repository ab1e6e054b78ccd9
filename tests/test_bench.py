"""The benchmarks run at a small size in CI so they cannot rot (figures are not asserted)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench import lifecycle, plan, sweep

# benchmark -> rows it puts in the summary table
SUMMARY_ROWS = {
    "plan": 1,
    "lifecycle": 2,
    "importer": 1,
    "sweep": 3,
    "bulletin": 2,
    "gate": 1,
    "find": 1,
    "board": 1,
}


def _summary(out: str) -> list[list[str]]:
    """The cells of the summary table's rows (after its header)."""
    table = out.split("## summary", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| benchmark | figure | reference (same run) | ratio | goal |")
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[1:]]


def test_one_command_runs_every_benchmark_and_prints_one_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main.main(["--size", "small", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    rows = _summary(out)
    names = [row[0] for row in rows]
    assert names == [name for name, n in SUMMARY_ROWS.items() for _ in range(n)]
    for row in rows:
        assert len(row) == 6 and all(row[:4]), row
        assert row[5] in ("met", "missed", "—"), row
    # every benchmark printed its own figures before the table
    for heading in (f"## {name}" for name in SUMMARY_ROWS):
        assert heading in out
    assert "ratio use-case rate / bare sqlite3 floor" in out
    assert "ratio import rate / use-case rate" in out


def test_only_some_benchmarks_and_unknown_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main.main(["--only", "plan", "--dir", str(tmp_path)]) == 0
    rows = _summary(capsys.readouterr().out)
    assert [row[0] for row in rows] == ["plan"]
    with pytest.raises(SystemExit) as refused:
        bench_main.main(["--only", "plan,nope"])
    assert refused.value.code == 2
    assert "unknown benchmark(s) nope" in capsys.readouterr().err


def test_a_benchmark_that_breaks_is_failed_in_the_table_and_the_others_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(n: int, seed: int = 7) -> plan.Result:
        raise RuntimeError("synthetic breakage")

    monkeypatch.setattr(plan, "run", broken)
    assert bench_main.main(["--only", "plan,lifecycle", "--dir", str(tmp_path)]) == 1
    rows = _summary(capsys.readouterr().out)
    assert [(row[0], row[5]) for row in rows][0] == ("plan", "FAILED")
    assert [row[0] for row in rows[1:]] == ["lifecycle", "lifecycle"]


def test_plan_benchmark_runs_and_agrees_with_its_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert plan.main(["--n", "300"]) == 0
    out = capsys.readouterr().out
    assert "ratio engine/naive throughput" in out and "disagreements: 0" in out


def test_lifecycle_benchmark_writes_the_same_rows_as_its_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lifecycle.main(["--n", "12", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "same rows: yes" in out and "ratio use-case rate / bare sqlite3 floor" in out
    assert "FAILED" not in out
    # every review queued its report, issued after the commits (and written on the floor too)
    issued = re.search(r"then issuing the (\d+) documents they queued", out)
    assert issued is not None and int(issued.group(1)) >= 12
    # every step of the lifecycle was timed on both sides
    for step in lifecycle.STEPS:
        assert re.search(rf"^{step}\s+\d+", out, re.M), step


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


def test_gate_benchmark_times_direct_and_gated_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Prefect server and the gate in front of it (about 15 s): 5 pairs of each call."""
    from bench import gate

    assert gate.main(["--calls", "5", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    for name in ("flow_runs/filter", "deployments/filter", "health", "all"):
        # median and p99 of direct, gated and added, in ms
        assert re.search(rf"^{name}(\s+-?\d+\.\d\d){{6}}$", out, re.M), name
    assert re.search(r"^goal: median added <= 5 ms: -?\d+\.\d\d ms, (met|missed)$", out, re.M)
    assert "PREFECT_SERVER_API_AUTH_STRING" not in os.environ  # the caller's environment back


def test_audit_verify_benchmark_runs_and_verifies_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import audit_verify

    url = f"sqlite:///{tmp_path / 'verify.db'}"
    assert audit_verify.main(["--ops", "150", "--copies", "2", "--url", url]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"verified: [\d,]+ grievances, [\d,]+ events in [\d.]+ s: [\d,]+ events/s", out
    )
    assert "peak memory of the verifying process: " in out and "findings: 0" in out
