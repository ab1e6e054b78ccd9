"""SLA watchdog sweep: seconds to fire the steps of 1,000 due timers among 10k, 100k and 1M
open grievances, beside a full scan of the open grievances on the same database (what a
watchdog without the `next_fire_at` index would do), and the sweep's peak memory.

    .venv/bin/python -m bench.sweep [--sizes 10000,100000,1000000] [--due 1000] [--repeat 5]

The data: two real open grievances are made through the use cases (accepted, assigned to a
unit), one accepted a day before the sweep's instant (its feedback warning is due) and one
just before it (nothing due). Each SQLite database holds N copies of them, inserted in bulk
with raw SQL: `--due` copies of the first, the others of the second, each with its own
number, reference, audit events and timers. Per size, on a fresh database: the full scan
(every open grievance and its timers loaded through the ORM, `workflow.timers.due_steps` asked
about each timer), then the sweep, then a second sweep at the same instant (must fire
nothing); on a fresh copy, the sweep under `tracemalloc` for its peak memory. The sweep's
time is then taken in `--repeat` rounds, each sweeping a fresh copy of every size's database
in turn (sizes in alternating order), and is the median per size: one sweep of 1,000 steps
takes a second or two, and single ones varied by a third on this shared machine. Times are
taken on the wall clock and as the process's CPU time; the goals are judged on CPU-time
ratios (a shared machine's other jobs stretch the wall clock, not this process's CPU time),
and both are printed.
The run fails (exit code 1) if the sweep or the scan does not find exactly the due steps.
Goals are printed beside the figures, not enforced.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import col, select

from bench.summary import FAILED, Line, Timed, seconds, timed
from models import case_rows, sla_timers
from models.tables import Grievance, SlaTimer
from service import cases as uc
from service import watchdog
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.timers import due_steps
from workflow.vocab import Event, Role, State

# The sweep's instant: Tuesday 2026-11-24 15:00 Asia/Shanghai. A grievance accepted on
# Monday 09:01 has its feedback warning due (14:07:45) and nothing else; one accepted at
# 14:58 on Tuesday has nothing due before Wednesday.
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
DUE_ACCEPTED = datetime(2026, 11, 23, 1, 1, tzinfo=UTC)
FRESH_ACCEPTED = NOW - timedelta(minutes=2)
UNIT = "UA"
CHUNK = 50_000  # grievances per insert transaction
REPEAT = 5  # timed sweeps per size
SCAN_CHUNK = 2_000  # grievances per query of the full scan
CLOSED_STATES = (State.REVIEWED, State.MERGED)  # every other state is open
DESK = Actor("bench-desk", Role.DISPATCHER)
MIB = 1024 * 1024

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class Rows:
    """Rows of one table as stored (column names and raw SQLite values)."""

    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def insert_sql(self) -> str:
        names = ", ".join(self.columns)
        marks = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.table} ({names}) VALUES ({marks})"  # noqa: S608 (our names)

    def index(self, column: str) -> int:
        return self.columns.index(column)


@dataclass(frozen=True)
class Template:
    """One real grievance: its row, audit events and timers, and its steps due at NOW."""

    ref: str
    grievance: Rows
    events: Rows
    timers: Rows
    due_steps: int


@dataclass(frozen=True)
class Templates:
    unit: Rows
    due: Template
    fresh: Template


def _select(connection: sqlite3.Connection, table: str, where: str, *args: Any) -> Rows:
    cursor = connection.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id", args)  # noqa: S608
    columns = tuple(d[0] for d in cursor.description)
    return Rows(table, columns, tuple(tuple(r) for r in cursor.fetchall()))


def _accept_command(ref: str) -> Accept:
    command = parse_command(
        Event.ACCEPT,
        {
            "channel": "hotline_12328",
            "ref": ref,
            "type": "complaint",
            "category": "freight_unpaid",
            "name": "王建国",
            "phone": "13812345678",
            "plate": "川B12345",
            "description": "货主拖欠运费3500元",
            "amount": "3500",
        },
    )
    assert isinstance(command, Accept)
    return command


def _stamp(at: datetime) -> Stamp:
    return Stamp(actor=DESK, at=at, recorded_at=at)


def make_templates(path: Path) -> Templates:
    """Make the two template grievances through the use cases on a scratch database, read
    their rows back, then sweep that database once (a warm-up of templates and imports)."""
    _remove_database(path)
    engine = Engine.open(f"sqlite:///{path}")
    try:
        add_unit(engine, _stamp(DUE_ACCEPTED - timedelta(days=1)), code=UNIT, name="单位UA")
        numbers = {}
        for ref, accepted in (("TEMPLATE-DUE", DUE_ACCEPTED), ("TEMPLATE-FRESH", FRESH_ACCEPTED)):
            case = uc.accept(engine, _accept_command(ref), _stamp(accepted))
            uc.assign(engine, case.number, _stamp(accepted + timedelta(minutes=1)), unit=UNIT)
            numbers[ref] = case.number
        with engine.db.read() as session:
            steps = {}
            for ref, number in numbers.items():
                row = case_rows.get_row(session, number)
                case = case_rows.case_from_row(row)
                policy = engine.policies.get(case.policy)
                assert row.id is not None
                steps[ref] = sum(
                    len(due_steps(t, policy.target(t.target), engine.calendar, NOW))
                    for t in map(sla_timers.timer_from_row, sla_timers.timers_of(session, row.id))
                )
        connection = sqlite3.connect(path)
        try:
            unit = _select(connection, "unit", "code = ?", UNIT)
            templates = []
            for ref, number in numbers.items():
                grievance = _select(connection, "grievance", "number = ?", number)
                events = _select(connection, "grievance_event", "number = ?", number)
                timers = _select(connection, "sla_timer", "number = ?", number)
                version = grievance.rows[0][grievance.index("version")]
                seqs = [r[events.index("seq")] for r in events.rows]
                if seqs != list(range(1, version + 1)):
                    raise RuntimeError(f"template {number}: version {version}, events {seqs}")
                templates.append(Template(ref, grievance, events, timers, steps[ref]))
        finally:
            connection.close()
        due, fresh = templates
        if due.due_steps < 1 or fresh.due_steps != 0:
            raise RuntimeError(
                f"templates: {due.due_steps} steps due (want >= 1), "
                f"{fresh.due_steps} fresh (want 0) at {NOW:%Y-%m-%d %H:%M} UTC"
            )
        watchdog.sweep(engine, NOW)  # warm-up: fires the due template's steps
        return Templates(unit, due, fresh)
    finally:
        engine.db.dispose()


# ----------------------------------------------------------------------------- generation
def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _copies(
    template: Template, gid: int, number: str, ref: str, stride: int
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The template's grievance row, events and timers, for grievance `gid` (the ids of its
    events and timers are `gid * stride + k`: `stride` is more than either template has)."""
    g = template.grievance
    row = list(g.rows[0])
    row[g.index("id")], row[g.index("number")], row[g.index("ref")] = gid, number, ref
    e = template.events
    events = []
    for k, event_row in enumerate(e.rows):
        values = list(event_row)
        values[e.index("id")] = gid * stride + k
        values[e.index("grievance_id")], values[e.index("number")] = gid, number
        if values[e.index("seq")] == 1:  # the acceptance carries the reference
            values[e.index("payload")] = values[e.index("payload")].replace(
                json.dumps(template.ref), json.dumps(ref)
            )
        events.append(tuple(values))
    t = template.timers
    timers = []
    for k, timer_row in enumerate(t.rows):
        values = list(timer_row)
        values[t.index("id")] = gid * stride + k
        values[t.index("grievance_id")], values[t.index("number")] = gid, number
        timers.append(tuple(values))
    return tuple(row), events, timers


def generate(path: Path, size: int, due: int, templates: Templates, log: Log) -> None:
    """A database of `size` open grievances, `due` of them with steps due at NOW."""
    _remove_database(path)
    Engine.open(f"sqlite:///{path}").db.dispose()  # the schema, by the migrations
    both = (templates.due, templates.fresh)
    stride = max(len(t.events.rows) + len(t.timers.rows) for t in both)
    due_at = {i * size // due for i in range(due)}  # spread evenly over the ids
    connection = sqlite3.connect(path, isolation_level=None)
    started = time.perf_counter()
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")  # 256 MiB
        connection.execute("BEGIN")
        connection.executemany(templates.unit.insert_sql(), templates.unit.rows)
        connection.execute("COMMIT")
        for first in range(0, size, CHUNK):
            grievances, events, timers = [], [], []
            for i in range(first, min(first + CHUNK, size)):
                template = templates.due if i in due_at else templates.fresh
                g, e, t = _copies(template, i + 1, f"B{i:08d}", f"B-{i:08d}", stride)
                grievances.append(g)
                events += e
                timers += t
            connection.execute("BEGIN")
            connection.executemany(templates.due.grievance.insert_sql(), grievances)
            connection.executemany(templates.due.events.insert_sql(), events)
            connection.executemany(templates.due.timers.insert_sql(), timers)
            connection.execute("COMMIT")
            done = first + len(grievances)
            log(
                f"  {path.name}: {done:>9,} / {size:,} grievances ({time.perf_counter() - started:.0f} s)"
            )
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def copy_database(source: Path, target: Path) -> None:
    _remove_database(target)
    shutil.copyfile(source, target)


# ----------------------------------------------------------------------------- measurements
def full_scan(engine: Engine, now: datetime) -> tuple[int, int]:
    """The naive watchdog: every open grievance and its timers into Python, `due_steps` asked
    about each timer. Returns (open grievances, due steps)."""
    seen = steps = 0
    last = 0
    with engine.db.read() as session:
        while True:
            query = (
                select(Grievance)
                .where(col(Grievance.id) > last, col(Grievance.state).not_in(CLOSED_STATES))
                .order_by(col(Grievance.id))
                .limit(SCAN_CHUNK)
            )
            rows = session.exec(query).all()
            if not rows:
                return seen, steps
            ids = [row.id for row in rows]
            timers: dict[int, list[SlaTimer]] = {}
            for stored in session.exec(select(SlaTimer).where(col(SlaTimer.grievance_id).in_(ids))):
                timers.setdefault(stored.grievance_id, []).append(stored)
            for row in rows:
                case = case_rows.case_from_row(row)
                policy = engine.policies.get(case.policy)
                for timer_row in timers.get(row.id or 0, ()):
                    timer = sla_timers.timer_from_row(timer_row)
                    target = policy.target(timer.target)
                    steps += len(due_steps(timer, target, engine.calendar, now))
            seen += len(rows)
            last = ids[-1] or 0
            session.expunge_all()


@contextmanager
def _traced() -> Iterator[list[int]]:
    """Peak bytes allocated (tracemalloc) inside the block, put in the yielded list."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        yield peak
        peak.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def due_query_plan(engine: Engine, now: datetime, batch: int) -> str:
    """EXPLAIN QUERY PLAN of the watchdog's due-timer query, exactly as `sla_timers` sends it."""
    sent: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: Any) -> None:
        if "FROM sla_timer" in statement:
            sent.append((statement, parameters))

    event.listen(engine.db.engine, "before_cursor_execute", grab)
    try:
        with engine.db.read() as session:
            sla_timers.due_timers(session, now, batch)
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", grab)
    statement, parameters = sent[0]
    with engine.db.engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "; ".join(str(row[-1]) for row in plan)


@dataclass
class Measure:
    size: int
    due_steps: int
    generate_s: float
    scan: Timed  # the full scan
    scan_open: int
    scan_steps: int
    pristine: Path  # a copy of the database before any sweep, for the timed rounds
    fired: int
    batches: int
    conflicts: int
    again: int
    peak_bytes: int
    traced_fired: int
    plan: str
    sweeps: list[Timed] = field(default_factory=list)  # one per round, each on a fresh copy
    fired_timed: list[int] = field(default_factory=list)  # steps fired by each of those

    @property
    def sweep(self) -> Timed:
        """The median of the timed rounds (wall and CPU apart)."""
        if not self.sweeps:
            raise RuntimeError(f"{self.size:,} open: no timed sweep")
        return Timed(
            statistics.median(t.wall for t in self.sweeps),
            statistics.median(t.cpu for t in self.sweeps),
        )

    @property
    def problems(self) -> list[str]:
        found = []
        if self.fired == 0 or self.fired != self.due_steps:
            found.append(f"sweep fired {self.fired} steps, {self.due_steps} are due")
        for fired in self.fired_timed:
            if fired != self.due_steps:
                found.append(f"a timed sweep on a fresh copy fired {fired} steps")
        if self.traced_fired != self.due_steps:
            found.append(f"traced sweep fired {self.traced_fired} steps")
        if self.again:
            found.append(f"a second sweep at the same instant fired {self.again}")
        if self.conflicts:
            found.append(f"{self.conflicts} conflicts")
        if self.scan_steps != self.due_steps or self.scan_open != self.size:
            found.append(f"full scan saw {self.scan_open} open, {self.scan_steps} steps due")
        return [f"{self.size:,} open: {p}" for p in found]


def measure(
    folder: Path, size: int, due: int, templates: Templates, batch: int, log: Log
) -> Measure:
    path = folder / f"sweep-{size}.db"
    log(f"generating {size:,} open grievances, {due:,} with due timers...")
    t0 = time.perf_counter()
    generate(path, size, due, templates, log)
    generate_s = time.perf_counter() - t0
    pristine, traced_copy = folder / f"sweep-{size}-pristine.db", folder / f"sweep-{size}-traced.db"
    for copy in (pristine, traced_copy):
        copy_database(path, copy)
    expected = due * templates.due.due_steps + (size - due) * templates.fresh.due_steps

    engine = Engine.open(f"sqlite:///{path}")
    try:
        plan = due_query_plan(engine, NOW, batch)
        log(f"  full scan of {size:,} open grievances...")
        with timed() as scan:
            scan_open, scan_steps = full_scan(engine, NOW)
        log("  sweep...")
        result = watchdog.sweep(engine, NOW, batch=batch)
        again = watchdog.sweep(engine, NOW, batch=batch)
    finally:
        engine.db.dispose()

    engine = Engine.open(f"sqlite:///{traced_copy}")
    try:
        log("  sweep under tracemalloc...")
        with _traced() as peak:
            traced = watchdog.sweep(engine, NOW, batch=batch)
    finally:
        engine.db.dispose()
        _remove_database(traced_copy)
    return Measure(
        size=size,
        due_steps=expected,
        generate_s=generate_s,
        scan=scan,
        scan_open=scan_open,
        scan_steps=scan_steps,
        pristine=pristine,
        fired=len(result.fired),
        batches=result.batches,
        conflicts=result.conflicts + again.conflicts + traced.conflicts,
        again=len(again.fired),
        peak_bytes=peak[0],
        traced_fired=len(traced.fired),
        plan=plan,
    )


# ----------------------------------------------------------------------------- report
def _goal(value: float, goal: float, at_most: bool) -> str:
    met = value <= goal if at_most else value >= goal
    return "met" if met else "missed"


def _ratios(measures: Sequence[Measure]) -> dict[str, tuple[float, float]]:
    """(CPU, wall) of: sweep time largest / smallest size, scan / sweep at the largest,
    and (twice the same) peak memory largest / smallest."""
    small, large = measures[0], measures[-1]
    memory = large.peak_bytes / small.peak_bytes
    return {
        "growth": (large.sweep.cpu / small.sweep.cpu, large.sweep.wall / small.sweep.wall),
        "scan": (large.scan.cpu / large.sweep.cpu, large.scan.wall / large.sweep.wall),
        "memory": (memory, memory),
    }


def report(measures: Sequence[Measure], due: int) -> None:
    print(f"SLA watchdog sweep at {NOW:%Y-%m-%d %H:%M} UTC, {due:,} due timers, SQLite")
    rounds = len(measures[0].sweeps) if measures else 0
    print(
        "(seconds: wall clock, and the process's CPU time in brackets; the sweep: the median "
        f"of {rounds} rounds, each on a fresh copy)"
    )
    header = (
        f"{'open':>11}{'generate s':>12}{'sweep s':>18}{'fired':>7}{'batches':>9}"
        f"{'scan s':>20}{'scan due':>10}{'sweep peak MiB':>16}"
    )
    print(header)
    for m in measures:
        sweep = f"{m.sweep.wall:.3f} ({m.sweep.cpu:.3f})"
        scan = f"{m.scan.wall:.1f} ({m.scan.cpu:.1f})"
        print(
            f"{m.size:>11,}{m.generate_s:>12.1f}{sweep:>18}{m.fired:>7,}{m.batches:>9}"
            f"{scan:>20}{m.scan_steps:>10,}{m.peak_bytes / MIB:>16.2f}"
        )
    for m in measures:
        each = " ".join(f"{t.cpu:.2f}" for t in m.sweeps)
        print(f"  sweep CPU s per round, {m.size:,} open: {each}")
    small, large = measures[0], measures[-1]
    print(f"due-timer query plan ({large.size:,} open): {large.plan}")
    r = _ratios(measures)
    cpu, wall = r["growth"]
    print(
        f"ratio sweep time {large.size:,} / {small.size:,} open: {cpu:.2f} in CPU time, "
        f"{wall:.2f} wall clock  (goal <= 1.5: {_goal(cpu, 1.5, True)})"
    )
    cpu, wall = r["scan"]
    print(
        f"ratio full scan / sweep at {large.size:,} open: {cpu:.1f}x in CPU time, "
        f"{wall:.1f}x wall clock  (goal >= 50x: {_goal(cpu, 50, False)})"
    )
    memory, _ = r["memory"]
    print(
        f"ratio sweep peak memory {large.size:,} / {small.size:,} open: {memory:.2f}"
        f"  (goal <= 1.2: {_goal(memory, 1.2, True)})"
    )


def lines(measures: Sequence[Measure]) -> list[Line]:
    small, large = measures[0], measures[-1]
    failed = any(m.problems for m in measures)
    r = _ratios(measures)
    sizes = " / ".join(f"{m.size:,}" for m in measures)
    times = " / ".join(f"{seconds(m.sweep.wall)} ({seconds(m.sweep.cpu)} CPU)" for m in measures)

    def status(verdict: str) -> str:
        return FAILED if failed else verdict

    growth, growth_wall = r["growth"]
    scan, scan_wall = r["scan"]
    memory, _ = r["memory"]
    return [
        Line(
            "sweep",
            f"{large.fired:,} due steps among {sizes} open: {times}",
            f"the sweep among {small.size:,} open",
            f"{growth:.2f} CPU ({growth_wall:.2f} wall)",
            "<= 1.5",
            status(_goal(growth, 1.5, True)),
        ),
        Line(
            "sweep",
            f"full scan of {large.size:,} open: {seconds(large.scan.wall)} "
            f"({seconds(large.scan.cpu)} CPU)",
            f"the sweep on it: {seconds(large.sweep.wall)} ({seconds(large.sweep.cpu)} CPU)",
            f"{scan:.1f}x CPU ({scan_wall:.1f}x wall)",
            ">= 50x",
            status(_goal(scan, 50, False)),
        ),
        Line(
            "sweep",
            f"sweep peak memory at {large.size:,} open: {large.peak_bytes / MIB:.2f} MiB",
            f"at {small.size:,} open: {small.peak_bytes / MIB:.2f} MiB",
            f"{memory:.2f}",
            "<= 1.2",
            status(_goal(memory, 1.2, True)),
        ),
    ]


def run(
    sizes: Sequence[int],
    due: int,
    batch: int,
    folder: Path,
    log: Log = _stderr,
    repeat: int = REPEAT,
) -> list[Measure]:
    """Make the templates, measure each size on its own fresh database, then time the sweep
    in `repeat` rounds over all sizes (`timed_rounds`)."""
    templates = make_templates(folder / "sweep-template.db")
    measures = [measure(folder, size, due, templates, batch, log) for size in sizes]
    try:
        timed_rounds(measures, folder, batch, repeat, log)
    finally:
        for m in measures:
            _remove_database(m.pristine)
    return measures


def timed_rounds(
    measures: Sequence[Measure], folder: Path, batch: int, repeat: int, log: Log
) -> None:
    """Each round sweeps a fresh copy of every size's database, timed; the sizes take turns
    in alternating order, so a shared machine's changing load falls on all of them."""
    work = folder / "sweep-timed.db"
    for round_ in range(repeat):
        log(f"  timed sweeps, round {round_ + 1} of {repeat}...")
        order = measures if round_ % 2 == 0 else list(reversed(measures))
        for m in order:
            copy_database(m.pristine, work)
            # the copy's dirty pages written out first, not while the next sweep is timed (a
            # 2 GB copy's write-back otherwise lands on whichever sweep follows it)
            os.sync()
            engine = Engine.open(f"sqlite:///{work}")
            try:
                with timed() as took:
                    result = watchdog.sweep(engine, NOW, batch=batch)
            finally:
                engine.db.dispose()
                _remove_database(work)
            m.sweeps.append(took)
            m.fired_timed.append(len(result.fired))
            m.conflicts += result.conflicts


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("give sizes as whole numbers, e.g. 10000,100000")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=_sizes, default=[10_000, 100_000, 1_000_000], help="open grievances"
    )
    parser.add_argument("--due", type=int, default=1_000, help="grievances with a due timer")
    parser.add_argument("--batch", type=int, default=watchdog.BATCH, help="sweep batch size")
    parser.add_argument("--dir", type=Path, help="where the databases go (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed sweeps per size (median)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not 1 <= args.due <= args.sizes[0]:
        parser.error(f"--due must be between 1 and the smallest size ({args.sizes[0]:,})")

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as scratch:
        folder: Path = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        measures = run(args.sizes, args.due, args.batch, folder, repeat=args.repeat)
    report(measures, args.due)
    problems = [p for m in measures for p in m.problems]
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
