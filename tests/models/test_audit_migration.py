"""Migration 0016: the events stored before it are chained once, in order, and seal 1 records
when the chain began; down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from models.db import _alembic_config
from service import audit
from tests.conftest import T0, Driver
from workflow.audit_chain import GENESIS


def test_existing_events_are_chained_in_order_and_verify(driver: Driver) -> None:
    first = driver.to("closed").number
    driver.to("assigned")
    db = driver.engine.db
    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0015")
    columns = {c["name"] for c in sa_inspect(db.engine).get_columns("grievance_event")}
    assert "hash" not in columns and "audit_seal" not in sa_inspect(db.engine).get_table_names()
    assert db.migrate() is True  # 0016 again, over the 6 events stored meanwhile
    with db.read() as session:
        rows = session.exec(  # type: ignore[call-overload]
            text("SELECT seq, prev_hash, hash FROM grievance_event WHERE number = :n ORDER BY seq"),
            params={"n": first},
        ).all()
        seal = session.exec(  # type: ignore[call-overload]
            text("SELECT id, events, note, through_event_id FROM audit_seal")
        ).all()
    assert rows[0][1] == GENESIS and all(rows[i][1] == rows[i - 1][2] for i in range(1, 4))
    assert len(seal) == 1 and seal[0][1] == 6
    assert seal[0][2] == "the chain began: 6 event(s) stored before migration 0016 chained"
    result = audit.verify(driver.engine, T0 + timedelta(days=1))
    assert result.findings == [] and result.checked == 2 and result.unsealed == 0
    # the append-only guard is back after the migration lifted it
    with db.engine.connect() as connection:
        try:
            connection.execute(text("UPDATE grievance_event SET actor = 'x'"))
            refused = False
        except Exception as error:  # noqa: BLE001 - any refusal by the database
            refused = "append-only" in str(error)
    assert refused
