"""The SLA board's cost per watchdog tick: the running timers read (one query through the
(stopped_at, due_at) index), every one made a row (card, business time left or overdue,
step reached), split per unit and for the desk, and every board rendered as Markdown;
beside the grouped count the earlier board made (`models.open_work.sla_board`) on the same
database in the same run.

    .venv/bin/python -m bench.sla_board [--grievances 5000,50000] [--repeat 3]

The data: `bench.sweep`'s two template grievances (accepted, assigned to unit UA, each with
its feedback and close timers running) copied in bulk with raw SQL, so N grievances hold 2N
running timers. Publishing (one artifact per board) is not timed here: it does not grow with
the timers, since each board shows its `ROWS` most urgent rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bench import sweep
from bench.summary import NO_GOAL, Line, seconds
from models import open_work
from service import sla_board
from service.engine import Engine
from workflow.sla_board import DESK


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def measure(path: Path, repeat: int) -> dict[str, float]:
    """Median seconds of the query alone, the whole build, the rendering, the old count."""
    engine = Engine.open(f"sqlite:///{path}")
    try:
        now = sweep.NOW + timedelta(days=3)  # some red, some yellow, some green
        times: dict[str, list[float]] = {"query": [], "build": [], "render": [], "count": []}
        running = 0
        for _ in range(repeat):
            started = time.perf_counter()
            with engine.db.read() as session:
                running = len(open_work.running_timers(session))
            times["query"].append(time.perf_counter() - started)
            started = time.perf_counter()
            built = sla_board.build(engine, now)
            times["build"].append(time.perf_counter() - started)
            started = time.perf_counter()
            rendered = sla_board.render(built, links={}, language="zh")
            times["render"].append(time.perf_counter() - started)
            started = time.perf_counter()
            with engine.db.read() as session:
                open_work.sla_board(session, now, now + timedelta(days=1), now + timedelta(days=2))
            times["count"].append(time.perf_counter() - started)
        desk = built.boards[DESK]
        if desk.total != running:
            raise RuntimeError(f"the desk's board counts {desk.total}, {running} running")
        result = {name: statistics.median(values) for name, values in times.items()}
        result["running"] = running
        result["bytes"] = max(len(text.encode()) for _board, text in rendered.values())
        return result
    finally:
        engine.db.dispose()


def run(sizes: Sequence[int], repeat: int, folder: Path) -> list[tuple[int, dict[str, float]]]:
    templates = sweep.make_templates(folder / "board-template.db")
    results = []
    for size in sizes:
        path = folder / f"board-{size}.db"
        sweep.generate(path, size, max(1, size // 10), templates, _log)
        results.append((size, measure(path, repeat)))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return results


def report(results: Sequence[tuple[int, dict[str, float]]]) -> str:
    lines = [
        "| grievances | running timers | query | rows + split | Markdown | tick total "
        "| earlier count board (same run) | largest board |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, m in results:
        total = m["build"] + m["render"]
        lines.append(
            f"| {size:,} | {int(m['running']):,} | {m['query'] * 1000:.0f} ms "
            f"| {(m['build'] - m['query']) * 1000:.0f} ms | {m['render'] * 1000:.0f} ms "
            f"| {total * 1000:.0f} ms | {m['count'] * 1000:.0f} ms | {m['bytes'] / 1024:.0f} KiB |"
        )
    return "\n".join(lines)


def lines(results: Sequence[tuple[int, dict[str, float]]]) -> list[Line]:
    """The summary row: the tick's board work at the largest size beside the grouped count
    the earlier board made on the same database (no goal was set: it runs once a tick)."""
    size, m = results[-1]
    total = m["build"] + m["render"]
    return [
        Line(
            "board",
            f"tick {seconds(total)} at {size:,} grievances ({int(m['running']):,} running timers)",
            f"grouped count board {seconds(m['count'])}",
            f"{total / m['count']:.1f}x" if m["count"] else "—",
            NO_GOAL,
            NO_GOAL,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grievances", default="5000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.grievances.split(",") if part]
    with tempfile.TemporaryDirectory() as folder:
        print(report(run(sizes, args.repeat, Path(folder))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
