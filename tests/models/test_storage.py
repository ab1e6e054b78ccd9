"""Storage: migrations, zones kept on SQLite, enums stored by value, an append-only audit log."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from models import case_rows
from models.db import Database
from service.engine import Engine
from tests.conftest import TEST_DATABASE_ENV, Driver


def test_new_database_is_created_and_migrated_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "fresh.db"
    db = Database(f"sqlite:///{path}")
    assert path.exists()
    assert db.current_revision() == Database.head_revision()
    assert db.migrate() is False  # already current: nothing to do


def test_environment_variable_names_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", url)
    assert Database().url == url


def test_the_migrations_are_one_chain_and_0009_goes_down_and_up(tmp_path: Path) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from models.db import _alembic_config

    config = _alembic_config()
    chain = [
        (r.revision, r.down_revision) for r in ScriptDirectory.from_config(config).walk_revisions()
    ]
    last = len(chain)
    assert chain == [(f"{i:04d}", f"{i - 1:04d}" if i > 1 else None) for i in range(last, 0, -1)]
    assert Database.head_revision() == f"{last:04d}" and last >= 9
    db = Database(f"sqlite:///{tmp_path / 'chain.db'}")

    def tables() -> set[str]:
        return set(sa_inspect(db.engine).get_table_names())

    assert "policy_version" in tables()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")  # through every later revision too
    assert db.current_revision() == "0008" and "policy_version" not in tables()
    assert db.migrate() is True and "policy_version" in tables()


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_times_come_back_in_utc_with_their_zone(driver: Driver) -> None:
    case = driver.accept()
    with driver.engine.db.read() as session:
        row = case_rows.get_row(session, case.number)
    assert row.accepted_at == case.accepted_at
    assert row.accepted_at.tzinfo is not None and row.accepted_at.utcoffset().total_seconds() == 0


def test_naive_times_are_refused_by_the_column(driver: Driver) -> None:
    case = driver.accept()
    with pytest.raises(Exception, match="naive"), driver.engine.db.transaction() as session:
        row = case_rows.get_row(session, case.number)
        row.updated_at = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
        session.flush()


def test_enums_are_stored_by_value(driver: Driver) -> None:
    driver.to("assigned")
    with driver.engine.db.read() as session:
        state, channel = session.exec(text("SELECT state, channel FROM grievance")).one()
        event = session.exec(text("SELECT event FROM grievance_event ORDER BY id DESC")).scalar()
    assert (state, channel, event) == ("assigned", "hotline_12328", "assign")


def test_audit_log_is_append_only(driver: Driver) -> None:
    driver.accept()
    for statement in (
        "UPDATE grievance_event SET actor = 'mallory'",
        "DELETE FROM grievance_event",
    ):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            driver.engine.db.transaction() as session,
        ):
            session.exec(text(statement))
    with driver.engine.db.read() as session:
        assert session.exec(text("SELECT count(*) FROM grievance_event")).scalar() == 1


def test_numbers_follow_the_acceptance_day(driver: Driver) -> None:
    first, second = driver.accept(), driver.accept()
    assert first.number == "20261123-0001" and second.number == "20261123-0002"
    driver.now = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 00:30 on the 25th in Shanghai
    assert driver.accept().number == "20261125-0001"


def test_the_suite_runs_on_the_database_it_was_asked_for(engine: Engine, tmp_path: Path) -> None:
    """With GRIEVANCE_TEST_DATABASE_URL (or GRIEVANCE_DATABASE_URL) on PostgreSQL, each test
    has a database of its own there, already migrated; otherwise a SQLite file of its own."""
    asked = os.environ.get(TEST_DATABASE_ENV)
    backend = engine.db.engine.dialect.name
    if asked and make_url(asked).get_backend_name() == "postgresql":
        assert backend == "postgresql"
        assert make_url(engine.db.url).database != make_url(asked).database
        assert engine.db.current_revision() == Database.head_revision()
    elif not asked:
        assert backend == "sqlite" and str(tmp_path) in engine.db.url


def test_a_unit_sees_the_grievances_it_co_handles_and_no_look_alikes(driver: Driver) -> None:
    """Co-handling units are matched in a JSON list with LIKE, where '_' is a wildcard: a
    unit `U_1` must not get the rows of `UX1` (they would take places in its page)."""
    from service import cases as uc
    from tests.conftest import DESK

    driver.units("UA", "U_1", "UX1")
    mine = driver.accept()
    uc.assign(driver.engine, mine.number, driver.stamp(DESK), unit="UA", co_units=["U_1"])
    other = driver.accept()
    uc.assign(driver.engine, other.number, driver.stamp(DESK), unit="UA", co_units=["UX1"])
    with driver.engine.db.read() as session:
        rows = case_rows.list_rows(session, visible_to_unit="U_1", limit=10)
    assert [row.number for row in rows] == [mine.number]
