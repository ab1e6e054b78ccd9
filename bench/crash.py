"""Crash safety: SIGKILL the watchdog, the delivery step, a bulk import and the issuing of
documents at random points, run each again, and check that nothing was lost or done twice.

    .venv/bin/python -m bench.crash [--runs 100] [--kinds watchdog,delivery,import,documents]
                                    [--grievances 120] [--rows 400] [--seed 2142] [--dir DIR]

For each kind, one SQLite database is prepared once (demo units with `inbox://` channels):
- watchdog: `--grievances` demo grievances spread over the stages; the sweep runs two working
  weeks later, when many steps (warnings, red cards, 督办) are due;
- delivery: the same after that sweep, with every notification pending;
- import: no grievances, and a 12328 CSV file of `--rows` work orders;
- documents: the same demo grievances with the document jobs their reviews and no-fault
  closes queued still pending (as if every action had died right after its commit).
A reference run on a copy, never interrupted, gives what must be there at the end: the set of
fired steps, the set of delivered dedupe keys, the set of imported references.

Each of the `--runs` rounds copies the prepared database, starts a child process that opens
it and waits for "go" (so start-up is not what gets killed), lets it work for a random time
up to 1.2× the reference's working time, and SIGKILLs it. A second child then runs to the end
(for delivery after the 5-minute lease, so rows killed while `sending` are claimed again).
The round passes when the end state equals the reference exactly: every due step fired once
(audit events and outbox rows), every notification sent and in its inbox file once, every
work order imported once, every document job done and each of its documents stored once. It
prints, per kind: rounds, how many kills landed mid-work (the
killed child had done part of the work, not none or all), and violations. Exit code 1 on any
violation.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Mon 11:00 Asia/Shanghai: demo data "now"
SWEEP_AT = NOW + timedelta(days=14)  # two weeks on: a great many steps due
DELIVER_AT = SWEEP_AT + timedelta(hours=1)
AFTER_LEASE = DELIVER_AT + timedelta(minutes=6)
KINDS = ("watchdog", "delivery", "import", "documents")


# ----------------------------------------------------------------------------- the child
def child(kind: str, url: str, inbox: str, data: str, at: str, batch: int) -> int:
    """Open the database, say ready, wait for "go", do the work, print seconds worked."""
    os.environ["GRIEVANCE_INBOX_DIR"] = inbox
    from service import delivery, documents, importing, watchdog, work_orders
    from service.engine import Engine
    from workflow.actor import Actor
    from workflow.vocab import Role

    engine = Engine.open(url)
    now = datetime.fromisoformat(at)
    rows = work_orders.read(data).rows if kind == "import" else []
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    started = time.perf_counter()
    if kind == "watchdog":
        watchdog.sweep(engine, now, batch=batch)
    elif kind == "delivery":
        delivery.deliver(engine, now, batch=batch)
    elif kind == "documents":
        documents.issue(engine, now, limit=100_000)
    else:
        actor = Actor("crash-bench", Role.DISPATCHER)
        importing.import_rows(engine, rows, actor, now, batch=batch)
    print(f"{time.perf_counter() - started:.4f}", flush=True)
    engine.db.dispose()
    return 0


# ----------------------------------------------------------------------------- the parent
@dataclass
class Prepared:
    kind: str
    db: Path
    data: Path  # the import file (unused otherwise)
    at: datetime
    batch: int
    expected: frozenset[str] = frozenset()
    work_seconds: float = 0.0


@dataclass
class Outcome:
    kind: str
    rounds: int = 0
    mid_work: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _start(prepared: Prepared, db: Path, inbox: Path, at: datetime) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "bench.crash",
        "--child",
        prepared.kind,
        "--url",
        _url(db),
        "--inbox",
        str(inbox),
        "--data",
        str(prepared.data),
        "--at",
        at.isoformat(),
        "--batch",
        str(prepared.batch),
    ]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert process.stdout is not None and process.stdin is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        raise RuntimeError(f"{prepared.kind} child did not start (said {line!r})")
    return process


def _go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def _run_to_end(prepared: Prepared, db: Path, inbox: Path, at: datetime) -> float:
    process = _start(prepared, db, inbox, at)
    _go(process)
    out, _ = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"{prepared.kind} child failed with exit code {process.returncode}")
    return float(out.strip().splitlines()[-1])


def _state(kind: str, db: Path, inbox: Path) -> tuple[Counter[str], list[str]]:
    """What the kind has done so far (each item with its count), and broken invariants."""
    import sqlite3

    problems: list[str] = []
    with closing(sqlite3.connect(db)) as connection:
        if kind == "watchdog":
            events = Counter(
                f"{number}/{payload['target']}/{payload['cycle']}/{payload['name']}"
                for number, text in connection.execute(
                    "SELECT number, payload FROM grievance_event WHERE event = 'sla_step'"
                )
                for payload in (json.loads(text),)
            )
            keys = [k for (k,) in connection.execute("SELECT dedupe_key FROM notification")]
            if len(keys) != len(set(keys)):
                problems.append("an outbox row written twice")
            return events, problems
        if kind == "delivery":
            lines: Counter[str] = Counter()
            for path in sorted(inbox.glob("*.jsonl")):
                for text in path.read_text(encoding="utf-8").splitlines():
                    try:
                        lines[json.loads(text)["key"]] += 1
                    except (ValueError, KeyError):
                        problems.append(f"{path.name}: an unreadable line (torn write?)")
            return lines, problems
        if kind == "documents":
            stored = Counter(
                "/".join(map(str, row))
                for row in connection.execute(
                    "SELECT number, kind, format, language, version FROM document"
                )
            )
            (again,) = connection.execute(
                "SELECT count(*) FROM document_job WHERE attempts > 1"
            ).fetchone()
            if again:  # a claim is taken once: a second attempt means it was done twice
                problems.append(f"{again} document job(s) attempted more than once")
            return stored, problems
        refs = Counter(r for (r,) in connection.execute("SELECT ref FROM grievance"))
        accepts = Counter(
            n for (n,) in connection.execute("SELECT number FROM grievance_event WHERE seq = 1")
        )
        if any(count > 1 for count in accepts.values()):
            problems.append("a grievance accepted twice")
        return refs, problems


def _check(prepared: Prepared, db: Path, inbox: Path) -> list[str]:
    import sqlite3

    done, problems = _state(prepared.kind, db, inbox)
    twice = sorted(k for k, n in done.items() if n > 1)
    lost = sorted(prepared.expected - set(done))
    extra = sorted(set(done) - prepared.expected)
    if twice:
        problems.append(f"{len(twice)} done twice, e.g. {twice[0]}")
    if lost:
        problems.append(f"{len(lost)} lost, e.g. {lost[0]}")
    if extra:
        problems.append(f"{len(extra)} unexpected, e.g. {extra[0]}")
    unfinished = _UNFINISHED.get(prepared.kind)
    if unfinished is not None:
        query, what = unfinished
        with closing(sqlite3.connect(db)) as connection:
            left = connection.execute(query).fetchone()[0]
        if left:
            problems.append(f"{left} {what}")
    return problems


# per kind, the rows a finished run leaves none of, and what they are
_UNFINISHED = {
    "delivery": (
        "SELECT count(*) FROM notification WHERE status != 'sent' AND url IS NOT NULL",
        "notification(s) not marked sent",
    ),
    "documents": (
        "SELECT count(*) FROM document_job WHERE status != 'done'",
        "document job(s) not done",
    ),
}


def prepare(kind: str, folder: Path, grievances: int, rows: int) -> Prepared:
    from service import demo, watchdog
    from service.engine import Engine

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"{kind}.db"
    data = folder / "orders.csv"
    engine = Engine.open(_url(db))
    try:
        if kind == "import":
            demo.load(engine, NOW, count=0)
            _write_orders(data, rows)
            prepared = Prepared(kind, db, data, NOW, batch=25)
        elif kind == "documents":
            demo.load(engine, NOW, count=grievances, issue=False)
            prepared = Prepared(kind, db, data, NOW, batch=1)
        else:
            demo.load(engine, NOW, count=grievances)
            if kind == "delivery":
                watchdog.sweep(engine, SWEEP_AT)
                prepared = Prepared(kind, db, data, DELIVER_AT, batch=10)
            else:
                prepared = Prepared(kind, db, data, SWEEP_AT, batch=10)
    finally:
        engine.db.dispose()
    reference_db = folder / f"{kind}-reference.db"
    reference_inbox = folder / f"{kind}-reference-inbox"
    shutil.copy(db, reference_db)
    prepared.work_seconds = _run_to_end(prepared, reference_db, reference_inbox, prepared.at)
    done, problems = _state(kind, reference_db, reference_inbox)
    if problems or not done or max(done.values()) != 1:
        raise RuntimeError(f"{kind}: the reference run itself is wrong: {problems}")
    prepared.expected = frozenset(done)
    return prepared


def _write_orders(path: Path, rows: int) -> None:
    rng = random.Random(7)
    header = "工单编号,受理时间,诉求类型,诉求分类,诉求人,联系电话,车牌号码,涉及金额（元）,诉求内容"
    kinds = [("投诉举报", "运费纠纷/拖欠运费"), ("求助", "高速通行费/ETC争议")]
    lines = [header]
    for index in range(rows):
        kind, category = kinds[index % len(kinds)]
        minute = rng.randrange(8 * 60, 18 * 60)
        lines.append(
            f"CRASH-{index:06d},2026-11-20 {minute // 60:02d}:{minute % 60:02d},{kind},"
            f"{category},司机{index},1{rng.choice('3589')}{rng.randrange(10**9):09d},"
            f"川A{rng.randrange(10**5):05d},{rng.randrange(1, 90) * 100},货主拖欠运费，多次催要未果"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def crash_round(prepared: Prepared, folder: Path, rng: random.Random) -> tuple[bool, list[str]]:
    """One kill and one rerun; returns (the kill landed mid-work, violations)."""
    db = folder / "round.db"
    inbox = folder / "round-inbox"
    for stale in (folder / "round.db-wal", folder / "round.db-shm"):
        stale.unlink(missing_ok=True)
    shutil.copy(prepared.db, db)
    shutil.rmtree(inbox, ignore_errors=True)
    process = _start(prepared, db, inbox, prepared.at)
    _go(process)
    time.sleep(rng.uniform(0, 1.2 * prepared.work_seconds))
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_mid = process.returncode == -signal.SIGKILL
    if killed_mid:
        done, _ = _state(prepared.kind, db, inbox)
        killed_mid = 0 < len(done) < len(prepared.expected)
    then = AFTER_LEASE if prepared.kind == "delivery" else prepared.at
    _run_to_end(prepared, db, inbox, then)
    return killed_mid, _check(prepared, db, inbox)


def run(
    kinds: Sequence[str], runs: int, grievances: int, rows: int, seed: int, folder: Path
) -> list[Outcome]:
    rng = random.Random(seed)
    outcomes = []
    for kind in kinds:
        started = time.perf_counter()
        print(f"{kind}: preparing ...", file=sys.stderr, flush=True)
        prepared = prepare(kind, folder / kind, grievances, rows)
        outcome = Outcome(kind)
        print(
            f"{kind}: {len(prepared.expected):,} items, reference run "
            f"{prepared.work_seconds:.2f} s; {runs} rounds",
            file=sys.stderr,
            flush=True,
        )
        for index in range(runs):
            mid, problems = crash_round(prepared, folder / kind, rng)
            outcome.rounds += 1
            outcome.mid_work += mid
            outcome.violations += [f"round {index + 1}: {p}" for p in problems]
            print(
                f"\r{kind}: round {index + 1}/{runs}, killed mid-work {outcome.mid_work}, "
                f"violations {len(outcome.violations)}",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        outcome.seconds = time.perf_counter() - started
        outcome_expected[kind] = len(prepared.expected)
        outcomes.append(outcome)
    return outcomes


outcome_expected: dict[str, int] = {}
_WHAT = {
    "watchdog": "due SLA steps, each fired once",
    "delivery": "notifications, each in its inbox once",
    "import": "work orders, each imported once",
    "documents": "documents (HTML and Word of each job), each stored once",
}


def report(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "| kind | rounds (SIGKILL + rerun) | kills mid-work | items checked per round "
        "| violations | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        items = f"{outcome_expected.get(o.kind, 0):,} {_WHAT[o.kind]}"
        lines.append(
            f"| {o.kind} | {o.rounds} | {o.mid_work} | {items} | {len(o.violations)} "
            f"| {o.seconds:.0f} |"
        )
    for o in outcomes:
        lines += [f"VIOLATION {o.kind} {v}" for v in o.violations[:20]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crash", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=100, help="rounds per kind (default 100)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=",".join(KINDS))
    parser.add_argument("--grievances", type=int, default=120, help="demo grievances")
    parser.add_argument("--rows", type=int, default=400, help="work orders to import")
    parser.add_argument("--seed", type=int, default=2142)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    for hidden in ("--url", "--inbox", "--data", "--at"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.url, args.inbox, args.data, args.at, args.batch)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or args.runs < 1:
        parser.error(f"unknown kind(s) {unknown}" if unknown else "--runs must be at least 1")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="grievance-crash-"))
    try:
        outcomes = run(kinds, args.runs, args.grievances, args.rows, args.seed, folder)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(report(outcomes))
    return 1 if any(o.violations for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
