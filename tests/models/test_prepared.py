"""Prepared statements (`models.prepared`): the same values, rows, errors and events as the
statement run through SQLAlchemy's `Connection.execute`; and the column types' one-step
SQLite conversions equal to the chained ones they replace."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, StatementError

from models import audit_log, case_rows, partial_updates, sla_timers
from models.prepared import Prepared, bound, params
from models.tables import Grievance, SlaTimer
from models.types import EnumValue, UTCDateTime
from service import cases as uc
from service.engine import Engine
from tests.conftest import HANDLER, Driver
from workflow.vocab import State

_TABLES = Grievance.metadata.tables
_TIMER, _EVENT, _UNIT = _TABLES["sla_timer"], _TABLES["grievance_event"], _TABLES["unit"]


_EVENT_COLUMNS = audit_log._EVENT_COLUMNS  # every column an audit event is written with


def _event(row_id: int, number: str, seq: int, at: datetime) -> dict[str, Any]:
    """An audit event row's values (a note-like record that changes nothing)."""
    return {
        "grievance_id": row_id,
        "number": number,
        "seq": seq,
        "event": "sign",
        "from_state": "handling",
        "to_state": "handling",
        "actor": "张三",
        "role": "dispatcher",
        "at": at,
        "recorded_at": at,
        "actor_unit": None,
        "payload": {"note": "备注"},
        "prev_hash": "0" * 64,  # the audit chain's columns (0016): any values for this test
        "hash": "f" * 64,
    }


def _case_with_timers(driver: Driver) -> str:
    return driver.to("handling").number


def test_a_query_gives_the_values_sqlalchemy_gives(driver: Driver) -> None:
    number = _case_with_timers(driver)
    query = _TIMER.select().where(_TIMER.c.number == bindparam("number")).order_by(_TIMER.c.id)
    with driver.engine.db.read() as session:
        expected = [tuple(row) for row in session.connection().execute(query, {"number": number})]
        got = Prepared(query).rows(session, {"number": number})
    assert len(got) >= 3
    assert [tuple(row) for row in got] == expected
    first = got[0]
    assert first.number == number and first.started_at.tzinfo is UTC  # columns as attributes
    assert isinstance(first.state, str) and first.state == expected[0][_keys(query).index("state")]


def _keys(query: Any) -> list[str]:
    return [c.key for c in query.selected_columns]


def test_a_write_stores_what_sqlalchemy_stores(driver: Driver) -> None:
    number = _case_with_timers(driver)
    at = datetime(2026, 11, 23, 9, 30, 0, 250, tzinfo=timezone(timedelta(hours=8)))
    with driver.engine.db.transaction() as session:
        row_id, version, _ = case_rows.load_case(session, number)
        statement = insert(_EVENT).values(bound(_EVENT, _EVENT_COLUMNS))
        assert Prepared(statement).execute(session, params(_event(row_id, number, 1000, at))) == 1
        session.connection().execute(statement, params(_event(row_id, number, 1001, at)))
    with driver.engine.db.read() as session:
        raw = session.connection().exec_driver_sql(
            "SELECT seq, event, at, recorded_at, payload FROM grievance_event "
            "WHERE seq >= 1000 ORDER BY seq"
        )
        stored = [tuple(r)[1:] for r in raw]
    assert stored[0] == stored[1]  # the same text in the file (or timestamptz on PostgreSQL)
    assert version >= 1


def test_a_constraint_violation_is_sqlalchemys_integrity_error(driver: Driver) -> None:
    """The use cases turn IntegrityError into Conflict: a prepared statement must raise the
    same class, and leave the transaction to roll back as any failed statement does."""
    number = _case_with_timers(driver)
    statement = Prepared(insert(_EVENT).values(bound(_EVENT, _EVENT_COLUMNS)))
    at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    with pytest.raises(IntegrityError), driver.engine.db.transaction() as session:
        row_id, version, _ = case_rows.load_case(session, number)
        # seq `version` is taken: (number, seq) is unique
        statement.execute(session, params(_event(row_id, number, version, at)))
    with driver.engine.db.read() as session:
        assert case_rows.load_case(session, number)[1] == version  # nothing kept


def test_listeners_see_the_statements_as_sent(engine: Engine) -> None:
    seen: list[tuple[str, Any, bool]] = []

    def listen(_c: Any, _cur: Any, sql: str, parameters: Any, _ctx: Any, many: bool) -> None:
        seen.append((sql, parameters, many))

    query = Prepared(select(_UNIT.c.code).where(_UNIT.c.code == bindparam("code")))
    event.listen(engine.db.engine, "before_cursor_execute", listen)
    try:
        with engine.db.read() as session:
            assert query.first(session, {"code": "NOPE"}) is None
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", listen)
    sql = [s for s, _, _ in seen]
    assert any("FROM unit" in s for s in sql)
    ours = next(p for s, p, _ in seen if "FROM unit" in s)
    assert "NOPE" in (ours.values() if isinstance(ours, dict) else ours)


def test_bad_values_are_refused_before_the_database_sees_them(engine: Engine) -> None:
    query = Prepared(
        select(_TIMER.c.id).where(_TIMER.c.due_at < bindparam("at", type_=UTCDateTime()))
    )
    with engine.db.read() as session:
        with pytest.raises(ValueError, match="naive"):
            query.rows(session, {"at": datetime(2026, 1, 1)})  # noqa: DTZ001 - the point
        with pytest.raises(KeyError):
            query.rows(session, {})  # a parameter left out is an error, not NULL


def test_statements_that_cannot_be_prepared_are_refused_when_first_used(engine: Engine) -> None:
    expanding = Prepared(
        select(_UNIT.c.code).where(_UNIT.c.code.in_(bindparam("codes", expanding=True)))
    )
    with engine.db.read() as session, pytest.raises(ValueError, match="expanding"):
        expanding.rows(session, {"codes": ["A"]})


def test_an_insert_fills_scalar_column_defaults(driver: Driver) -> None:
    """Columns left out of an INSERT get their defaults, as through SQLAlchemy."""
    number = _case_with_timers(driver)
    with driver.engine.db.read() as session:
        rows = sla_timers.timer_rows_of(session, case_rows.load_case(session, number)[0])
    assert rows and all(row.version >= 1 and row.extended_days == 0 for row in rows)
    assert isinstance(rows[0], tuple) and SlaTimer.__tablename__ == "sla_timer"


# ----------------------------------------------------------------------------- column types
_SQLITE = sqlite.dialect()
_CHAINED_BIND = DateTime(timezone=True).dialect_impl(_SQLITE).bind_processor(_SQLITE)
_CHAINED_RESULT = DateTime(timezone=True).dialect_impl(_SQLITE).result_processor(_SQLITE, None)
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
)
_INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30), timezones=_ZONES
)


@given(_INSTANTS)
def test_sqlite_datetime_text_is_what_the_dialect_writes(value: datetime) -> None:
    column = UTCDateTime()
    fused = column.bind_processor(_SQLITE)
    assert fused is not None and _CHAINED_BIND is not None
    assert fused(value) == _CHAINED_BIND(column.process_bind_param(value, _SQLITE))


@given(_INSTANTS)
def test_sqlite_datetime_reads_back_as_the_dialect_reads(value: datetime) -> None:
    column = UTCDateTime()
    bind, result = column.bind_processor(_SQLITE), column.result_processor(_SQLITE, None)
    assert bind is not None and result is not None and _CHAINED_RESULT is not None
    text = bind(value)
    assert result(text) == column.process_result_value(_CHAINED_RESULT(text), _SQLITE) == value
    assert result(None) is None and bind(None) is None


def test_sqlite_datetime_refuses_naive_times() -> None:
    bind = UTCDateTime().bind_processor(_SQLITE)
    assert bind is not None
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_enum_values_map_both_ways_and_refuse_strangers() -> None:
    column = EnumValue(State)
    assert column.process_bind_param(State.HANDLING, _SQLITE) == "handling"
    assert column.process_bind_param("handling", _SQLITE) == "handling"
    assert column.process_result_value("handling", _SQLITE) is State.HANDLING
    with pytest.raises(ValueError, match="nonsense"):
        column.process_bind_param("nonsense", _SQLITE)
    with pytest.raises(ValueError, match="nonsense"):
        column.process_result_value("nonsense", _SQLITE)


def test_a_bad_enum_value_through_a_statement_is_a_statement_error(engine: Engine) -> None:
    query = select(Grievance.id).where(Grievance.state == "nonsense")
    with engine.db.read() as session, pytest.raises(StatementError):
        session.exec(query).all()


def test_a_computed_column_default_cannot_be_prepared() -> None:
    """Only scalar defaults are filled in: anything else would need SQLAlchemy's execution
    context, so the statement is refused instead of written without it."""
    metadata = MetaData()
    table = Table(
        "t",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("n", Integer, default=lambda: 1),
    )
    database = create_engine("sqlite://")
    metadata.create_all(database)
    statement = Prepared(insert(table).values(id=bindparam("id")))
    with database.begin() as connection, pytest.raises(ValueError, match="scalar"):
        statement.execute(connection, {"id": 1})
    database.dispose()


def _updates_of_grievance(engine: Engine, act: Any, table: str = "grievance") -> list[str]:
    seen: list[str] = []

    def listen(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        if sql.startswith(f"UPDATE {table} "):
            seen.append(sql)

    event.listen(engine.db.engine, "before_cursor_execute", listen)
    try:
        act()
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", listen)
    return seen


def test_an_action_writes_only_the_columns_it_changed(driver: Driver) -> None:
    case = driver.to("assigned")
    updates = _updates_of_grievance(
        driver.engine,
        lambda: driver.to("handling"),  # a new case: accept, assign, sign
    )
    sign = updates[-1]
    assigned = set(re.findall(r"(\w+)=", sign.split(" SET ")[1].split(" WHERE ")[0]))
    assert assigned == {
        "state", "last_event_at", "signed_at", "first_handler_unit", "version", "updated_at"
    }  # fmt: skip
    with driver.engine.db.read() as session:
        stored = case_rows.case_from_row(case_rows.get_row(session, case.number))
    assert stored == case  # the earlier case, written the same way, reads back whole


def test_past_the_cap_the_full_update_is_written(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partial_updates, "_UPDATES", {})
    monkeypatch.setattr(partial_updates, "_UPDATES_CAP", 0)
    updates = _updates_of_grievance(driver.engine, lambda: driver.to("handling"))
    assert updates and all(" description=" in sql for sql in updates)
    handling = driver.to("handling")
    with driver.engine.db.read() as session:
        assert case_rows.case_from_row(case_rows.get_row(session, handling.number)) == handling


def test_a_timer_update_writes_only_what_changed(driver: Driver) -> None:
    """Closing stops the close timer: its state, stop and durations change, its start and
    deadline do not, so they are not written again."""
    handling = driver.to("handling")
    updates = _updates_of_grievance(
        driver.engine,
        lambda: uc.close(
            driver.engine, handling.number, driver.stamp(HANDLER), result="resolved", note="ok"
        ),
        table="sla_timer",
    )
    assert updates
    for sql in updates:
        columns = set(re.findall(r"(\w+)=", sql.split(" SET ")[1].split(" WHERE ")[0]))
        assert "version" in columns and not columns & {"started_at", "due_at", "target"}
    with driver.engine.db.read() as session:
        row_id = case_rows.load_case(session, handling.number)[0]
        stored = [sla_timers.timer_from_row(t) for t in sla_timers.timer_rows_of(session, row_id)]
    assert any(t.target == "close" and t.stopped_at is not None for t in stored)
