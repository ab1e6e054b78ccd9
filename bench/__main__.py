"""Every benchmark in one command, then one summary table.

    .venv/bin/python -m bench [--size small|full] [--only NAME,...] [--dir DIR]

Runs plan, lifecycle, importer, sweep, bulletin, gate, find and board in that order (or the ones
`--only` names), each printing its own figures; progress goes to stderr. Then one table:
each figure beside its reference measured in the same run, the ratio, the goal, and met /
missed (FAILED: the benchmark found wrong results or could not run). `--size small` is what
CI runs (about a minute: it proves the benchmarks work; at that size fixed costs dominate
and the goals mean little); `--size full` uses the sizes of the goals (10k / 100k / 1M open
grievances for the sweep, 1M for the bulletin, 100k work orders for the import, 300 calls
of each kind through the gate, 1M grievances for find, 5k and 50k for the SLA board) and takes
a long while. The benchmarks that start a whole `grievance serve` or a load of HTTP clients
run alone: `bench.desk_step`, `bench.partner_api`, `bench.worklist`, `bench.workers`,
`bench.audit_verify` (1M events). Exit code 1 if any benchmark FAILED;
missed goals do not change it.
Each benchmark also runs alone: `python -m bench.sweep --help` and so on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.summary import FAILED, Line, load, markdown

NAMES = ("plan", "lifecycle", "importer", "sweep", "bulletin", "gate", "find", "board")


@dataclass(frozen=True)
class Size:
    plan: int
    lifecycle: int
    importer: int
    importer_reference: int
    sweep: tuple[int, ...]
    sweep_due: int
    bulletin: int
    bulletin_repeat: int
    gate: int
    find: int
    find_lookups: int
    board: tuple[int, ...]
    board_repeat: int


SIZES = {
    "small": Size(
        plan=2_000,
        lifecycle=30,
        importer=600,
        importer_reference=200,
        sweep=(300, 1_000),
        sweep_due=50,
        bulletin=2_000,
        bulletin_repeat=1,
        gate=20,
        find=2_000,
        find_lookups=30,
        board=(1_000,),
        board_repeat=1,
    ),
    "full": Size(
        plan=100_000,
        lifecycle=1_000,
        importer=100_000,
        importer_reference=4_000,
        sweep=(10_000, 100_000, 1_000_000),
        sweep_due=1_000,
        bulletin=1_000_000,
        bulletin_repeat=3,
        gate=300,
        find=1_000_000,
        find_lookups=300,
        board=(5_000, 50_000),
        board_repeat=3,
    ),
}


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _plan(size: Size, _folder: Path) -> list[Line]:
    from bench import plan

    result = plan.run(size.plan)
    plan.report(result)
    return plan.lines(result)


def _lifecycle(size: Size, folder: Path) -> list[Line]:
    from bench import lifecycle

    result = lifecycle.run(size.lifecycle, 7, folder, _log)
    lifecycle.report(result)
    for problem in result.problems:
        print(f"FAILED: {problem}")
    return lifecycle.lines(result)


def _importer(size: Size, folder: Path) -> list[Line]:
    from bench import importer

    result = importer.run(size.importer, size.importer_reference, 200, 7, folder, _log)
    importer.report(result)
    for problem in result.problems:
        print(f"FAILED: {problem}")
    return importer.lines(result)


def _sweep(size: Size, folder: Path) -> list[Line]:
    from bench import sweep

    measures = sweep.run(size.sweep, size.sweep_due, sweep.watchdog.BATCH, folder, _log)
    sweep.report(measures, size.sweep_due)
    for problem in (p for m in measures for p in m.problems):
        print(f"FAILED: {problem}")
    return sweep.lines(measures)


def _bulletin(size: Size, folder: Path) -> list[Line]:
    from bench import bulletin

    result = bulletin.run(size.bulletin, 7, size.bulletin_repeat, folder, _log)
    bulletin.report(result)
    return bulletin.lines(result)


def _gate(size: Size, folder: Path) -> list[Line]:
    from bench import gate

    result = gate.run(size.gate, folder, _log)
    gate.report(result)
    return gate.lines(result)


def _find(size: Size, folder: Path) -> list[Line]:
    from bench import find

    result = find.run(size.find, size.find_lookups, folder)
    find.report(result)
    if result.wrong:
        print(f"FAILED: find: {result.wrong} wrong results")
    return find.lines(result)


def _board(size: Size, folder: Path) -> list[Line]:
    from bench import sla_board

    results = sla_board.run(size.board, size.board_repeat, folder)
    print(sla_board.report(results))
    return sla_board.lines(results)


RUNNERS: dict[str, Callable[[Size, Path], list[Line]]] = {
    "plan": _plan,
    "lifecycle": _lifecycle,
    "importer": _importer,
    "sweep": _sweep,
    "bulletin": _bulletin,
    "gate": _gate,
    "find": _find,
    "board": _board,
}


def _only(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {', '.join(unknown) or '(none)'}: use {', '.join(NAMES)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--only", type=_only, default=list(NAMES), metavar="NAME,...")
    parser.add_argument("--dir", type=Path, help="where databases and files go (default: temp)")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    chosen = [n for n in NAMES if n in args.only]
    lines: list[Line] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        root: Path = args.dir or Path(scratch)
        for i, name in enumerate(chosen, start=1):
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            _log(f"[{i}/{len(chosen)}] {name} ({args.size}, {load()}) ...")
            t0 = time.perf_counter()
            print(f"\n## {name}\n", flush=True)
            try:
                lines += RUNNERS[name](size, folder)
            except Exception as error:  # one broken benchmark must not hide the others
                traceback.print_exc()
                print(f"FAILED: {name}: {type(error).__name__}: {error}")
                lines.append(Line(name, f"did not run: {type(error).__name__}", "", "", "", FAILED))
            sys.stdout.flush()
            took = time.perf_counter() - t0
            _log(f"[{i}/{len(chosen)}] {name} done in {took:.0f} s ({load()})")
            print(f"\n({name}: {took:.0f} s, {load()} at the end)", flush=True)
    total = time.perf_counter() - started
    print(f"\n## summary ({args.size} size, {total:.0f} s, {load()} at the end)\n")
    if args.size == "small":
        print("(small size: proves the benchmarks run; fixed costs dominate the ratios)\n")
    print(
        "Ratios of work done in this process are judged on its CPU time (a shared machine's\n"
        "other jobs stretch the wall clock, shown beside it); the import's on the wall clock\n"
        "(its flow run also works in the Prefect server's process); the gate's on the wall\n"
        "clock too: the difference of each pair of calls, direct and through the gate.\n"
    )
    print(markdown(lines))
    return 1 if any(line.status == FAILED for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
