"""The latency the gate adds to each API call it forwards to the Prefect server.

    .venv/bin/python -m bench.gate [--calls 300] [--dir DIR]

1. The embedded Prefect server (`flows.prefect_server.prefect_api`, SQLite under a temporary
   `PREFECT_HOME`) on a free loopback port behind a random password, and the gate
   (`gateway.server.start`, uvicorn in a thread of this process) on another free 127.0.0.1
   port in front of it, as `grievance serve` runs them; the grievance database beside them.
2. One account, logged in through the gate's `/login` form with httpx (the session cookie);
   one flow, one deployment and 10 flow runs created in Prefect so the lists are not empty.
3. Three calls the Prefect UI makes all the time, `--calls` times each after a warm-up:
   `POST /api/flow_runs/filter`, `POST /api/deployments/filter` (small bodies, `limit` 10)
   and `GET /api/health`. Each time both ways, back to back, the order alternating: direct
   (the internal URL with the Basic password) and gated (the gate's URL with the cookie), so
   both see the same machine state. Every answer must be 200 and the gated list as long as
   the direct one (FAILED otherwise).
4. Per call kind and overall: median and p99 of direct, of gated, and of the difference of
   each pair (gated - direct), in ms; the gate's CPU per gated call (the CPU of this process
   outside the main thread: the gate's event loop and its worker threads); the goal: a median
   added latency of at most 5 ms.
Requests go to 127.0.0.1 only; everything started is stopped at the end, also on errors and
Ctrl-C (SIGTERM too when run as a command).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.summary import FAILED, Line, goal_at_most, load

GOAL_MS = 5.0
WARMUP = 10
USER, PASSWORD = "bench", "bench gate pass 123"
# what the Prefect UI asks again and again: its runs and deployments lists, and health
CALLS: tuple[tuple[str, str, str, dict[str, Any] | None], ...] = (
    ("flow_runs/filter", "POST", "/api/flow_runs/filter", {"limit": 10, "offset": 0}),
    ("deployments/filter", "POST", "/api/deployments/filter", {"limit": 10, "offset": 0}),
    ("health", "GET", "/api/health", None),
)
# set by the caller's environment, they would point the bench at another server or password
_ENV = (
    "PREFECT_HOME",
    "PREFECT_API_URL",
    "PREFECT_API_AUTH_STRING",
    "PREFECT_SERVER_API_AUTH_STRING",
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_ANALYTICS_ENABLED",
    "GRIEVANCE_PREFECT_PORT",
)


@dataclass
class Kind:
    """One call kind's timings, in seconds: direct[i] and gated[i] are one pair."""

    name: str
    direct: list[float] = field(default_factory=list)
    gated: list[float] = field(default_factory=list)

    @property
    def added(self) -> list[float]:
        return [g - d for g, d in zip(self.gated, self.direct, strict=True)]


@dataclass
class Result:
    calls: int
    kinds: list[Kind]
    gate_cpu: float  # seconds of CPU outside the main thread while measuring
    wall: float
    problems: list[str]

    @property
    def every(self) -> Kind:
        return Kind(
            "all",
            [t for k in self.kinds for t in k.direct],
            [t for k in self.kinds for t in k.gated],
        )


def p99(values: list[float]) -> float:
    """The nearest-rank 99th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


def _ms(value: float) -> str:
    return f"{value * 1000:.2f}"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _environment(home: Path) -> Iterator[None]:
    """A Prefect environment of the bench's own, the caller's restored afterwards."""
    saved = {name: os.environ.pop(name, None) for name in _ENV}
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _fill(direct: Any, log: Callable[[str], None]) -> None:
    """One flow, one deployment and 10 flow runs, so the lists the UI asks for have rows."""
    flow = direct.post("/api/flows/", json={"name": "bench-gate"})
    flow.raise_for_status()
    flow_id = flow.json()["id"]
    direct.post("/api/deployments/", json={"name": "bench", "flow_id": flow_id}).raise_for_status()
    for i in range(10):
        run = direct.post("/api/flow_runs/", json={"flow_id": flow_id, "name": f"bench-{i}"})
        run.raise_for_status()
    log("  Prefect filled: 1 flow, 1 deployment, 10 flow runs")


def _measure(direct: Any, gated: Any, calls: int, problems: list[str]) -> list[Kind]:
    kinds = [Kind(name) for name, *_ in CALLS]
    for i in range(calls):
        for kind, (name, method, path, body) in zip(kinds, CALLS, strict=True):
            timed = {}
            order = (("direct", direct), ("gated", gated))
            for way, client in order if i % 2 == 0 else order[::-1]:
                t0 = time.perf_counter()
                answer = client.request(method, path, json=body)
                timed[way] = time.perf_counter() - t0
                if answer.status_code != 200:
                    problems.append(f"{name} {way}: HTTP {answer.status_code} {answer.text[:200]}")
                else:
                    timed[f"{way} rows"] = len(answer.json()) if body is not None else 0
            if len(problems) > 5:
                raise RuntimeError("; ".join(problems))
            if timed.get("direct rows") != timed.get("gated rows"):
                rows = f"{timed.get('gated rows')} rows gated, {timed.get('direct rows')} direct"
                problems.append(f"{name}: {rows}")
            kind.direct.append(timed["direct"])
            kind.gated.append(timed["gated"])
    return kinds


def run(calls: int, folder: Path, log: Callable[[str], None] = _say) -> Result:
    """Start Prefect and the gate in `folder`, time `calls` pairs of each call, stop both."""
    import httpx

    from flows.prefect_server import prefect_api
    from gateway import server as gate_server
    from gateway.proxy import Upstream
    from service import accounts
    from service.acting import Stamp
    from service.engine import Engine
    from workflow.actor import Actor
    from workflow.vocab import Role

    problems: list[str] = []
    gate_port = gate_server.free_loopback_port()
    gate_url = f"http://127.0.0.1:{gate_port}"
    with _environment(folder / "prefect"), prefect_api(public_url=gate_url, say=log) as api_url:
        password = os.environ["PREFECT_SERVER_API_AUTH_STRING"]
        upstream = Upstream(api_url.removesuffix("/api"), password)
        engine = Engine.open(f"sqlite:///{folder / 'grievance.db'}")
        try:
            now = datetime.now(UTC)
            stamp = Stamp(actor=Actor("bench", Role.DISPATCHER), at=now, recorded_at=now)
            accounts.add_user(engine, stamp, name=USER, role="dispatcher", password=PASSWORD)
            gate = gate_server.start(engine, upstream, host="127.0.0.1", port=gate_port)
            log(f"  gate on {gate.url} in front of {upstream.url}")
            try:
                with (
                    httpx.Client(base_url=upstream.url, headers=upstream.headers()) as direct,
                    httpx.Client(base_url=gate.url) as gated,
                ):
                    login = gated.post("/login", data={"username": USER, "password": PASSWORD})
                    if login.status_code != 303 or "grievance_session" not in gated.cookies:
                        raise RuntimeError(f"login through the gate failed: {login.status_code}")
                    _fill(direct, log)
                    _measure(direct, gated, WARMUP, problems)  # connections, caches: not timed
                    log(f"  {calls} x {len(CALLS)} pairs of calls ...")
                    cpu0, main0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
                    kinds = _measure(direct, gated, calls, problems)
                    wall = time.perf_counter() - t0
                    gate_cpu = (time.process_time() - cpu0) - (time.thread_time() - main0)
            finally:
                gate.stop()
        finally:
            engine.db.dispose()
    return Result(calls, kinds, gate_cpu, wall, problems)


def report(r: Result) -> None:
    print(
        f"{r.calls} calls of each kind, direct and gated interleaved "
        f"({2 * r.calls * len(r.kinds)} requests, {r.wall:.1f} s, {load()})\n"
    )
    head = f"{'call':<20} {'direct ms':>17} {'gated ms':>17} {'added ms':>17}"
    print(head)
    print(f"{'':<20} {'median     p99':>17} {'median     p99':>17} {'median     p99':>17}")
    for kind in [*r.kinds, r.every]:
        cells = []
        for values in (kind.direct, kind.gated, kind.added):
            cells.append(f"{_ms(statistics.median(values)):>8} {_ms(p99(values)):>8}")
        print(f"{kind.name:<20} {' '.join(cells)}")
    added = statistics.median(r.every.added)
    per_call = r.gate_cpu / (r.calls * len(r.kinds))
    print(f"\ngate CPU per gated call: {_ms(per_call)} ms (its event loop and worker threads)")
    print(
        f"goal: median added <= {GOAL_MS:.0f} ms: {_ms(added)} ms, "
        f"{goal_at_most(added * 1000, GOAL_MS)}"
    )
    for problem in r.problems:
        print(f"FAILED: {problem}")


def lines(r: Result) -> list[Line]:
    every = r.every
    added = statistics.median(every.added)
    direct, gated = statistics.median(every.direct), statistics.median(every.gated)
    per_call = r.gate_cpu / (r.calls * len(r.kinds))
    return [
        Line(
            "gate",
            f"API call through the gate ({r.calls} x {len(r.kinds)} kinds): median {_ms(gated)} "
            f"ms, added {_ms(added)} ms (p99 {_ms(p99(every.added))}); "
            f"gate CPU {_ms(per_call)} ms per call",
            f"direct to Prefect: median {_ms(direct)} ms",
            f"{gated / direct:.2f}x",
            f"<= {GOAL_MS:.0f} ms median added",
            FAILED if r.problems else goal_at_most(added * 1000, GOAL_MS),
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="pairs timed per call kind")
    parser.add_argument("--dir", type=Path, help="where the databases go (default: temp)")
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as scratch:
        folder: Path = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = run(args.calls, folder)
        except KeyboardInterrupt:
            _say("interrupted: the gate and the Prefect server are stopped")
            return 130
    report(result)
    return 1 if result.problems else 0


if __name__ == "__main__":
    from flows.prefect_server import interrupt_on_sigterm

    interrupt_on_sigterm()
    sys.exit(main())
