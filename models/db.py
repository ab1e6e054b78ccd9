"""The grievance database: URL from the environment, engine set-up, transactions, migrations.

`GRIEVANCE_DATABASE_URL` names the database (default: `grievance.db`, a SQLite file in the
working directory). A new database is created and migrated to the newest schema on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session

from models.prepared import CONNECTION, driver_sql, listening

ENV_URL = "GRIEVANCE_DATABASE_URL"
MIGRATIONS = Path(__file__).parent / "migrations"
_READ_ONLY = "grievance_read_only"


def database_url() -> str:
    return os.environ.get(ENV_URL) or f"sqlite:///{Path.cwd() / 'grievance.db'}"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _set_up_sqlite(engine: Engine) -> None:
    """Real transactions on SQLite: WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE.

    pysqlite's own transaction handling starts transactions late and not for DDL; we turn it
    off and emit BEGIN ourselves (SQLAlchemy's documented recipe). Writers take the write lock
    at BEGIN, so they queue (busy timeout) instead of failing on a stale snapshot.

    For large files (the watchdog's rows are scattered over millions): a page cache of up to
    64 MiB per connection instead of 2 MiB (a sweep batch dirties a few thousand index and
    row pages; a small cache spills them to the WAL mid-transaction) and reads through a
    256 MiB memory map instead of a read() per page. Neither changes what is stored.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            "cache_size=-65536",
            "mmap_size=268435456",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        driver_sql(connection, "BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def _unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session over one connection's transaction (BEGIN IMMEDIATE on SQLite, as a use case
    writes anyway), committed at the end unless something raised.

    The transaction is the connection's, not the session's: the session joins it (and may
    nest savepoints in it), and what it holds is flushed before the commit. This costs about
    30 us less per unit of work than a session that begins and commits its own, which is a
    tenth of a short use case. The connection is known to `models.prepared` from the start
    (and whether anyone listens to it: a listener added meanwhile hears the next one).
    """
    with engine.connect() as connection, connection.begin():
        session = Session(
            bind=connection, expire_on_commit=False, join_transaction_mode="rollback_only"
        )
        session.info[CONNECTION] = (connection, listening(connection))
        try:
            yield session
            session.flush()
        finally:
            session.close()


class Database:
    """One grievance database. Create one per process; pass it to the use cases."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or database_url()
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(self.url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            _set_up_sqlite(self.engine)
        self._reader = self.engine.execution_options(**{_READ_ONLY: True})
        if migrate:
            self.migrate()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits at the end, rolls back on any error."""
        with _unit_of_work(self.engine) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (on SQLite it does not take the write lock)."""
        with _unit_of_work(self._reader) as session:
            yield session

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def migrate(self) -> bool:
        """Upgrade to the newest schema if needed; True when something was applied."""
        head = self.head_revision()
        if self.current_revision() == head:
            return False
        config = _alembic_config()
        with self.engine.begin() as connection:  # holds the write lock: one migrator at a time
            if MigrationContext.configure(connection).get_current_revision() == head:
                return False
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return True

    def dispose(self) -> None:
        self.engine.dispose()
