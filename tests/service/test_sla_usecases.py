"""SLA through the use cases and the CLI: stored timers, policy versions, calendar loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models import case_rows, sla_timers
from service import calendars
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.reading import show
from service.timers import check_timers
from tests.conftest import DESK, HANDLER, SUPERVISOR, Driver, database_url_for
from tests.conftest import run_cli as run
from workflow.actor import Actor
from workflow.notices import Overrides
from workflow.timers import TimerState


def timers(engine: Engine, number: str) -> dict[str, object]:
    view = show(engine, number, DESK)
    return {f"{t.target}#{t.cycle}": t for t in view.timers}


def test_accept_starts_timers_under_the_configured_policy(driver: Driver) -> None:
    case = driver.accept()
    assert case.policy == "2142@1"
    started = timers(driver.engine, case.number)
    assert sorted(started) == ["assign#1", "close#1", "feedback#1"]
    assert all(t.next_fire_at is not None for t in started.values())  # type: ignore[attr-defined]


def test_urgent_grievances_get_the_urgent_policy(driver: Driver) -> None:
    assert driver.accept(urgent=True).policy == "urgent@1"


def test_a_grievance_keeps_its_policy_when_the_default_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = database_url_for(tmp_path)
    first = Driver(Engine.open(url)).accept()
    monkeypatch.setenv("GRIEVANCE_POLICY", "2252")
    later = Driver(Engine.open(url), refs=10)
    second = later.accept()
    assert (first.policy, second.policy) == ("2142@1", "2252@1")
    later.units("UA")
    uc.assign(later.engine, first.number, later.stamp(DESK), unit="UA")
    assert show(later.engine, first.number, DESK).case.policy == "2142@1"


def test_unknown_default_policy_fails_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIEVANCE_POLICY", "9999")
    with pytest.raises(Exception, match="unknown policy '9999'"):
        Engine.open(database_url_for(tmp_path))


def test_stored_timers_equal_the_replay_of_the_audit_log(driver: Driver) -> None:
    e = driver.engine
    done = driver.to("reviewed")
    busy = driver.to("handling")
    uc.feedback(e, busy.number, driver.stamp(HANDLER), note="进展")
    uc.request_extension(e, busy.number, driver.stamp(HANDLER), days=2, reason="调查")
    uc.approve_extension(e, busy.number, driver.stamp(SUPERVISOR))
    uc.suspend(e, busy.number, driver.stamp(SUPERVISOR, 60 * 30), reason="等待材料")
    uc.resume(e, busy.number, driver.stamp(HANDLER, 60 * 50))
    uc.close(e, busy.number, driver.stamp(HANDLER), result="resolved", note="ok")
    uc.revisit(e, busy.number, driver.stamp(DESK), satisfaction="dissatisfied")
    uc.redo(e, busy.number, driver.stamp(DESK), reason="不满意")
    returned = driver.to("assigned")
    uc.return_to_desk(e, returned.number, driver.stamp(HANDLER, 300), reason="非本单位")
    assert check_timers(e) == []
    states = {k: t.state for k, t in timers(e, busy.number).items()}  # type: ignore[attr-defined]
    assert states["close#2"] is TimerState.RUNNING and states["revisit#1"] is TimerState.MET
    assert timers(e, done.number)["revisit#1"].state is TimerState.MET  # type: ignore[attr-defined]
    assert timers(e, returned.number)["assign#2"].open  # type: ignore[attr-defined]


def test_times_to_the_microsecond_replay_to_the_stored_timers(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Actions timed by the clock carry microseconds; durations are stored in seconds, and
    the replay of the audit log must give exactly what is stored (it once differed by the
    sub-second part of `used`)."""
    ticks = iter(range(1, 10_000))
    plain = Driver.stamp

    def stamp(self: Driver, actor: Actor, minutes: int = 10) -> Stamp:
        self.now += timedelta(microseconds=next(ticks) * 137_911)
        return plain(self, actor, minutes)

    monkeypatch.setattr(Driver, "stamp", stamp)
    e = driver.engine
    busy = driver.to("handling")
    uc.suspend(e, busy.number, driver.stamp(SUPERVISOR, 60 * 30), reason="等待材料")
    uc.resume(e, busy.number, driver.stamp(HANDLER, 60 * 50))
    uc.feedback(e, busy.number, driver.stamp(HANDLER), note="进展")
    uc.close(e, busy.number, driver.stamp(HANDLER), result="resolved", note="ok")
    driver.to("reviewed")
    assert show(e, busy.number, DESK).case.accepted_at.microsecond != 0
    assert check_timers(e) == []


def test_check_finds_and_fixes_a_tampered_timer(driver: Driver) -> None:
    case = driver.accept()
    with driver.engine.db.transaction() as session:
        row = sla_timers.timers_of(session, case_rows.get_row(session, case.number).id or 0)[0]
        row.due_at = row.due_at + timedelta(days=3)
    problems = check_timers(driver.engine)
    assert len(problems) == 1 and case.number in problems[0]
    check_timers(driver.engine, fix=True)
    assert check_timers(driver.engine) == []


def test_loading_a_calendar_moves_deadlines_with_an_audit_event(driver: Driver) -> None:
    e = driver.engine
    case = driver.accept()  # Monday 2026-11-23 09:10: close due Friday 11-27 17:30
    done = driver.to("reviewed")  # finished the same day: its deadlines are still ahead
    overrides = Overrides.from_toml('[[holidays]]\ndate = "2026-11-25"\nname = "地方停工"\n')
    moved = calendars.load(e, overrides, driver.stamp(DESK), source="local.toml").moved
    assert {(m.number, m.target) for m in moved} == {
        (case.number, "close"),
        (done.number, "close"),
        (done.number, "revisit"),
    }
    change = next(m for m in moved if m.number == case.number)
    assert change.new_due - change.old_due == timedelta(days=3)  # Fri 17:30 -> Mon 17:30
    last = show(e, case.number, DESK).events[-1]
    assert last.event.value == "recalculate" and last.payload["target"] == "close"
    finished = show(e, done.number, DESK)
    assert finished.case.state.value == "reviewed"  # recorded, and it stays finished
    assert {t.state for t in finished.timers} == {TimerState.MET}
    assert check_timers(e) == []
    assert calendars.load(e, overrides, driver.stamp(DESK), source="again").moved == []
    fresh = Engine.open(e.db.url)  # a new process sees the stored calendar
    assert not fresh.calendar.is_working_day(datetime(2026, 11, 25).date())


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    return tmp_path


def test_sla_plan_contract(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sla", "plan", "--accepted-at", "2026-09-24T10:00", "--json")
    assert code == 0
    assert json.loads(out) == {
        "policy": "2142",
        "version": 1,
        "provisional": False,
        "deadlines": {
            "assign": "2026-09-24T12:00:00+08:00",
            "feedback": "2026-09-28T17:30:00+08:00",
            "close": "2026-10-08T17:30:00+08:00",
        },
    }
    code, out, _ = run(
        capsys,
        "sla",
        "plan",
        "--accepted-at",
        "2026-12-31T10:00+08:00",
        "--closed-at",
        "2027-01-05T10:00",
        "--policy",
        "2252",
        "--json",
    )
    data = json.loads(out)
    assert data["policy"] == "2252" and data["provisional"] is True
    assert set(data["deadlines"]) == {"assign", "feedback", "close", "revisit"}


def test_sla_plan_with_a_calendar_file(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = cli_env / "2027.toml"
    file.write_text(
        '[[holidays]]\ndate = "2027-01-01"\nname = "元旦"\n'
        '[[workdays]]\ndate = "2027-01-02"\nname = "调休"\n',
        encoding="utf-8",
    )
    code, out, _ = run(
        capsys,
        "sla",
        "plan",
        "--accepted-at",
        "2026-12-31T10:00",
        "--calendar",
        str(file),
        "--json",
    )
    assert code == 0 and json.loads(out)["deadlines"]["feedback"] == "2027-01-02T17:30:00+08:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--accepted-at", "soon"), "not a time"),
        (("--accepted-at", "2026-11-23T09:00", "--closed-at", "2026-11-22T09:00"), "before"),
        (("--accepted-at", "2026-11-23T09:00", "--policy", "9999"), "unknown policy"),
        (("--accepted-at", "2026-11-23T09:00", "--calendar", "/nonexistent.toml"), "not found"),
    ],
)
def test_sla_plan_errors(
    cli_env: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, "sla", "plan", *args, "--json")
    assert code == 1 and message in err and err.count("\n") == 1


def test_show_explains_deadlines(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "accept",
        "--channel",
        "mailbox",
        "--ref",
        "M-1",
        "--type",
        "help",
        "--category",
        "toll_etc",
        "--name",
        "李四",
        "--phone",
        "13912345678",
        "--description",
        "ETC",
        "--at",
        "2026-09-30T12:30",
        "--json",
    )
    assert code == 0, err
    number = json.loads(out)["number"]
    code, out, _ = run(capsys, "show", number, "--explain", "--json")
    shown = {t["target"]: t for t in json.loads(out)["timers"]}
    assert shown["close"]["due_at"] == "2026-10-12T17:30:00+08:00"
    text = "\n".join(shown["close"]["explanation"])
    assert "国庆节" in text and "make-up workday" in text
    code, out, _ = run(capsys, "show", number, "--explain")
    assert "lunch break" in out and "时限 SLA timers" in out


def test_calendar_commands(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = cli_env / "c.toml"
    file.write_text('[[holidays]]\ndate = "2027-02-10"\nname = "春节"\n', encoding="utf-8")
    code, out, _ = run(capsys, "calendar", "load", str(file), "--json")
    assert code == 0 and json.loads(out)["holidays"] == 1
    code, out, _ = run(capsys, "calendar", "show", "2027-02-09", "--days", "2", "--json")
    days = json.loads(out)
    assert days[1] == {
        "date": "2027-02-10",
        "working": False,
        "reason": "holiday",
        "name": "春节",
        "provisional": False,
    }
    assert days[0]["provisional"] is True
    file.write_text("[[holidays]]\ndate = 'tomorrow'\n", encoding="utf-8")
    code, _, err = run(capsys, "calendar", "load", str(file))
    assert code == 1 and err.startswith("error:")
    code, out, _ = run(capsys, "sla", "check")
    assert code == 0 and "match" in out


_ = UTC
