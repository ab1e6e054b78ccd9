"""Use cases against a real database: audit, replay, permissions, conflicts, bad input."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from models import audit_log, case_rows
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.reading import list_cases, show
from service.units import add_unit
from tests.conftest import DESK, HANDLER, HANDLER_B, REVIEWER, SUPERVISOR, Driver
from workflow.commands import parse_command
from workflow.errors import (
    Conflict,
    Duplicate,
    GuardFailed,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from workflow.replay import replay
from workflow.vocab import Event, State


def counts(engine: Engine) -> tuple[int, int]:
    with engine.db.read() as session:
        grievances = session.exec(text("SELECT count(*) FROM grievance")).scalar()
        events = session.exec(text("SELECT count(*) FROM grievance_event")).scalar()
    return grievances, events


def assert_replays(engine: Engine, number: str) -> None:
    view = show(engine, number, DESK)
    assert replay(audit_log.record_from_event(e) for e in view.events) == view.case
    assert [e.seq for e in view.events] == list(range(1, view.version + 1))


def test_full_lifecycle_is_audited_and_replays(driver: Driver) -> None:
    case = driver.to("reviewed")
    view = show(driver.engine, case.number, DESK)
    assert [e.event.value for e in view.events] == [
        "accept",
        "assign",
        "sign",
        "close",
        "revisit",
        "review",
    ]
    sign = view.events[2]
    assert (sign.actor, sign.role.value, sign.actor_unit) == ("handler-a", "handler", "UA")
    assert sign.at == sign.recorded_at  # the driver stamps both with the same instant
    assert_replays(driver.engine, case.number)


def test_effective_and_recorded_times_are_both_kept(driver: Driver) -> None:
    case = driver.to("assigned")
    stamp = Stamp(
        HANDLER, at=driver.now + timedelta(minutes=5), recorded_at=driver.now + timedelta(hours=3)
    )
    uc.sign(driver.engine, case.number, stamp)
    event = show(driver.engine, case.number, DESK).events[-1]
    assert (event.at, event.recorded_at) == (stamp.at, stamp.recorded_at)


def test_errors_write_nothing(driver: Driver) -> None:
    case = driver.to("handling")
    before = counts(driver.engine)
    attempts = [
        (
            IllegalTransition,
            lambda: uc.assign(driver.engine, case.number, driver.stamp(DESK), unit="UA"),
        ),
        (
            PermissionDenied,
            lambda: uc.close(
                driver.engine, case.number, driver.stamp(HANDLER_B), result="resolved", note="x"
            ),
        ),
        (
            PermissionDenied,
            lambda: uc.close(
                driver.engine, case.number, driver.stamp(REVIEWER), result="resolved", note="x"
            ),
        ),
        (
            InvalidInput,
            lambda: uc.close(
                driver.engine, case.number, driver.stamp(HANDLER), result="great", note="x"
            ),
        ),
        (
            GuardFailed,
            lambda: uc.approve_extension(driver.engine, case.number, driver.stamp(SUPERVISOR)),
        ),
        (NotFound, lambda: uc.sign(driver.engine, "20990101-0001", driver.stamp(HANDLER))),
        (Duplicate, lambda: driver.accept(ref="R-1")),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            attempt()
    assert counts(driver.engine) == before


def test_assign_to_an_unknown_unit_is_refused(driver: Driver) -> None:
    case = driver.to("accepted")
    with pytest.raises(GuardFailed, match="unknown unit.*NOPE"):
        uc.assign(driver.engine, case.number, driver.stamp(DESK), unit="NOPE")


def test_duplicate_channel_reference_names_the_existing_grievance(driver: Driver) -> None:
    first = driver.accept(ref="12328-77")
    with pytest.raises(Duplicate, match=first.number):
        driver.accept(ref="12328-77")


def test_handler_sees_only_their_units_grievances(driver: Driver) -> None:
    mine = driver.to("handling")
    other = driver.to("accepted")
    uc.assign(driver.engine, other.number, driver.stamp(DESK), unit="UB")
    assert [c.number for c in list_cases(driver.engine, HANDLER)] == [mine.number]
    assert len(list_cases(driver.engine, DESK)) == 2
    with pytest.raises(PermissionDenied):
        show(driver.engine, other.number, HANDLER)


def test_co_handling_unit_sees_and_feeds_back(driver: Driver) -> None:
    driver.units("UA", "UB")
    case = driver.accept()
    uc.assign(driver.engine, case.number, driver.stamp(DESK), unit="UA", co_units=["UB"])
    uc.sign(driver.engine, case.number, driver.stamp(HANDLER))
    assert [c.number for c in list_cases(driver.engine, HANDLER_B)] == [case.number]
    uc.feedback(driver.engine, case.number, driver.stamp(HANDLER_B), note="协办意见")


def test_only_the_desk_adds_units(driver: Driver) -> None:
    with pytest.raises(PermissionDenied):
        add_unit(driver.engine, driver.stamp(HANDLER), code="UX", name="x")
    with pytest.raises(InvalidInput):
        add_unit(driver.engine, driver.stamp(DESK), code="bad code", name="x")
    with pytest.raises(InvalidInput):
        add_unit(driver.engine, driver.stamp(DESK), code="UX", name="  ")
    driver.units("UA")
    with pytest.raises(Duplicate):
        add_unit(driver.engine, driver.stamp(DESK), code="UA", name="again")


def test_merge_into_an_open_grievance(driver: Driver) -> None:
    kept, duplicate = driver.to("handling"), driver.to("accepted")
    merged = uc.merge(
        driver.engine, duplicate.number, driver.stamp(DESK), into=kept.number, reason="同一运单"
    )
    assert merged.state is State.MERGED and merged.merged_into == kept.number
    with pytest.raises(GuardFailed, match="merge into an open one"):
        uc.merge(
            driver.engine,
            driver.to("accepted").number,
            driver.stamp(DESK),
            into=duplicate.number,
            reason="重复",
        )


@pytest.mark.parametrize("target", ["closed", "revisited", "reviewed"])
def test_merge_into_a_closed_grievance_is_refused_and_writes_nothing(
    driver: Driver, target: str
) -> None:
    kept, duplicate = driver.to(target), driver.to("accepted")
    with pytest.raises(GuardFailed, match=f"is {target}; merge into an open one"):
        uc.merge(
            driver.engine, duplicate.number, driver.stamp(DESK), into=kept.number, reason="重复"
        )
    assert show(driver.engine, duplicate.number, DESK).version == 1


def test_merge_needs_a_reason_and_the_audit_log_keeps_it(driver: Driver) -> None:
    kept, duplicate = driver.to("handling"), driver.to("accepted")
    with pytest.raises(InvalidInput, match="reason: Field required"):
        parse_command(Event.MERGE, {"into": kept.number})
    with pytest.raises(InvalidInput, match="reason: must not be empty"):
        uc.merge(driver.engine, duplicate.number, driver.stamp(DESK), into=kept.number, reason=" ")
    uc.merge(
        driver.engine,
        duplicate.number,
        driver.stamp(DESK),
        into=kept.number,
        reason="同一运单重复来电",
    )
    last = show(driver.engine, duplicate.number, DESK).events[-1]
    assert last.payload == {"into": kept.number, "reason": "同一运单重复来电"}


# --------------------------------------------------------------------------- concurrency
def test_stale_version_is_a_conflict(driver: Driver) -> None:
    case = driver.to("handling")
    version = show(driver.engine, case.number, DESK).version
    uc.feedback(
        driver.engine, case.number, driver.stamp(HANDLER), note="first", expected_version=version
    )
    with pytest.raises(Conflict, match="someone else"):
        uc.feedback(
            driver.engine,
            case.number,
            driver.stamp(HANDLER),
            note="second",
            expected_version=version,
        )


def test_compare_and_set_refuses_a_write_based_on_an_old_read(driver: Driver) -> None:
    case = driver.to("handling")
    with driver.engine.db.read() as session:
        row = case_rows.get_row(session, case.number)
    old = case_rows.case_from_row(row)
    uc.feedback(driver.engine, case.number, driver.stamp(HANDLER), note="meanwhile")
    from workflow.case import evolve
    from workflow.commands import parse_command
    from workflow.machine import decide
    from workflow.vocab import Event

    record = decide(
        case.number,
        old,
        parse_command(Event.FEEDBACK, {"note": "late"}),
        actor=HANDLER,
        at=driver.now + timedelta(minutes=1),
    )
    assert row.id is not None
    with pytest.raises(Conflict), driver.engine.db.transaction() as session:
        case_rows.update_case(session, row.id, row.version, evolve(old, record), record, driver.now)
    assert show(driver.engine, case.number, DESK).version == row.version + 1


def test_two_people_at_once_one_wins_one_gets_a_conflict(driver: Driver) -> None:
    driver.units("UA", "UB")
    case = driver.accept()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(unit: str) -> None:
        barrier.wait()
        try:
            uc.assign(
                driver.engine, case.number, driver.stamp(DESK, 0), unit=unit, expected_version=1
            )
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=act, args=(u,)) for u in ("UA", "UB")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    view = show(driver.engine, case.number, DESK)
    assert view.version == 2 and len(view.events) == 2
    assert_replays(driver.engine, case.number)


def test_concurrent_feedback_loses_no_update(driver: Driver) -> None:
    case = driver.to("handling")
    start = show(driver.engine, case.number, DESK).version
    barrier = threading.Barrier(6)
    errors: list[Exception] = []

    def act(i: int) -> None:
        barrier.wait()
        try:
            uc.feedback(driver.engine, case.number, driver.stamp(HANDLER, 0), note=f"n{i}")
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=act, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    view = show(driver.engine, case.number, DESK)
    assert errors == []
    assert view.version == start + 6 and view.case.feedback_count == 6
    assert_replays(driver.engine, case.number)
