"""Finding a grievance among 1M: milliseconds per lookup by number, channel reference, plate
and phone through `service.finding.find_cases` (the path of `grievance find` and the gate's
search page), for the desk and for a unit's handler; the duplicate hint of an intake; and,
as the reference measured in the same run, the same phone lookup as a full scan
(`NOT INDEXED`: what the lookup costs without the indexes of migration 0018).

    .venv/bin/python -m bench.find [--rows 1000000] [--lookups 300] [--dir DIR]

The data: one grievance is accepted and assigned through the use cases (a template); the
table is then filled to `--rows` with copies made by one `INSERT ... SELECT` over a counter,
each with its own number, reference, phone (a driver calls about three times: 1 in 3 phones
repeats) and plate (unique), spread over 20 units and states. No ANALYZE is run (as on a
fresh production database). Each lookup asks for a value that exists, picked at random
(seeded); a tenth ask for a value that does not. The figures are the median and the 95th
percentile wall time per lookup; the goal is 50 ms at 1M rows. The run fails (exit code 1)
if a lookup finds other than the rows the data holds.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bench.summary import FAILED, MET, MISSED, Line, seconds
from service import cases as uc
from service import finding
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.values import replace
from workflow.vocab import Event, Role

GOAL = 0.050  # seconds per lookup at 1M grievances
UNITS = 20
DESK = Actor("bench-desk", Role.DISPATCHER)
HANDLER = Actor("bench-handler", Role.HANDLER, "U07")
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PROVINCES = "京津沪渝冀豫云辽黑湘"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Figures:
    rows: int
    build: float  # seconds to fill the table (indexes included)
    per_key: dict[str, tuple[float, float]]  # key -> (median, p95) seconds, desk
    unit: tuple[float, float]  # phone lookups by a unit's handler
    duplicates: tuple[float, float]  # the duplicate hint of an intake
    scan: float  # median seconds of a phone lookup as a full scan
    wrong: int  # lookups that found other than expected


def phone_of(i: int, rows: int) -> str:
    """Row i's phone: rows 3k, 3k+1, 3k+2 share one (a driver who called three times)."""
    return f"138{i // 3:08d}"


def plate_of(i: int) -> str:
    return f"{PROVINCES[i // 1_000_000 % 10]}{chr(65 + i // 100_000 % 10)}{i % 100_000:05d}"


def _fill(db_file: Path, rows: int) -> None:
    """Copies of the template grievance (id 1) up to `rows` rows, in one statement per
    100k (sqlite3 directly: the bulk load is not what is measured)."""
    connection = sqlite3.connect(db_file)
    connection.create_function("plate_of", 1, plate_of, deterministic=True)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(grievance)")]
    made = {
        "id": "NULL",
        "number": "printf('B%08d', i)",
        "ref": "printf('R%08d', i)",
        "phone": "printf('138%08d', i / 3)",
        "plate": "plate_of(i)",
        "lead_unit": f"printf('U%02d', i % {UNITS})",
        "first_handler_unit": "NULL",
        "state": "CASE i % 4 WHEN 0 THEN 'assigned' WHEN 1 THEN 'handling' "
        "WHEN 2 THEN 'closed' ELSE 'reviewed' END",
    }
    select = ", ".join(made.get(c, f"t.{c}") for c in columns)
    step = 100_000
    for start in range(1, rows, step):
        end = min(start + step, rows)
        connection.execute(  # integers and the table's own columns:
            f"WITH RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n "  # noqa: S608
            f"WHERE i + 1 < {end}) "
            f"INSERT INTO grievance ({', '.join(columns)}) "
            f"SELECT {select} FROM n, grievance AS t WHERE t.id = 1"
        )
        connection.commit()
        _stderr(f"  {end:>9,} / {rows:,} grievances")
    connection.close()


def _timed(calls: Sequence[Callable[[], int]], expected: list[int]) -> tuple[list[float], int]:
    times, wrong = [], 0
    for call, want in zip(calls, expected, strict=True):
        started = time.perf_counter()
        found = call()
        times.append(time.perf_counter() - started)
        wrong += found != want
    return times, wrong


def _found(engine: Engine, actor: Actor, key: str, value: str) -> int:
    return len(finding.find_cases(engine, actor, key, value))


def _stats(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def run(rows: int, lookups: int, folder: Path) -> Figures:
    db_file = folder / "find.db"
    db_file.unlink(missing_ok=True)
    engine = Engine.open(f"sqlite:///{db_file}")
    stamp = Stamp(actor=DESK, at=AT, recorded_at=AT)
    for u in range(UNITS):
        add_unit(engine, stamp, code=f"U{u:02d}", name=f"单位{u:02d}")
    data = {
        "channel": "hotline_12328",
        "ref": "TEMPLATE",
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王建国",
        "phone": "13912345678",
        "plate": "川A12345",
        "description": "货主拖欠运费3500元",
    }
    command = parse_command(Event.ACCEPT, data)
    assert isinstance(command, Accept)
    template = uc.accept(engine, command, stamp)
    uc.assign(engine, template.number, stamp, unit="U00")
    engine.db.dispose()
    started = time.perf_counter()
    _fill(db_file, rows)
    build = time.perf_counter() - started
    engine = Engine.open(f"sqlite:///{db_file}")
    rng = random.Random(21)
    picks = [rng.randrange(1, rows) for _ in range(lookups)]
    misses = set(rng.sample(range(lookups), lookups // 10))
    per_key: dict[str, tuple[float, float]] = {}
    wrong = 0
    last = rows - 1  # rows are numbered 1 .. rows - 1 (row 0 is the template's)

    def same_phone(i: int) -> int:
        return sum(1 for j in range(3 * (i // 3), 3 * (i // 3) + 3) if 1 <= j <= last)

    makers: dict[str, tuple[Callable[[int], str], Callable[[int], int]]] = {
        "number": (lambda i: f"B{i:08d}", lambda i: 1),
        "ref": (lambda i: f"R{i:08d}", lambda i: 1),
        "plate": (plate_of, lambda i: 1),
        "phone": (lambda i: phone_of(i, rows), same_phone),
    }
    missing = {"number": "X00000000", "ref": "NO-SUCH", "plate": "藏Z99999", "phone": "19900000000"}
    for key, (value_of, count_of) in makers.items():
        values = [missing[key] if n in misses else value_of(i) for n, i in enumerate(picks)]
        expected = [0 if n in misses else count_of(i) for n, i in enumerate(picks)]
        calls = [partial(_found, engine, DESK, key, v) for v in values]
        times, bad = _timed(calls, expected)
        per_key[key] = _stats(times)
        wrong += bad
    # a unit's handler: only the rows of unit U07 among the phone's
    phones = [phone_of(i, rows) for i in picks]
    want = [
        sum(1 for j in range(3 * (i // 3), 3 * (i // 3) + 3) if 1 <= j <= last and j % UNITS == 7)
        for i in picks
    ]
    times, bad = _timed([partial(_found, engine, HANDLER, "phone", v) for v in phones], want)
    unit = _stats(times)
    wrong += bad
    # the duplicate hint of an intake: the template case asked about each picked phone/plate
    cases = [replace(template, phone=phone_of(i, rows), plate=plate_of(i)) for i in picks]
    dup_times = []
    for case in cases:
        started = time.perf_counter()
        finding.duplicate_candidates(engine, case, AT)
        dup_times.append(time.perf_counter() - started)
    duplicates = _stats(dup_times)
    engine.db.dispose()
    # the reference: the phone lookup as a full scan of the table
    connection = sqlite3.connect(db_file)
    scans = []
    for i in picks[:3]:
        started = time.perf_counter()
        connection.execute(
            "SELECT * FROM grievance NOT INDEXED WHERE phone = ? ORDER BY accepted_at, id",
            (phone_of(i, rows),),
        ).fetchall()
        scans.append(time.perf_counter() - started)
    connection.close()
    return Figures(rows, build, per_key, unit, duplicates, statistics.median(scans), wrong)


def report(f: Figures) -> None:
    print(f"## find ({f.rows:,} grievances, filled in {seconds(f.build)})")
    print("| lookup | median | p95 |")
    print("|---|---:|---:|")
    for key, (median, p95) in f.per_key.items():
        print(f"| --{key} (desk) | {seconds(median)} | {seconds(p95)} |")
    print(f"| --phone (a unit's handler) | {seconds(f.unit[0])} | {seconds(f.unit[1])} |")
    print(f"| duplicate hint at intake | {seconds(f.duplicates[0])} | {seconds(f.duplicates[1])} |")
    print(f"| reference: --phone as a full scan | {seconds(f.scan)} | |")
    print(f"wrong results: {f.wrong}")


def lines(f: Figures) -> list[Line]:
    worst = max(p95 for _, p95 in [*f.per_key.values(), f.unit, f.duplicates])
    status = FAILED if f.wrong else (MET if worst <= GOAL else MISSED)
    median = max(m for m, _ in f.per_key.values())
    phone = f.per_key["phone"][0]
    return [
        Line(
            "find",
            f"slowest key p95 {seconds(worst)} (median {seconds(median)}) at {f.rows:,}",
            f"--phone as a full scan {seconds(f.scan)}",
            f"indexed --phone {f.scan / phone:.{0 if f.scan >= 10 * phone else 1}f}x as fast"
            if phone
            else "—",
            f"≤ {seconds(GOAL)} at 1,000,000",
            status,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.find", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.rows < 10 or args.lookups < 10:
        parser.error("--rows and --lookups must be at least 10")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-find-"))
    folder.mkdir(parents=True, exist_ok=True)
    figures = run(args.rows, args.lookups, folder)
    report(figures)
    for line in lines(figures):
        print(
            f"{line.figure}; reference {line.reference}; {line.ratio}; goal {line.goal}: {line.status}"
        )
    return 1 if figures.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
