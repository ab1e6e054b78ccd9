"""Deadline planning: plans per second for N random acceptance times (policy 2142), beside a
naive day-by-day reference that asks chinese_calendar about every day, every time.

    .venv/bin/python -m bench.plan [--n 100000] [--seed 7]

Both compute the same three deadlines (assign, feedback, close); the run checks that they
agree on every sample before it prints the ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]

from workflow.calendar import BusinessCalendar
from workflow.policies import registry
from workflow.sla import plan

SH = ZoneInfo("Asia/Shanghai")
PERIODS = ((8, 30, 12, 0), (14, 0, 17, 30))


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="acceptance times to plan")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    first = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    span = datetime(2026, 12, 20, tzinfo=UTC).timestamp() - first
    starts = [datetime.fromtimestamp(first + rng.random() * span, tz=UTC) for _ in range(args.n)]
    policy = registry().latest("2142")

    calendar = BusinessCalendar()
    t0 = time.perf_counter()
    ours = [plan(policy, calendar, s).deadlines for s in starts]
    engine_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    reference = [naive_plan(s) for s in starts]
    naive_s = time.perf_counter() - t0

    mismatches = sum(
        1
        for mine, ref in zip(ours, reference, strict=True)
        if {k: d.at for k, d in mine.items()} != ref
    )
    print(f"deadline planning, policy 2142, {args.n:,} random acceptance times (2025-2026)")
    print(f"{'':<28}{'seconds':>10}{'plans/s':>12}")
    print(f"{'engine (cached calendar)':<28}{engine_s:>10.3f}{args.n / engine_s:>12,.0f}")
    print(f"{'naive day-by-day reference':<28}{naive_s:>10.3f}{args.n / naive_s:>12,.0f}")
    print(f"ratio engine/naive throughput: {naive_s / engine_s:.1f}x")
    print(f"disagreements: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
