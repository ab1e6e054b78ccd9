"""A grievance's full lifecycle through the use-case layer, beside the same row writes done
with bare sqlite3 (the floor), in the same run.

    .venv/bin/python -m bench.lifecycle [--n 2000] [--seed 7] [--dir DIR]

The work: N synthetic work orders (`bench.synthetic`: channels, categories routed to seven
units, business-hour arrivals over four weeks, a share of late steps that breach their
limits) each go accept -> assign -> sign -> feedback -> close -> revisit -> review through
`service.cases`, every step at its own drawn instant (never the clock). About one in twenty
drivers is unreachable at the first revisit (a second revisit the next day), one in eleven
dissatisfied (an outbox row to the unit's supervisor), one in sixteen closed `no_fault` by
the unit supervisor with findings (the no-fault statement is issued, HTML and Word); every
review issues its review report (HTML and Word). As in production, the use cases only queue
those documents (a job row, in the record's transaction); after each chunk they are issued
(`service.documents.issue`: rendered and stored after the commits, as the action that queued
them or the next watchdog tick does), timed apart.

The floor: every write statement the use cases sent (inserts and updates of grievance, audit
events, timers, outbox rows, document jobs, the number counter, with their parameters exactly
as bound) is recorded per transaction, then replayed with the `sqlite3` module on a fresh
database of the same schema and pragmas (`models.db`: WAL, synchronous=NORMAL, foreign keys,
cache and memory map): one BEGIN IMMEDIATE ... COMMIT per use-case call, no reads; the
issuing's writes (documents, jobs marked done) likewise, timed apart.

The statements come from a twin run: each chunk of 25 lifecycles first goes through the use
cases on a database of its own with the recorder listening to SQLAlchemy's statement events
(not timed: listening costs about a tenth of a use case, which is not the use cases' cost),
then through the use cases again on the timed database with nothing listening, then its
recorded writes are replayed bare. The two timed sides thus run back to back, chunk after
chunk, on the same state of a shared machine. The runs are the same (same plan, same
instants), and the check that the timed database and the floor's end up holding the same
rows (ids included) proves it. Both sides are timed on the wall clock and as the process's
CPU time; the goal (use cases >= 25 % of the floor's rate) is judged on CPU time, which a
shared machine's other jobs stretch far less than the wall clock. Also printed: the
chunk-by-chunk ratios' median and quartiles, the twin's CPU time, and the ratio with the
issuing of the documents counted on both sides.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench import synthetic
from bench.summary import NO_GOAL, Line, goal_at_least
from service import cases as uc
from service import documents
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.vocab import Event, Role

FIRST_DAY = date(2026, 11, 2)  # a Monday; four weeks of arrivals
DAYS = 28
DESK = Actor("张受理", Role.DISPATCHER)
REVIEWER = Actor("复盘组", Role.REVIEWER)
STEPS = ("accept", "assign", "sign", "feedback", "close", "revisit", "review")
TABLES = (
    "grievance",
    "grievance_event",
    "sla_timer",
    "notification",
    "document_job",
    "document",
    "number_counter",
)
GOAL = 0.25  # use-case rate >= 25 % of the floor
CHUNK = 25  # lifecycles per turn: use cases, then the same writes bare

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ----------------------------------------------------------------------------- the work
@dataclass(frozen=True, slots=True)
class Step:
    """One use-case call: which step, the function, its arguments."""

    name: str
    call: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def _stamp(actor: Actor, at: datetime) -> Stamp:
    return Stamp(actor=actor, at=at, recorded_at=at)


def _findings(at: datetime) -> dict[str, Any]:
    return {
        "verification": "调取运单、通话记录，走访货主",
        "facts": "运费已按合同结清",
        "basis": "《道路货物运输及站场管理规定》",
        "explanation": "已电话告知司机核查结果及依据",
        "explained_at": at.isoformat(),
        "evidence": ["运单截图", "银行转账凭证"],
    }


def _accept(engine: Engine, data: dict[str, Any], stamp: Stamp) -> Any:
    command = parse_command(Event.ACCEPT, data)  # the caller validates, as the CLI does
    assert isinstance(command, Accept)
    return uc.accept(engine, command, stamp)


def plan(n: int, seed: int, prefix: str = "L") -> list[list[Step]]:
    """For each of N orders, its steps in order (the number comes from its accept)."""
    rng = random.Random(seed)
    orders = [synthetic.order(rng, i, FIRST_DAY, DAYS, prefix=prefix) for i in range(n)]
    work = []
    for o in orders:
        s = synthetic.story(rng)
        handler = Actor(f"{o.unit}办理员", Role.HANDLER, o.unit)
        supervisor = Actor(f"{o.unit}科长", Role.SUPERVISOR, o.unit)
        t = o.accepted_at
        steps = [Step("accept", _accept, (o.accept_data(), _stamp(DESK, t)), {})]
        t += s.assign
        steps.append(Step("assign", uc.assign, (_stamp(DESK, t),), {"unit": o.unit}))
        t += s.sign
        steps.append(Step("sign", uc.sign, (_stamp(handler, t),), {}))
        t += s.feedback
        steps.append(Step("feedback", uc.feedback, (_stamp(handler, t),), {"note": "已联系对方"}))
        t += s.close
        if s.result == "no_fault":
            close = {"result": "no_fault", "note": "经核实无过错", "findings": _findings(t)}
            steps.append(Step("close", uc.close, (_stamp(supervisor, t),), close))
        else:
            recovered = o.amount if o.amount and s.result == "resolved" else None
            close = {"result": s.result, "note": "已办结", "recovered": recovered}
            steps.append(Step("close", uc.close, (_stamp(handler, t),), close))
        t += s.revisit
        if s.unreachable_first:
            steps.append(
                Step("revisit", uc.revisit, (_stamp(DESK, t),), {"satisfaction": "unreachable"})
            )
            t += timedelta(days=1)
        answer = {"satisfaction": s.satisfaction}
        if s.satisfaction == "dissatisfied":
            answer["note"] = "司机认为处理不到位"
        steps.append(Step("revisit", uc.revisit, (_stamp(DESK, t),), answer))
        t += s.review
        review = {"root_cause": "货主资金周转困难", "actions": "约谈货主，纳入信用记录"}
        steps.append(Step("review", uc.review, (_stamp(REVIEWER, t),), review))
        work.append(steps)
    return work


# ----------------------------------------------------------------------------- recording
Statement = tuple[str, Any]  # SQL as sent, parameters as bound (a list for executemany)


@dataclass
class Recorder:
    """The write statements of each committed write transaction, in order."""

    transactions: list[list[Statement]] = field(default_factory=list)
    current: list[Statement] | None = None

    def attach(self, engine: Engine) -> None:
        event.listen(engine.db.engine, "before_cursor_execute", self._statement)
        event.listen(engine.db.engine, "commit", self._commit)
        event.listen(engine.db.engine, "rollback", self._rollback)

    def detach(self, engine: Engine) -> None:
        event.remove(engine.db.engine, "before_cursor_execute", self._statement)
        event.remove(engine.db.engine, "commit", self._commit)
        event.remove(engine.db.engine, "rollback", self._rollback)

    def _statement(
        self, _c: Any, _cur: Any, sql: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        if sql == "BEGIN IMMEDIATE":
            self.current = []
        elif self.current is not None and sql[:6] in ("INSERT", "UPDATE", "DELETE"):
            self.current.append((sql, parameters))

    def _commit(self, _conn: Any) -> None:
        if self.current is not None:
            self.transactions.append(self.current)
        self.current = None

    def _rollback(self, _conn: Any) -> None:
        self.current = None


# ----------------------------------------------------------------------------- measuring
@dataclass
class Result:
    n: int
    calls: int
    engine_s: float
    documents_s: float  # issuing the queued documents after the commits (documents.issue)
    documents_cpu: float  # the same in CPU time
    documents_issued: int  # document jobs issued (each: HTML and Word stored)
    recorded_cpu: float  # the same use cases run again with the recorder listening, CPU time
    chunk_ratios: list[float]  # the floor's CPU time / the use cases', chunk by chunk
    floor_documents_cpu: float  # the floor's writes of the same documents, CPU time
    floor_s: float
    engine_cpu: float  # process CPU time of the same (less sensitive to a busy machine)
    floor_cpu: float
    per_step: dict[str, tuple[int, float, float]]  # step: (calls, use-case s, floor s)
    rows: dict[str, int]
    floor_rows: dict[str, int]
    same_rows: bool
    breached: int  # grievances with at least one breached limit
    timers_breached: int
    timers: int
    dissatisfied: int
    problems: list[str]

    @property
    def engine_rate(self) -> float:
        return self.n / self.engine_s

    @property
    def floor_rate(self) -> float:
        return self.n / self.floor_s

    @property
    def ratio(self) -> float:
        """The use-case rate as a share of the floor's, in CPU time (the goal's figure)."""
        return self.floor_cpu / self.engine_cpu

    @property
    def chunk_quartiles(self) -> tuple[float, float, float]:
        """The chunk-by-chunk ratios' quartiles: each pairs the two sides a moment apart,
        so a machine that speeds up and slows down moves both sides of it together."""
        if len(self.chunk_ratios) < 2:
            ratio = self.chunk_ratios[0] if self.chunk_ratios else self.ratio
            return ratio, ratio, ratio
        low, mid, high = statistics.quantiles(self.chunk_ratios, n=4)
        return low, mid, high

    @property
    def ratio_wall(self) -> float:
        return self.engine_rate / self.floor_rate

    @property
    def ratio_with_documents(self) -> float:
        """The same, counting the issuing of the queued documents on both sides."""
        floor = self.floor_cpu + self.floor_documents_cpu
        return floor / (self.engine_cpu + self.documents_cpu)


def _connect(path: Path) -> sqlite3.Connection:
    """A bare connection with the engine's pragmas (`models.db._set_up_sqlite`)."""
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "busy_timeout=30000",
        "foreign_keys=ON",
        "synchronous=NORMAL",
        "cache_size=-65536",
        "mmap_size=268435456",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def replay(connection: sqlite3.Connection, transaction: Sequence[Statement]) -> None:
    """One recorded transaction with bare sqlite3."""
    connection.execute("BEGIN IMMEDIATE")
    for sql, parameters in transaction:
        if isinstance(parameters, list):
            connection.executemany(sql, parameters)
        else:
            cursor = connection.execute(sql, parameters)
            if "RETURNING" in sql:
                cursor.fetchall()
    connection.execute("COMMIT")


def _counts(connection: sqlite3.Connection) -> dict[str, int]:
    return {t: connection.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608


def _digest(connection: sqlite3.Connection) -> str:
    """A hash of every row of the written tables (ids included): both sides must agree."""
    h = hashlib.sha256()
    for table in TABLES:
        for row in connection.execute(f"SELECT * FROM {table} ORDER BY 1"):  # noqa: S608
            h.update(repr(row).encode())
    return h.hexdigest()


def run(n: int, seed: int, folder: Path, log: Log = _stderr, chunk: int = CHUNK) -> Result:
    """Drive the lifecycles through the use cases and replay their writes on the floor,
    chunk by chunk (see the module's docstring: a recorded twin run, the timed run, the
    floor), so both sides see the same load of a shared machine."""
    work = plan(n, seed)
    paths = [folder / f"lifecycle-{name}.db" for name in ("engine", "recorded", "floor")]
    for path in paths:
        _remove_database(path)
    engine_path, recorded_path, floor_path = paths
    engine = Engine.open(f"sqlite:///{engine_path}")
    recorded = Engine.open(f"sqlite:///{recorded_path}")
    Engine.open(f"sqlite:///{floor_path}").db.dispose()  # the same schema, by the migrations
    connection = _connect(floor_path)
    recorder = Recorder()
    issued_at = datetime.combine(FIRST_DAY + timedelta(days=DAYS + 40), datetime.min.time())
    issued_at = issued_at.replace(tzinfo=synthetic.SH)
    documents_s = documents_cpu = floor_documents_cpu = recorded_cpu = 0.0
    documents_issued = 0
    chunk_ratios: list[float] = []  # floor / use cases in CPU time, chunk by chunk
    engine_time = dict.fromkeys(STEPS, 0.0)
    floor_time = dict.fromkeys(STEPS, 0.0)
    calls = dict.fromkeys(STEPS, 0)
    engine_s = floor_s = engine_cpu = floor_cpu = 0.0
    try:
        recorder.attach(recorded)
        setup = _stamp(DESK, datetime.combine(FIRST_DAY, datetime.min.time(), synthetic.SH))
        warm = plan(3, seed + 1, prefix="WARM")
        for side in (engine, recorded):
            for code, name, _ in synthetic.UNITS:
                add_unit(
                    side,
                    setup,
                    code=code,
                    name=name,
                    notify=[f"inbox://{code.lower()}"],
                    supervisor_notify=[f"inbox://{code.lower()}-supervisor"],
                )
            # warm-up (imports, template compilation, caches) on throwaway orders, not timed
            for steps in warm:
                _drive(side, steps, None, None, None)
            documents.issue(side, issued_at)
        for transaction in recorder.transactions:  # units and warm-up, not timed
            replay(connection, transaction)
        recorder.transactions.clear()
        log(f"lifecycle: {n:,} grievances through the use cases, and their writes bare...")
        started = last = time.perf_counter()
        for first in range(0, n, chunk):
            names: list[str] = []
            lifecycles = work[first : first + chunk]
            # the chunk recorded first (its CPU time kept apart), then timed, then its writes
            # bare: the two timed sides run back to back, on the same state of the machine
            c0 = time.process_time()
            for steps in lifecycles:
                _drive(recorded, steps, None, None, None)
            recorded_cpu += time.process_time() - c0
            t0, c0 = time.perf_counter(), time.process_time()
            for steps in lifecycles:
                _drive(engine, steps, engine_time, calls, names)
            engine_s += time.perf_counter() - t0
            chunk_cpu = time.process_time() - c0
            engine_cpu += chunk_cpu
            if len(recorder.transactions) != len(names):
                raise RuntimeError(f"{len(recorder.transactions)} transactions, {len(names)} calls")
            chunk_floor = 0.0
            for name, transaction in zip(names, recorder.transactions, strict=True):
                t1, c1 = time.perf_counter(), time.process_time()
                replay(connection, transaction)
                floor_time[name] += time.perf_counter() - t1
                floor_s += time.perf_counter() - t1
                chunk_floor += time.process_time() - c1
            floor_cpu += chunk_floor
            chunk_ratios.append(chunk_floor / chunk_cpu)
            recorder.transactions.clear()
            # the documents the chunk's reviews and no-fault closes queued, issued after their
            # commits (what the action, or else the next watchdog tick, does), on both
            # databases; their writes bare
            t0, c0 = time.perf_counter(), time.process_time()
            issued = documents.issue(engine, issued_at, limit=10 * chunk)
            documents_s += time.perf_counter() - t0
            documents_cpu += time.process_time() - c0
            if any(job.error for job in issued):
                raise RuntimeError(f"document not issued: {issued}")
            documents_issued += len(issued)
            issued_again = documents.issue(recorded, issued_at, limit=10 * chunk)
            if len(issued_again) != len(issued):
                raise RuntimeError(f"{len(issued_again)} documents recorded, {len(issued)} timed")
            for transaction in recorder.transactions:
                c1 = time.process_time()
                replay(connection, transaction)
                floor_documents_cpu += time.process_time() - c1
            recorder.transactions.clear()
            now = time.perf_counter()
            if now - last > 5:
                done = min(first + chunk, n)
                log(f"  {done:,} / {n:,} lifecycles ({now - started:.0f} s)")
                last = now
        floor_rows, floor_digest = _counts(connection), _digest(connection)
    finally:
        recorder.detach(recorded)
        engine.db.dispose()
        recorded.db.dispose()
        connection.close()

    connection = sqlite3.connect(engine_path)
    try:
        rows, digest = _counts(connection), _digest(connection)
        timers = connection.execute("SELECT COUNT(*) FROM sla_timer").fetchone()[0]
        timers_breached = connection.execute(
            "SELECT COUNT(*) FROM sla_timer WHERE state = 'breached'"
        ).fetchone()[0]
        breached = connection.execute(
            "SELECT COUNT(DISTINCT grievance_id) FROM sla_timer WHERE state = 'breached'"
        ).fetchone()[0]
        dissatisfied = connection.execute(
            "SELECT COUNT(*) FROM grievance WHERE satisfaction = 'dissatisfied'"
        ).fetchone()[0]
        reviewed = connection.execute(
            "SELECT COUNT(*) FROM grievance WHERE state = 'reviewed'"
        ).fetchone()[0]
    finally:
        connection.close()
    problems = []
    if reviewed != n + len(warm):
        problems.append(f"{reviewed} grievances reviewed, {n + len(warm)} expected")
    if digest != floor_digest:
        problems.append(f"the floor's rows differ from the use cases': {floor_rows} vs {rows}")
    return Result(
        n=n,
        calls=sum(calls.values()),
        engine_s=engine_s,
        documents_s=documents_s,
        documents_cpu=documents_cpu,
        documents_issued=documents_issued,
        recorded_cpu=recorded_cpu,
        chunk_ratios=chunk_ratios,
        floor_documents_cpu=floor_documents_cpu,
        floor_s=floor_s,
        engine_cpu=engine_cpu,
        floor_cpu=floor_cpu,
        per_step={s: (calls[s], engine_time[s], floor_time[s]) for s in STEPS},
        rows=rows,
        floor_rows=floor_rows,
        same_rows=digest == floor_digest,
        breached=breached,
        timers_breached=timers_breached,
        timers=timers,
        dissatisfied=dissatisfied,
        problems=problems,
    )


def _drive(
    engine: Engine,
    steps: Sequence[Step],
    times: dict[str, float] | None,
    calls: dict[str, int] | None,
    names: list[str] | None,
) -> None:
    number = ""
    for step in steps:
        t0 = time.perf_counter()
        if step.name == "accept":
            number = step.call(engine, *step.args).number
        else:
            step.call(engine, number, *step.args, **step.kwargs)
        if times is not None and calls is not None and names is not None:
            times[step.name] += time.perf_counter() - t0
            calls[step.name] += 1
            names.append(step.name)


# ----------------------------------------------------------------------------- report
def report(r: Result) -> None:
    print(
        f"grievance lifecycle (accept -> assign -> sign -> feedback -> close -> revisit -> "
        f"review), {r.n:,} synthetic grievances, {r.calls:,} use-case calls, SQLite"
    )
    print(
        f"  breached at least one limit: {r.breached:,} ({r.breached / r.n:.1%}); "
        f"timers {r.timers:,}, breached {r.timers_breached:,}; dissatisfied {r.dissatisfied:,}"
    )
    print("  rows written: " + ", ".join(f"{t} {c:,}" for t, c in r.rows.items()))
    print(f"{'step':<10}{'calls':>8}{'use case ms':>13}{'floor ms':>10}{'floor/use case':>16}")
    for name, (calls, engine_s, floor_s) in r.per_step.items():
        if calls:
            e_ms, f_ms = 1000 * engine_s / calls, 1000 * floor_s / calls
            print(f"{name:<10}{calls:>8,}{e_ms:>13.2f}{f_ms:>10.2f}{f_ms / e_ms:>15.1%}")
    print(
        f"use cases: {r.engine_s:.2f} s, {r.engine_rate:,.1f} lifecycles/s; bare sqlite3 floor: "
        f"{r.floor_s:.2f} s, {r.floor_rate:,.1f} lifecycles/s; same rows: "
        f"{'yes' if r.same_rows else 'NO'}"
    )
    print(
        f"  CPU time: use cases {r.engine_cpu:.2f} s, floor {r.floor_cpu:.2f} s "
        f"({r.n / r.engine_cpu:,.1f} and {r.n / r.floor_cpu:,.1f} lifecycles per CPU second)"
    )
    jobs = max(1, r.documents_issued)
    print(
        f"  then issuing the {r.documents_issued:,} documents they queued (review reports, "
        f"no-fault statements: HTML and Word each, flows.documents.issue, after the commits): "
        f"{r.documents_s:.2f} s, {r.documents_cpu:.2f} CPU s "
        f"({1000 * r.documents_cpu / jobs:.1f} ms CPU each; the floor's writes of them "
        f"{r.floor_documents_cpu:.2f} CPU s); counted in, the use cases run at "
        f"{r.ratio_with_documents:.1%} of the floor"
    )
    print(
        f"  the same lifecycles run again with the recorder listening (where the floor's "
        f"statements come from): {r.recorded_cpu:.2f} CPU s, {r.floor_cpu / r.recorded_cpu:.1%} "
        f"of the floor"
    )
    low, mid, high = r.chunk_quartiles
    print(
        f"  chunk by chunk ({len(r.chunk_ratios)} chunks of {CHUNK} lifecycles, the two sides "
        f"back to back): median {mid:.1%}, quartiles {low:.1%} - {high:.1%}"
    )
    print(
        f"ratio use-case rate / bare sqlite3 floor: {r.ratio:.1%} in CPU time, "
        f"{r.ratio_wall:.1%} wall clock  (goal >= {GOAL:.0%}: {goal_at_least(r.ratio, GOAL)})"
    )


def lines(r: Result) -> list[Line]:
    return [
        Line(
            "lifecycle",
            f"{r.n:,} full lifecycles through the use cases: {r.engine_rate:,.1f}/s "
            f"({r.n / r.engine_cpu:,.1f} per CPU s)",
            f"same row writes, bare sqlite3: {r.floor_rate:,.1f}/s "
            f"({r.n / r.floor_cpu:,.1f} per CPU s)",
            f"{r.ratio:.1%} CPU ({r.ratio_wall:.1%} wall)",
            f">= {GOAL:.0%}",
            "FAILED" if r.problems else goal_at_least(r.ratio, GOAL),
        ),
        Line(
            "lifecycle",
            f"the same, with issuing the {r.documents_issued:,} documents queued (after the "
            f"commits): {r.n / (r.engine_cpu + r.documents_cpu):,.1f} per CPU s",
            f"the floor with the documents' rows: "
            f"{r.n / (r.floor_cpu + r.floor_documents_cpu):,.1f} per CPU s",
            f"{r.ratio_with_documents:.1%} CPU",
            "(where the time goes)",
            NO_GOAL,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="grievances")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="where the databases go (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as scratch:
        folder: Path = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        result = run(args.n, args.seed, folder)
    report(result)
    for problem in result.problems:
        print(f"FAILED: {problem}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
