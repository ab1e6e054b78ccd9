"""Hypothesis drives random operations by random actors at random (forward and backward)
times through the use cases, and checks after every step: terminal states are never left,
refused operations write nothing, and every audit log replays to the stored grievance and
to its stored SLA timers.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from bench.audit import FINDINGS
from models import audit_log, case_rows, sla_timers
from service import cases as uc
from service import watchdog
from service.acting import Stamp
from service.engine import Engine
from service.reading import show
from service.units import add_unit
from tests.conftest import T0, accept_command, database_url_for
from workflow.actor import Actor
from workflow.case import TERMINAL_STATES
from workflow.errors import GrievanceError
from workflow.replay import replay
from workflow.sla import rebuild
from workflow.vocab import Role

ACTORS = [
    Actor("desk", Role.DISPATCHER),
    Actor("ha", Role.HANDLER, "UA"),
    Actor("hb", Role.HANDLER, "UB"),
    Actor("sa", Role.SUPERVISOR, "UA"),
    Actor("boss", Role.SUPERVISOR),
    Actor("rev", Role.REVIEWER),
]

# Each operation with a strategy for its arguments (some of them deliberately bad).
# Mostly good values, sometimes bad ones, so runs get deep into the lifecycle and still
# exercise every refusal.
UNITS = st.sampled_from(["UA", "UA", "UA", "UB", "NOPE"])
TEXT = st.sampled_from(["说明", "说明", "说明", "说明", "  ", "x" * 600])
DESK, HA, SA, REV = ACTORS[0], ACTORS[1], ACTORS[3], ACTORS[5]
PREFERRED = {
    "assign": DESK,
    "reassign": DESK,
    "revisit": DESK,
    "redo": DESK,
    "amend": DESK,
    "sign": HA,
    "return": HA,
    "feedback": HA,
    "extend": HA,
    "resume": HA,
    "close": HA,
    "approve": SA,
    "reject": SA,
    "suspend": SA,
    "review": REV,
    "close no-fault": SA,  # a no-fault conclusion is the supervisor's to close
}
OPERATIONS: dict[str, tuple[Any, st.SearchStrategy[dict[str, Any]]]] = {
    "assign": (uc.assign, st.fixed_dictionaries({"unit": UNITS})),
    "sign": (uc.sign, st.just({})),
    "return": (uc.return_to_desk, st.fixed_dictionaries({"reason": TEXT})),
    "reassign": (uc.reassign, st.fixed_dictionaries({"unit": UNITS, "reason": TEXT})),
    "feedback": (uc.feedback, st.fixed_dictionaries({"note": TEXT})),
    "extend": (
        uc.request_extension,
        st.fixed_dictionaries({"days": st.integers(0, 4), "reason": TEXT}),
    ),
    "approve": (uc.approve_extension, st.just({})),
    "reject": (uc.reject_extension, st.fixed_dictionaries({"reason": TEXT})),
    "suspend": (uc.suspend, st.fixed_dictionaries({"reason": TEXT})),
    "resume": (uc.resume, st.just({})),
    "close": (
        uc.close,
        st.fixed_dictionaries(
            {
                "result": st.sampled_from(
                    ["resolved", "no_fault", "unresolved", "resolved", "bogus"]
                ),
                "note": TEXT,
            }
        ),
    ),
    "revisit": (
        uc.revisit,
        st.fixed_dictionaries(
            {"satisfaction": st.sampled_from(["satisfied", "dissatisfied", "unreachable"])}
        ),
    ),
    "redo": (uc.redo, st.fixed_dictionaries({"reason": TEXT})),
    "review": (uc.review, st.fixed_dictionaries({"root_cause": TEXT, "actions": TEXT})),
    "amend": (
        uc.amend,
        st.fixed_dictionaries({"reason": TEXT, "category": st.sampled_from(["other", "toll_etc"])}),
    ),
}


NEXT_STEPS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "accepted": [("assign", {"unit": "UA"})],
    "assigned": [("sign", {}), ("sign", {}), ("return", {"reason": "非本单位"})],
    "returned": [("reassign", {"unit": "UA", "reason": "改派"})],
    "handling": [
        ("feedback", {"note": "进展"}),
        ("extend", {"days": 2, "reason": "调查"}),
        ("approve", {}),
        ("reject", {"reason": "否"}),
        ("suspend", {"reason": "等待"}),
        ("close", {"result": "resolved", "note": "办结"}),
        ("close", {"result": "unresolved", "note": "已解释"}),
        ("close no-fault", {"result": "no_fault", "note": "无责", "findings": FINDINGS}),
    ],
    "suspended": [("resume", {}), ("feedback", {"note": "进展"})],
    "closed": [
        ("revisit", {"satisfaction": s}) for s in ("satisfied", "dissatisfied", "unreachable")
    ],
    "revisited": [
        ("review", {"root_cause": "根源", "actions": "措施"}),
        ("redo", {"reason": "重办"}),
        ("revisit", {"satisfaction": "basically_satisfied"}),
    ],
}


class Lifecycle(RuleBasedStateMachine):
    numbers = Bundle("numbers")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.engine = Engine.open(database_url_for(Path(self.folder.name)))
        self.now = T0
        self.refs = 0
        self.finished: dict[str, Any] = {}  # number -> the case when it became terminal
        self.versions: dict[str, int] = {}
        self.touched: set[str] = set()  # checked by the invariant after the step

    def teardown(self) -> None:
        self.engine.db.dispose()
        self.folder.cleanup()

    def stamp(self, actor: Actor, minutes: int) -> Stamp:
        self.now += timedelta(minutes=minutes)
        return Stamp(actor=actor, at=self.now, recorded_at=self.now)

    def applied(self, number: str, case: Any, label: str) -> None:
        """Bookkeeping after a successful operation: a finished case must stay finished."""
        event(f"{label}: applied -> {case.state.value}")
        assert number not in self.finished, f"{number} left terminal state"
        self.versions[number] += 1
        if case.state in TERMINAL_STATES:
            self.finished[number] = case

    @initialize()
    def units(self) -> None:
        for code in ("UA", "UB"):
            add_unit(self.engine, self.stamp(ACTORS[0], 0), code=code, name=code)

    @rule(target=numbers, minutes=st.integers(0, 600))
    def accept(self, minutes: int) -> str:
        self.refs += 1
        case = uc.accept(
            self.engine, accept_command(ref=f"S-{self.refs}"), self.stamp(ACTORS[0], minutes)
        )
        self.versions[case.number] = 1
        self.touched.add(case.number)
        return case.number

    @rule(
        number=numbers,
        operation=st.sampled_from(sorted(OPERATIONS)),
        data=st.data(),
        minutes=st.integers(-120, 3000),
    )
    def act(self, number: str, operation: str, data: st.DataObject, minutes: int) -> None:
        run, arguments = OPERATIONS[operation]
        self.touched.add(number)
        actor = data.draw(st.one_of(st.just(PREFERRED[operation]), st.sampled_from(ACTORS)))
        before = show(self.engine, number, ACTORS[0])
        try:
            case = run(self.engine, number, self.stamp(actor, minutes), **data.draw(arguments))
        except GrievanceError as error:
            event(f"{operation}: refused ({type(error).__name__})")
            after = show(self.engine, number, ACTORS[0])
            assert after.version == before.version and after.case == before.case
            return
        self.applied(number, case, operation)

    @rule(number=numbers, data=st.data(), minutes=st.integers(1, 3000))
    def advance(self, number: str, data: st.DataObject, minutes: int) -> None:
        """The next sensible step for the grievance's state, by the right person."""
        self.touched.add(number)
        state = show(self.engine, number, DESK).case.state.value
        choices = NEXT_STEPS.get(state)
        if not choices:
            return
        operation, arguments = data.draw(st.sampled_from(choices))
        run = OPERATIONS[operation.split()[0]][0]
        try:
            case = run(self.engine, number, self.stamp(PREFERRED[operation], minutes), **arguments)
        except GrievanceError as error:  # a guard may still refuse (no pending extension...)
            event(f"advance {operation}: refused ({type(error).__name__})")
            return
        self.applied(number, case, f"advance {operation}")

    @rule(number=numbers, into=numbers)
    def merge(self, number: str, into: str) -> None:
        self.touched.update((number, into))
        try:
            case = uc.merge(self.engine, number, self.stamp(ACTORS[0], 5), into=into, reason="重复")
        except GrievanceError:
            return
        self.versions[number] += 1
        self.finished[number] = case

    @rule(minutes=st.integers(0, 6000))
    def sweep(self, minutes: int) -> None:
        """The watchdog runs: each due step is recorded once, on top of the lifecycle."""
        self.now += timedelta(minutes=minutes)
        result = watchdog.sweep(self.engine, self.now, batch=3)
        for fired in result.fired:
            assert fired.number not in self.finished, "a finished case has no running timer"
            self.versions[fired.number] += 1
            self.touched.add(fired.number)
        event(f"sweep fired {min(len(result.fired), 3)}+ steps")
        assert watchdog.sweep(self.engine, self.now).fired == []

    @invariant()
    def audit_log_replays_to_the_stored_state(self) -> None:
        """Checked for every grievance the step touched (a step changes no other one)."""
        touched, self.touched = self.touched, set()
        with self.engine.db.read() as session:
            for number in sorted(touched):
                version = self.versions[number]
                row = case_rows.get_row(session, number)
                events = audit_log.events_of(session, number)
                assert row.version == version == len(events)
                assert [e.seq for e in events] == list(range(1, version + 1))
                stored = case_rows.case_from_row(row)
                records = [audit_log.record_from_event(e) for e in events]
                assert replay(records) == stored
                policy = self.engine.policies.get(stored.policy)
                timers = {
                    sla_timers.timer_from_row(t) for t in sla_timers.timers_of(session, row.id or 0)
                }
                assert timers == set(rebuild(records, policy, self.engine.calendars))
                assert all(t.next_fire_at is None for t in timers if not t.open)
                if number in self.finished:
                    assert stored == self.finished[number]


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(
    max_examples=50,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
