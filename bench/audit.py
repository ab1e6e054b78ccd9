"""Audit replay: a randomized run of many operations, then every grievance's audit log
replayed and compared with what is stored.

    .venv/bin/python -m bench.audit [--ops 10000] [--seed 2142] [--url DATABASE_URL]

Operations, drawn at random: new grievances (accepted through the desk), the sensible next
step of a grievance's state by the right person (most of the time), any operation by anyone
with sometimes bad arguments (mostly refused: then nothing may be written), merges, and the
watchdog sweeping at the current instant. The clock moves forward by random minutes, and
effective times are sometimes back-dated (recorded later than they took effect).

At the end, for every grievance: the stored version equals the number of audit events, their
sequence numbers are 1..n, replaying the events gives the stored case, and rebuilding the
SLA timers from the events gives the stored timers. The audit table's append-only guard is
tried too: an UPDATE and a DELETE of an audit event must be refused by the database. Prints
the counts and any mismatch; exit code 1 on a mismatch. The database is a new SQLite file
unless `--url` names another (an empty PostgreSQL database, say).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models import audit_log, case_rows, sla_timers
from service import cases as uc
from service import watchdog
from service.acting import Stamp
from service.engine import Engine
from service.reading import show
from service.units import add_unit
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.errors import GrievanceError
from workflow.replay import replay
from workflow.sla import rebuild
from workflow.vocab import Event, Role

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Mon 09:00 Asia/Shanghai

DESK = Actor("desk", Role.DISPATCHER)
ACTORS = [
    DESK,
    Actor("ha", Role.HANDLER, "UA"),
    Actor("hb", Role.HANDLER, "UB"),
    Actor("sa", Role.SUPERVISOR, "UA"),
    Actor("sb", Role.SUPERVISOR, "UB"),
    Actor("boss", Role.SUPERVISOR),
    Actor("rev", Role.REVIEWER),
]
FINDINGS = {
    "verification": "调取运单",
    "facts": "运费已结清",
    "basis": "合同约定",
    "explanation": "已告知司机",
    "explained_at": "2026-11-23T10:00:00+08:00",
    "evidence": ["运单"],
}
# (operation, arguments, who does it: "desk", "handler", "supervisor" of the lead unit, "reviewer")
NEXT_STEPS: dict[str, list[tuple[str, dict[str, Any], str]]] = {
    "accepted": [("assign", {"unit": "UA"}, "desk"), ("assign", {"unit": "UB"}, "desk")],
    "assigned": [
        ("sign", {}, "handler"),
        ("sign", {}, "handler"),
        ("return", {"reason": "非本单位"}, "handler"),
    ],
    "returned": [("reassign", {"unit": "UA", "reason": "改派"}, "desk")],
    "handling": [
        ("feedback", {"note": "进展"}, "handler"),
        ("extend", {"days": 2, "reason": "调查"}, "handler"),
        ("approve", {}, "supervisor"),
        ("reject", {"reason": "否"}, "supervisor"),
        ("suspend", {"reason": "等待"}, "supervisor"),
        ("close", {"result": "resolved", "note": "办结"}, "handler"),
        ("close", {"result": "unresolved", "note": "已解释"}, "handler"),
        ("close", {"result": "no_fault", "note": "无责", "findings": FINDINGS}, "supervisor"),
    ],
    "suspended": [("resume", {}, "handler"), ("feedback", {"note": "进展"}, "handler")],
    "closed": [
        ("revisit", {"satisfaction": s}, "desk")
        for s in ("satisfied", "satisfied", "dissatisfied", "unreachable")
    ],
    "revisited": [
        ("review", {"root_cause": "根源", "actions": "措施"}, "reviewer"),
        ("redo", {"reason": "重办"}, "desk"),
    ],
}
OPERATIONS: dict[str, Callable[..., Any]] = {
    "assign": uc.assign,
    "sign": uc.sign,
    "return": uc.return_to_desk,
    "reassign": uc.reassign,
    "feedback": uc.feedback,
    "extend": uc.request_extension,
    "approve": uc.approve_extension,
    "reject": uc.reject_extension,
    "suspend": uc.suspend,
    "resume": uc.resume,
    "close": uc.close,
    "revisit": uc.revisit,
    "redo": uc.redo,
    "review": uc.review,
    "amend": uc.amend,
}
ARGUMENTS: dict[str, dict[str, Any]] = {  # each operation's usual arguments
    "assign": {"unit": "UA"},
    "reassign": {"unit": "UB", "reason": "改派"},
    "return": {"reason": "非本单位"},
    "feedback": {"note": "进展"},
    "extend": {"days": 2, "reason": "调查"},
    "reject": {"reason": "否"},
    "suspend": {"reason": "等待"},
    "close": {"result": "resolved", "note": "办结"},
    "revisit": {"satisfaction": "satisfied"},
    "redo": {"reason": "重办"},
    "review": {"root_cause": "根源", "actions": "措施"},
    "amend": {"category": "toll_etc", "reason": "更正分类"},
}
BAD_VALUES: list[Any] = ["", "  ", "NOPE", "bogus", "x" * 5000, -1, 0, "\x00"]


class Run:
    def __init__(self, engine: Engine, rng: random.Random) -> None:
        self.engine, self.rng = engine, rng
        self.now = START
        self.numbers: list[str] = []
        self.applied: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.half_written = 0  # refused operations that changed something anyway
        self.fired = 0

    def stamp(self, actor: Actor) -> Stamp:
        self.now += timedelta(minutes=self.rng.choice([1, 5, 20, 60, 240, 900]))
        at = self.now
        if self.rng.random() < 0.1:  # recorded now, effective a little earlier
            at = self.now - timedelta(minutes=self.rng.randrange(1, 120))
        return Stamp(actor=actor, at=at, recorded_at=self.now)

    def who(self, role: str, unit: str | None) -> Actor:
        if role == "desk":
            return DESK
        if role == "reviewer":
            return ACTORS[-1]
        kind = Role.HANDLER if role == "handler" else Role.SUPERVISOR
        return Actor(f"{role}-{unit}", kind, unit or "UA")

    def accept(self) -> None:
        index = len(self.numbers) + 1
        command = parse_command(
            Event.ACCEPT,
            {
                "channel": self.rng.choice(
                    ["hotline_12328", "hotline_12345", "mini_program", "walk_in"]
                ),
                "ref": f"AUDIT-{index:06d}",
                "type": self.rng.choice(["complaint", "help", "enquiry"]),
                "category": self.rng.choice(["freight_unpaid", "toll_etc", "platform_fee"]),
                "name": "司机",
                "phone": f"138{self.rng.randrange(10**8):08d}",
                "description": "货主拖欠运费",
                "urgent": self.rng.random() < 0.05,
            },
        )
        assert isinstance(command, Accept)
        case = uc.accept(self.engine, command, self.stamp(DESK))
        self.numbers.append(case.number)
        self.applied["accept"] += 1

    def act(self, number: str) -> None:
        current = show(self.engine, number, DESK)
        state = current.case.state.value
        steps = NEXT_STEPS.get(state)
        if steps and self.rng.random() < 0.8:
            name, arguments, role = self.rng.choice(steps)
            actor = self.who(role, current.case.lead_unit)
        else:
            name = self.rng.choice(sorted(OPERATIONS))  # anything, by anyone
            arguments = dict(ARGUMENTS.get(name, {}))
            if arguments and self.rng.random() < 0.4:  # with a bad value
                arguments[self.rng.choice(sorted(arguments))] = self.rng.choice(BAD_VALUES)
            actor = self.rng.choice(ACTORS)
        try:
            OPERATIONS[name](self.engine, number, self.stamp(actor), **arguments)
        except GrievanceError as error:
            self.refused[f"{name} ({type(error).__name__})"] += 1
            after = show(self.engine, number, DESK)
            if after.version != current.version or after.case != current.case:
                self.half_written += 1
            return
        self.applied[name] += 1

    def merge(self) -> None:
        number, into = self.rng.sample(self.numbers, 2)
        try:
            uc.merge(self.engine, number, self.stamp(DESK), into=into, reason="重复诉求")
        except GrievanceError:
            self.refused["merge"] += 1
            return
        self.applied["merge"] += 1

    def sweep(self) -> None:
        self.fired += len(watchdog.sweep(self.engine, self.now, batch=50).fired)
        self.applied["watchdog sweep"] += 1

    def step(self) -> None:
        roll = self.rng.random()
        if not self.numbers or roll < 0.12:
            self.accept()
        elif roll < 0.14 and len(self.numbers) > 1:
            self.merge()
        elif roll < 0.16:
            self.sweep()
        else:
            recent = self.numbers[-200:]  # mostly the live ones
            self.act(self.rng.choice(recent))


def verify(engine: Engine) -> tuple[int, list[str]]:
    """Replay every grievance's audit log; return (grievances checked, mismatches)."""
    problems: list[str] = []
    checked = 0
    with engine.db.read() as session:
        for number in case_rows.all_numbers(session):
            row = case_rows.get_row(session, number)
            events = audit_log.events_of(session, number)
            checked += 1
            if row.version != len(events) or [e.seq for e in events] != list(
                range(1, len(events) + 1)
            ):
                problems.append(f"{number}: version {row.version}, {len(events)} events")
                continue
            stored = case_rows.case_from_row(row)
            records = [audit_log.record_from_event(e) for e in events]
            if replay(records) != stored:
                problems.append(f"{number}: replaying the audit log gives another case")
            policy = engine.policies.get(stored.policy)
            timers = {
                sla_timers.timer_from_row(t) for t in sla_timers.timers_of(session, row.id or 0)
            }
            if timers != set(rebuild(records, policy, engine.calendars)):
                problems.append(f"{number}: stored timers differ from the replayed ones")
    return checked, problems


def append_only(engine: Engine) -> list[str]:
    """The database itself must refuse changing or deleting an audit event."""
    problems = []
    for statement in (
        "UPDATE grievance_event SET actor = 'forger' WHERE seq = 1",
        "DELETE FROM grievance_event WHERE seq = 1",
    ):
        try:
            with engine.db.engine.begin() as connection:
                connection.execute(text(statement))
        except DBAPIError:
            continue
        problems.append(f"the database allowed: {statement}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--ops", type=int, default=10_000, help="operations (default 10,000)")
    parser.add_argument("--seed", type=int, default=2142)
    parser.add_argument("--url", help="database URL (default: a new SQLite file)")
    args = parser.parse_args(argv)
    if args.ops < 1:
        parser.error("--ops must be at least 1")
    with tempfile.TemporaryDirectory(prefix="grievance-audit-") as folder:
        engine = Engine.open(args.url or f"sqlite:///{Path(folder) / 'audit.db'}")
        try:
            for code in ("UA", "UB"):
                add_unit(engine, Stamp(DESK, START, START), code=code, name=f"单位{code}")
            run = Run(engine, random.Random(args.seed))
            started = time.perf_counter()
            for index in range(args.ops):
                run.step()
                if (index + 1) % 500 == 0 or index + 1 == args.ops:
                    print(
                        f"\roperations {index + 1:,}/{args.ops:,}",
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
            print(file=sys.stderr)
            seconds = time.perf_counter() - started
            checked, problems = verify(engine)
            problems += append_only(engine)
        finally:
            engine.db.dispose()
    applied, refused = sum(run.applied.values()), sum(run.refused.values())
    print(f"operations: {args.ops:,} in {seconds:.1f} s ({applied:,} applied, {refused:,} refused)")
    print("applied: " + ", ".join(f"{k} {v}" for k, v in run.applied.most_common()))
    print("refused: " + ", ".join(f"{k} {v}" for k, v in run.refused.most_common(12)))
    print(f"watchdog steps fired: {run.fired:,}")
    print(f"refused operations that wrote something: {run.half_written}")
    print(f"grievances replayed: {checked:,}; mismatches: {len(problems)}")
    for problem in problems[:20]:
        print(f"MISMATCH {problem}")
    return 1 if problems or run.half_written else 0


if __name__ == "__main__":
    sys.exit(main())
