"""The SLA board from the database: the running timers of real grievances, their cards at the
stored warning and breach instants (under freezegun, as the watchdog reads the clock), the
split per unit, what stops or pauses a timer taking it off, the cost at 10k running timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from models import open_work
from service import cases as uc
from service import sla_board, watchdog
from service.engine import Engine
from tests.conftest import DESK, SUPERVISOR, Driver
from workflow.sla_board import DESK as DESK_BOARD
from workflow.sla_board import Card
from workflow.timers import TimerState


def _timer(engine: Engine, number: str, target: str):  # type: ignore[no-untyped-def]
    with engine.db.read() as session:
        for found, _unit, _policy, timer in open_work.running_timers(session):
            if found == number and timer.target == target:
                return timer
    raise AssertionError(f"{number} has no running {target} timer")


def _card(engine: Engine, number: str, target: str) -> Card:
    """The card the board shows now (the clock read once, as the watchdog does)."""
    built = sla_board.build(engine, datetime.now(UTC))
    (row,) = [r for r in built.boards[DESK_BOARD].rows if r.number == number and r.target == target]
    return row.card


def test_the_cards_at_the_stored_warning_and_breach_instants(driver: Driver) -> None:
    number = driver.accept().number  # the desk must assign within 2 business hours
    timer = _timer(driver.engine, number, "assign")
    assert timer.warn_at is not None and timer.warn_at < timer.due_at
    second = timedelta(seconds=1)
    for moment, expected in (
        (timer.warn_at - second, Card.GREEN),
        (timer.warn_at, Card.YELLOW),
        (timer.due_at - second, Card.YELLOW),
        (timer.due_at, Card.RED),
        (timer.due_at + timedelta(days=3), Card.RED),
    ):
        with freeze_time(moment):
            assert _card(driver.engine, number, "assign") is expected, moment


def test_a_breached_timer_stays_on_the_board_red_with_the_step_the_watchdog_fired(
    driver: Driver,
) -> None:
    number = driver.accept().number
    timer = _timer(driver.engine, number, "assign")
    later = timer.due_at + timedelta(days=2)
    fired = watchdog.sweep(driver.engine, later).fired
    steps = [f.step for f in fired if f.target == "assign"]
    assert steps == ["warning", "red_card", "supervision"]
    built = sla_board.build(driver.engine, later)
    rows = built.boards[DESK_BOARD].rows
    (row,) = [r for r in rows if r.number == number and r.target == "assign"]
    assert (row.card, row.step_zh) == (Card.RED, "督办") and row.left < timedelta(0)
    assert _timer(driver.engine, number, "assign").state is TimerState.BREACHED  # still open


def test_each_unit_s_board_holds_the_grievances_it_leads(driver: Driver) -> None:
    waiting = driver.accept().number  # no unit yet: the desk's board only
    ua = driver.to("assigned").number
    ub = driver.accept().number
    uc.assign(driver.engine, ub, driver.stamp(DESK), unit="UB")
    built = sla_board.build(driver.engine, driver.now + timedelta(hours=1))
    numbers = {party: {r.number for r in b.rows} for party, b in built.boards.items()}
    assert numbers == {DESK_BOARD: {waiting, ua, ub}, "UA": {ua}, "UB": {ub}}
    targets = sorted((r.number, r.target) for r in built.boards["UA"].rows)
    assert targets == [(ua, "close"), (ua, "feedback")]  # assign was met by the assign
    assert built.names == {"UA": "单位UA", "UB": "单位UB"}
    rendered = sla_board.render(built, links={ua: "/runs/flow-run/x"}, language="zh")
    assert set(rendered) == {"sla-board", "sla-board-ua", "sla-board-ub"}
    text = rendered["sla-board-ua"][1]
    assert f"[{ua}](/runs/flow-run/x)" in text and ub not in text and waiting not in text
    assert built.numbers() == sorted({waiting, ua, ub})


def test_a_closed_or_suspended_grievance_leaves_the_board(driver: Driver) -> None:
    closed = driver.to("closed").number  # only the revisit runs, on the desk's board
    handling = driver.to("handling").number
    uc.suspend(driver.engine, handling, driver.stamp(SUPERVISOR), reason="等待货主提供材料")
    built = sla_board.build(driver.engine, driver.now)
    rows = built.boards[DESK_BOARD].rows
    assert [(r.number, r.target) for r in rows if r.number == closed] == [(closed, "revisit")]
    assert [r for r in rows if r.number == handling] == []  # paused: not running
    assert built.boards["UA"].rows == tuple(r for r in rows if r.unit == "UA")


def test_the_running_timers_are_read_through_the_deadline_index(driver: Driver) -> None:
    """One query, by (stopped_at, due_at): no scan of the grievances, no sort step (SQLite's
    plan; PostgreSQL picks a plan by its statistics, which a tiny test table does not show)."""
    if driver.engine.db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    driver.to("assigned")
    from sqlalchemy.dialects import sqlite

    query = open_work.running_query()
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with driver.engine.db.read() as session:
        plan = [r[-1] for r in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    assert any("sla_timer USING INDEX" in step and "stopped_at" in step for step in plan), plan
    assert not any(step.startswith("SCAN grievance") for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_a_timer_of_an_unknown_target_is_left_out_and_named(driver: Driver) -> None:
    number = driver.accept().number
    with driver.engine.db.transaction() as session:
        session.connection().execute(
            text(
                "UPDATE sla_timer SET target = 'vanished' WHERE number = :n AND target = 'assign'"
            ),
            {"n": number},
        )
    built = sla_board.build(driver.engine, driver.now)
    assert built.unreadable == (number,)
    assert {r.target for r in built.boards[DESK_BOARD].rows} == {"feedback", "close"}
