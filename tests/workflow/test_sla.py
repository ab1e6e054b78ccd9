"""SLA domain: deadlines of the policies on the real Chinese calendar, timers through pauses,
extensions and redo cycles, explanations, warnings, custom policies. Explicit instants only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.actor import Actor
from workflow.calendar import BusinessCalendar
from workflow.case import Case, Record, evolve
from workflow.commands import parse_command
from workflow.errors import InvalidInput
from workflow.hours import parse_hours
from workflow.machine import Facts, decide
from workflow.notices import Overrides
from workflow.policies import Clock
from workflow.policy_toml import parse_limit, policies_from_toml
from workflow.policy_versions import registry
from workflow.sla import plan, rebuild
from workflow.sla_calendars import BUREAU, Calendars, on_unit_calendar
from workflow.timers import Timer, TimerState, steps
from workflow.unit_time import UnitTime
from workflow.vocab import Event, Role, State

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar()
POLICIES = registry()
P2142 = POLICIES.latest("2142")


def at(text: str) -> datetime:
    """Shanghai wall time -> aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


def local(moment: datetime) -> str:
    return moment.astimezone(SH).strftime("%Y-%m-%d %H:%M")


def deadlines(
    accepted: str, policy: str = "2142", closed: str | None = None, calendar: BusinessCalendar = CAL
) -> dict[str, str]:
    result = plan(POLICIES.latest(policy), calendar, at(accepted), at(closed) if closed else None)
    return {name: local(d.at) for name, d in result.deadlines.items()}


# --------------------------------------------------------------------------- planning
@pytest.mark.parametrize(
    ("accepted", "expected"),
    [
        # Civil Code example from DOMAIN.md: Mid-autumn (09-25..27) and National Day skipped.
        (
            "2026-09-24 10:00",
            {
                "assign": "2026-09-24 12:00",
                "feedback": "2026-09-28 17:30",
                "close": "2026-10-08 17:30",
            },
        ),
        # Sunday night: business hours start Monday 08:30.
        (
            "2026-11-22 22:00",
            {
                "assign": "2026-11-23 10:30",
                "feedback": "2026-11-23 17:30",
                "close": "2026-11-26 17:30",
            },
        ),
        # In the lunch break: counting starts at 14:00.
        (
            "2026-11-23 12:30",
            {
                "assign": "2026-11-23 16:00",
                "feedback": "2026-11-24 17:30",
                "close": "2026-11-27 17:30",
            },
        ),
        # One minute before closing: 1 minute today, 1h59 tomorrow.
        (
            "2026-11-23 17:29",
            {
                "assign": "2026-11-24 10:29",
                "feedback": "2026-11-24 17:30",
                "close": "2026-11-27 17:30",
            },
        ),
        # At closing: nothing left today.
        (
            "2026-11-23 17:30",
            {
                "assign": "2026-11-24 10:30",
                "feedback": "2026-11-24 17:30",
                "close": "2026-11-27 17:30",
            },
        ),
        # A deadline that lands exactly on 12:00 stays at 12:00.
        (
            "2026-11-23 10:00",
            {
                "assign": "2026-11-23 12:00",
                "feedback": "2026-11-24 17:30",
                "close": "2026-11-27 17:30",
            },
        ),
        # Friday before the make-up Saturday 2026-02-14 and Spring Festival (02-15..02-23).
        (
            "2026-02-13 16:00",
            {
                "assign": "2026-02-14 09:00",
                "feedback": "2026-02-14 17:30",
                "close": "2026-02-26 17:30",
            },
        ),
        # The day before National Day 2026; Saturday 10-10 is a make-up workday.
        (
            "2026-09-30 16:00",
            {
                "assign": "2026-10-08 09:00",
                "feedback": "2026-10-08 17:30",
                "close": "2026-10-12 17:30",
            },
        ),
        # 2025: National Day 10-01..10-08, Saturday 10-11 a make-up workday.
        (
            "2025-09-30 09:00",
            {
                "assign": "2025-09-30 11:00",
                "feedback": "2025-10-09 17:30",
                "close": "2025-10-13 17:30",
            },
        ),
    ],
)
def test_2142_deadlines(accepted: str, expected: dict[str, str]) -> None:
    assert deadlines(accepted) == expected


def test_revisit_counts_from_closing() -> None:
    assert deadlines("2026-11-20 09:00", closed="2026-11-26 16:00")["revisit"] == (
        "2026-11-30 17:30"
    )


def test_other_policies() -> None:
    assert deadlines("2026-11-23 09:00", "2252") == {
        "assign": "2026-11-23 11:00",
        "feedback": "2026-11-25 17:30",
        "close": "2026-11-30 17:30",
    }
    assert deadlines("2026-11-23 09:00", "2152") == {
        "assign": "2026-11-23 11:00",
        "feedback": "2026-11-24 17:30",
        "close": "2026-11-30 17:30",
    }
    # Urgent runs on the natural clock for assign and feedback: nights count.
    assert deadlines("2026-11-22 22:00", "urgent") == {
        "assign": "2026-11-22 22:30",
        "feedback": "2026-11-23 02:00",
        "close": "2026-11-23 17:30",
    }


def test_new_years_eve_2026_is_provisional() -> None:
    result = plan(P2142, CAL, at("2026-12-31 10:00"))
    assert {n: local(d.at) for n, d in result.deadlines.items()} == {
        "assign": "2026-12-31 12:00",
        "feedback": "2027-01-04 17:30",
        "close": "2027-01-07 17:30",
    }
    assert result.provisional
    assert not result.deadlines["assign"].provisional
    assert result.deadlines["close"].provisional


def test_calendar_file_that_adds_a_holiday() -> None:
    calendar = BusinessCalendar(
        overrides=Overrides.from_toml('[[holidays]]\ndate = "2026-11-25"\nname = "地方停工"\n')
    )
    assert deadlines("2026-11-23 09:00", calendar=calendar)["close"] == "2026-11-30 17:30"
    assert deadlines("2026-11-23 09:00")["close"] == "2026-11-27 17:30"


def test_calendar_file_that_adds_a_workday() -> None:
    calendar = BusinessCalendar(
        overrides=Overrides.from_toml(
            '[[holidays]]\ndate = "2027-01-01"\nname = "元旦"\n'
            '[[workdays]]\ndate = "2027-01-02"\nname = "元旦调休"\n'
        )
    )
    result = plan(P2142, calendar, at("2026-12-31 10:00"))
    assert local(result.deadlines["feedback"].at) == "2027-01-02 17:30"
    assert not result.deadlines["feedback"].provisional


# --------------------------------------------------------------------------- timers
DESK = Actor("desk", Role.DISPATCHER)
HANDLER = Actor("h", Role.HANDLER, "UA")
SUPERVISOR = Actor("s", Role.SUPERVISOR, "UA")

ACCEPT = {
    "channel": "hotline_12328",
    "ref": "R",
    "type": "complaint",
    "category": "freight_unpaid",
    "name": "王五",
    "phone": "13812345678",
    "description": "欠运费",
}


def run(
    *steps_: tuple[str, Event, Actor, dict[str, Any]], policy: str = "2142"
) -> tuple[Case, list[Record], dict[str, Timer]]:
    case: Case | None = None
    records: list[Record] = []
    pol = POLICIES.latest(policy)
    for when, event, actor, data in steps_:
        facts = Facts(policy=pol.key, merge_target_state=State.HANDLING)
        record = decide(
            "N-1", case, parse_command(event, data), actor=actor, at=at(when), facts=facts
        )
        records.append(record)
        case = evolve(case, record)
    assert case is not None
    timers = rebuild(records, pol, CAL)
    return case, records, {f"{t.target}#{t.cycle}": t for t in timers}


def test_happy_path_timers_are_met() -> None:
    _, _, timers = run(
        ("2026-11-23 09:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-11-23 10:00", Event.ASSIGN, DESK, {"unit": "UA"}),
        ("2026-11-23 11:00", Event.SIGN, HANDLER, {}),
        ("2026-11-23 15:00", Event.FEEDBACK, HANDLER, {"note": "n"}),
        ("2026-11-25 15:00", Event.CLOSE, HANDLER, {"result": "resolved", "note": "n"}),
        ("2026-11-26 10:00", Event.REVISIT, DESK, {"satisfaction": "satisfied"}),
    )
    assert {k: t.state for k, t in timers.items()} == {
        "assign#1": TimerState.MET,
        "feedback#1": TimerState.MET,
        "close#1": TimerState.MET,
        "revisit#1": TimerState.MET,
    }
    assert all(t.next_fire_at is None for t in timers.values())


def test_late_stop_is_a_breach() -> None:
    _, _, timers = run(
        ("2026-11-23 09:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-11-23 11:30", Event.ASSIGN, DESK, {"unit": "UA"}),
    )
    assert timers["assign#1"].state is TimerState.BREACHED
    assert timers["assign#1"].breached_at == at("2026-11-23 11:00")


def test_suspension_across_a_holiday_stops_the_clock() -> None:
    _, records, timers = run(
        ("2026-09-24 10:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-09-24 10:30", Event.ASSIGN, DESK, {"unit": "UA"}),
        ("2026-09-24 11:00", Event.SIGN, HANDLER, {}),
        ("2026-09-30 10:00", Event.SUSPEND, SUPERVISOR, {"reason": "等待材料"}),
    )
    paused = timers["close#1"]
    assert paused.state is TimerState.PAUSED and paused.next_fire_at is None
    assert local(paused.due_at) == "2026-10-08 17:30"
    # Resumed after the holiday: 09-30 10:00-12:00 and 14:00-17:30, 10-08 08:30-10:00 = 7h.
    more = decide(
        "N-1",
        evolve_all(records),
        parse_command(Event.RESUME, {}),
        actor=HANDLER,
        at=at("2026-10-08 10:00"),
    )
    resumed = {t.target: t for t in rebuild([*records, more], P2142, CAL)}["close"]
    assert resumed.paused_total == timedelta(hours=7)
    assert local(resumed.due_at) == "2026-10-09 17:30"
    assert resumed.state is TimerState.RUNNING and resumed.next_fire_at is not None


def evolve_all(records: list[Record]) -> Case:
    case: Case | None = None
    for record in records:
        case = evolve(case, record)
    assert case is not None
    return case


def test_approved_extension_moves_the_close_deadline_by_working_days() -> None:
    _, _, timers = run(
        ("2026-09-24 10:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-09-24 10:30", Event.ASSIGN, DESK, {"unit": "UA"}),
        ("2026-09-24 11:00", Event.SIGN, HANDLER, {}),
        ("2026-09-29 09:00", Event.REQUEST_EXTENSION, HANDLER, {"days": 2, "reason": "调查"}),
        ("2026-09-29 10:00", Event.APPROVE_EXTENSION, SUPERVISOR, {}),
    )
    close = timers["close#1"]
    # 10-08 (Thu) + 2 working days: Fri 10-09, make-up Saturday 10-10.
    assert local(close.due_at) == "2026-10-10 17:30" and close.extended_days == 2
    assert local(timers["feedback#1"].due_at) == "2026-09-28 17:30"  # only close extends


def test_redo_starts_a_new_cycle() -> None:
    _, _, timers = run(
        ("2026-11-23 09:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-11-23 09:30", Event.ASSIGN, DESK, {"unit": "UA"}),
        ("2026-11-23 10:00", Event.SIGN, HANDLER, {}),
        ("2026-11-24 10:00", Event.CLOSE, HANDLER, {"result": "resolved", "note": "n"}),
        ("2026-11-25 10:00", Event.REVISIT, DESK, {"satisfaction": "dissatisfied"}),
        ("2026-11-25 11:00", Event.REDO, DESK, {"reason": "不满意"}),
    )
    assert timers["close#1"].state is TimerState.MET
    assert timers["revisit#1"].state is TimerState.MET
    assert timers["close#2"].state is TimerState.RUNNING
    assert local(timers["close#2"].due_at) == "2026-12-01 17:30"
    assert local(timers["feedback#2"].due_at) == "2026-11-26 17:30"


def test_return_restarts_the_desk_clock_but_not_the_close_clock() -> None:
    _, _, timers = run(
        ("2026-11-23 09:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-11-23 09:30", Event.ASSIGN, DESK, {"unit": "UA"}),
        ("2026-11-24 09:00", Event.RETURN, HANDLER, {"reason": "非本单位"}),
    )
    assert timers["assign#1"].state is TimerState.MET
    assert timers["assign#2"].state is TimerState.RUNNING
    assert local(timers["assign#2"].due_at) == "2026-11-24 11:00"
    assert local(timers["close#1"].due_at) == "2026-11-27 17:30"


def test_merge_cancels_running_timers() -> None:
    _, _, timers = run(
        ("2026-11-23 09:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-11-23 09:30", Event.MERGE, DESK, {"into": "N-2", "reason": "重复"}),
    )
    assert {t.state for t in timers.values()} == {TimerState.CANCELLED}
    assert all(t.next_fire_at is None and not t.open for t in timers.values())


def test_warning_and_escalation_steps() -> None:
    _, _, timers = run(("2026-11-23 09:00", Event.ACCEPT, DESK, ACCEPT))
    close = timers["close#1"]
    plan_ = steps(close, P2142.target("close"), CAL)
    assert [(s.name, local(s.at)) for s in plan_] == [
        ("warning", "2026-11-26 17:30"),  # one working day of business time before
        ("red_card", "2026-11-27 17:30"),  # at the breach
        ("supervision", "2026-11-30 17:30"),  # 督办 one working day after the breach
    ]
    assert close.next_fire_at == plan_[0].at
    assign = steps(timers["assign#1"], P2142.target("assign"), CAL)
    assert [local(s.at) for s in assign][:2] == ["2026-11-23 10:30", "2026-11-23 11:00"]


def test_explanation_names_what_was_skipped() -> None:
    records = [
        decide(
            "N-1",
            None,
            parse_command(Event.ACCEPT, ACCEPT),
            actor=DESK,
            at=at("2026-09-30 12:30"),
            facts=Facts(),
        )
    ]
    notes: dict[tuple[str, int], list[str]] = {}
    rebuild(records, P2142, CAL, notes)
    close = "\n".join(notes[("close", 1)])
    assert "国庆节" in close and "make-up" in close and "starting day not counted" in close
    assign = "\n".join(notes[("assign", 1)])
    assert "lunch break" in assign


# --------------------------------------------------------------------------- properties
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(INSTANTS, st.integers(0, 60 * 24 * 3))
def test_deadlines_are_monotonic_in_acceptance_time(start: datetime, minutes: int) -> None:
    later = start + timedelta(minutes=minutes)
    first, second = plan(P2142, CAL, start), plan(P2142, CAL, later)
    for name in first.deadlines:
        assert first.deadlines[name].at <= second.deadlines[name].at


@settings(max_examples=300, deadline=None)
@given(INSTANTS)
def test_business_time_to_the_assign_deadline_is_the_policy_duration(start: datetime) -> None:
    due = plan(P2142, CAL, start).deadlines["assign"].at
    assert CAL.business_time_between(start, due) == P2142.target("assign").limit.span


@settings(max_examples=300, deadline=None)
@given(INSTANTS, st.sampled_from(["2142", "2252", "2152"]))
def test_deadlines_land_in_business_hours_on_working_days(start: datetime, name: str) -> None:
    for deadline in plan(POLICIES.latest(name), CAL, start).deadlines.values():
        moment = deadline.at.astimezone(SH)
        assert CAL.is_working_day(moment.date())
        assert any(s <= moment.time() <= e for s, e in CAL.hours.periods)
        assert moment.time() != CAL.hours.periods[0][0]  # never "at opening" for a limit > 0


# --------------------------------------------------------------------------- policies
def test_custom_policy_from_toml() -> None:
    text = """
[[policy]]
name = "tianjin"
version = 2
title = "天津：1小时转办"
max_extensions = 1
[[policy.target]]
name = "assign"
limit = "1h"
starts_on = ["accept", "return"]
stops_on = ["assign", "reassign"]
warn_before = "15m"
warn_notify = ["desk"]
[[policy.target.ladder]]
name = "red_card"
notify = ["desk", "supervisor"]
[[policy.target]]
name = "close"
limit = "15wd"
starts_on = ["accept", "redo"]
stops_on = ["close"]
pauses = true
extends = true
"""
    (policy,) = policies_from_toml(text)
    assert policy.key == "tianjin@2"
    assert policy.target("assign").limit.span == timedelta(hours=1)
    assert policy.target("close").limit.days == 15
    reg = registry(text)
    assert reg.latest("tianjin") is not None and "2142" in reg.names()
    assert local(plan(policy, CAL, at("2026-11-23 09:00")).deadlines["assign"].at) == (
        "2026-11-23 10:00"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not valid TOML"),
        ("", "defines no"),
        ('[[policy]]\nname = "x"\n', "at least one"),
        (
            '[[policy]]\nname = "x"\n[[policy.target]]\nname = "a"\nlimit = "2 fortnights"\n'
            'starts_on = ["accept"]\nstops_on = ["assign"]\n',
            "bad time limit",
        ),
        (
            '[[policy]]\nname = "x"\n[[policy.target]]\nname = "a"\nlimit = "2h"\n'
            'starts_on = ["teleport"]\nstops_on = ["assign"]\n',
            "events must be",
        ),
        (
            '[[policy]]\nname = "x"\n[[policy.target]]\nname = "a"\nlimit = "2h"\n'
            'starts_on = ["accept"]\nstops_on = ["assign"]\ncolour = "red"\n',
            "unknown keys",
        ),
    ],
)
def test_bad_policy_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        policies_from_toml(text)


def test_parse_limit() -> None:
    assert parse_limit("4wd").clock is Clock.WORKING_DAYS
    assert parse_limit("30m", "natural").clock is Clock.NATURAL
    with pytest.raises(InvalidInput):
        parse_limit("1.5wd")
    with pytest.raises(InvalidInput):
        parse_limit("2h", "lunar")


def test_unknown_policy_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="known: 2142, 2152, 2252, urgent"):
        POLICIES.latest("9999")


# --------------------------------------------------------------------------- unit calendars
ROAD_TIME = UnitTime(
    hours=parse_hours("08:00-12:00,13:00-20:00"), workdays={date(2026, 11, 28): "周末执法值班"}
)
CALENDARS = Calendars.build(CAL, [("ROAD", 1, ROAD_TIME)])


def test_the_unit_stops_feedback_and_close_the_desk_assign_and_revisit() -> None:
    owned = {t.name: on_unit_calendar(t) for t in P2142.targets}
    assert owned == {"assign": False, "feedback": True, "close": True, "revisit": False}
    assert CALENDARS.of_unit("ROAD") == "ROAD@1" and CALENDARS.of_unit("UA") == BUREAU
    assert CALENDARS.of_unit(None) == BUREAU
    cleared = Calendars.build(CAL, [("ROAD", 1, ROAD_TIME), ("ROAD", 2, UnitTime())])
    assert cleared.of_unit("ROAD") == BUREAU and cleared.of("ROAD@1").is_working_day(
        date(2026, 11, 28)
    )


def test_the_log_puts_a_timer_on_a_unit_calendar_from_its_start() -> None:
    road = Actor("desk", Role.DISPATCHER)
    _, records, _ = run(
        ("2026-11-26 09:00", Event.ACCEPT, DESK, ACCEPT),
        ("2026-11-26 09:30", Event.ASSIGN, DESK, {"unit": "ROAD"}),
    )
    case = evolve_all(records)
    before = {t.target: t for t in rebuild(records, P2142, CALENDARS)}
    assert local(before["close"].due_at) == "2026-12-02 17:30"  # no move recorded: bureau
    moves = []
    for target, cycle in (("feedback", 1), ("close", 1)):
        data = {
            "target": target,
            "cycle": cycle,
            "old_due": before[target].due_at,
            "new_due": before[target].due_at,
            "reason": "assign",
            "calendar": "ROAD@1",
        }
        moves.append(
            decide(
                "N-1",
                case,
                parse_command(Event.RECALCULATE, data),
                actor=road,
                at=at("2026-11-26 09:30"),
            )
        )
        case = evolve(case, moves[-1])
    notes: dict[tuple[str, int], list[str]] = {}
    after = {t.target: t for t in rebuild([*records, *moves], P2142, CALENDARS, notes)}
    # Thu 11-26 + 4 of ROAD's working days: Fri 27, Sat 28, Mon 30, Tue 12-01, at 20:00
    assert local(after["close"].due_at) == "2026-12-01 20:00"
    assert local(after["feedback"].due_at) == "2026-11-27 20:00"
    assert after["close"].calendar == "ROAD@1" and after["assign"].calendar == BUREAU
    assert after["assign"] == before["assign"]  # the desk's timer stays on the bureau's
    assert notes[("close", 1)][1].startswith("calendar: unit ROAD (ROAD@1): hours 08:00-12:00")
    assert notes[("assign", 1)][1] == "calendar: bureau (08:30-12:00, 14:00-17:30)"
    assert any(
        n.startswith("put on calendar ROAD@1 at 2026-11-26 09:30 (assign)")
        for n in notes[("close", 1)]
    )
