"""The one summary table of `python -m bench`: each figure beside its reference, as a ratio."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

MET, MISSED, FAILED, NO_GOAL = "met", "missed", "FAILED", "—"


@dataclass(frozen=True, slots=True)
class Line:
    """One row: the benchmark, what was measured, its reference measured in the same run,
    the ratio, the goal, and met / missed (FAILED when the run found wrong results)."""

    benchmark: str
    figure: str
    reference: str
    ratio: str
    goal: str
    status: str


def goal_at_most(value: float, goal: float) -> str:
    return MET if value <= goal else MISSED


def goal_at_least(value: float, goal: float) -> str:
    return MET if value >= goal else MISSED


HEADER = ("benchmark", "figure", "reference (same run)", "ratio", "goal", "met?")


def markdown(lines: Sequence[Line]) -> str:
    """The table in Markdown (pipes inside cells escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for line in lines:
        values = (line.benchmark, line.figure, line.reference, line.ratio, line.goal, line.status)
        rows.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(rows)


def bar(done: int, total: int, width: int = 30) -> str:
    """[##########--------------------]  12,000 / 36,000 (33%)"""
    share = min(max(done / total, 0.0), 1.0) if total else 1.0
    filled = round(width * share)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done:>9,} / {total:,} ({share:.0%})"


def seconds(value: float) -> str:
    """0.0042 -> '4.2 ms', 0.53 -> '530 ms', 2.318 -> '2.32 s', 185.2 -> '185 s'."""
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


@dataclass
class Timed:
    """Wall-clock and CPU seconds of this process (CPU: user + system, all its threads).

    On a machine shared with other jobs the wall clock measures them too; the CPU time of
    the process moves much less, so the goals are judged on CPU-time ratios where the work
    happens in this process, and both are printed."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Timed) -> Timed:
        return Timed(self.wall + other.wall, self.cpu + other.cpu)


@contextmanager
def timed() -> Iterator[Timed]:
    """with timed() as t: ...  -> t.wall, t.cpu once the block is done."""
    result = Timed()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result.wall = time.perf_counter() - wall
        result.cpu = time.process_time() - cpu


def load() -> str:
    """The machine's 1-minute load average and its number of CPUs, e.g. 'load 7.9 on 2 CPUs'."""
    try:
        return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except OSError:
        return f"{os.cpu_count()} CPUs"
