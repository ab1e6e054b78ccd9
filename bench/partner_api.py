"""The partner API under load: sustained accepted grievances per second over HTTP from 50
concurrent clients, beside the in-process rate of the same use case, with p50/p99 latency.

    .venv/bin/python -m bench.partner_api [--n 3000] [--clients 50] [--reference 1000]
        [--pg URL | --pg auto] [--dir DIR]

Per database (SQLite always; PostgreSQL with `--pg URL`, `--pg auto` for `scripts/postgres
url`, or $GRIEVANCE_BENCH_PG_URL):
1. In process: `--reference` synthetic work orders (`bench.synthetic`, the 12328 desk's mix)
   pushed with `service.partner_intake.submit`, the use case behind `POST /grievances`, in a
   plain loop on a fresh database: grievances per second.
2. Over HTTP: the gate (`gateway.server.start`, uvicorn, as `grievance serve` runs it) in a
   child process on a free 127.0.0.1 port with a fresh database; this process runs `--clients`
   concurrent httpx clients (asyncio) pushing `--n` other work orders as fast as the answers
   come. Every answer must be 201 (FAILED otherwise). Rate = accepted / wall time; p50 and
   p99 of each request's latency as the client sees it.
Goals (SQLite): HTTP >= 50 % of the in-process rate, p99 <= 250 ms. Both processes share the
machine's cores, as a gate and its clients on one host would. Since the rates move with
whatever else the machine runs, the CPU milliseconds per push are printed too (in process,
and the gate process's per request over HTTP): their ratio does not depend on the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench import synthetic

FIRST_DAY = date(2026, 10, 5)
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=synthetic.SH)
GOAL_RATIO = 0.5
GOAL_P99_MS = 250.0
PARTNER_KEY_ENV = "GRIEVANCE_PARTNER_KEY"


def orders(n: int, prefix: str, seed: int) -> list[dict[str, Any]]:
    """`n` work orders as a partner's JSON (no channel: it is the partner's)."""
    rng = random.Random(seed)
    made = []
    for i in range(n):
        data = synthetic.order(rng, i, FIRST_DAY, 28, prefix=prefix).accept_data()
        data.pop("channel")
        data["received_at"] = synthetic.order(rng, i, FIRST_DAY, 28).accepted_at.isoformat()
        made.append(data)
    return made


def _engine(url: str) -> Any:
    from service.engine import Engine

    return Engine.open(url)


def _partner(engine: Any) -> tuple[str, Any]:
    from service import partners
    from service.acting import Stamp
    from workflow.actor import Actor
    from workflow.vocab import Role

    stamp = Stamp(Actor("bench", Role.DISPATCHER), NOW, NOW)
    issued = partners.add_partner(
        engine, stamp, code="BENCH", name="压测合作方", channel="hotline_12328"
    )
    view = partners.authenticate(engine, issued.key, NOW)
    return issued.key, view


def in_process(url: str, n: int) -> tuple[float, float]:
    """Grievances per second through `partner_intake.submit` in a plain loop, and the CPU
    milliseconds each took."""
    from service import partner_intake

    engine = _engine(url)
    try:
        _, view = _partner(engine)
        work = orders(n, "IN", seed=1)
        partner_intake.submit(engine, view, orders(1, "WARM", seed=9)[0], NOW)
        started, cpu = time.perf_counter(), time.process_time()
        for order in work:
            partner_intake.submit(engine, view, order, NOW)
        return n / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / n
    finally:
        engine.db.dispose()


def serve(url: str) -> int:
    """The child: the gate on a free port; prints the base URL and the key, then waits."""
    from gateway import server
    from gateway.proxy import Upstream

    engine = _engine(url)
    key, _ = _partner(engine)
    running = server.start(
        engine,
        Upstream("http://127.0.0.1:9"),
        host="127.0.0.1",
        port=server.free_loopback_port(),
    )
    print(running.url, key, flush=True)
    sys.stdin.readline()
    running.stop()
    engine.db.dispose()
    return 0


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    """One keep-alive HTTP/1.1 POST on an open connection; the answer's status code."""
    writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    header = await reader.readuntil(b"\r\n\r\n")
    lines = header.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _load(base: str, key: str, work: list[dict[str, Any]], clients: int) -> Any:
    """`clients` connections pushing the work orders as fast as the answers come.

    A minimal HTTP/1.1 client on asyncio streams: httpx cost this process about 4 ms of CPU
    a request, twice the gate's own cost, so the clients, not the gate, set the pace."""
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST /partner/v1/grievances HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        "Content-Length: "
    ).encode()
    bodies = [json.dumps(order, ensure_ascii=False).encode() for order in work]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(clients)]
    warm = json.dumps(orders(1, "WARMUP", seed=8)[0]).encode()
    await _post(*connections[0], head, warm)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            status = await _post(reader, writer, head, body)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(r, w) for r, w in connections))
    elapsed = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    return elapsed, latencies, statuses


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def over_http(url: str, n: int, clients: int) -> tuple[float, float, float, float, dict[int, int]]:
    env = dict(os.environ)
    env |= {"GRIEVANCE_PARTNER_RATE": "1000000", "GRIEVANCE_PARTNER_BURST": "1000000"}
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.partner_api", "--serve", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdin is not None  # noqa: S101 - pipes
        base, key = child.stdout.readline().split()
        work = orders(n, "HTTP", seed=2)
        cpu = _cpu_seconds(child.pid)
        elapsed, latencies, statuses = asyncio.run(_load(base, key, work, clients))
        cpu = _cpu_seconds(child.pid) - cpu
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    accepted = statuses.get(201, 0)
    cuts = statistics.quantiles(latencies, n=100)
    return accepted / elapsed, cuts[49] * 1000, cuts[98] * 1000, cpu * 1000 / n, statuses


def _pg_url(base: str, folder: Path) -> tuple[str, str]:
    from bench.workers import _admin, _database_url

    name = f"bench_partner_{os.getpid()}_{len(list(folder.iterdir()))}"
    _admin(base, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    return _database_url(base, name, "postgresql+psycopg"), name


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault(PARTNER_KEY_ENV, "bench-partner-key-not-a-secret-0123")
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-partner-"))
    folder.mkdir(parents=True, exist_ok=True)
    pg = args.pg or os.environ.get("GRIEVANCE_BENCH_PG_URL")
    if pg == "auto":
        from bench.workers import default_pg_url

        pg = default_pg_url()
    backends = ["sqlite"] + (["postgresql"] if pg else [])
    failed = False
    print(
        f"partner API: {args.n} pushes over HTTP from {args.clients} clients, "
        f"{args.reference} in process"
    )
    print(
        "| database | in process /s | HTTP /s | HTTP / in process | p50 ms | p99 ms "
        "| CPU ms/push in process | gate CPU ms/push | answers |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for backend in backends:
        dropped: list[str] = []
        if backend == "sqlite":
            ref_url = f"sqlite:///{folder / 'in-process.db'}"
            http_url = f"sqlite:///{folder / 'http.db'}"
        else:
            ref_url, a = _pg_url(pg, folder)
            (folder / a).touch()
            http_url, b = _pg_url(pg, folder)
            (folder / b).touch()
            dropped = [a, b]
        try:
            reference, ref_cpu = in_process(ref_url, args.reference)
            rate, p50, p99, http_cpu, statuses = over_http(http_url, args.n, args.clients)
        finally:
            if dropped:
                from bench.workers import _admin

                _admin(pg, *(f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in dropped))
        ratio = rate / reference
        ok = statuses.get(201, 0) == args.n
        goal = ""
        if backend == "sqlite":
            met = ratio >= GOAL_RATIO and p99 <= GOAL_P99_MS
            goal = " (goal: >= 50 %, p99 <= 250 ms: " + ("met" if met else "missed") + ")"
        print(
            f"| {backend} | {reference:,.0f} | {rate:,.0f} | {ratio:.0%}{goal} | {p50:.1f} | "
            f"{p99:.1f} | {ref_cpu:.2f} | {http_cpu:.2f} | "
            f"{dict(sorted(statuses.items()))}{'' if ok else ' FAILED'} |"
        )
        failed = failed or not ok
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partner_api", description=__doc__)
    parser.add_argument("--n", type=int, default=3000, help="pushes over HTTP")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--reference", type=int, default=1000, help="pushes in process")
    parser.add_argument("--pg", help="PostgreSQL server URL, or 'auto' (scripts/postgres url)")
    parser.add_argument("--dir", help="folder for the SQLite databases")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
