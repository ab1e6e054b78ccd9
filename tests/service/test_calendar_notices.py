"""Loading a State Council notice: the year turns official, open deadlines are recomputed in
one transaction with audit events, bad files change nothing; `calendar status`; the reminder's
line while deadlines are provisional; late-December 2026 cases that depend on 2027."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from models.tables import CalendarDay, CalendarNotice, GrievanceEvent, SlaTimer
from service import calendars, digests
from service import cases as uc
from service.engine import Engine
from service.reading import show
from service.timers import check_timers
from service.units import set_unit_calendar
from tests.conftest import DESK, HANDLER, Driver, database_url_for
from tests.conftest import run_cli as run
from workflow.errors import Conflict, PermissionDenied
from workflow.hours import parse_hours
from workflow.notices import Overrides, parse_calendar
from workflow.unit_time import UnitTime

NOTICES = Path(__file__).resolve().parents[2] / "calendars" / "notices"

# A notice for 2027 as a test would write it: Spring Festival one day longer than the law
# minimum (02-11 off), with a make-up Saturday 02-20; the rest as the law minimum.
NOTICE_2027 = (NOTICES / "2027.template.toml").read_text(encoding="utf-8").replace(
    "# published = 2026-11-DD", "published = 2026-11-10"
).replace("〔2026〕N号", "〔2026〕99号") + (
    '\n[[holidays]]\ndate = 2027-02-11\nname = "春节"\n'
    '\n[[workdays]]\ndate = 2027-02-20\nname = "春节调休"\n'
)


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    monkeypatch.setenv("GRIEVANCE_ACTOR", "张受理")
    return tmp_path


def snapshot(engine: Engine) -> tuple[Any, ...]:
    """Everything a calendar load may write."""
    with engine.db.read() as session:
        return (
            sorted((n.year, n.digest) for n in session.exec(select(CalendarNotice))),
            sorted((d.day, d.working, d.name) for d in session.exec(select(CalendarDay))),
            len(session.exec(select(GrievanceEvent)).all()),
            sorted(
                (t.grievance_id, t.target, t.cycle, t.due_at, t.provisional)
                for t in session.exec(select(SlaTimer))
            ),
        )


def at(driver: Driver, text: str) -> None:
    driver.now = sh(text)


def test_a_2027_notice_turns_the_year_official_and_recomputes(driver: Driver) -> None:
    e = driver.engine
    driver.units("UA", "UB")
    at(driver, "2027-02-04T09:50")
    case = driver.accept()  # Thu 2027-02-04 10:00
    timers = {t.target: t for t in show(e, case.number, DESK).timers}
    # Law minimum: 02-05..02-10 off, so feedback Thu 02-11 and close Tue 02-16, provisional.
    assert timers["feedback"].due_at == sh("2027-02-11T17:30")
    assert timers["close"].due_at == sh("2027-02-16T17:30")
    assert all(t.provisional for t in timers.values())
    # A late-December case whose close deadline crosses into January 2027.
    at(driver, "2026-12-28T09:50")
    december = driver.accept()
    close = next(t for t in show(e, december.number, DESK).timers if t.target == "close")
    assert close.due_at == sh("2027-01-04T17:30") and close.provisional

    loaded = calendars.load(
        e,
        parse_calendar(NOTICE_2027),
        driver.stamp(DESK),
        source="2027.toml",  # type: ignore[arg-type]
    )
    assert loaded.notice is not None and loaded.notice.year == 2027
    # 02-11 is off now: feedback moves to Fri 02-12, close to Wed 02-17 (02-20 is worked,
    # but comes later). The December case keeps its instant but is official now.
    moves = {(m.number, m.target): (m.old_due, m.new_due) for m in loaded.moved}
    assert moves == {
        (case.number, "feedback"): (sh("2027-02-11T17:30"), sh("2027-02-12T17:30")),
        (case.number, "close"): (sh("2027-02-16T17:30"), sh("2027-02-17T17:30")),
    }
    assert all(not m.provisional for m in loaded.moved)
    assert loaded.now_official >= 4
    shown = show(e, case.number, DESK)
    events = [ev for ev in shown.events if ev.event.value == "recalculate"]
    recorded = {
        (
            ev.payload["target"],
            datetime.fromisoformat(ev.payload["old_due"]),
            datetime.fromisoformat(ev.payload["new_due"]),
        )
        for ev in events
    }
    assert recorded == {
        ("feedback", sh("2027-02-11T17:30"), sh("2027-02-12T17:30")),
        ("close", sh("2027-02-16T17:30"), sh("2027-02-17T17:30")),
    }
    assert all("国办发明电〔2026〕99号" in ev.payload["reason"] for ev in events)
    assert not any(t.provisional for t in shown.timers)
    december_timers = show(e, december.number, DESK).timers
    assert not any(t.provisional for t in december_timers)
    assert check_timers(e) == []  # the replay agrees with what was stored
    # A new process sees the notice.
    fresh = Engine.open(e.db.url)
    assert fresh.calendar.year_source(2027).official
    assert not fresh.calendar.is_working_day(date(2027, 2, 11))


def test_the_same_notice_again_changes_nothing(driver: Driver) -> None:
    e = driver.engine
    notice = parse_calendar(NOTICE_2027)
    calendars.load(e, notice, driver.stamp(DESK), source="2027.toml")  # type: ignore[arg-type]
    before = snapshot(e)
    again = calendars.load(e, notice, driver.stamp(DESK), source="copy.toml")  # type: ignore[arg-type]
    assert again.unchanged and again.moved == []
    assert snapshot(e) == before


def test_a_different_notice_for_a_loaded_year_needs_replace(driver: Driver) -> None:
    e = driver.engine
    at(driver, "2027-02-04T09:50")
    case = driver.accept()
    calendars.load(e, parse_calendar(NOTICE_2027), driver.stamp(DESK), source="a.toml")  # type: ignore[arg-type]
    before = snapshot(e)
    other = parse_calendar(NOTICE_2027.replace("date = 2027-02-11", "date = 2027-02-12"))
    with pytest.raises(Conflict, match="--replace"):
        calendars.load(e, other, driver.stamp(DESK), source="b.toml")  # type: ignore[arg-type]
    assert snapshot(e) == before
    replaced = calendars.load(e, other, driver.stamp(DESK), source="b.toml", replace=True)  # type: ignore[arg-type]
    assert replaced.replaced == "国办发明电〔2026〕99号"
    assert {m.target for m in replaced.moved if m.number == case.number} == {"feedback"}
    assert check_timers(e) == []


def test_a_notice_supersedes_the_override_days_of_its_year(driver: Driver) -> None:
    e = driver.engine
    early = Overrides.from_toml(
        '[[holidays]]\ndate = "2027-03-01"\nname = "地方"\n'
        '[[holidays]]\ndate = "2028-03-01"\nname = "地方"\n'
    )
    calendars.load(e, early, driver.stamp(DESK), source="local.toml")
    loaded = calendars.load(e, parse_calendar(NOTICE_2027), driver.stamp(DESK), source="n.toml")  # type: ignore[arg-type]
    assert loaded.dropped_overrides == (date(2027, 3, 1),)
    assert e.calendar.is_working_day(date(2027, 3, 1))  # the notice decides 2027 alone
    assert not e.calendar.is_working_day(date(2028, 3, 1))  # other years keep theirs


def test_only_the_desk_loads_calendars(driver: Driver) -> None:
    e = driver.engine
    before = snapshot(e)
    with pytest.raises(PermissionDenied):
        calendars.load(e, parse_calendar(NOTICE_2027), driver.stamp(HANDLER), source="n")  # type: ignore[arg-type]
    assert snapshot(e) == before


def test_status_and_the_reminder_line(driver: Driver) -> None:
    e = driver.engine
    driver.units("UA")
    at(driver, "2026-12-28T09:50")
    case = driver.accept()
    uc.assign(e, case.number, driver.stamp(DESK), unit="UA")
    status = calendars.status(e, sh("2026-12-28T12:00"))
    by_year = {y.year: y for y in status.years}
    assert set(by_year) == {2026, 2027}
    assert (by_year[2026].source, by_year[2026].official) == ("library", True)
    assert (by_year[2027].source, by_year[2027].official) == ("law_minimum", False)
    assert by_year[2027].provisional_timers == status.provisional_timers == 1  # close
    made = digests.daily(e, date(2026, 12, 28), sh("2026-12-28T12:00"))
    assert made and made[0].context["provisional"] == {"timers": 1, "years": [2027]}
    for lang, words in (("zh", "暂定"), ("en", "provisional")):
        text = digests.render_digest(made[0], "md", lang).decode()
        assert words in text and "grievance calendar load" in text
    calendars.load(e, parse_calendar(NOTICE_2027), driver.stamp(DESK), source="n.toml")  # type: ignore[arg-type]
    status = calendars.status(e, sh("2026-12-28T12:00"))
    assert status.provisional_timers == 0
    assert [y.document for y in status.years if y.year == 2027] == ["国办发明电〔2026〕99号"]
    made = digests.daily(e, date(2026, 12, 28), sh("2026-12-28T12:00"))
    assert made[0].context["provisional"] is None
    assert "暂定" not in digests.render_digest(made[0], "md", "zh").decode()


# --------------------------------------------------------------------------- CLI
BAD_FILES = {
    "outside the year": (
        NOTICE_2027 + '\n[[holidays]]\ndate = 2028-01-03\nname = "x"\n',
        "outside 2027",
    ),
    "both lists": (
        NOTICE_2027 + '\n[[workdays]]\ndate = 2027-02-11\nname = "x"\n',
        "both as holiday",
    ),
    "malformed TOML": (NOTICE_2027.replace("[notice]", "[notice"), "not valid TOML"),
    "unknown key": (NOTICE_2027.replace("published =", "publish_date ="), "unknown key"),
    "unknown table": (NOTICE_2027 + "\n[extra]\nx = 1\n", "unknown key"),
    "template": ((NOTICES / "2027.template.toml").read_text(encoding="utf-8"), "published missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_cli_refuses_bad_notice_files_and_writes_nothing(
    case: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(
        capsys,
        "accept",
        "--channel",
        "hotline_12328",
        "--ref",
        "R1",
        "--type",
        "complaint",
        "--category",
        "freight_unpaid",
        "--name",
        "王建国",
        "--phone",
        "13812345678",
        "--description",
        "x",
        "--at",
        "2027-02-04T10:00",
    )
    assert code == 0
    engine = Engine.open()
    before = snapshot(engine)
    text, message = BAD_FILES[case]
    path = cli_env / "2027.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "calendar", "load", str(path))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert snapshot(engine) == before


def test_cli_notice_load_plan_and_status(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_args = ("sla", "plan", "--accepted-at", "2027-02-04T10:00", "--json")
    code, out, _ = run(capsys, *plan_args)
    assert code == 0 and json.loads(out)["provisional"] is True
    code, out, _ = run(capsys, "calendar", "status", "--json", "--at", "2026-12-06T10:00")
    assert code == 0
    status = json.loads(out)
    assert [(y["year"], y["source"], y["official"]) for y in status["years"]] == [
        (2026, "library", True),
        (2027, "law_minimum", False),
    ]
    path = cli_env / "2027.toml"
    path.write_text(NOTICE_2027, encoding="utf-8")
    code, out, _ = run(capsys, "calendar", "load", str(path), "--json")
    assert code == 0
    loaded = json.loads(out)
    assert (
        loaded["notice"]["year"] == 2027
        and loaded["notice"]["document"] == "国办发明电〔2026〕99号"
    )
    assert loaded["unchanged"] is False and loaded["moved"] == []
    code, out, _ = run(capsys, *plan_args)
    plan = json.loads(out)
    assert plan["provisional"] is False
    assert plan["deadlines"]["close"] == "2027-02-17T17:30:00+08:00"
    # `calendar show --json` keeps its shape.
    code, out, _ = run(capsys, "calendar", "show", "2027-02-11", "--days", "1", "--json")
    assert json.loads(out) == [
        {
            "date": "2027-02-11",
            "working": False,
            "reason": "holiday",
            "name": "春节",
            "provisional": False,
        }
    ]
    code, out, _ = run(capsys, "calendar", "load", str(path))
    assert code == 0 and "already loaded" in out
    path.write_text(NOTICE_2027.replace("date = 2027-02-11", "date = 2027-02-12"), encoding="utf-8")
    code, _, err = run(capsys, "calendar", "load", str(path))
    assert code == 1 and "--replace" in err
    code, out, _ = run(capsys, "calendar", "load", str(path), "--replace")
    assert code == 0 and "replaced" in out


@pytest.mark.parametrize("year", [2025, 2026])
def test_cli_loads_the_shipped_notices(
    year: int, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "calendar", "load", str(NOTICES / f"{year}.toml"), "--json")
    assert code == 0 and json.loads(out)["notice"]["year"] == year
    code, out, _ = run(capsys, "calendar", "status", "--json", "--at", f"{year}-06-01T10:00")
    years = {y["year"]: y for y in json.loads(out)["years"]}
    assert years[year]["source"] == "notice" and years[year]["official"]


def test_a_notice_recomputes_unit_calendar_timers_on_the_unit_calendar(driver: Driver) -> None:
    """A unit with its own hours counts on the national days under them: loading the notice
    moves its close deadline on its own hours and keeps it on its calendar."""
    e = driver.engine
    driver.units("UA")
    evening = UnitTime(hours=parse_hours("08:00-12:00,13:00-20:00"))
    set_unit_calendar(e, driver.stamp(DESK), code="UA", time=evening, source="test")
    at(driver, "2027-02-04T09:40")
    case = driver.accept()  # Thu 2027-02-04 09:50
    uc.assign(e, case.number, driver.stamp(DESK), unit="UA")
    close = next(t for t in show(e, case.number, DESK).timers if t.target == "close")
    assert (close.calendar, close.due_at, close.provisional) == (
        "UA@1",
        sh("2027-02-16T20:00"),
        True,
    )
    loaded = calendars.load(e, parse_calendar(NOTICE_2027), driver.stamp(DESK), source="n.toml")  # type: ignore[arg-type]
    assert (case.number, "close") in {(m.number, m.target) for m in loaded.moved}
    close = next(t for t in show(e, case.number, DESK).timers if t.target == "close")
    assert (close.calendar, close.due_at, close.provisional) == (
        "UA@1",
        sh("2027-02-17T20:00"),
        False,
    )
    assert check_timers(e) == []
    assert check_timers(Engine.open(e.db.url)) == []


def test_a_broken_case_does_not_block_the_notice(driver: Driver) -> None:
    """One grievance that cannot be replayed (a policy version nobody knows) is reported and
    left as it was; the notice loads and every other case is recomputed."""
    e = driver.engine
    at(driver, "2027-02-04T09:50")
    healthy = driver.accept()
    broken = driver.accept(phone="13900001111")
    with e.db.transaction() as session:
        session.execute(
            text("UPDATE grievance SET policy = 'gone@9' WHERE number = :n"), {"n": broken.number}
        )
    loaded = calendars.load(e, parse_calendar(NOTICE_2027), driver.stamp(DESK), source="n.toml")  # type: ignore[arg-type]
    assert [number for number, _ in loaded.failed] == [broken.number]
    assert "gone@9" in loaded.failed[0][1]
    assert (healthy.number, "close") in {(m.number, m.target) for m in loaded.moved}
    assert e.calendar.year_source(2027).official
    assert any(broken.number in line for line in check_timers(e))
