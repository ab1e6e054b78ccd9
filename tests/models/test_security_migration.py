"""Migration 0020: the security events about a grievance (reveals, file reads) logged before
it get their number column filled, the append-only guard lifted for that UPDATE only; down and
up again on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from models.db import _alembic_config
from service import disclosure, security
from tests.conftest import DESK, Driver


def _refused(driver: Driver, statement: str) -> bool:
    with driver.engine.db.engine.connect() as connection:
        try:
            connection.execute(text(statement))
        except Exception as error:  # noqa: BLE001 - any refusal by the database
            return "append-only" in str(error)
    return False


def test_reveals_logged_before_it_are_found_by_number_after_it(driver: Driver) -> None:
    number = driver.accept().number
    other = driver.accept(ref="SEC-2").number
    db = driver.engine.db
    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0019")
    assert "number" not in {c["name"] for c in sa_inspect(db.engine).get_columns("security_event")}
    with db.engine.begin() as connection:  # a reveal as 0019's code logged it
        connection.execute(
            text(
                "INSERT INTO security_event (at, kind, account, by, detail) VALUES"
                " (:at, 'reveal', 'zhang', 'zhang', :detail)"
            ),
            {"at": driver.stamp(DESK).at, "detail": f'{{"number": "{number}", "why": "回访"}}'},
        )
    assert _refused(driver, "UPDATE security_event SET kind = 'x'")  # the down kept the guard
    assert db.migrate() is True
    disclosure.reveal(driver.engine, driver.stamp(DESK, 20), other, "核实")
    with db.read() as session:
        before = security.about_grievance(session, number)
        after = security.about_grievance(session, other)
    assert [(e.kind, e.detail["why"]) for e in before] == [("reveal", "回访")]
    assert [(e.kind, e.detail["why"]) for e in after] == [("reveal", "核实")]
    assert _refused(driver, "UPDATE security_event SET kind = 'x'")  # the guard is back
    assert _refused(driver, "DELETE FROM security_event")
