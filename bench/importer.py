"""Bulk import: N work orders of a 12328 export (CSV, Chinese headers) imported by the Prefect
flow "批量导入 import" in one flow run, beside the use-case accept rate in the same run.

    .venv/bin/python -m bench.importer [--n 100000] [--reference 2000] [--batch 200]
        [--workers N] [--dir DIR]

The file: N synthetic work orders (`bench.synthetic`: channels, request types and categories
as the 12328 system labels them, Chinese names, mobile and landline numbers, plates, amounts
written as `¥3,500元` now and then, respondents, business-hour arrival times over four
weeks), in the export's column layout (`tests/fixtures/12328-sample.csv`), with an unknown
agent-id column as the real export has. The flow (`flows.importer.import_work_orders`) runs
under `prefect_test_harness` (a temporary Prefect server, so no served instance is touched)
with the flow heartbeat off; the timing starts when the flow is called and ends when it has
returned (reading, validating, one task per batch, the artifact). Before it, a ten-row file is
imported once as a warm-up. While it runs, a progress bar on stderr counts the grievances in
the database. The flow runs as deployed: its tasks go to Prefect's default thread pool, which
is unbounded; `--workers N` bounds it (the setting PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS)
to see what a bounded pool gives. A flow run that fails is reported with what it imported.

The reference: `--reference` work orders of the same kind, each validated
(`parse_command`) and accepted with `service.cases.accept` in a plain loop on a database of
its own; half before the flow run and half after it, so that a change in the machine's load
falls on both sides.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bench import synthetic
from bench.summary import Line, bar, goal_at_least
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.timeutil import local
from workflow.vocab import Category, Channel, Event, RequestType, Role

FIRST_DAY = date(2026, 10, 5)  # a Monday; four weeks of work orders
DAYS = 28
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=synthetic.SH)  # the import instant, after them all
HEADER = (
    "工单编号",
    "受理时间",
    "来源渠道",
    "诉求类型",
    "诉求分类",
    "诉求人",
    "联系电话",
    "车牌号码",
    "被反映对象",
    "涉及金额（元）",
    "是否紧急",
    "诉求内容",
    "坐席工号",
)
DESK = Actor("12328导入", Role.DISPATCHER)
GOAL = 0.5  # import rate >= 50 % of the use-case rate
DATABASE_ENV = "GRIEVANCE_DATABASE_URL"

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ----------------------------------------------------------------------------- the file
def orders(n: int, seed: int, prefix: str) -> list[synthetic.Order]:
    rng = random.Random(seed)
    return [synthetic.order(rng, i, FIRST_DAY, DAYS, prefix=prefix) for i in range(n)]


def _amount(rng: random.Random, amount: str | None) -> str:
    """As people type it into the export: 3500, 3,500, ¥3500 or 3500元."""
    if amount is None:
        return ""
    return rng.choice(("{}", "{}", "{:,}", "¥{}", "{}元")).format(int(amount))


def write_csv(path: Path, work: Sequence[synthetic.Order], seed: int) -> int:
    """The orders as a 12328 export (labels, local times without zone); returns bytes."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for o in work:
            writer.writerow(
                (
                    o.ref,
                    f"{local(o.accepted_at):%Y-%m-%d %H:%M}",
                    Channel(o.channel).zh,
                    RequestType(o.type).zh,
                    Category(o.category).zh,
                    o.name,
                    o.phone,
                    o.plate or "",
                    o.respondent or "",
                    _amount(rng, o.amount),
                    "是" if o.urgent else "否",
                    o.description,
                    f"A{rng.randrange(1, 40):03d}",
                )
            )
    return path.stat().st_size


# ----------------------------------------------------------------------------- reference
def accept_all(engine: Engine, work: Sequence[synthetic.Order]) -> tuple[int, float]:
    """Validate and accept each order through the use case; (accepted, seconds)."""
    t0 = time.perf_counter()
    for o in work:
        command = parse_command(Event.ACCEPT, o.accept_data())
        assert isinstance(command, Accept)
        uc.accept(engine, command, Stamp(actor=DESK, at=o.accepted_at, recorded_at=NOW))
    return len(work), time.perf_counter() - t0


# ----------------------------------------------------------------------------- the flow
@contextmanager
def prefect_harness(log: Log, workers: int | None = None) -> Iterator[None]:
    """A temporary Prefect server for the flow run (the flow heartbeat off), quiet logs;
    with `workers`, Prefect's thread pool for tasks is bounded to that many threads."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_LOGGING_LEVEL,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    log("importer: starting a temporary Prefect server...")
    t0 = time.perf_counter()
    quieter = {PREFECT_LOGGING_LEVEL: "WARNING", PREFECT_SERVER_ANALYTICS_ENABLED: False}
    with temporary_settings(quieter), prefect_test_harness(server_startup_timeout=300):
        run_settings: dict[Any, Any] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        if workers is not None:
            run_settings[PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS] = workers
        with temporary_settings(run_settings):
            log(f"importer: Prefect server up ({time.perf_counter() - t0:.0f} s)")
            names = [n for n in logging.root.manager.loggerDict if n.startswith("prefect")]
            quiet = [logging.getLogger(n) for n in ("prefect", "httpx", *names)]
            levels = [logger.level for logger in quiet]
            for logger in quiet:
                logger.setLevel(logging.WARNING)
            try:
                yield
            finally:
                for logger, level in zip(quiet, levels, strict=True):
                    logger.setLevel(level)


@contextmanager
def database(url: str) -> Iterator[None]:
    """The flow's tasks open `Engine.open()`: point them at the benchmark's database."""
    before = os.environ.get(DATABASE_ENV)
    os.environ[DATABASE_ENV] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DATABASE_ENV, None)
        else:
            os.environ[DATABASE_ENV] = before


class Progress:
    """A progress bar on stderr: grievances in the database, polled every `every` seconds."""

    def __init__(self, path: Path, total: int, log: Log, every: float = 2.0) -> None:
        self.path, self.total, self.log, self.every = path, total, log, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = 0.0
        self._base = 0

    def __enter__(self) -> Progress:
        self._base = self._count()
        self._start = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._show(final=True)

    def _count(self) -> int:
        try:
            connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)
            try:
                return int(connection.execute("SELECT COUNT(*) FROM grievance").fetchone()[0])
            finally:
                connection.close()
        except sqlite3.Error:
            return 0

    def _show(self, final: bool = False) -> None:
        done = self._count() - self._base
        seconds = time.perf_counter() - self._start
        rate = done / seconds if seconds > 0 else 0.0
        end = " done" if final else ""
        self.log(f"  importing {bar(done, self.total)} ({seconds:.0f} s, {rate:,.0f}/s){end}")

    def _run(self) -> None:
        shown = 0.0
        while not self._stop.wait(self.every):
            now = time.perf_counter()
            if now - shown >= max(self.every, 10.0 if not sys.stderr.isatty() else 0):
                self._show()
                shown = now


def flow_import(
    path: Path, database_path: Path, batch: int, total: int, log: Log
) -> tuple[dict[str, Any] | None, float, str | None]:
    """Run the import flow once on `path`: (its summary or None, seconds, why it failed)."""
    from flows import importer

    failure = None
    summary = None
    with Progress(database_path, total, log):
        t0 = time.perf_counter()
        try:
            summary = importer.import_work_orders(path=str(path), batch=batch, now=NOW)
        except Exception as error:  # the flow run failed: reported, with what it imported
            failure = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        seconds = time.perf_counter() - t0
    return summary, seconds, failure


# ----------------------------------------------------------------------------- measuring
@dataclass
class Result:
    n: int
    file_bytes: int
    batch: int
    workers: int | None  # Prefect's task thread pool bound (None: as deployed, unbounded)
    imported: int
    bad: int
    skipped: int
    batches: int
    in_database: int
    flow_s: float
    reference_n: int
    reference_s: float
    problems: list[str]

    @property
    def flow_rate(self) -> float:
        return self.imported / self.flow_s

    @property
    def reference_rate(self) -> float:
        return self.reference_n / self.reference_s

    @property
    def ratio(self) -> float:
        return self.flow_rate / self.reference_rate


def run(
    n: int,
    reference: int,
    batch: int,
    seed: int,
    folder: Path,
    log: Log = _stderr,
    workers: int | None = None,
) -> Result:
    csv_path, warm_path = folder / "import-12328.csv", folder / "import-warm-up.csv"
    flow_db, reference_db = folder / "import-flow.db", folder / "import-reference.db"
    for path in (flow_db, reference_db):
        _remove_database(path)
    log(f"importer: writing {n:,} work orders to {csv_path.name}...")
    file_bytes = write_csv(csv_path, orders(n, seed, "W"), seed)
    write_csv(warm_path, orders(10, seed + 1, "WARM"), seed + 1)
    refs = orders(reference, seed + 2, "REF")
    half = len(refs) // 2

    engine = Engine.open(f"sqlite:///{reference_db}")
    Engine.open(f"sqlite:///{flow_db}").db.dispose()  # migrated before the clock starts
    try:
        accept_all(engine, orders(10, seed + 3, "WARMREF"))  # warm-up, not timed
        log(f"importer: reference, {half:,} accepts through the use case...")
        done_1, seconds_1 = accept_all(engine, refs[:half])
        with prefect_harness(log, workers), database(f"sqlite:///{flow_db}"):
            flow_import(warm_path, flow_db, batch, 10, lambda _: None)  # warm-up
            log(f"importer: {n:,} work orders in one flow run (batches of {batch})...")
            summary, flow_s, failure = flow_import(csv_path, flow_db, batch, n, log)
        log(f"importer: reference, {len(refs) - half:,} more accepts through the use case...")
        done_2, seconds_2 = accept_all(engine, refs[half:])
    finally:
        engine.db.dispose()
    connection = sqlite3.connect(flow_db)
    try:
        in_database = connection.execute("SELECT COUNT(*) FROM grievance").fetchone()[0] - 10
    finally:
        connection.close()
    problems = []
    if failure is not None or summary is None:
        problems.append(
            f"the flow run failed ({failure}); {in_database:,} of {n:,} work orders imported"
        )
        summary = {"imported": in_database, "bad": 0, "skipped_existing": 0, "batches": 0}
    elif summary["imported"] != n or summary["bad"] or in_database != n:
        problems.append(
            f"imported {summary['imported']:,} of {n:,} (bad {summary['bad']}), "
            f"{in_database:,} in the database"
        )
    return Result(
        n=n,
        file_bytes=file_bytes,
        batch=batch,
        workers=workers,
        imported=summary["imported"],
        bad=summary["bad"],
        skipped=summary["skipped_existing"],
        batches=summary["batches"] or -(-n // batch),
        in_database=in_database,
        flow_s=flow_s,
        reference_n=done_1 + done_2,
        reference_s=seconds_1 + seconds_2,
        problems=problems,
    )


# ----------------------------------------------------------------------------- report
def report(r: Result) -> None:
    print(
        f"bulk import of {r.n:,} 12328 work orders ({r.file_bytes / 1024 / 1024:.1f} MiB CSV) "
        f"in one Prefect flow run, {r.batches} tasks of {r.batch}, SQLite (one batch written at "
        f"a time), task threads: {r.workers or 'as deployed'}"
    )
    print(
        f"  imported {r.imported:,}, already present {r.skipped:,}, bad {r.bad:,}; "
        f"{r.in_database:,} new grievances in the database"
    )
    print(f"flow run: {r.flow_s:.1f} s, {r.flow_rate:,.0f} work orders/s")
    print(
        f"use-case reference (parse_command + usecases.accept, {r.reference_n:,} in a loop): "
        f"{r.reference_s:.1f} s, {r.reference_rate:,.0f}/s"
    )
    verdict = "FAILED, see below" if r.problems else goal_at_least(r.ratio, GOAL)
    print(f"ratio import rate / use-case rate: {r.ratio:.1%}  (goal >= {GOAL:.0%}: {verdict})")


def lines(r: Result) -> list[Line]:
    threads = "" if r.workers is None else f", {r.workers} task threads"
    return [
        Line(
            "importer",
            f"{r.n:,} work orders in one flow run{threads}: {r.flow_rate:,.0f}/s"
            + (f" ({r.problems[0]})" if r.problems else ""),
            f"use-case accept: {r.reference_rate:,.0f}/s",
            f"{r.ratio:.1%}",
            f">= {GOAL:.0%}",
            "FAILED" if r.problems else goal_at_least(r.ratio, GOAL),
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="work orders in the file")
    parser.add_argument("--reference", type=int, default=2_000, help="use-case accepts")
    parser.add_argument("--batch", type=int, default=200, help="rows per task")
    parser.add_argument(
        "--workers",
        type=int,
        help="bound Prefect's task thread pool (PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS); "
        "default: as deployed",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="where the files go (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.reference < 2:
        parser.error("--n must be at least 1 and --reference at least 2")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as scratch:
        folder: Path = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        result = run(args.n, args.reference, args.batch, args.seed, folder, workers=args.workers)
    report(result)
    for problem in result.problems:
        print(f"FAILED: {problem}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
