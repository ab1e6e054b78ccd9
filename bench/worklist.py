"""What the worklist's suspended case runs cost on the embedded (SQLite) Prefect server.

    .venv/bin/python -m bench.worklist [--n 10000] [--handling 0.0] [--tick 200] [--real 3]

1. A grievance database with N open grievances: a share `--handling` in handling (no case
   run), the rest waiting on someone (half accepted: the desk; half assigned to one of 20
   units). Default: every open grievance waits, the worst case.
2. An embedded Prefect server (`flows.prefect_server`, its SQLite under a temporary folder)
   with the `case` deployment registered, and the case runs created the way the watchdog
   does it: `flows.worklist.sync_worklist` ticks, here with a budget of `--tick` runs per
   tick (the served default is 25) until every waiting grievance has its suspended run.
3. Prefect database size before/after (WAL checkpointed) and rows added, creation rate, the
   cost of a steady tick (nothing to create), the worklist query (state Suspended + tag
   `waiting:<unit>`) and count, and the `worklist-<unit>` tables.
4. `--real` grievances through the true path: the case deployment served in a subprocess
   (`prefect.serve`), `resume_flow_run` with an assign form, timed until the served run has
   applied it and suspended again with the next form; one refused input (unknown unit) timed
   until the form is back; one re-sync after another path acted.
Not part of the test suite (a 10k run takes about an hour on 2 busy cores: the creation).
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

UNITS = [f"U{i:02d}" for i in range(20)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _db_size(home: Path) -> int:
    """prefect.db after a WAL checkpoint (the WAL file otherwise inflates the figure)."""
    with sqlite3.connect(home / "prefect.db", timeout=60) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in home.glob("prefect.db*"))


def _rows(home: Path) -> dict[str, int]:
    tables = ("flow_run", "flow_run_state", "flow_run_input", "log", "artifact", "events")
    counts = {}
    with sqlite3.connect(home / "prefect.db", timeout=60) as db:
        for table in tables:
            try:
                counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            except sqlite3.Error:
                counts[table] = -1
    return counts


def _grievances(n: int, handling: float) -> tuple[Any, list[str], list[str]]:
    """N open grievances; returns the engine, the accepted and the assigned numbers."""
    from service import cases as uc
    from service.acting import Stamp
    from service.engine import Engine
    from service.units import add_unit
    from workflow.actor import Actor
    from workflow.commands import Accept, parse_command
    from workflow.vocab import Event, Role

    engine = Engine.open()
    desk = Actor("bench", Role.DISPATCHER)
    start = datetime.now(UTC) - timedelta(hours=1)

    def stamp(actor: Actor, i: int) -> Any:
        at = start + timedelta(milliseconds=i)
        return Stamp(actor=actor, at=at, recorded_at=at)

    for code in UNITS:
        add_unit(engine, stamp(desk, 0), code=code, name=f"单位{code}")
    accepted, assigned = [], []
    for i in range(n):
        data = {
            "channel": "hotline_12328",
            "ref": f"B-{i}",
            "type": "complaint",
            "category": "freight_unpaid",
            "name": "王建国",
            "phone": "13812345678",
            "description": "货主拖欠运费3500元",
        }
        command = parse_command(Event.ACCEPT, data)
        assert isinstance(command, Accept)
        number = uc.accept(engine, command, stamp(desk, 3 * i)).number
        unit = UNITS[i % len(UNITS)]
        if i % 2 == 1 or i < n * handling:
            uc.assign(engine, number, stamp(desk, 3 * i + 1), unit=unit)
            if i < n * handling:
                uc.sign(engine, number, stamp(Actor("h", Role.HANDLER, unit), 3 * i + 2))
                continue
            assigned.append(number)
        else:
            accepted.append(number)
        if (i + 1) % 2000 == 0:
            sys.stderr.write(f"  {i + 1} grievances\n")
    return engine, accepted, assigned


def _existing() -> tuple[Any, list[str], list[str]]:
    """The engine and the accepted / assigned numbers of an earlier run's database."""
    from sqlmodel import col, select

    from models.tables import Grievance
    from service.engine import Engine
    from workflow.vocab import State

    engine = Engine.open()
    with engine.db.read() as session:
        rows = session.exec(select(Grievance.number, Grievance.state).order_by(col(Grievance.id)))
        found = list(rows)
    accepted = [n for n, state in found if state == State.ACCEPTED]
    assigned = [n for n, state in found if state == State.ASSIGNED]
    return engine, accepted, assigned


def _still_accepted(number: str) -> bool:
    """Its case run still waits on the accepted form (an earlier run may have moved it on)."""
    from prefect.client.orchestration import get_client

    from flows import case_sync

    with get_client(sync_client=True) as client:
        runs = case_sync.open_case_runs(client, [number]).get(number, [])
    return len(runs) == 1 and _key(runs[0]).startswith("accepted-")


def _wait(run_id: Any, done: Any, timeout: float = 180) -> float:
    from prefect.client.orchestration import get_client

    start = time.perf_counter()
    with get_client(sync_client=True) as client:
        while time.perf_counter() - start < timeout:
            if done(client.read_flow_run(run_id)):
                return time.perf_counter() - start
            time.sleep(0.2)
    return float("nan")


def _key(run: Any) -> str:
    if run.state is None or run.state.name != "Suspended":
        return ""
    return str(run.state.state_details.pause_key or "")


def _serve(tmp: Path) -> subprocess.Popen[bytes]:
    """The case deployment served in a subprocess, polling as `grievance serve` does."""
    code = (
        "from prefect import serve; from flows import case_runs, scheduled; "
        "serve(case_runs.case_deployment(), query_seconds=scheduled.runner_poll())"
    )
    return subprocess.Popen(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code],
        stdout=open(tmp / "serve.log", "ab"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _real(engine: Any, accepted: list[str], count: int, rows: list[tuple[str, str]]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    from flows import case_sync
    from service import cases as uc
    from service import worklist as waits
    from service.acting import Stamp
    from workflow.actor import Actor
    from workflow.vocab import Role

    def run_of(number: str) -> Any:
        with get_client(sync_client=True) as client:
            return case_sync.open_case_runs(client, [number])[number][0]

    from service import accounts, stamps

    ops = Stamp(
        actor=Actor("bench", Role.DISPATCHER), at=datetime.now(UTC), recorded_at=datetime.now(UTC)
    )
    desk = accounts.add_user(
        engine,
        ops,
        name="bench-desk",
        role="dispatcher",  # no login: a generated password
    )
    desk_identity = desk[0].identity

    def desk_input(run_id: Any, **data: Any) -> dict[str, Any]:
        """A case run's input as the gate sends it: stamped with the signed-in dispatcher."""
        return {
            **data,
            "stamp": stamps.issue(desk_identity, f"flow_run:{run_id}", datetime.now(UTC)),
        }

    latencies = []
    for k, number in enumerate(accepted[:count]):
        run = run_of(number)
        if k == 0:
            before = _key(run)
            resume_flow_run(run.id, run_input=desk_input(run.id, action="分办 assign", unit="NOPE"))
            took = _wait(
                run.id, lambda r, b=before: _key(r).startswith("accepted-") and _key(r) != b
            )
            rows.append(("refused input: Resume -> the form back", f"{took:.1f} s"))
        resume_flow_run(run.id, run_input=desk_input(run.id, action="分办 assign", unit="U01"))
        took = _wait(run.id, lambda r: _key(r).startswith("assigned-"))
        latencies.append(took)
        state = waits.read(engine, number)
        rows.append(
            (f"Resume {number} assign -> next form", f"{took:.1f} s (db: {state and state.state})")
        )
        if k == 0:
            now = datetime.now(UTC)
            handler = Actor("handler", Role.HANDLER, "U01")
            uc.return_to_desk(
                engine, number, Stamp(actor=handler, at=now, recorded_at=now), reason="退回"
            )
            t0 = time.perf_counter()
            done = case_sync.resync(number, engine=engine)
            rows.append(
                ("re-sync after another path acted", f"{done} in {time.perf_counter() - t0:.2f} s")
            )
    if latencies:
        median = sorted(latencies)[len(latencies) // 2]
        rows.append(("Resume -> next form (median)", f"{median:.1f} s"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="open grievances")
    parser.add_argument("--handling", type=float, default=0.0, help="share in handling")
    parser.add_argument("--tick", type=int, default=200, help="case runs created per tick")
    parser.add_argument("--real", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="the folder of an earlier run: measure its databases again, create nothing",
    )
    args = parser.parse_args(argv)

    if args.dir is not None:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    tmp = args.reuse or Path(tempfile.mkdtemp(prefix="worklist-bench-", dir=args.dir))
    home = tmp / "prefect"
    home.mkdir(exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["GRIEVANCE_DATABASE_URL"] = f"sqlite:///{tmp / 'grievance.db'}"
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.pop("GRIEVANCE_CASE_RUNS", None)
    from service import stamps

    stamps.ensure_key()  # the served runs check the stamps the bench signs, as the gate's

    from flows.prefect_server import prefect_api

    rows: list[tuple[str, str]] = []
    t0 = time.perf_counter()
    if args.reuse:
        engine, accepted, assigned = _existing()
        args.n = len(accepted) + len(assigned)
    else:
        engine, accepted, assigned = _grievances(args.n, args.handling)
    rows.append(
        (
            f"grievance database: {args.n} open",
            f"{len(accepted)} accepted, {len(assigned)} assigned, "
            f"{args.n - len(accepted) - len(assigned)} handling, in {time.perf_counter() - t0:.0f} s",
        )
    )
    server = None
    with prefect_api(port=_free_port(), say=lambda m: sys.stderr.write(m + "\n")):
        try:
            from prefect.client.orchestration import get_client
            from prefect.client.schemas.filters import (
                FlowRunFilter,
                FlowRunFilterState,
                FlowRunFilterStateName,
                FlowRunFilterTags,
            )

            from flows import case_runs, worklist

            case_runs.case_deployment().apply()
            if args.reuse:
                rows.append(
                    ("prefect.db as found", f"{_db_size(home) / 1e6:.1f} MB, {_rows(home)}")
                )
                accepted = [n for n in accepted if _still_accepted(n)][: max(args.real, 1)]
            before, rows_before = _db_size(home), _rows(home)
            waiting = len(accepted) + len(assigned)
            t0 = time.perf_counter()
            created, errors, ticks = 0, 0, 0
            while (
                not args.reuse
                and created < waiting
                and ticks < 10 * waiting // max(args.tick, 1) + 10
            ):
                report = worklist.sync_worklist(engine, budget=args.tick, sweep=args.tick)
                created += report.counts.get("created", 0)
                errors += len(report.errors)
                ticks += 1
                if ticks % 10 == 0:
                    rate = created / (time.perf_counter() - t0)
                    sys.stderr.write(f"  {created} case runs, {rate:.1f}/s, {errors} errors\n")
            took = time.perf_counter() - t0
            if not args.reuse:
                after, rows_after = _db_size(home), _rows(home)
                grown = {t: rows_after[t] - rows_before[t] for t in rows_after}
                rows.append(
                    (
                        f"case runs created ({ticks} ticks of {args.tick})",
                        f"{created} in {took:.0f} s",
                    )
                )
                rows.append(
                    (
                        "creation rate (sequential, as the tick does)",
                        f"{created / took:.1f} runs/s, {errors} errors",
                    )
                )
                rows.append(("rows added", ", ".join(f"{t} {v}" for t, v in grown.items())))
                rows.append(
                    ("prefect.db before -> after", f"{before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
                )
                per_run = (after - before) / max(created, 1)
                rows.append(("prefect.db per suspended case run", f"{per_run / 1e3:.1f} KB"))
            steady = []
            for _ in range(3):
                t1 = time.perf_counter()
                report = worklist.sync_worklist(engine)
                steady.append(time.perf_counter() - t1)
            rows.append(
                (
                    "steady tick (nothing to create)",
                    f"{min(steady):.2f}-{max(steady):.2f} s: {report.counts}",
                )
            )
            flt = FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Suspended"])),
                tags=FlowRunFilterTags(all_=[f"waiting:{UNITS[3]}"]),
            )
            with get_client(sync_client=True) as client:
                client.read_flow_runs(flow_run_filter=flt, limit=1)
                t1 = time.perf_counter()
                page = client.read_flow_runs(flow_run_filter=flt, limit=200)
                t2 = time.perf_counter()
                total = client.count_flow_runs(flow_run_filter=flt)
                t3 = time.perf_counter()
            rows.append(
                (
                    f"worklist query: Suspended + waiting:{UNITS[3]} (200)",
                    f"{(t2 - t1) * 1000:.0f} ms, {len(page)} runs",
                )
            )
            rows.append(("count of the same", f"{(t3 - t2) * 1000:.0f} ms ({total})"))
            t1 = time.perf_counter()
            counts = worklist.publish_worklists(engine, datetime.now(UTC))
            t2 = time.perf_counter()
            worklist.publish_worklists(engine, datetime.now(UTC))
            t3 = time.perf_counter()
            rows.append(
                (
                    f"worklist tables ({len(counts)} keys)",
                    f"first {t2 - t1:.2f} s, unchanged {t3 - t2:.2f} s (no new version)",
                )
            )
            rows.append(("prefect.db with the tables", f"{_db_size(home) / 1e6:.1f} MB"))
            if args.real:
                server = _serve(tmp)
                time.sleep(15)  # the runner registers and starts polling
                try:
                    _real(engine, accepted, args.real, rows)
                except Exception as error:  # noqa: BLE001 - reported in the table
                    rows.append(("real path FAILED", repr(error)[:300]))
        finally:
            _stop(server)
            engine.db.dispose()
    width = max(len(r[0]) for r in rows)
    sys.stdout.write(f"\nworklist bench (n={args.n}, tmp: {tmp})\n")
    for name, value in rows:
        sys.stdout.write(f"  {name:<{width}}  {value}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
