"""Per-unit working time: a unit's own hours, workdays and rest days for the timers its work
stops (feedback, close), recorded in the audit log so the replay gives the stored timers."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli.main import main
from models import unit_rows
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.reading import show
from service.timers import check_timers
from service.units import add_unit, set_unit_calendar
from tests.conftest import DESK, database_url_for
from tests.conftest import run_cli as run
from workflow.actor import Actor
from workflow.errors import InvalidInput, NotFound, PermissionDenied
from workflow.hours import parse_hours
from workflow.sla_calendars import BUREAU
from workflow.timers import Timer, TimerState
from workflow.unit_time import UnitTime
from workflow.vocab import Role

SH = ZoneInfo("Asia/Shanghai")
ROAD_HANDLER = Actor("handler-road", Role.HANDLER, "ROAD")
# an enforcement team: long days, and the Saturday 2026-11-28 on duty
ENFORCEMENT = UnitTime(
    hours=parse_hours("08:00-12:00,13:00-20:00"), workdays={date(2026, 11, 28): "周末执法值班"}
)


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def stamp(actor: Actor, when: str) -> Stamp:
    return Stamp(actor=actor, at=sh(when), recorded_at=sh(when))


def timers(engine: Engine, number: str) -> dict[str, Timer]:
    return {f"{t.target}#{t.cycle}": t for t in show(engine, number, DESK).timers}


def local(moment: datetime) -> str:
    return moment.astimezone(SH).strftime("%Y-%m-%d %H:%M")


def setup(engine: Engine) -> str:
    """Unit ROAD with its own calendar; a grievance accepted Thursday 2026-11-26 09:00 and
    assigned to ROAD at 09:30."""
    add_unit(engine, stamp(DESK, "2026-11-20 09:00"), code="ROAD", name="道路运输执法支队")
    set_unit_calendar(
        engine, stamp(DESK, "2026-11-20 09:10"), code="ROAD", time=ENFORCEMENT, source="test"
    )
    from tests.conftest import accept_command

    case = uc.accept(engine, accept_command(ref="U-1"), stamp(DESK, "2026-11-26 09:00"))
    uc.assign(engine, case.number, stamp(DESK, "2026-11-26 09:30"), unit="ROAD")
    return case.number


def test_the_units_timers_count_on_its_calendar_the_desks_on_the_bureaus(engine: Engine) -> None:
    number = setup(engine)
    shown = timers(engine, number)
    # 4 working days after Thu 11-26 for ROAD: Fri 27, Sat 28 (its duty day), Mon 30,
    # Tue 12-01, ending at its close of business 20:00 (the bureau's: Wed 12-02 17:30)
    assert local(shown["close#1"].due_at) == "2026-12-01 20:00"
    assert local(shown["feedback#1"].due_at) == "2026-11-27 20:00"
    assert shown["close#1"].calendar == shown["feedback#1"].calendar == "ROAD@1"
    # the desk's assign timer: 2 business hours on the bureau calendar, met at 09:30
    assert shown["assign#1"].calendar == BUREAU
    assert local(shown["assign#1"].due_at) == "2026-11-26 11:00"
    assert shown["assign#1"].state is TimerState.MET
    events = show(engine, number, DESK).events
    moves = [e for e in events if e.event.value == "recalculate"]
    by_target = {e.payload["target"]: e.payload for e in moves}
    assert sorted(by_target) == ["close", "feedback"] and len(moves) == 2
    assert {p["calendar"] for p in by_target.values()} == {"ROAD@1"}
    assert by_target["close"]["new_due"] == "2026-12-01T12:00:00Z"
    assert by_target["close"]["old_due"] == "2026-12-02T09:30:00Z"
    assert {e.actor for e in moves} == {"calendar"}
    assert check_timers(engine) == []


def test_explain_names_the_calendar_of_each_deadline(engine: Engine) -> None:
    number = setup(engine)
    notes = show(engine, number, DESK, explain=True).explanations
    close = "\n".join(notes[("close", 1)])
    assert "calendar: unit ROAD (ROAD@1): hours 08:00-12:00, 13:00-20:00" in close
    assert "2026-11-28 Sat working day 2: workday of unit ROAD 周末执法值班" in close
    assert "deadline 2026-12-01 20:00 Asia/Shanghai (Tue)" in close
    assert notes[("assign", 1)][1] == "calendar: bureau (08:30-12:00, 14:00-17:30)"


def test_changing_the_unit_calendar_moves_open_timers_with_audit_events(engine: Engine) -> None:
    number = setup(engine)
    uc.sign(engine, number, stamp(ROAD_HANDLER, "2026-11-26 10:00"))
    uc.feedback(engine, number, stamp(ROAD_HANDLER, "2026-11-26 15:00"), note="已联系司机")
    before = show(engine, number, DESK)
    # Monday 11-30 becomes a rest day for ROAD: close moves to Wed 12-02 20:00
    rested = UnitTime(
        hours=ENFORCEMENT.hours,
        workdays=ENFORCEMENT.workdays,
        rest_days={date(2026, 11, 30): "轮休"},
    )
    change = set_unit_calendar(
        engine, stamp(DESK, "2026-11-26 16:00"), code="ROAD", time=rested, source="duty.toml"
    )
    assert (change.revision, change.calendar) == (2, "ROAD@2")
    assert [(m.number, m.target, local(m.old_due), local(m.new_due)) for m in change.moved] == [
        (number, "close", "2026-12-01 20:00", "2026-12-02 20:00")
    ]
    after = show(engine, number, DESK)
    assert after.version == before.version + 1
    last = after.events[-1]
    assert last.event.value == "recalculate" and last.actor == "desk"
    assert last.payload["calendar"] == "ROAD@2" and "duty.toml" in last.payload["reason"]
    shown = timers(engine, number)
    assert shown["close#1"].calendar == "ROAD@2"
    # the feedback timer stopped under revision 1 and keeps it
    assert shown["feedback#1"].state is TimerState.MET
    assert (shown["feedback#1"].calendar, local(shown["feedback#1"].due_at)) == (
        "ROAD@1",
        "2026-11-27 20:00",
    )
    assert check_timers(engine) == []  # the replay gives the stored timers
    fresh = Engine.open(engine.db.url)  # another process reads the revisions back
    assert check_timers(fresh) == []
    # the same calendar again writes nothing
    again = set_unit_calendar(
        engine, stamp(DESK, "2026-11-26 16:10"), code="ROAD", time=rested, source="again"
    )
    assert again.revision is None and again.moved == []
    # back to the bureau calendar: close counts 4 bureau working days again
    cleared = set_unit_calendar(
        engine, stamp(DESK, "2026-11-26 16:20"), code="ROAD", time=UnitTime(), source="cleared"
    )
    assert cleared.calendar == BUREAU
    assert local(timers(engine, number)["close#1"].due_at) == "2026-12-02 17:30"
    assert check_timers(engine) == []


def test_a_redo_starts_its_new_cycle_on_the_unit_calendar(engine: Engine) -> None:
    number = setup(engine)
    uc.sign(engine, number, stamp(ROAD_HANDLER, "2026-11-26 10:00"))
    uc.close(engine, number, stamp(ROAD_HANDLER, "2026-11-26 11:00"), result="resolved", note="ok")
    uc.revisit(engine, number, stamp(DESK, "2026-11-26 14:30"), satisfaction="dissatisfied")
    uc.redo(engine, number, stamp(DESK, "2026-11-26 15:00"), reason="不满意")
    shown = timers(engine, number)
    assert shown["revisit#1"].calendar == BUREAU
    assert shown["close#2"].calendar == "ROAD@1"
    assert local(shown["close#2"].due_at) == "2026-12-01 20:00"
    assert check_timers(engine) == []


def test_bad_unit_calendars_are_refused_and_nothing_is_written(engine: Engine) -> None:
    number = setup(engine)
    before = show(engine, number, DESK)
    unit_staff = Actor("road-supervisor", Role.SUPERVISOR, "ROAD")
    with pytest.raises(PermissionDenied):
        set_unit_calendar(
            engine, stamp(unit_staff, "2026-11-26 16:00"), code="ROAD", time=UnitTime(), source="x"
        )
    with pytest.raises(NotFound, match="unit NOPE does not exist"):
        set_unit_calendar(
            engine, stamp(DESK, "2026-11-26 16:00"), code="NOPE", time=ENFORCEMENT, source="x"
        )
    with pytest.raises(InvalidInput, match="use a date in"):
        far = UnitTime(workdays={date(1999, 1, 2): ""})
        set_unit_calendar(
            engine, stamp(DESK, "2026-11-26 16:00"), code="ROAD", time=far, source="x"
        )
    after = show(engine, number, DESK)
    assert (after.version, after.timers) == (before.version, before.timers)
    with engine.db.read() as session:
        assert [r.revision for r in unit_rows.unit_calendars(session)] == [1]


# --------------------------------------------------------------------------- the CLI
@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    code = 0
    try:
        main(["unit", "add", "ROAD", "--name", "道路运输执法支队"])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    assert code == 0
    return tmp_path


def test_cli_sets_lists_and_clears_a_unit_calendar(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code, out, err = run(
        capsys,
        "unit",
        "calendar",
        "ROAD",
        "--hours",
        "08:00-12:00,13:00-20:00",
        "--workday",
        "2026-11-28:周末执法值班",
        "--rest-day",
        "2026-12-02",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == {
        "unit": "ROAD",
        "revision": 1,
        "calendar": "ROAD@1",
        "changed": True,
        "moved": [],
    }
    code, out, _ = run(capsys, "unit", "list", "--json")
    shown = json.loads(out)[0]["calendar"]
    assert (shown["id"], shown["hours"]) == ("ROAD@1", "08:00-12:00,13:00-20:00")
    assert shown["workdays"] == [{"date": "2026-11-28", "name": "周末执法值班"}]
    assert shown["rest_days"] == [{"date": "2026-12-02", "name": ""}]
    code, out, _ = run(capsys, "unit", "list")
    assert "calendar ROAD@1 单位日历: hours 08:00-12:00,13:00-20:00" in out
    file = cli_env / "road.toml"
    file.write_text('hours = "09:00-18:00"\n[[workdays]]\ndate = 2026-11-28\n', encoding="utf-8")
    code, out, err = run(capsys, "unit", "calendar", "ROAD", "--file", str(file))
    assert code == 0 and "calendar revision 2" in out, err
    code, out, _ = run(capsys, "unit", "calendar", "ROAD", "--clear")
    assert code == 0 and "the bureau calendar" in out
    code, out, _ = run(capsys, "unit", "list")
    assert "calendar: bureau 局日历" in out
    code, out, _ = run(capsys, "sla", "check")
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--hours", "25:00-26:00"), "HH:MM-HH:MM"),
        (("--hours", "12:00-08:00"), "start must be before the end"),
        (("--workday", "2026-13-01"), "give a date such as 2026-11-28"),
        (("--workday", "28/11/2026"), "give a date such as 2026-11-28"),
        (("--workday", "2026-11-28", "--rest-day", "2026-11-28"), "both as workday and as rest"),
        (("--workday", "2026-11-28", "--workday", "2026-11-28:x"), "given twice"),
        (("--clear", "--hours", "08:00-12:00"), "--clear goes alone"),
        (("--file", "x.toml", "--hours", "08:00-12:00"), "either --file"),
        ((), "give --hours"),
        (("--file", "missing.toml"), "can't read unit calendar file"),
    ],
)
def test_cli_refuses_bad_unit_calendars(
    cli_env: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    capsys.readouterr()
    code, _, err = run(capsys, "unit", "calendar", "ROAD", *args)
    assert code == 1 and message in err and err.startswith("error:"), err
    code, out, _ = run(capsys, "unit", "list", "--json")
    assert json.loads(out)[0]["calendar"] is None  # nothing written


def test_cli_refuses_an_unknown_unit(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "unit", "calendar", "NOPE", "--hours", "08:00-12:00")
    assert code == 1 and "unit NOPE does not exist" in err


_ = timedelta


def test_the_watchdog_fires_and_reschedules_on_the_unit_calendar(engine: Engine) -> None:
    from service import watchdog

    number = setup(engine)
    uc.sign(engine, number, stamp(ROAD_HANDLER, "2026-11-26 10:00"))
    # feedback was due Fri 11-27 20:00 on ROAD's calendar (17:30 on the bureau's)
    early = watchdog.sweep(engine, sh("2026-11-27 19:00"))
    assert [(f.target, f.step) for f in early.fired] == [("feedback", "warning")]
    late = watchdog.sweep(engine, sh("2026-11-27 20:00"))
    assert [(f.target, f.step) for f in late.fired] == [("feedback", "red_card")]
    feedback = timers(engine, number)["feedback#1"]
    # 督办 one of ROAD's working days after the breach: Saturday 11-28 (its duty day) 20:00
    assert local(feedback.next_fire_at or feedback.due_at) == "2026-11-28 20:00"
    assert check_timers(engine) == []
