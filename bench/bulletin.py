"""Monthly bulletin (月通报): seconds to compute what a bulletin reads over N grievances, beside
a bare `SELECT lead_unit, COUNT(*), COUNT(*) FILTER (...), SUM(...) FROM grievance GROUP BY
lead_unit` over the same N rows on the same database, in the same run.

    .venv/bin/python -m bench.bulletin [--n 1000000] [--seed 7] [--dir DIR]

The bulletin is the one of November 2026, seen at Mon 2026-12-07 09:00 (Asia/Shanghai):
the measures by unit, by category and in total, each with October's volume for the change
(`models.group_counts.measures_by`, one pass over each month's cohort), the overdue list (500
most late), and the repeat complainants and respondents. For reference the run also times
the three groupings as three separate `group_counts.measures` calls.

The data: about thirty real grievances are made through the use cases in the week of Mon
2026-09-07 (thirteen stories: reviewed, revisited, assigned late, closed late and
dissatisfied, redone, returned, no fault, closed and not revisited yet, handling, suspended,
assigned, accepted, merged), each accepted Monday 09:00, Wednesday 14:30 or Friday 16:00.
Their grievance and timer rows are copied N times with raw SQL in chunks, in acceptance
order, each copy shifted by whole weeks over thirteen weeks (Sep 7 to Dec 6) and given its
own number, unit (12), category, channel, phone, respondent and amount. A copy only takes a
story whose last event falls before the report's instant; copies older than two weeks are
rarely still open. An open timer whose deadline has passed is stored `breached`, as the
watchdog would have left it. Of the audit events only the assignments, returns and
reassignments are copied (their unit the copy's): the digests' 首办负责 figures read those
(`models.handoffs`); no other statement here reads the audit log.
Each is timed in `--repeat` rounds (all of them in turn, after a warm-up): the medians, on
the wall clock and as the process's CPU time. The goal (bulletin <= 3x the bare GROUP BY) is
judged on the CPU-time ratio (a shared machine's other jobs stretch the wall clock, not this
process's CPU time) and printed beside the figures, not enforced.
Also timed: the whole bulletin as issued (`service.digests.monthly`, rendered to HTML), whose
six-month trend reads the five earlier months in one statement (`models.trend_counts.trend`).
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from bench.summary import Line, Timed, seconds, timed
from models import group_counts, open_work, repeat_counts
from models.tables import Grievance, GrievanceEvent, SlaTimer
from models.types import UTCDateTime
from service import cases as uc
from service import digests
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.measures import month_of
from workflow.timers import TimerState
from workflow.vocab import Category, Channel, Event, Role

SH = ZoneInfo("Asia/Shanghai")
BASE_WEEK = datetime(2026, 9, 7, tzinfo=SH)  # a Monday
WEEKS = 13
STARTS = (timedelta(hours=9), timedelta(days=2, hours=14, minutes=30), timedelta(days=4, hours=16))
AS_OF = datetime(2026, 12, 7, 9, 0, tzinfo=SH)
PERIOD = month_of(date(2026, 11, 1))
UNITS = tuple(f"U{i:02d}" for i in range(1, 13))
CHUNK = 50_000
GOAL = 3.0  # the bulletin <= 3x the bare GROUP BY
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime on SQLite
DESK = Actor("bench-desk", Role.DISPATCHER)
HANDLER = Actor("bench-handler", Role.HANDLER, "UA")
SUPERVISOR = Actor("bench-supervisor", Role.SUPERVISOR, "UA")
REVIEWER = Actor("bench-reviewer", Role.REVIEWER)
FINDINGS = {
    "verification": "调取运单、通话记录",
    "facts": "运费已结清",
    "basis": "《道路货物运输及站场管理规定》",
    "explanation": "已电话告知司机核查结果",
    "explained_at": "2026-09-07T15:00:00+08:00",
    "evidence": ["运单截图"],
}
# counts with FILTER, as the bulletin's own statements count (measured 5-10 % faster than
# SUM(CASE WHEN ... THEN 1 ELSE 0 END) here): the reference gets the same technique
BARE_SQL = (
    "SELECT lead_unit, COUNT(*), "
    "COUNT(*) FILTER (WHERE closed_at IS NOT NULL), "
    "COUNT(*) FILTER (WHERE result = 'resolved'), "
    "SUM(COALESCE(amount_fen, 0)) "
    "FROM grievance GROUP BY lead_unit"
)

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- stories
@dataclass
class Story:
    """A way a grievance goes, told through the use cases from its acceptance instant."""

    name: str
    weight: int
    open: bool  # still open at its last event (rarely left so for weeks)
    steps: Callable[[Engine, str, datetime, dict[str, str]], None]


def _s(at: datetime, actor: Actor = DESK) -> Stamp:
    return Stamp(actor=actor, at=at, recorded_at=at)


def _worked(e: Engine, n: str, t: datetime, *, assign: timedelta = timedelta(minutes=20)) -> None:
    uc.assign(e, n, _s(t + assign), unit="UA")
    uc.sign(e, n, _s(t + assign + timedelta(minutes=20), HANDLER))


def _closed(e: Engine, n: str, at: datetime, result: str = "resolved") -> None:
    recovered = "3500" if result in ("resolved", "partly_resolved") else None
    uc.close(e, n, _s(at, HANDLER), result=result, note="办结", recovered=recovered)


D, H = timedelta(days=1), timedelta(hours=1)


def _reviewed(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t)
    uc.feedback(e, n, _s(t + 2 * H, HANDLER), note="已联系")
    _closed(e, n, t + D)
    uc.revisit(e, n, _s(t + 2 * D), satisfaction="satisfied")
    uc.review(e, n, _s(t + 3 * D, REVIEWER), root_cause="rc", actions="acts")


def _revisited(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t, assign=timedelta(minutes=15))
    _closed(e, n, t + 2 * D)
    uc.revisit(e, n, _s(t + 3 * D), satisfaction="basically_satisfied")


def _late_assign(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t, assign=D)
    _closed(e, n, t + 3 * D, "partly_resolved")
    uc.revisit(e, n, _s(t + 4 * D), satisfaction="satisfied")


def _late_close(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t)
    _closed(e, n, t + 8 * D, "unresolved")
    uc.revisit(e, n, _s(t + 9 * D), satisfaction="dissatisfied")


def _redone(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t)
    _closed(e, n, t + D, "unresolved")
    uc.revisit(e, n, _s(t + 2 * D), satisfaction="dissatisfied")
    uc.redo(e, n, _s(t + 2 * D + H), reason="司机不满意")
    _closed(e, n, t + 4 * D)
    uc.revisit(e, n, _s(t + 5 * D), satisfaction="satisfied")


def _returned(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    uc.assign(e, n, _s(t + timedelta(minutes=20)), unit="UA")
    uc.return_to_desk(e, n, _s(t + H, HANDLER), reason="非本单位")
    uc.reassign(e, n, _s(t + 2 * H), unit="UA", reason="经核实")
    uc.sign(e, n, _s(t + 3 * H, HANDLER))
    _closed(e, n, t + 2 * D)
    uc.revisit(e, n, _s(t + 3 * D), satisfaction="unreachable")


def _no_fault(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t)
    uc.close(e, n, _s(t + D, SUPERVISOR), result="no_fault", note="无责", findings=FINDINGS)
    uc.revisit(e, n, _s(t + 2 * D), satisfaction="satisfied")


def _closed_only(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t)
    _closed(e, n, t + D)


def _handling(e: Engine, n: str, t: datetime, made: dict[str, str]) -> None:
    _worked(e, n, t)
    made["handling"] = n


def _suspended(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    _worked(e, n, t)
    uc.suspend(e, n, _s(t + H, SUPERVISOR), reason="等待材料")


def _assigned(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    uc.assign(e, n, _s(t + timedelta(minutes=20)), unit="UA")


def _accepted(e: Engine, n: str, t: datetime, _: dict[str, str]) -> None:
    pass


def _merged(e: Engine, n: str, t: datetime, made: dict[str, str]) -> None:
    uc.merge(e, n, _s(t + H), into=made["handling"], reason="同一司机重复来电")


STORIES = (  # the handling story comes before the merged one: it is its target
    Story("reviewed", 20, False, _reviewed),
    Story("revisited", 20, False, _revisited),
    Story("late_assign", 6, False, _late_assign),
    Story("late_close", 6, False, _late_close),
    Story("redone", 4, False, _redone),
    Story("returned", 5, False, _returned),
    Story("no_fault", 5, False, _no_fault),
    Story("closed", 6, True, _closed_only),
    Story("handling", 10, True, _handling),
    Story("suspended", 3, True, _suspended),
    Story("assigned", 4, True, _assigned),
    Story("accepted", 3, True, _accepted),
    Story("merged", 2, False, _merged),
)


# ----------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class Template:
    """One story's rows as stored, accepted at one of the base week's start instants."""

    story: Story
    start: int  # index into STARTS
    accepted_at: datetime
    last_event_at: datetime
    grievance: tuple[Any, ...]
    timers: tuple[tuple[Any, ...], ...]
    events: tuple[tuple[Any, ...], ...]  # its assign, return and reassign events


@dataclass(frozen=True)
class Layout:
    grievance_columns: tuple[str, ...]
    timer_columns: tuple[str, ...]
    event_columns: tuple[str, ...]

    def g(self, column: str) -> int:
        return self.grievance_columns.index(column)

    def t(self, column: str) -> int:
        return self.timer_columns.index(column)

    def e(self, column: str) -> int:
        return self.event_columns.index(column)

    def insert(self, table: str, columns: Sequence[str]) -> str:
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        return f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (our names)


def _accept(ref: str) -> Accept:
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
            "respondent": "顺达物流",
        },
    )
    assert isinstance(command, Accept)
    return command


def _parse(value: str) -> datetime:
    return datetime.strptime(value, STAMP_FORMAT).replace(tzinfo=UTC)


def make_templates(path: Path) -> tuple[Layout, list[Template]]:
    """Tell every story at every start instant on a scratch database; read the rows back."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = Engine.open(f"sqlite:///{path}")
    made: dict[str, str] = {}
    told: list[tuple[Story, int, str]] = []
    try:
        add_unit(engine, _s(BASE_WEEK - D), code="UA", name="单位UA")
        for start, offset in enumerate(STARTS):
            for story in STORIES:
                at = BASE_WEEK + offset
                number = uc.accept(engine, _accept(f"T-{story.name}-{start}"), _s(at)).number
                story.steps(engine, number, at, made)
                told.append((story, start, number))
    finally:
        engine.db.dispose()
    connection = sqlite3.connect(path)
    try:
        g_cursor = connection.execute("SELECT * FROM grievance LIMIT 0")
        t_cursor = connection.execute("SELECT * FROM sla_timer LIMIT 0")
        e_cursor = connection.execute("SELECT * FROM grievance_event LIMIT 0")
        layout = Layout(
            tuple(d[0] for d in g_cursor.description),
            tuple(d[0] for d in t_cursor.description),
            tuple(d[0] for d in e_cursor.description),
        )
        templates = []
        for story, start, number in told:
            row = connection.execute("SELECT * FROM grievance WHERE number = ?", (number,))
            grievance = tuple(row.fetchone())
            timers = connection.execute(
                "SELECT * FROM sla_timer WHERE number = ? ORDER BY id", (number,)
            ).fetchall()
            events = connection.execute(
                "SELECT * FROM grievance_event WHERE number = ? AND event IN"
                " ('assign', 'return', 'reassign') ORDER BY seq",
                (number,),
            ).fetchall()
            templates.append(
                Template(
                    story,
                    start,
                    _parse(grievance[layout.g("accepted_at")]),
                    _parse(grievance[layout.g("last_event_at")]),
                    grievance,
                    tuple(tuple(t) for t in timers),
                    tuple(tuple(e) for e in events),
                )
            )
    finally:
        connection.close()
    return layout, templates


def _datetime_columns(table: Any, columns: Sequence[str]) -> list[int]:
    return [
        i
        for i, name in enumerate(columns)
        if isinstance(table.__table__.columns[name].type, UTCDateTime)
    ]


def _shift(value: Any, by: timedelta) -> Any:
    return None if value is None else (_parse(value) + by).strftime(STAMP_FORMAT)


@dataclass(frozen=True)
class Shifted:
    """A template moved by whole weeks, ready to copy (open, late timers stored breached)."""

    story: Story
    grievance: tuple[Any, ...]
    timers: tuple[tuple[Any, ...], ...]
    events: tuple[tuple[Any, ...], ...]
    returned_at: int  # the index of its return among `events` (0: none)
    has_unit: bool
    recovered: bool


def shifted(layout: Layout, template: Template, weeks: int, as_of: datetime) -> Shifted:
    by = timedelta(weeks=weeks)
    row = list(template.grievance)
    for i in _datetime_columns(Grievance, layout.grievance_columns):
        row[i] = _shift(row[i], by)
    timers = []
    late_state = TimerState.BREACHED.value
    for timer in template.timers:
        values = list(timer)
        for i in _datetime_columns(SlaTimer, layout.timer_columns):
            values[i] = _shift(values[i], by)
        due = _parse(values[layout.t("due_at")])
        is_open = values[layout.t("stopped_at")] is None
        if is_open and values[layout.t("state")] == TimerState.RUNNING.value and due < as_of:
            values[layout.t("state")] = late_state
            values[layout.t("breached_at")] = values[layout.t("due_at")]
        timers.append(tuple(values))
    events = []
    for audit in template.events:
        values = list(audit)
        for i in _datetime_columns(GrievanceEvent, layout.event_columns):
            values[i] = _shift(values[i], by)
        events.append(tuple(values))
    return Shifted(
        template.story,
        tuple(row),
        tuple(timers),
        tuple(events),
        next((k for k, e in enumerate(events) if e[layout.e("event")] == "return"), 0),
        row[layout.g("lead_unit")] is not None,
        row[layout.g("recovered_fen")] is not None,
    )


# ----------------------------------------------------------------------------- generation
def generate(path: Path, n: int, seed: int, log: Log) -> int:
    """A database of `n` grievances over thirteen weeks; returns how many timer rows."""
    folder = path.parent
    layout, templates = make_templates(folder / "bulletin-template.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    Engine.open(f"sqlite:///{path}").db.dispose()  # the schema, by the migrations
    rng = random.Random(seed)
    slots = WEEKS * len(STARTS)
    choices: list[tuple[list[Shifted], list[int]]] = []
    for slot in range(slots):
        weeks, start = divmod(slot, len(STARTS))
        eligible, weights = [], []
        for template in templates:
            if template.start != start:
                continue
            last = template.last_event_at + timedelta(weeks=weeks)
            if last >= AS_OF:
                continue
            old = AS_OF - (template.accepted_at + timedelta(weeks=weeks)) > timedelta(days=14)
            weight = template.story.weight * (1 if not (old and template.story.open) else 0.05)
            eligible.append(shifted(layout, template, weeks, AS_OF))
            weights.append(max(1, round(weight * 20)))
        choices.append((eligible, weights))
    categories = [c.value for c in Category]
    channels = [c.value for c in Channel]
    unit_weights = [12 - i for i in range(len(UNITS))]
    frequent = [f"139{rng.randrange(10**8):08d}" for _ in range(200)]
    companies = [f"物流公司{i:04d}" for i in range(5000)]
    g_sql = layout.insert("grievance", layout.grievance_columns)
    t_sql = layout.insert("sla_timer", layout.timer_columns)
    e_sql = layout.insert("grievance_event", layout.event_columns)
    ei = {c: layout.e(c) for c in ("id", "grievance_id", "number", "payload")}
    e_stride = 1 + max(len(t.events) for t in templates)
    gi = {c: layout.g(c) for c in layout.grievance_columns}
    ti = {c: layout.t(c) for c in ("id", "grievance_id", "number")}
    stride = 1 + max(len(t.timers) for t in templates)
    connection = sqlite3.connect(path, isolation_level=None)
    started = time.perf_counter()
    timer_rows = 0
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")  # 256 MiB
        connection.execute("BEGIN")
        now = AS_OF.astimezone(UTC).strftime(STAMP_FORMAT)
        connection.executemany(
            "INSERT INTO unit (code, name, created_at, created_by, notify, supervisor_notify) "
            "VALUES (?, ?, ?, 'bench', '[]', '[]')",
            [(u, f"单位{u}", now) for u in UNITS],
        )
        connection.execute("COMMIT")
        for first in range(0, n, CHUNK):
            grievances, timers, events = [], [], []
            for i in range(first, min(first + CHUNK, n)):
                eligible, weights = choices[i * slots // n]
                pick = rng.choices(eligible, weights)[0]
                gid, number = i + 1, f"B{i:08d}"
                row = list(pick.grievance)
                row[gi["id"]], row[gi["number"]], row[gi["ref"]] = gid, number, f"B-{i:08d}"
                row[gi["category"]] = categories[min(int(rng.expovariate(0.35)), 11)]
                row[gi["channel"]] = rng.choice(channels)
                roll = rng.random()
                row[gi["phone"]] = (
                    rng.choice(frequent) if roll < 0.05 else f"138{rng.randrange(n * 4):08d}"
                )
                row[gi["respondent"]] = (
                    companies[int(5000 * rng.random() ** 2)] if rng.random() < 0.6 else None
                )
                amount = rng.randrange(100, 50_000) * 100 if rng.random() < 0.7 else None
                row[gi["amount_fen"]] = amount
                row[gi["recovered_fen"]] = amount if pick.recovered and amount else None
                if pick.has_unit:
                    unit = rng.choices(UNITS, unit_weights)[0]
                    row[gi["lead_unit"]] = row[gi["first_handler_unit"]] = unit
                    # a returned grievance was with another unit until its return
                    prior = UNITS[(UNITS.index(unit) + 1) % len(UNITS)]
                    for k, audit in enumerate(pick.events):
                        values = list(audit)
                        values[ei["id"]] = gid * e_stride + k
                        values[ei["grievance_id"]], values[ei["number"]] = gid, number
                        held = prior if k < pick.returned_at else unit
                        values[ei["payload"]] = values[ei["payload"]].replace('"UA"', f'"{held}"')
                        events.append(values)
                grievances.append(row)
                for k, timer in enumerate(pick.timers):
                    values = list(timer)
                    values[ti["id"]] = gid * stride + k
                    values[ti["grievance_id"]], values[ti["number"]] = gid, number
                    timers.append(values)
            connection.execute("BEGIN")
            connection.executemany(g_sql, grievances)
            connection.executemany(t_sql, timers)
            connection.executemany(e_sql, events)
            connection.execute("COMMIT")
            timer_rows += len(timers)
            done = first + len(grievances)
            log(f"  {done:>9,} / {n:,} grievances ({time.perf_counter() - started:.0f} s)")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return timer_rows


# ----------------------------------------------------------------------------- measurements
@dataclass
class Bulletin:
    units: int
    overdue: int
    complainants: int
    respondents: int
    cohort: int


def bulletin(engine: Engine) -> Bulletin:
    """What a monthly bulletin computes (the measures in one pass per month)."""
    with engine.db.read() as session:
        measures = group_counts.measures_by(session, PERIOD, AS_OF, ["unit", "category", None])
        late = open_work.overdue_list(session, AS_OF, engine.calendar, engine.policies)
        start = datetime.combine(PERIOD.start, datetime.min.time(), tzinfo=SH)
        end = datetime.combine(PERIOD.end, datetime.min.time(), tzinfo=SH)
        complainants = repeat_counts.repeat_complainants(session, start, end)
        respondents = repeat_counts.repeat_respondents(session, start, end)
    return Bulletin(
        len(measures["unit"]),
        len(late),
        len(complainants),
        len(respondents),
        measures[None][0].volume,
    )


def whole_bulletin(engine: Engine) -> int:
    """The real thing: `service.digests.monthly` (six-month trend included) rendered as HTML."""
    digest = digests.monthly(engine, PERIOD, AS_OF)
    return len(digests.render_digest(digest, "html"))


def separate_measures(engine: Engine) -> None:
    """The three groupings as three `measures` calls (each its own pass)."""
    with engine.db.read() as session:
        for by in ("unit", "category", None):
            group_counts.measures(session, PERIOD, AS_OF, by)


def bare(engine: Engine) -> int:
    with engine.db.read() as session:
        return len(session.connection().exec_driver_sql(BARE_SQL).all())


def _rounds(
    functions: dict[str, Callable[[Engine], Any]], engine: Engine, repeat: int
) -> tuple[dict[str, Timed], dict[str, Any]]:
    """Each function once as a warm-up, then `repeat` rounds of all of them in turn (so a
    shared machine's changing load falls on each alike): the median wall and CPU seconds of
    each, and its last result."""
    results = {name: function(engine) for name, function in functions.items()}
    walls: dict[str, list[float]] = {name: [] for name in functions}
    cpus: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            with timed() as took:
                results[name] = function(engine)
            walls[name].append(took.wall)
            cpus[name].append(took.cpu)
    medians = {
        name: Timed(statistics.median(walls[name]), statistics.median(cpus[name]))
        for name in functions
    }
    return medians, results


def plans(engine: Engine) -> list[str]:
    """EXPLAIN QUERY PLAN of every statement the bulletin sends, as `models` sends them."""
    sent: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.db.engine, "before_cursor_execute", grab)
    try:
        bulletin(engine)
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", grab)
    lines = []
    with engine.db.engine.connect() as connection:
        for statement, parameters in sent:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            head = " ".join(statement.split())[:90]
            lines.append(f"  {head}...\n    " + "; ".join(str(r[-1]) for r in rows))
    return lines


@dataclass
class Result:
    n: int
    timer_rows: int
    generate_s: float
    bare: Timed
    groups: int
    bulletin_time: Timed
    bulletin: Bulletin
    whole: Timed
    html_bytes: int
    separate: Timed
    query_plans: list[str]

    @property
    def ratio(self) -> float:
        """The bulletin / the bare GROUP BY, in CPU time (the goal's figure)."""
        return self.bulletin_time.cpu / self.bare.cpu

    @property
    def ratio_wall(self) -> float:
        return self.bulletin_time.wall / self.bare.wall

    @property
    def whole_ratio(self) -> float:
        return self.whole.cpu / self.bare.cpu

    @property
    def whole_ratio_wall(self) -> float:
        return self.whole.wall / self.bare.wall


def run(
    n: int, seed: int, repeat: int, folder: Path, log: Log = _stderr, with_plans: bool = False
) -> Result:
    path = folder / f"bulletin-{n}.db"
    log(f"bulletin: generating {n:,} grievances...")
    t0 = time.perf_counter()
    timer_rows = generate(path, n, seed, log)
    generate_s = time.perf_counter() - t0
    engine = Engine.open(f"sqlite:///{path}")
    functions: dict[str, Callable[[Engine], Any]] = {
        "bare": bare,
        "bulletin": bulletin,
        "whole": whole_bulletin,
        "separate": separate_measures,
    }
    try:
        log(f"bulletin: timing, {repeat} rounds (bare GROUP BY, bulletin, whole, separate)...")
        times, results = _rounds(functions, engine, repeat)
        query_plans = plans(engine) if with_plans else []
    finally:
        engine.db.dispose()
    return Result(
        n=n,
        timer_rows=timer_rows,
        generate_s=generate_s,
        bare=times["bare"],
        groups=results["bare"],
        bulletin_time=times["bulletin"],
        bulletin=results["bulletin"],
        whole=times["whole"],
        html_bytes=results["whole"],
        separate=times["separate"],
        query_plans=query_plans,
    )


def _verdict(ratio: float) -> str:
    return "met" if ratio <= GOAL else "missed"


def _both(t: Timed) -> str:
    return f"{seconds(t.wall)} ({seconds(t.cpu)} CPU)"


def report(r: Result) -> None:
    b = r.bulletin
    print(
        f"monthly bulletin {PERIOD.label} at {AS_OF:%Y-%m-%d %H:%M} (Asia/Shanghai), SQLite, "
        f"{r.n:,} grievances, {r.timer_rows:,} timers (generated in {r.generate_s:.1f} s)"
    )
    print(
        f"  cohort {b.cohort:,}, {b.units} unit rows, overdue list {b.overdue}, "
        f"repeat complainants {b.complainants}, respondents {b.respondents}"
    )
    print("(medians: wall clock, and the process's CPU time in brackets)")
    print(f"bare GROUP BY lead_unit over all {r.n:,} rows ({r.groups} groups): {_both(r.bare)}")
    print(f"bulletin (measures_by unit/category/total, overdue, repeats): {_both(r.bulletin_time)}")
    print(f"  for reference: three separate measures() calls: {_both(r.separate)}")
    print(
        f"whole bulletin as issued (digests.monthly with its 6-month trend, rendered to "
        f"{r.html_bytes:,} bytes of HTML): {_both(r.whole)}, {r.whole_ratio:.2f}x the bare "
        f"GROUP BY in CPU time, {r.whole_ratio_wall:.2f}x wall clock "
        f"(goal <= {GOAL:.0f}x: {_verdict(r.whole_ratio)})"
    )
    print(
        f"ratio bulletin / bare GROUP BY: {r.ratio:.2f}x in CPU time, {r.ratio_wall:.2f}x wall "
        f"clock  (goal <= {GOAL:.0f}x: {_verdict(r.ratio)})"
    )
    for line in r.query_plans:
        print(line)


def lines(r: Result) -> list[Line]:
    bare = f"bare GROUP BY over {r.n:,}: {_both(r.bare)}"
    return [
        Line(
            "bulletin",
            f"measures (unit, category, total), overdue, repeats over {r.n:,}: "
            f"{_both(r.bulletin_time)}",
            bare,
            f"{r.ratio:.2f}x CPU ({r.ratio_wall:.2f}x wall)",
            f"<= {GOAL:.0f}x",
            _verdict(r.ratio),
        ),
        Line(
            "bulletin",
            f"whole bulletin as issued (6-month trend, HTML): {_both(r.whole)}",
            bare,
            f"{r.whole_ratio:.2f}x CPU ({r.whole_ratio_wall:.2f}x wall)",
            f"<= {GOAL:.0f}x",
            _verdict(r.whole_ratio),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="grievances")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (median)")
    parser.add_argument("--dir", type=Path, help="where the databases go (default: a temp dir)")
    parser.add_argument("--plans", action="store_true", help="print the query plans")
    args = parser.parse_args(argv)
    if args.n < 100:
        parser.error("--n must be at least 100")

    with tempfile.TemporaryDirectory(prefix="bench-bulletin-") as scratch:
        folder: Path = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        result = run(args.n, args.seed, args.repeat, folder, with_plans=args.plans)
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
