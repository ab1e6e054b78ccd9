"""What the suspended-case-run worklist costs on the embedded (SQLite) Prefect server.

    .venv/bin/python -m bench.worklist [--n 10000] [--port 4291] [--concurrency 4] [--real 3]

1. N synthetic case runs, suspended the way `flows.worklist.resync` does it (a run from the
   case deployment, forced Running, proposed Suspended with a pause key and the form's schema
   and description saved as flow run inputs): the same server-side rows a real suspension
   writes, minus the few log lines and state rows of a real run's start (measured in 3.).
2. Prefect database size before/after, creation rate, worklist list latency (state Suspended
   + tag `unit:<code>`) and count latency.
3. `--real` grievances through the true path: `python -m flows.worklist serve` in a
   subprocess, `resync` suspends each case run, `resume_flow_run(id, run_input=assign form)`,
   timed until the served run has applied it and suspended again with the next form; one
   illegal input (unknown unit) is checked to be refused with the form back.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

UNITS = [f"U{i:02d}" for i in range(20)]


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _db_size(home: Path) -> int:
    """prefect.db after a WAL checkpoint (the WAL file otherwise inflates the figure)."""
    import sqlite3

    with sqlite3.connect(home / "prefect.db", timeout=30) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in home.glob("prefect.db*"))


def _rows(home: Path) -> dict[str, int]:
    import sqlite3

    tables = ("flow_run", "flow_run_state", "flow_run_input", "log", "artifact", "events")
    counts = {}
    with sqlite3.connect(home / "prefect.db", timeout=30) as db:
        for table in tables:
            try:
                counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            except sqlite3.Error:
                counts[table] = -1
    return counts


async def _synthetic(deployment_id: Any, n: int, concurrency: int) -> tuple[float, int]:
    from prefect.client.orchestration import get_client
    from prefect.input.run_input import keyset_from_paused_state
    from prefect.states import Running, Suspended

    from flows.worklist import FORMS, PARKED, Snapshot
    from workflow.vocab import State as GState

    gate = asyncio.Semaphore(concurrency)
    errors = 0
    rng = random.Random(7)

    async def one(client: Any, i: int) -> None:
        nonlocal errors
        snap = Snapshot(f"20261123-{i:05d}", GState.ACCEPTED, 1, rng.choice(UNITS))
        async with gate:
            try:
                run = await client.create_flow_run_from_deployment(
                    deployment_id,
                    parameters={"number": snap.number},
                    name=f"case {snap.number}",
                    tags=snap.tags(),
                    state=PARKED(),
                )
                await client.set_flow_run_state(run.id, Running(), force=True)
                state = Suspended(timeout_seconds=None, pause_key=f"{snap.prefix}0")
                keyset = keyset_from_paused_state(state)
                state.state_details.run_input_keyset = keyset
                await client.set_flow_run_state(run.id, state)
                form = FORMS[snap.state].with_initial_data(description=snap.description())
                await form.asave(keyset, flow_run_id=run.id)
            except Exception as error:  # noqa: BLE001 - counted and reported
                errors += 1
                if errors <= 3:
                    sys.stderr.write(f"run {i}: {error!r}\n")

    start = time.perf_counter()
    async with get_client() as client:
        await asyncio.gather(*(one(client, i) for i in range(n)))
    return time.perf_counter() - start, errors


def _list_worklist(unit: str) -> tuple[float, int, float, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
        FlowRunFilterTags,
    )

    flt = FlowRunFilter(
        state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Suspended"])),
        tags=FlowRunFilterTags(all_=[f"unit:{unit}"]),
    )
    with get_client(sync_client=True) as client:
        client.read_flow_runs(flow_run_filter=flt, limit=1)  # warm
        t0 = time.perf_counter()
        page = client.read_flow_runs(flow_run_filter=flt, limit=200)
        t1 = time.perf_counter()
        total = client.count_flow_runs(flow_run_filter=flt)
        t2 = time.perf_counter()
        everything = FlowRunFilter(
            state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Suspended"]))
        )
        all_count = client.count_flow_runs(flow_run_filter=everything)
    return t1 - t0, len(page), t2 - t1, max(total, 0) if all_count >= 0 else total


def _wait_state(run_id: Any, done: Any, timeout: float = 120) -> tuple[float, Any]:
    from prefect.client.orchestration import get_client

    start = time.perf_counter()
    with get_client(sync_client=True) as client:
        while time.perf_counter() - start < timeout:
            run = client.read_flow_run(run_id)
            if done(run):
                return time.perf_counter() - start, run
            time.sleep(0.2)
    return float("nan"), None


def _serve(tmp: Path) -> subprocess.Popen[bytes]:
    """`python -m flows.worklist serve` in a subprocess (log: serve.log in the temp dir)."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "flows.worklist", "serve"],
        stdout=open(tmp / "serve.log", "ab"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )


def _stop(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _real(count: int, rows: list[tuple[str, str]]) -> None:
    from datetime import UTC, datetime

    from prefect.flow_runs import resume_flow_run

    from flows import usecases as uc
    from flows import worklist
    from flows.engine import Engine
    from workflow.actor import Actor
    from workflow.commands import Accept, parse_command
    from workflow.vocab import Event, Role

    desk = Actor("desk", Role.DISPATCHER)
    engine = Engine.open()
    now = datetime.now(UTC)
    stamp = uc.Stamp(actor=desk, at=now, recorded_at=now)
    for code in ("UA", "UB"):
        uc.add_unit(engine, stamp, code=code, name=f"单位{code}")
    numbers = []
    for i in range(count):
        data = {
            "channel": "hotline_12328",
            "ref": f"R-{i}",
            "type": "complaint",
            "category": "freight_unpaid",
            "name": "王建国",
            "phone": "13812345678",
            "description": "货主拖欠运费3500元",
        }
        command = parse_command(Event.ACCEPT, data)
        assert isinstance(command, Accept)
        numbers.append(uc.accept(engine, command, stamp).number)
    latencies = []
    for k, number in enumerate(numbers):
        t0 = time.perf_counter()
        did = worklist.resync(number, engine=engine)
        rows.append((f"resync {number} (no run yet)", f"{did} in {time.perf_counter() - t0:.2f} s"))
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            run = worklist.open_case_runs(client, number)[0]
        if k == 0:
            # illegal input: unknown unit -> refused, the same form comes back (new key)
            t0 = time.perf_counter()
            resume_flow_run(run.id, run_input={"action": "assign", "unit": "NOPE", "actor": "张敏"})
            took, after = _wait_state(
                run.id,
                lambda r: (
                    r.state.name == "Suspended"
                    and r.state.state_details.pause_key == "accepted-v1-1"
                ),
            )
            rows.append(("illegal input refused, form back", f"{took:.1f} s"))
        t0 = time.perf_counter()
        resume_flow_run(run.id, run_input={"action": "assign", "unit": "UA", "actor": "张敏"})
        took, after = _wait_state(
            run.id,
            lambda r: (
                r.state.name == "Suspended"
                and (r.state.state_details.pause_key or "").startswith("assigned-")
            ),
        )
        latencies.append(took)
        state = worklist.read(engine, number).state.value
        rows.append((f"resume {number} assign -> next form", f"{took:.1f} s (db: {state})"))
        if k == 0:
            # another path acts (as the CLI would): re-sync re-suspends in place, no process
            now = datetime.now(UTC)
            handler = Actor("handler-a", Role.HANDLER, "UA")
            uc.sign(engine, number, uc.Stamp(actor=handler, at=now, recorded_at=now))
            t0 = time.perf_counter()
            did = worklist.resync(number, engine=engine)
            rows.append(("resync after CLI sign", f"{did} in {time.perf_counter() - t0:.2f} s"))
            # the re-suspended run takes the new form (handling: feedback) through the true path
            handler_input = {
                "action": "feedback",
                "note": "已联系货主",
                "actor": "李娜",
                "role": "handler",
                "actor_unit": "UA",
            }
            resume_flow_run(run.id, run_input=handler_input)
            took, after = _wait_state(
                run.id,
                lambda r: (
                    r.state.name == "Suspended"
                    and (r.state.state_details.pause_key or "").startswith("handling-v4-")
                ),
            )
            state = worklist.read(engine, number)
            rows.append(
                (
                    "resume re-synced run with feedback",
                    f"{took:.1f} s (db: {state.state.value} v{state.version})",
                )
            )
    if latencies:
        home = Path(os.environ["PREFECT_HOME"])
        rows.append(("rows after real runs", ", ".join(f"{t} {v}" for t, v in _rows(home).items())))
        rows.append(("resume latency (median)", f"{sorted(latencies)[len(latencies) // 2]:.1f} s"))
    engine.db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=4291)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--real", type=int, default=3)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="worklist-bench-"))
    home = tmp / "prefect"
    home.mkdir()
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["GRIEVANCE_DATABASE_URL"] = f"sqlite:///{tmp / 'grievance.db'}"
    os.environ.pop("PREFECT_API_URL", None)

    from flows.prefect_server import prefect_api

    rows: list[tuple[str, str]] = []
    port = _free_port(args.port)
    server = None
    with prefect_api(port=port, say=lambda m: sys.stderr.write(m + "\n")):
        try:
            from prefect.client.orchestration import get_client

            t0 = time.perf_counter()
            server = _serve(tmp)
            deployment = None
            with get_client(sync_client=True) as client:
                while deployment is None and time.perf_counter() - t0 < 120:
                    try:
                        deployment = client.read_deployment_by_name("工单 case/case")
                    except Exception:  # noqa: BLE001 - not registered yet
                        time.sleep(0.5)
            if deployment is None:
                raise SystemExit(f"the case deployment did not appear; see {tmp / 'serve.log'}")
            ready = time.perf_counter() - t0
            _stop(server)  # not polling while the synthetic runs are created
            server = None
            rows.append(("serve process: deployment registered", f"{ready:.1f} s"))
            before = _db_size(home)
            rows_before = _rows(home)
            took, errors = asyncio.run(_synthetic(deployment.id, args.n, args.concurrency))
            after = _db_size(home)
            rows_after = _rows(home)
            grown = {t: rows_after[t] - rows_before[t] for t in rows_after}
            rows.append(("rows added (synthetic)", ", ".join(f"{t} {v}" for t, v in grown.items())))
            rows.append((f"synthetic suspended runs created (n={args.n})", f"{took:.1f} s"))
            rows.append(("creation rate", f"{args.n / took:.1f} runs/s, {errors} errors"))
            rows.append(("prefect.db before", f"{before / 1e6:.2f} MB"))
            rows.append(("prefect.db after", f"{after / 1e6:.2f} MB"))
            per_1k = (after - before) / max(args.n, 1) * 1000
            rows.append(("db growth per 1k suspended runs", f"{per_1k / 1e6:.2f} MB"))
            rows.append(("extrapolated growth at 10k", f"{per_1k * 10 / 1e6:.1f} MB"))
            page_s, page_n, count_s, total = _list_worklist(UNITS[3])
            rows.append(
                (
                    f"list Suspended + unit:{UNITS[3]} (limit 200)",
                    f"{page_s * 1000:.0f} ms, {page_n} runs",
                )
            )
            rows.append(("count Suspended + unit tag", f"{count_s * 1000:.0f} ms ({total} runs)"))
            if args.real:
                server = _serve(tmp)
                try:
                    _real(args.real, rows)
                except Exception as error:  # noqa: BLE001 - reported in the table
                    rows.append(("real path FAILED", repr(error)[:200]))
        finally:
            _stop(server)
    width = max(len(r[0]) for r in rows)
    sys.stdout.write(f"\nworklist bench (tmp: {tmp})\n")
    for name, value in rows:
        sys.stdout.write(f"  {name:<{width}}  {value}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
