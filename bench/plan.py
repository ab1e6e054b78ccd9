"""Deadline planning: plans per second for N random acceptance times (policy 2142), beside a
naive day-by-day reference that asks chinese_calendar about every day, every time.

    .venv/bin/python -m bench.plan [--n 100000] [--seed 7]

Both compute the same three deadlines (assign, feedback, close), taking turns over the
samples (a twentieth each time, so a shared machine's load falls on both); the run checks
that they agree on every sample before it prints the ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]

from bench.summary import FAILED, NO_GOAL, Line, Timed, timed
from workflow.calendar import BusinessCalendar
from workflow.policy_versions import registry
from workflow.sla import plan

SH = ZoneInfo("Asia/Shanghai")
PERIODS = ((8, 30, 12, 0), (14, 0, 17, 30))
TURNS = 20  # the engine and the reference take turns, a twentieth of the times each


def naive_is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # outside the library: weekends + fixed-date holidays
        fixed = {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}
        return day.weekday() < 5 and (day.month, day.day) not in fixed


def naive_periods(day: date) -> list[tuple[datetime, datetime]]:
    if not naive_is_workday(day):
        return []
    return [
        (
            datetime(day.year, day.month, day.day, h1, m1, tzinfo=SH),
            datetime(day.year, day.month, day.day, h2, m2, tzinfo=SH),
        )
        for h1, m1, h2, m2 in PERIODS
    ]


def naive_business(start: datetime, hours: float) -> datetime:
    remaining = timedelta(hours=hours)
    moment = start.astimezone(SH)
    day = moment.date()
    while True:
        for begin, end in naive_periods(day):
            begin = max(begin, moment)
            if begin >= end:
                continue
            if end - begin >= remaining:
                return (begin + remaining).astimezone(UTC)
            remaining -= end - begin
        day += timedelta(days=1)


def naive_working_days(start: datetime, n: int) -> datetime:
    day = start.astimezone(SH).date()
    while n:
        day += timedelta(days=1)
        if naive_is_workday(day):
            n -= 1
    return naive_periods(day)[-1][1].astimezone(UTC)


def naive_plan(start: datetime) -> dict[str, datetime]:
    return {
        "assign": naive_business(start, 2),
        "feedback": naive_working_days(start, 1),
        "close": naive_working_days(start, 4),
    }


@dataclass
class Result:
    n: int
    engine: Timed
    naive: Timed
    disagreements: int

    @property
    def ratio(self) -> float:
        """How many times the naive reference's throughput the engine's is (CPU time)."""
        return self.naive.cpu / self.engine.cpu

    @property
    def ratio_wall(self) -> float:
        return self.naive.wall / self.engine.wall


def run(n: int, seed: int = 7) -> Result:
    rng = random.Random(seed)
    first = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    span = datetime(2026, 12, 20, tzinfo=UTC).timestamp() - first
    starts = [datetime.fromtimestamp(first + rng.random() * span, tz=UTC) for _ in range(n)]
    policy = registry().latest("2142")

    calendar = BusinessCalendar()
    plan(policy, calendar, starts[0])  # warm-up (policy and calendar caches), not timed
    naive_plan(starts[0])
    ours: list[dict[str, Any]] = []
    reference: list[dict[str, datetime]] = []
    engine, naive = Timed(), Timed()
    step = max(1, n // TURNS)
    for first in range(0, n, step):  # in turns, so a shared machine's load falls on both
        chunk = starts[first : first + step]
        with timed() as took:
            ours += [plan(policy, calendar, s).deadlines for s in chunk]
        engine += took
        with timed() as took:
            reference += [naive_plan(s) for s in chunk]
        naive += took

    mismatches = sum(
        1
        for mine, ref in zip(ours, reference, strict=True)
        if {k: d.at for k, d in mine.items()} != ref
    )
    return Result(n, engine, naive, mismatches)


def report(r: Result) -> None:
    print(f"deadline planning, policy 2142, {r.n:,} random acceptance times (2025-2026)")
    print(f"{'':<28}{'seconds':>10}{'plans/s':>12}{'CPU s':>10}{'plans/CPU s':>13}")
    for name, t in (
        ("engine (cached calendar)", r.engine),
        ("naive day-by-day reference", r.naive),
    ):
        print(f"{name:<28}{t.wall:>10.3f}{r.n / t.wall:>12,.0f}{t.cpu:>10.3f}{r.n / t.cpu:>13,.0f}")
    print(f"ratio engine/naive throughput: {r.ratio:.1f}x in CPU time, {r.ratio_wall:.1f}x wall")
    print(f"disagreements: {r.disagreements}")


def lines(r: Result) -> list[Line]:
    return [
        Line(
            "plan",
            f"{r.n:,} deadline plans (2142): {r.n / r.engine.wall:,.0f}/s "
            f"({r.n / r.engine.cpu:,.0f} per CPU s)",
            f"naive day-by-day: {r.n / r.naive.wall:,.0f}/s ({r.n / r.naive.cpu:,.0f} per CPU s)",
            f"{r.ratio:.1f}x faster CPU ({r.ratio_wall:.1f}x wall)",
            f"none set; {r.disagreements} disagreements",
            FAILED if r.disagreements else NO_GOAL,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="acceptance times to plan")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result = run(args.n, args.seed)
    report(result)
    return 1 if result.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
