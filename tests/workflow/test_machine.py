"""The transition table: every (state, event) pair, sorted; validation; permissions; guards."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workflow.actor import Actor
from workflow.case import TERMINAL_STATES, Case, evolve
from workflow.commands import Command, parse_command
from workflow.errors import GuardFailed, IllegalTransition, InvalidInput, PermissionDenied
from workflow.machine import (
    TABLE,
    Facts,
    Scope,
    TableError,
    Transition,
    allowed_events,
    decide,
    transition_for,
    validate_table,
)
from workflow.replay import ReplayError, replay
from workflow.vocab import Category, Channel, Event, RequestType, Role, Satisfaction, State

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

SAMPLE_INPUT: dict[Event, dict[str, Any]] = {
    Event.ACCEPT: {
        "channel": "mailbox",
        "ref": "M-1",
        "type": "help",
        "category": "toll_etc",
        "name": "李四",
        "phone": "13912345678",
        "description": "ETC扣费异常",
    },
    Event.ASSIGN: {"unit": "UA"},
    Event.SIGN: {},
    Event.RETURN: {"reason": "不属于本单位"},
    Event.REASSIGN: {"unit": "UA", "reason": "改派"},
    Event.FEEDBACK: {"note": "已联系"},
    Event.REQUEST_EXTENSION: {"days": 2, "reason": "需要调查"},
    Event.APPROVE_EXTENSION: {},
    Event.REJECT_EXTENSION: {"reason": "不同意"},
    Event.SUSPEND: {"reason": "等待材料"},
    Event.RESUME: {},
    Event.CLOSE: {"result": "resolved", "note": "已解决"},
    Event.REVISIT: {"satisfaction": "satisfied"},
    Event.REDO: {"reason": "不满意"},
    Event.REVIEW: {"root_cause": "原因", "actions": "措施"},
    Event.MERGE: {"into": "20261123-9999", "reason": "重复来电"},
    Event.AMEND: {"reason": "更正", "category": "other"},
    Event.RECALCULATE: {
        "target": "close",
        "cycle": 1,
        "old_due": "2027-01-01T09:30:00Z",
        "new_due": "2027-01-04T09:30:00Z",
        "reason": "节假日安排公布",
    },
    Event.SLA_STEP: {
        "target": "close",
        "cycle": 1,
        "step": 1,
        "name": "red_card",
        "title": "红牌",
        "due": "2026-11-23T09:30:00Z",
        "late_seconds": 0,
        "notify": ["unit", "supervisor"],
    },
    Event.TYPICAL: {"summary": "运费拖欠，调取运单后督促结清"},
    Event.ATTACH: {
        "sha256": "ab" * 32,
        "media_type": "image/jpeg",
        "size": 1024,
        "name": "运单.jpg",
    },
}

# Case facts that make each guard hold, so a legal pair is refused only by the table.
GUARD_SETUP: dict[str, dict[str, Any]] = {
    "extension_pending": {"pending_extension_days": 2},
    "driver_dissatisfied": {"satisfaction": Satisfaction.DISSATISFIED},
    "driver_was_unreachable": {"satisfaction": Satisfaction.UNREACHABLE},
}


def make_case(state: State, **changes: Any) -> Case:
    base = Case(
        number="20261123-0001",
        state=state,
        channel=Channel.HOTLINE_12328,
        ref="R-1",
        type=RequestType.COMPLAINT,
        category=Category.FREIGHT_UNPAID,
        name="王五",
        phone="13812345678",
        plate=None,
        description="欠运费",
        amount_fen=None,
        urgent=False,
        accepted_at=AT - timedelta(days=1),
        last_event_at=AT - timedelta(days=1),
        lead_unit="UA",
        first_handler_unit="UA",
        policy="2142@1",
    )
    return replace(base, **changes)


def command(event: Event) -> Command:
    return parse_command(event, SAMPLE_INPUT[event])


def actor_for(row: Transition) -> Actor:
    role = sorted(row.roles)[0]
    return Actor("someone", role, "UA" if role is Role.HANDLER else None)


def facts_for(event: Event) -> Facts:
    return Facts(merge_target_state=State.HANDLING if event is Event.MERGE else None)


PAIRS = sorted((s, e) for s in State for e in Event)


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=[f"{s}-{e}" for s, e in PAIRS])
def test_every_state_event_pair(state: State, event: Event) -> None:
    """A move is legal exactly when a row of the table allows it."""
    row = transition_for(state, event)
    case = None if state is State.NEW else make_case(state)
    if row is None:
        actor = Actor("desk", Role.DISPATCHER)
        with pytest.raises(IllegalTransition) as raised:
            decide(
                "20261123-0001", case, command(event), actor=actor, at=AT, facts=facts_for(event)
            )
        message = str(raised.value)
        assert "20261123-0001" in message and state.value in message and event.value in message
        assert raised.value.allowed == sorted(e.value for e in allowed_events(state))
        return
    setup: dict[str, Any] = {}
    for guard in row.guards:
        setup.update(GUARD_SETUP.get(guard, {}))
    case = None if case is None else replace(case, **setup)
    record = decide(
        "20261123-0001", case, command(event), actor=actor_for(row), at=AT, facts=facts_for(event)
    )
    assert record.from_state is state
    assert record.to_state is row.target_from(state)
    assert evolve(case, record).state is record.to_state


def test_terminal_states_have_no_exits() -> None:
    for state in TERMINAL_STATES:
        # only the engine's own records, and a reviewed case marked typical or given more
        # evidence: they stay in place (a merged duplicate takes no evidence)
        late = [Event.ATTACH] if state is not State.MERGED else []
        typical = [Event.TYPICAL] if state is State.REVIEWED else []
        assert allowed_events(state) == [*late, Event.RECALCULATE, Event.SLA_STEP, *typical]
        for event in (*late, Event.RECALCULATE, Event.SLA_STEP, *typical):
            row = transition_for(state, event)
            assert row is not None and row.target is None


def test_illegal_message_names_allowed_events() -> None:
    with pytest.raises(
        IllegalTransition,
        match=r"can't close when accepted; allowed now: amend, "
        r"assign, attach, merge",
    ):
        decide(
            "N-1",
            make_case(State.ACCEPTED),
            command(Event.CLOSE),
            actor=Actor("h", Role.HANDLER, "UA"),
            at=AT,
        )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            TABLE
            + (
                Transition(
                    Event.AMEND, frozenset({State.REVIEWED}), None, frozenset({Role.DISPATCHER})
                ),
            ),
            "terminal",
        ),
        (
            TABLE
            + (
                Transition(
                    Event.SIGN,
                    frozenset({State.ASSIGNED}),
                    State.HANDLING,
                    frozenset({Role.HANDLER}),
                ),
            ),
            "two rows",
        ),
        (tuple(r for r in TABLE if r.event is not Event.REVIEW), "unreachable"),
        (TABLE[:1] + (replace(TABLE[1], guards=("no_such_guard",)),) + TABLE[2:], "unknown guard"),
        (TABLE[:1] + (replace(TABLE[1], roles=frozenset()),) + TABLE[2:], "nobody"),
        (TABLE[:1] + (replace(TABLE[1], guards=("merge_target_open",)),) + TABLE[2:], "inspects"),
    ],
    ids=[
        "exit-from-terminal",
        "duplicate-row",
        "unreachable-state",
        "unknown-guard",
        "no-roles",
        "guard-on-wrong-command",
    ],
)
def test_table_validation_rejects(table: tuple[Transition, ...], message: str) -> None:
    with pytest.raises(TableError, match=message):
        validate_table(table)


def test_validate_accepts_the_real_table() -> None:
    validate_table(TABLE)


# --------------------------------------------------------------------------- permissions
def _decide(state: State, event: Event, actor: Actor, **changes: Any) -> None:
    decide(
        "N-1",
        make_case(state, **changes),
        command(event),
        actor=actor,
        at=AT,
        facts=facts_for(event),
    )


def test_handler_of_another_unit_can_neither_see_nor_act() -> None:
    with pytest.raises(PermissionDenied, match="does not concern unit UB"):
        _decide(State.HANDLING, Event.CLOSE, Actor("b", Role.HANDLER, "UB"))


def test_co_handling_unit_may_feed_back_but_not_close() -> None:
    co = Actor("c", Role.HANDLER, "UC")
    _decide(State.HANDLING, Event.FEEDBACK, co, co_units=("UC",))
    with pytest.raises(PermissionDenied, match="lead unit is UA"):
        _decide(State.HANDLING, Event.CLOSE, co, co_units=("UC",))


def test_first_handler_still_sees_after_reassignment_but_cannot_act() -> None:
    first = Actor("a", Role.HANDLER, "UA")
    with pytest.raises(PermissionDenied, match="lead unit is UB"):
        _decide(State.HANDLING, Event.CLOSE, first, lead_unit="UB")


@pytest.mark.parametrize(
    ("state", "event", "role"),
    [
        (State.HANDLING, Event.CLOSE, Role.REVIEWER),
        (State.HANDLING, Event.CLOSE, Role.DISPATCHER),
        (State.ACCEPTED, Event.ASSIGN, Role.SUPERVISOR),
        (State.REVISITED, Event.REVIEW, Role.DISPATCHER),
        (State.HANDLING, Event.APPROVE_EXTENSION, Role.HANDLER),
        (State.HANDLING, Event.SUSPEND, Role.HANDLER),
    ],
)
def test_roles_are_enforced(state: State, event: Event, role: Role) -> None:
    actor = Actor("x", role, "UA" if role is Role.HANDLER else None)
    with pytest.raises(PermissionDenied, match=f"a {role.value} may not {event.value}"):
        _decide(state, event, actor, pending_extension_days=1)


def test_unit_supervisor_cannot_do_desk_work() -> None:
    with pytest.raises(PermissionDenied, match="may not assign"):
        _decide(State.ACCEPTED, Event.ASSIGN, Actor("s", Role.SUPERVISOR, "UA"))
    with pytest.raises(PermissionDenied, match="desk's work"):
        _decide(
            State.REVISITED,
            Event.REDO,
            Actor("s", Role.SUPERVISOR, "UA"),
            satisfaction=Satisfaction.DISSATISFIED,
        )


def test_handler_needs_a_unit() -> None:
    with pytest.raises(InvalidInput, match="--actor-unit"):
        Actor("h", Role.HANDLER)


# --------------------------------------------------------------------------- guards
@pytest.mark.parametrize(
    ("state", "event", "changes", "facts", "reason"),
    [
        (State.ACCEPTED, Event.ASSIGN, {}, Facts(unknown_units=frozenset({"UA"})), "unknown unit"),
        (
            State.HANDLING,
            Event.REQUEST_EXTENSION,
            {"pending_extension_days": 1},
            Facts(),
            "already pending",
        ),
        (
            State.HANDLING,
            Event.REQUEST_EXTENSION,
            {"extensions_granted": 1},
            Facts(),
            "limited to 1",
        ),
        (State.HANDLING, Event.APPROVE_EXTENSION, {}, Facts(), "no extension is pending"),
        (
            State.REVISITED,
            Event.REDO,
            {"satisfaction": Satisfaction.SATISFIED},
            Facts(),
            "said satisfied",
        ),
        (
            State.REVISITED,
            Event.REVISIT,
            {"satisfaction": Satisfaction.SATISFIED},
            Facts(),
            "already reached",
        ),
        (State.HANDLING, Event.MERGE, {}, Facts(), "does not exist"),
        (State.HANDLING, Event.MERGE, {}, Facts(merge_target_state=State.REVIEWED), "reviewed"),
        # a closed target would leave the duplicate's driver without an answer
        (State.HANDLING, Event.MERGE, {}, Facts(merge_target_state=State.CLOSED), "is closed"),
        (State.ACCEPTED, Event.MERGE, {}, Facts(merge_target_state=State.REVISITED), "revisited"),
        (State.HANDLING, Event.AMEND, {"category": Category.OTHER}, Facts(), "changes nothing"),
    ],
)
def test_guards_refuse_with_a_reason(
    state: State, event: Event, changes: dict[str, Any], facts: Facts, reason: str
) -> None:
    row = transition_for(state, event)
    assert row is not None
    actor = actor_for(row) if row.scope is Scope.ANY else Actor("s", Role.SUPERVISOR, "UA")
    with pytest.raises(GuardFailed, match=reason):
        decide("N-1", make_case(state, **changes), command(event), actor=actor, at=AT, facts=facts)


def test_merge_into_itself_is_refused() -> None:
    cmd = parse_command(Event.MERGE, {"into": "20261123-0001", "reason": "重复"})
    with pytest.raises(GuardFailed, match="into itself"):
        decide(
            "N-1",
            make_case(State.HANDLING),
            cmd,
            actor=Actor("d", Role.DISPATCHER),
            at=AT,
            facts=Facts(merge_target_state=State.HANDLING),
        )


def test_effective_time_cannot_go_back_before_the_last_event() -> None:
    case = make_case(State.HANDLING, last_event_at=AT)
    with pytest.raises(InvalidInput, match="before its last event"):
        decide(
            "N-1",
            case,
            command(Event.FEEDBACK),
            actor=Actor("h", Role.HANDLER, "UA"),
            at=AT - timedelta(minutes=1),
        )


def test_naive_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(
            "N-1",
            None,
            command(Event.ACCEPT),
            actor=Actor("d", Role.DISPATCHER),
            at=datetime(2026, 11, 23, 9, 0),
        )


# --------------------------------------------------------------------------- evolve & replay
def _run(events: list[tuple[Event, Actor, dict[str, Any]]]) -> list[Any]:
    records, case, at = [], None, AT
    for event, actor, data in events:
        at += timedelta(hours=1)
        record = decide(
            "N-1", case, parse_command(event, data), actor=actor, at=at, facts=facts_for(event)
        )
        case = evolve(case, record)
        records.append(record)
    return records


DESK, HANDLER = Actor("d", Role.DISPATCHER), Actor("h", Role.HANDLER, "UA")
SUP, OTHER = Actor("s", Role.SUPERVISOR, "UA"), Actor("o", Role.HANDLER, "UB")


def test_first_handler_stays_accountable_through_return_and_reassignment() -> None:
    records = _run(
        [
            (Event.ACCEPT, DESK, SAMPLE_INPUT[Event.ACCEPT]),
            (Event.ASSIGN, DESK, {"unit": "UA"}),
            (Event.SIGN, HANDLER, {}),
            (Event.RETURN, HANDLER, {"reason": "不归我们管"}),
            (Event.REASSIGN, DESK, {"unit": "UB", "reason": "改派执法"}),
            (Event.SIGN, OTHER, {}),
        ]
    )
    case = replay(records)
    assert case is not None
    assert (case.lead_unit, case.first_handler_unit, case.return_count) == ("UB", "UA", 1)


def test_reassign_keeps_the_co_units_unless_removed_and_records_the_change() -> None:
    start = [
        (Event.ACCEPT, DESK, SAMPLE_INPUT[Event.ACCEPT]),
        (Event.ASSIGN, DESK, {"unit": "UA", "co_units": ["UB", "UC"]}),
        (Event.SIGN, HANDLER, {}),
        (Event.RETURN, HANDLER, {"reason": "不归我们管"}),
    ]
    kept = _run([*start, (Event.REASSIGN, DESK, {"unit": "UD", "reason": "改派"})])
    assert kept[-1].payload["co_units_before"] == ["UB", "UC"]
    assert kept[-1].payload["co_units"] == ["UB", "UC"]
    case = replay(kept)
    assert case is not None and case.co_units == ("UB", "UC")
    changed = _run(
        [
            *start,
            (
                Event.REASSIGN,
                DESK,
                {"unit": "UB", "reason": "改派", "remove_co_units": ["UC"], "add_co_units": ["UE"]},
            ),
        ]
    )
    # UB now leads, so it no longer co-handles; UC removed, UE added: all in the audit record
    assert changed[-1].payload == {
        "unit": "UB",
        "reason": "改派",
        "add_co_units": ["UE"],
        "remove_co_units": ["UC"],
        "co_units_before": ["UB", "UC"],
        "co_units": ["UE"],
    }
    case = replay(changed)
    assert case is not None and case.co_units == ("UE",)


def test_removing_a_unit_that_is_not_co_handling_is_refused() -> None:
    case = make_case(State.RETURNED, lead_unit="UA", co_units=("UB",))
    command = parse_command(
        Event.REASSIGN, {"unit": "UA", "reason": "r", "remove_co_units": ["UX"]}
    )
    with pytest.raises(
        GuardFailed, match=r"not a co-handling unit of this grievance: UX \(now: UB\)"
    ):
        decide("N-1", case, command, actor=DESK, at=AT, facts=Facts())
    with pytest.raises(InvalidInput, match="both added and removed"):
        parse_command(
            Event.REASSIGN,
            {"unit": "UA", "reason": "r", "add_co_units": ["UB"], "remove_co_units": ["UB"]},
        )


def test_extension_and_redo_cycle() -> None:
    records = _run(
        [
            (Event.ACCEPT, DESK, SAMPLE_INPUT[Event.ACCEPT]),
            (Event.ASSIGN, DESK, {"unit": "UA", "co_units": ["UB"]}),
            (Event.SIGN, HANDLER, {}),
            (Event.REQUEST_EXTENSION, HANDLER, {"days": 3, "reason": "调查"}),
            (Event.APPROVE_EXTENSION, SUP, {}),
            (Event.CLOSE, HANDLER, {"result": "resolved", "note": "ok", "recovered": "120.50"}),
            (Event.REVISIT, DESK, {"satisfaction": "dissatisfied"}),
            (Event.REDO, DESK, {"reason": "不满意"}),
        ]
    )
    case = replay(records)
    assert case is not None
    assert case.state is State.HANDLING and case.cycle == 2 and case.extension_days == 3
    assert case.result is None and case.satisfaction is None and case.co_units == ("UB",)
    assert case.extensions_granted == 1 and case.pending_extension_days is None


def test_unreachable_revisit_may_be_repeated() -> None:
    records = _run(
        [
            (Event.ACCEPT, DESK, SAMPLE_INPUT[Event.ACCEPT]),
            (Event.ASSIGN, DESK, {"unit": "UA"}),
            (Event.SIGN, HANDLER, {}),
            (Event.CLOSE, HANDLER, {"result": "unresolved", "note": "已解释"}),
            (Event.REVISIT, DESK, {"satisfaction": "unreachable"}),
            (Event.REVISIT, DESK, {"satisfaction": "basically_satisfied"}),
        ]
    )
    case = replay(records)
    assert case is not None and case.satisfaction is Satisfaction.BASICALLY_SATISFIED


def test_replay_refuses_a_record_the_table_does_not_allow() -> None:
    records = _run([(Event.ACCEPT, DESK, SAMPLE_INPUT[Event.ACCEPT])])
    forged = replace(
        records[0], event=Event.CLOSE, from_state=State.ACCEPTED, to_state=State.CLOSED
    )
    with pytest.raises(ReplayError, match="not in the transition table"):
        replay([records[0], forged])
    with pytest.raises(ReplayError, match="recorded from"):
        replay([records[0], replace(records[0], from_state=State.HANDLING)])


def test_the_engines_own_records_are_not_offered_to_people() -> None:
    """Error messages list what a person may do; recalculate and sla_step are the engine's."""
    from workflow.machine import SYSTEM_EVENTS

    assert {e.value for e in SYSTEM_EVENTS} == {"recalculate", "sla_step"}
    with pytest.raises(IllegalTransition, match=r"allowed now: none \(the case is finished\)"):
        decide(
            "N-1",
            make_case(State.MERGED),
            command(Event.CLOSE),
            actor=Actor("h", Role.HANDLER, "UA"),
            at=AT,
        )
    # a reviewed case is finished too; a reviewer may still mark it typical (典型案例), and
    # evidence may still be attached (上传证据)
    with pytest.raises(IllegalTransition, match=r"allowed now: attach, typical$"):
        decide(
            "N-1",
            make_case(State.REVIEWED),
            command(Event.CLOSE),
            actor=Actor("h", Role.HANDLER, "UA"),
            at=AT,
        )
    with pytest.raises(PermissionDenied, match="only system"):
        decide(
            "N-1",
            make_case(State.HANDLING),
            command(Event.SLA_STEP),
            actor=Actor("desk", Role.DISPATCHER),
            at=AT,
        )
