"""The watchdog: every due step fired exactly once, in ladder order, crash-safe and race-safe."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from models.tables import GrievanceEvent, Notification
from service import cases as uc
from service import outbox, watchdog
from service.acting import Stamp
from service.engine import Engine
from service.reading import show
from service.timers import check_timers
from tests.conftest import DESK, HANDLER, SUPERVISOR, Driver, database_url_for
from workflow.errors import Conflict
from workflow.timers import TimerState
from workflow.vocab import Event

SH = "+08:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + SH).astimezone(UTC)


def step_events(engine: Engine) -> list[GrievanceEvent]:
    with engine.db.read() as session:
        query = select(GrievanceEvent).where(GrievanceEvent.event == Event.SLA_STEP)
        return list(session.exec(query).all())


def step_keys(engine: Engine) -> Counter[tuple[str, str, int, str]]:
    return Counter(
        (e.number, e.payload["target"], e.payload["cycle"], e.payload["name"])
        for e in step_events(engine)
    )


def notifications(engine: Engine) -> list[Notification]:
    with engine.db.read() as session:
        return list(session.exec(select(Notification)).all())


def fleet(driver: Driver, n: int = 6) -> list[str]:
    """Grievances in several states, all accepted Mon 2026-11-23 from 09:10 on."""
    states = ["accepted", "assigned", "handling", "closed"]
    return [driver.to(states[i % len(states)]).number for i in range(n)]


def race_sweeps(urls: list[str], now: datetime, batch: int) -> list[watchdog.SweepResult]:
    """One sweep per URL, each on its own engine and thread, started together."""
    engines = [Engine.open(url) for url in urls]
    results: list[watchdog.SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def run(engine: Engine) -> None:
        try:
            barrier.wait()
            results.append(watchdog.sweep(engine, now, batch=batch))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.db.dispose()
    assert errors == []
    return results


# ----------------------------------------------------------------------------- exactly once
def test_a_breach_fires_once_when_the_sweep_runs_twice_and_again_later(driver: Driver) -> None:
    number = driver.to("assigned").number  # accepted 09:10, assigned 09:20, unit UA
    engine = driver.engine
    first = watchdog.sweep(engine, at("2026-11-24T17:30"))  # feedback due 11-24 17:30
    assert [(f.target, f.step) for f in first.fired] == [
        ("feedback", "warning"),
        ("feedback", "red_card"),
    ]
    assert watchdog.sweep(engine, at("2026-11-24T17:30")).fired == []
    later = watchdog.sweep(engine, at("2026-11-25T17:30"))
    assert [(f.target, f.step) for f in later.fired] == [("feedback", "supervision")]
    assert watchdog.sweep(engine, at("2026-11-25T18:00")).fired == []
    assert max(step_keys(engine).values()) == 1
    view = show(engine, number, DESK)
    feedback = next(t for t in view.timers if t.target == "feedback")
    assert feedback.state is TimerState.BREACHED
    assert feedback.breached_at == at("2026-11-24T17:30")
    assert feedback.late == timedelta(hours=7)  # one working day of business hours
    assert feedback.fired == 3 and feedback.next_fire_at is None
    keys = [n.dedupe_key for n in notifications(engine)]
    assert len(keys) == len(set(keys))


def test_the_ladder_goes_yellow_red_then_supervision_to_the_right_people(driver: Driver) -> None:
    driver.to("handling")
    result = watchdog.sweep(driver.engine, at("2026-12-07T09:00"))
    close = [f for f in result.fired if f.target == "close"]
    assert [(f.step, f.title) for f in close] == [
        ("warning", "黄牌预警"),
        ("red_card", "红牌"),
        ("supervision", "督办"),
    ]
    assert [f.audiences for f in close] == [
        ("unit",),
        ("unit", "supervisor"),
        ("leadership",),
    ]
    times = [f.at for f in close]
    assert times == sorted(times) and close[1].at == close[1].due_at
    assert close[2].at == at("2026-11-30T17:30")  # close of business, 1 working day later
    assert all(f.at <= g.at for f, g in zip(result.fired, result.fired[1:], strict=False))


def test_stopped_and_paused_timers_fire_nothing(driver: Driver) -> None:
    number = driver.to("handling").number
    engine = driver.engine
    uc.feedback(engine, number, driver.stamp(HANDLER), note="已联系司机")
    uc.suspend(engine, number, driver.stamp(SUPERVISOR), reason="等待材料")
    fired = watchdog.sweep(engine, at("2026-12-31T09:00")).fired
    assert [f.target for f in fired] == []  # assign met, feedback met, close paused


def test_steps_are_audited_and_replay_gives_the_stored_timers(driver: Driver) -> None:
    numbers = fleet(driver)
    engine = driver.engine
    watchdog.sweep(engine, at("2026-11-24T12:00"))
    watchdog.sweep(engine, at("2026-12-02T10:00"))
    assert check_timers(engine) == []
    events = step_events(engine)
    assert events and all(e.actor == "watchdog" and e.role.value == "system" for e in events)
    assert {e.number for e in events} <= set(numbers)


def test_a_person_acting_after_a_step_is_not_refused_as_stale(driver: Driver) -> None:
    case = driver.to("handling")
    engine = driver.engine
    seen = show(engine, case.number, DESK).version
    assert watchdog.sweep(engine, at("2026-11-24T17:30")).fired
    # the watchdog moved the version on; the handler's view is still good for a person's act
    uc.feedback(
        engine,
        case.number,
        Stamp(HANDLER, at("2026-11-24T17:40"), at("2026-11-24T17:40")),
        note="已联系",
        expected_version=seen,
    )
    uc.suspend(
        engine,
        case.number,
        Stamp(SUPERVISOR, at("2026-11-24T17:45"), at("2026-11-24T17:45")),
        reason="等待材料",
    )
    with pytest.raises(Conflict):  # a person acted since `seen`: that view is stale
        uc.resume(
            engine,
            case.number,
            Stamp(HANDLER, at("2026-11-24T17:50"), at("2026-11-24T17:50")),
            expected_version=seen,
        )


def test_a_close_recorded_as_of_before_the_deadline_is_on_time(driver: Driver) -> None:
    """The handler closed at 17:00 but recorded it after the watchdog's red card at 17:30."""
    case = driver.to("handling")
    engine = driver.engine
    uc.feedback(engine, case.number, driver.stamp(HANDLER), note="已反馈")
    watchdog.sweep(engine, at("2026-11-27T17:40"))  # close due Fri 11-27 17:30: red card
    uc.close(
        engine,
        case.number,
        Stamp(HANDLER, at("2026-11-27T17:00"), at("2026-11-27T17:50")),
        result="resolved",
        note="已解决",
    )
    close = next(t for t in show(engine, case.number, DESK).timers if t.target == "close")
    assert close.state is TimerState.MET and close.breached_at is None and close.fired == 2
    assert check_timers(engine) == []


# ----------------------------------------------------------------------------- crashes, races
def test_a_sweep_killed_between_batches_loses_nothing_and_duplicates_nothing(
    driver: Driver,
) -> None:
    fleet(driver, 8)
    engine = driver.engine
    now = at("2026-12-02T10:00")
    calls = 0

    def die_after_two_batches(_: watchdog.SweepResult) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        watchdog.sweep(engine, now, batch=3, progress=die_after_two_batches)
    partial = sum(step_keys(engine).values())
    assert partial > 0
    rest = watchdog.sweep(engine, now, batch=3)
    assert sum(step_keys(engine).values()) == partial + len(rest.fired)
    assert max(step_keys(engine).values()) == 1
    assert watchdog.sweep(engine, now).fired == []
    assert check_timers(engine) == []


def test_a_sweep_that_dies_inside_a_batch_keeps_none_of_it(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet(driver, 4)
    engine = driver.engine
    now = at("2026-12-02T10:00")
    real = outbox.queue_step
    calls = 0

    def crash_on_the_fifth(*args: object, **kwargs: object) -> list[Notification]:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise OSError("disk full")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "queue_step", crash_on_the_fifth)
    with pytest.raises(OSError):
        watchdog.sweep(engine, now)  # one batch: everything rolled back
    assert step_events(engine) == [] and notifications(engine) == []
    monkeypatch.setattr(outbox, "queue_step", real)
    done = watchdog.sweep(engine, now)
    assert len(done.fired) == sum(step_keys(engine).values()) > 4
    assert max(step_keys(engine).values()) == 1


def test_two_sweeps_racing_on_one_database_fire_each_step_once(
    driver: Driver, tmp_path: Path
) -> None:
    fleet(driver, 10)
    now = at("2026-12-02T10:00")
    results = race_sweeps([database_url_for(tmp_path)] * 2, now, batch=2)
    fired = [f for r in results for f in r.fired]
    keys = step_keys(driver.engine)
    assert len(fired) == sum(keys.values()) and max(keys.values()) == 1
    assert watchdog.sweep(driver.engine, now).fired == []
    rows = notifications(driver.engine)
    assert len({r.dedupe_key for r in rows}) == len(rows)


def test_a_grievance_changed_during_the_sweep_waits_for_the_next_one(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compare-and-set conflict skips that grievance only; the next sweep catches up."""
    numbers = fleet(driver, 3)
    engine = driver.engine
    now = at("2026-12-02T10:00")
    real = watchdog.case_rows.record_system_event
    victim = numbers[1]

    def conflict_on_victim(session, row_id, version, record, recorded_at):  # type: ignore[no-untyped-def]
        if record.number == victim:
            raise Conflict("changed meanwhile")
        return real(session, row_id, version, record, recorded_at)

    monkeypatch.setattr(watchdog.case_rows, "record_system_event", conflict_on_victim)
    first = watchdog.sweep(engine, now)
    assert first.conflicts == 1 and victim not in {f.number for f in first.fired}
    monkeypatch.setattr(watchdog.case_rows, "record_system_event", real)
    second = watchdog.sweep(engine, now)
    assert {f.number for f in second.fired} == {victim}
    assert max(step_keys(engine).values()) == 1


# ----------------------------------------------------------------------------- outbox rows
def test_units_without_targets_get_visible_dead_letters_not_silence(driver: Driver) -> None:
    driver.to("assigned")
    watchdog.sweep(driver.engine, at("2026-11-24T17:30"))
    rows = notifications(driver.engine)
    assert rows and all(r.status == outbox.DEAD for r in rows)
    assert all("no notification target" in (r.last_error or "") for r in rows)


def test_an_unassigned_case_warns_the_desk(driver: Driver) -> None:
    driver.to("accepted")
    engine = driver.engine
    fired = watchdog.sweep(engine, at("2026-11-23T10:50")).fired
    assert [(f.target, f.step) for f in fired] == [("assign", "warning")]
    (row,) = notifications(engine)
    assert row.audience == "desk" and row.unit is None
    assert "分办" in row.title and row.dedupe_key.endswith("/assign/1/warning/desk")


def test_sweep_cli_prints_fired_count(driver: Driver, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    driver.to("assigned")
    env = {"GRIEVANCE_DATABASE_URL": database_url_for(tmp_path)}
    runner = CliRunner()
    first = runner.invoke(
        cli,
        ["sla", "sweep", "--now", "2026-11-24T17:30", "--json"],
        env=env,
        catch_exceptions=False,
    )
    assert first.exit_code == 0, first.output
    assert '"fired": 2' in first.output
    again = runner.invoke(cli, ["sla", "sweep", "--now", "2026-11-24T17:30", "--json"], env=env)
    assert '"fired": 0' in again.output
    listed = runner.invoke(cli, ["notifications", "list", "--status", "dead", "--json"], env=env)
    assert listed.exit_code == 0 and '"step": "red_card"' in listed.output


def test_four_watchdogs_on_postgresql_share_the_due_timers_and_fire_each_step_once(
    pg_engine: Engine,
) -> None:
    """FOR UPDATE SKIP LOCKED: four concurrent sweeps over the same due timers (small batches
    so they interleave) fire every step exactly once between them, and a fifth finds none."""
    driver = Driver(pg_engine)
    fleet(driver, 24)
    now = at("2026-12-02T10:00")
    results = race_sweeps([pg_engine.db.url] * 4, now, batch=2)
    fired = [f for r in results for f in r.fired]
    keys = step_keys(pg_engine)
    assert len(fired) == sum(keys.values()) > 24
    assert max(keys.values()) == 1
    assert watchdog.sweep(pg_engine, now).fired == []
    rows = notifications(pg_engine)
    assert len({r.dedupe_key for r in rows}) == len(rows)
    # the work was shared, not fought over: without SKIP LOCKED all four take the same rows
    # and most attempts end in compare-and-set conflicts (measured: 144 against 2)
    assert sum(1 for r in results if r.fired) >= 2
    assert sum(r.conflicts for r in results) < len(fired) / 10


# ----------------------------------------------------------------------------- broken cases
def poison(engine: Engine, sql: str, **values: object) -> None:
    with engine.db.transaction() as session:
        session.execute(text(sql), values)


def broken_rows(engine: Engine) -> list[Notification]:
    return [n for n in notifications(engine) if n.kind == "sla_broken"]


def stored(engine: Engine, number: str) -> list[tuple[object, ...]]:
    """A grievance's row version, audit events and timers as the database holds them."""
    with engine.db.engine.connect() as connection:
        query = "SELECT * FROM {} WHERE number = :n ORDER BY id"
        return [
            tuple(row)
            for table in ("grievance", "grievance_event", "sla_timer")
            for row in connection.execute(text(query.format(table)), {"n": number})
        ]


def test_poisoned_cases_are_reported_once_and_the_healthy_ones_still_escalate(
    driver: Driver, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy = [driver.to("assigned").number for _ in range(3)]  # feedback due 11-24 17:30
    unknown, unreadable = driver.to("assigned").number, driver.to("assigned").number
    engine = driver.engine
    engine.notify = replace(engine.notify, supervisor=("json://bureau.example/supervisors",))
    # a policy version no process knows (with a phone number in it: masked when reported)
    poison(
        engine, "UPDATE grievance SET policy = 'gone-13812345678@9' WHERE number = :n", n=unknown
    )
    # a timer row whose state does not convert: the batch's one-query load fails on it
    poison(engine, "UPDATE sla_timer SET state = 'bogus' WHERE number = :n", n=unreadable)
    before = {n: stored(engine, n) for n in (unknown, unreadable)}

    sweeps = [
        watchdog.sweep(engine, at("2026-11-24T17:30")),
        watchdog.sweep(engine, at("2026-11-24T17:31")),
        watchdog.sweep(engine, at("2026-11-25T17:30"), batch=2),
    ]
    fired = step_keys(engine)
    for number in healthy:
        assert fired[(number, "feedback", 1, "warning")] == 1
        assert fired[(number, "feedback", 1, "red_card")] == 1
        assert fired[(number, "feedback", 1, "supervision")] == 1
    assert {n for n, *_ in fired} == set(healthy)
    assert all(n in healthy for s in sweeps for n in {f.number for f in s.fired})
    for result in sweeps:  # listed by every sweep, reported by the first only
        assert sorted(b.number for b in result.broken) == sorted([unknown, unreadable])
        assert all(b.reported == (result is sweeps[0]) for b in result.broken)
    first = {b.number: b for b in sweeps[0].broken}
    assert first[unknown].error == "unknown policy version 'gone-138****5678@9'"
    assert first[unknown].targets == ("feedback#1",)
    assert first[unreadable].error.startswith("ValueError") and "bogus" in first[unreadable].error

    rows = broken_rows(engine)
    assert sorted(r.number or "" for r in rows) == sorted([unknown, unreadable])  # one each
    assert {(r.audience, r.unit, r.status) for r in rows} == {("supervisor", None, "pending")}
    message = next(r for r in rows if r.number == unknown)
    assert message.title == f"【时限监控异常】工单{unknown}无法处理"
    assert "gone-138****5678@9" in message.body and "13812345678" not in message.body
    assert "单位UA" in message.body and "feedback#1" in message.body
    assert {n: stored(engine, n) for n in (unknown, unreadable)} == before  # rolled back whole

    problems = check_timers(engine)
    assert sorted(problems) == sorted(
        [
            f"{unknown}: cannot be replayed: unknown policy version 'gone-138****5678@9'",
            f"{unreadable}: cannot be replayed: {first[unreadable].error}",
        ]
    )
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", engine.db.url)
    from cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["sla", "check"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 1 and err == ""
    assert out.splitlines() == problems

    # fixed: the next sweep fires what was due, and nothing is reported again
    poison(engine, "UPDATE grievance SET policy = '2142@1' WHERE number = :n", n=unknown)
    fixed = watchdog.sweep(engine, at("2026-11-25T17:40"))
    assert [b.number for b in fixed.broken] == [unreadable]
    assert {(f.number, f.step) for f in fixed.fired} == {
        (unknown, "warning"),
        (unknown, "red_card"),
        (unknown, "supervision"),
    }
    assert len(broken_rows(engine)) == 2


def test_a_timer_that_fails_alone_lets_the_grievance_s_other_timers_fire(driver: Driver) -> None:
    number = driver.to("accepted").number  # assign due 11:10, feedback 11-24 17:30
    engine = driver.engine
    # a feedback deadline no calendar can go past: its escalation step cannot be computed
    poison(
        engine,
        "UPDATE sla_timer SET due_at = :due WHERE number = :n AND target = 'feedback'",
        n=number,
        due=datetime(9999, 12, 31, 9, 0, tzinfo=UTC),
    )
    result = watchdog.sweep(engine, at("2026-11-24T17:30"))
    assert [(f.target, f.step) for f in result.fired] == [
        ("assign", "warning"),
        ("assign", "red_card"),
        ("assign", "supervision"),
    ]
    (broken,) = result.broken
    assert broken.number == number and broken.targets == ("feedback#1",)
    again = watchdog.sweep(engine, at("2026-11-24T18:00"))
    assert again.fired == [] and [b.targets for b in again.broken] == [("feedback#1",)]
    assert len(broken_rows(engine)) == 1
    assert max(step_keys(engine).values()) == 1


def test_the_broken_case_message_is_in_english_when_asked(driver: Driver) -> None:
    number = driver.to("assigned").number
    engine = driver.engine
    engine.notify = replace(engine.notify, language="en")
    poison(engine, "UPDATE grievance SET policy = 'gone@9' WHERE number = :n", n=number)
    watchdog.sweep(engine, at("2026-11-24T17:30"))
    (row,) = broken_rows(engine)
    assert row.title == f"[SLA watchdog problem] Grievance {number} cannot be processed"
    assert row.status == "dead"  # no bureau supervisors configured: visible, not silent
    assert "Error: unknown policy version 'gone@9'" in row.body


def test_a_failing_database_still_stops_the_sweep_whole(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a case's own failures are isolated; the disk or the database failing is not one
    case's problem: the batch rolls back and nothing is reported as broken."""
    fleet(driver, 3)
    engine = driver.engine

    def locked(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE grievance", {}, Exception("database is locked"))

    monkeypatch.setattr(watchdog.case_rows, "record_system_event", locked)
    with pytest.raises(OperationalError):
        watchdog.sweep(engine, at("2026-12-02T10:00"))
    assert step_events(engine) == [] and notifications(engine) == []
