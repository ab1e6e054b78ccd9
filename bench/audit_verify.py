"""`audit verify` at scale: events verified per second and peak memory.

    .venv/bin/python -m bench.audit_verify [--ops 3000] [--copies 20] [--url DATABASE_URL]

A randomized run of `--ops` operations through the use cases (`bench.audit.Run`: random
people, random times, the watchdog sweeping), then every grievance it made copied `--copies`
times at the SQL level under new numbers, each copy's events chained afresh (the copies replay
exactly like their originals), then everything sealed. The verification then runs in a fresh
process (`--verify-only`), so its peak resident memory is its own: events verified per second
and the peak RSS (which includes SQLite's memory map and page cache, models/db.py); with
`--verify-only URL --tracemalloc`, Python's own peak allocation, flat as the database grows
(batches of grievances). Exit 1 if the untouched database does not verify clean.
1M events: `--ops 10000 --copies 57` (1.13M events).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from bench.audit import DESK, START, Run
from models.tables import Grievance
from service import audit
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.audit_chain import GENESIS, Link

CHUNK = 2_000  # grievances copied per statement batch


def _copy(engine: Engine, copies: int) -> int:
    """Copy every grievance (row, events, timers) `copies` times; the events they now have."""
    # the tables' own column types (UTC instants, JSON) read and write the values
    g_table = Grievance.metadata.tables["grievance"]
    e_table = Grievance.metadata.tables["grievance_event"]
    t_table = Grievance.metadata.tables["sla_timer"]
    with engine.db.engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.select(g_table))]
        by_id: dict[int, list[dict[str, Any]]] = {}
        for r in connection.execute(sa.select(e_table).order_by(e_table.c.id)):
            by_id.setdefault(r.grievance_id, []).append(dict(r._mapping))
        timer_rows: dict[int, list[dict[str, Any]]] = {}
        for r in connection.execute(sa.select(t_table)):
            timer_rows.setdefault(r.grievance_id, []).append(dict(r._mapping))
        next_id = max(r["id"] for r in rows) + 1
    total = sum(len(v) for v in by_id.values())
    for copy in range(1, copies + 1):
        new_rows, new_events, new_timers = [], [], []
        for row in rows:
            gid, number = next_id, f"{row['number']}-c{copy}"
            next_id += 1
            new_rows.append({**row, "id": gid, "number": number, "ref": f"{row['ref']}/{copy}"})
            prev = GENESIS
            for event in sorted(by_id.get(row["id"], []), key=lambda e: e["seq"]):
                values = {**event, "grievance_id": gid, "number": number}
                values.pop("id")
                if values["event"] == "accept":  # the reference the row's is replayed from
                    values["payload"] = {**values["payload"], "ref": f"{row['ref']}/{copy}"}
                values["prev_hash"] = prev
                values["hash"] = prev = Link.of(SimpleNamespace(**values)).hash()
                new_events.append(values)
            for timer in timer_rows.get(row["id"], []):
                values = {**timer, "grievance_id": gid, "number": number}
                values.pop("id")
                new_timers.append(values)
        with engine.db.engine.begin() as connection:
            for start in range(0, len(new_rows), CHUNK):
                connection.execute(g_table.insert(), new_rows[start : start + CHUNK])
            for start in range(0, len(new_events), CHUNK * 8):
                connection.execute(e_table.insert(), new_events[start : start + CHUNK * 8])
            for start in range(0, len(new_timers), CHUNK * 8):
                connection.execute(t_table.insert(), new_timers[start : start + CHUNK * 8])
        total += len(new_events)
        print(f"\rcopies {copy}/{copies}: {total:,} events", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return total


def verify_only(url: str, traced: bool = False) -> dict[str, Any]:
    """Verify the database at `url` once; with `traced`, Python's own peak allocation is
    measured too (tracemalloc: slower, so the rate of that run means little)."""
    engine = Engine.open(url)
    if traced:
        tracemalloc.start()
    try:
        started = time.perf_counter()
        result = audit.verify(engine, START, record=False)
        seconds = time.perf_counter() - started
    finally:
        engine.db.dispose()
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "python_peak_mib": python_peak,
        "checked": result.checked,
        "events": result.events,
        "findings": len(result.findings),
        "first": [f.as_dict() for f in result.findings[:5]],
        "seconds": seconds,
        "events_per_second": result.events / seconds if seconds else 0.0,
        "peak_rss_mib": peak_kib / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_verify", description=__doc__)
    parser.add_argument("--ops", type=int, default=3_000, help="operations through use cases")
    parser.add_argument("--copies", type=int, default=20, help="SQL copies of each grievance")
    parser.add_argument("--seed", type=int, default=2142)
    parser.add_argument("--url", help="database URL (default: a new SQLite file)")
    parser.add_argument("--verify-only", metavar="URL", help="only verify this database")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="with --verify-only: Python's peak memory"
    )
    args = parser.parse_args(argv)
    if args.verify_only:
        print(json.dumps(verify_only(args.verify_only, args.tracemalloc)))
        return 0
    with tempfile.TemporaryDirectory(prefix="grievance-audit-verify-") as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'verify.db'}"
        engine = Engine.open(url)
        try:
            for code in ("UA", "UB"):
                add_unit(engine, Stamp(DESK, START, START), code=code, name=f"单位{code}")
            run = Run(engine, random.Random(args.seed))
            started = time.perf_counter()
            for index in range(args.ops):
                run.step()
                if (index + 1) % 500 == 0:
                    print(f"\roperations {index + 1:,}", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
            made = time.perf_counter() - started
            events = _copy(engine, args.copies)
            sealed = audit.seal(engine, run.now)
        finally:
            engine.db.dispose()
        done = subprocess.run(  # noqa: S603 - this same module, our own arguments
            [sys.executable, "-m", "bench.audit_verify", "--verify-only", url],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"operations: {args.ops:,} in {made:.1f} s; copies: {args.copies}; events: {events:,}")
    print(f"sealed: {sealed.events:,} events in {sealed.seals} seal(s)")
    print(
        f"verified: {figures['checked']:,} grievances, {figures['events']:,} events in "
        f"{figures['seconds']:.1f} s: {figures['events_per_second']:,.0f} events/s"
    )
    included = ", SQLite's 256 MiB memory map and 64 MiB page cache included"
    print(
        f"peak memory of the verifying process: {figures['peak_rss_mib']:.0f} MiB (max RSS"
        f"{included if url.startswith('sqlite') else ''})"
    )
    print(f"findings: {figures['findings']}")
    for finding in figures["first"]:
        print(f"FINDING {finding}")
    return 1 if figures["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
