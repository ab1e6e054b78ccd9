"""Shared fixtures: a fresh database per test, actors, and a driver for the lifecycle."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from models.db import Database
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.accounts import Identity
from workflow.actor import Actor
from workflow.case import Case
from workflow.commands import Accept, parse_command
from workflow.vocab import Event, Role

# pytest imports this file as `conftest`, the test modules as `tests.conftest`: make them one
# module, or each copy has its own registry of test databases (the second copy re-created, and
# so emptied, the PostgreSQL database a fixture had just filled) and its own classes.
sys.modules.setdefault(
    "tests.conftest" if __name__ == "conftest" else "conftest", sys.modules[__name__]
)

# Monday 2026-11-23 09:00 Asia/Shanghai: a normal working day.
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

DESK = Actor("desk", Role.DISPATCHER)
HANDLER = Actor("handler-a", Role.HANDLER, "UA")
HANDLER_B = Actor("handler-b", Role.HANDLER, "UB")
SUPERVISOR = Actor("supervisor-a", Role.SUPERVISOR, "UA")
REVIEWER = Actor("reviewer", Role.REVIEWER)


TEST_DATABASE_ENV = "GRIEVANCE_TEST_DATABASE_URL"
# `GRIEVANCE_DATABASE_URL=postgresql+psycopg://... ./scripts/test` runs the suite on that
# PostgreSQL server: each test gets a database of its own there (the named database itself
# is never touched). It is taken out of the environment so no test writes to it by accident.
_SUITE_URL = os.environ.pop("GRIEVANCE_DATABASE_URL", None)
if _SUITE_URL and not os.environ.get(TEST_DATABASE_ENV):
    if make_url(_SUITE_URL).get_backend_name() == "postgresql":
        os.environ[TEST_DATABASE_ENV] = _SUITE_URL
_TEMPLATE = f"grievance_template_{os.getpid()}"  # one per pytest process
_templates: set[str] = set()  # servers on which this process made its template
_made: dict[Path, str] = {}


def _server_sql(base: str, *statements: str) -> None:
    """Run statements on the PostgreSQL server of `base` outside a transaction."""
    import psycopg

    url = make_url(base).set(drivername="postgresql", database="postgres")
    dsn = url.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)  # type: ignore[arg-type]


def _postgres_for(tmp_path: Path, base: str) -> str:
    """A database of its own for the test at `tmp_path`, copied from a migrated template."""
    if tmp_path not in _made:
        server = make_url(base).set(database="postgres").render_as_string(hide_password=False)
        if server not in _templates:
            _server_sql(base, f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")
            _server_sql(base, f"CREATE DATABASE {_TEMPLATE}")
            template_url = make_url(base).set(database=_TEMPLATE)
            Database(template_url.render_as_string(hide_password=False)).dispose()
            _templates.add(server)
        name = "t_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:16]
        _server_sql(
            base,
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
            f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}",
        )
        _made[tmp_path] = make_url(base).set(database=name).render_as_string(hide_password=False)
    return _made[tmp_path]


def database_url_for(tmp_path: Path) -> str:
    """The test's own database: SQLite in its folder, or, when GRIEVANCE_TEST_DATABASE_URL
    names a PostgreSQL server, a fresh database on it copied from a migrated template."""
    base = os.environ.get(TEST_DATABASE_ENV)
    if not base:
        return f"sqlite:///{tmp_path / 'test.db'}"
    if make_url(base).get_backend_name() != "postgresql":
        return base
    return _postgres_for(tmp_path, base)


def _drop(urls: list[str]) -> None:
    for url in urls:
        name = make_url(url).database
        _server_sql(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """A PostgreSQL database made for a test is dropped when the test ends (those of module
    fixtures, made before the test starts, when the session ends)."""
    before = set(_made)
    yield
    _drop([_made.pop(path) for path in set(_made) - before])


@pytest.fixture(autouse=True, scope="session")
def _drop_remaining_databases() -> Iterator[None]:
    yield
    _drop(list(_made.values()))
    _made.clear()
    for server in _templates:
        _server_sql(server, f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")
    _templates.clear()


PG_ENV = "GRIEVANCE_TEST_PG_URL"


def postgres_server() -> str | None:
    """The PostgreSQL server for the tests that need one whatever the suite runs on:
    GRIEVANCE_TEST_PG_URL, or the suite's own server when it runs on PostgreSQL. Without one
    those tests skip, except under CI=true, where `.ci/run` starts one: there they fail."""
    for url in (os.environ.get(PG_ENV), os.environ.get(TEST_DATABASE_ENV)):
        if url and make_url(url).get_backend_name() == "postgresql":
            return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but no PostgreSQL server: set {PG_ENV} (.ci/run does)")
    pytest.skip(f"needs PostgreSQL: set {PG_ENV} (scripts/postgres start prints one)")


@pytest.fixture
def pg_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL database of this test's own."""
    server = postgres_server()
    assert server is not None
    opened = Engine.open(_postgres_for(tmp_path / "pg", server))
    yield opened
    opened.db.dispose()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    opened = Engine.open(database_url_for(tmp_path))
    yield opened
    opened.db.dispose()


def accept_command(**overrides: Any) -> Accept:
    data: dict[str, Any] = {
        "channel": "hotline_12328",
        "ref": "R-1",
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王建国",
        "phone": "13812345678",
        "plate": "川B12345",
        "description": "货主拖欠运费3500元",
        "amount": "3500",
    }
    data.update(overrides)
    command = parse_command(Event.ACCEPT, data)
    assert isinstance(command, Accept)
    return command


@dataclass
class Driver:
    """Moves grievances through the lifecycle with explicit, increasing times."""

    engine: Engine
    now: datetime = T0
    refs: int = 0
    units_added: set[str] = field(default_factory=set)

    def stamp(self, actor: Actor, minutes: int = 10) -> Stamp:
        self.now += timedelta(minutes=minutes)
        return Stamp(actor=actor, at=self.now, recorded_at=self.now)

    def units(self, *codes: str) -> None:
        for code in codes:
            if code not in self.units_added:
                add_unit(self.engine, self.stamp(DESK, 0), code=code, name=f"单位{code}")
                self.units_added.add(code)

    def accept(self, **overrides: Any) -> Case:
        self.refs += 1
        overrides.setdefault("ref", f"R-{self.refs}")
        return uc.accept(self.engine, accept_command(**overrides), self.stamp(DESK))

    def to(self, state: str, **overrides: Any) -> Case:
        """A new grievance driven to `state` along the main path (lead unit UA)."""
        self.units("UA", "UB")
        case = self.accept(**overrides)
        n = case.number
        path: list[tuple[str, Any]] = [
            ("assigned", lambda: uc.assign(self.engine, n, self.stamp(DESK), unit="UA")),
            ("handling", lambda: uc.sign(self.engine, n, self.stamp(HANDLER))),
            (
                "closed",
                lambda: uc.close(
                    self.engine, n, self.stamp(HANDLER), result="resolved", note="done"
                ),
            ),
            (
                "revisited",
                lambda: uc.revisit(self.engine, n, self.stamp(DESK), satisfaction="satisfied"),
            ),
            (
                "reviewed",
                lambda: uc.review(
                    self.engine, n, self.stamp(REVIEWER), root_cause="rc", actions="acts"
                ),
            ),
        ]
        if state == "accepted":
            return case
        for name, step in path:
            case = step()
            if name == state:
                return case
        raise ValueError(f"no main-path state {state}")


@pytest.fixture
def driver(engine: Engine) -> Driver:
    return Driver(engine)


# The key identity stamps are signed with in the tests (`grievance serve` makes one per start);
# set for the whole session, so module-scoped fixtures and in-process flow runs see it too.
STAMP_KEY = "tests-stamp-key-not-a-secret-0123"
os.environ.setdefault("GRIEVANCE_STAMP_KEY", STAMP_KEY)
# the key the partners' callback secrets are encrypted under (service.partners)
os.environ.setdefault("GRIEVANCE_PARTNER_KEY", "tests-partner-key-not-a-secret-0123")


def account_for(engine: Engine, actor: Actor) -> Identity:
    """The account an actor of the tests signs in with (made on first use): login name the
    actor's name, role and unit the actor's."""
    from service import accounts

    identity = accounts.active_identity(engine, actor.name)
    if identity is None:
        stamp = Stamp(actor=DESK, at=T0, recorded_at=T0)
        view, _ = accounts.add_user(
            engine,
            stamp,
            name=actor.name,
            role=actor.role.value,
            unit=actor.unit,
            password="tests password 1",
        )
        identity = view.identity
    return identity


def stamp_as(
    engine: Engine,
    actor: Actor,
    target: str,
    parameters: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> str:
    """An identity stamp for `actor` on `target` as the gate would issue it."""
    from service import stamps

    identity = account_for(engine, actor)
    return stamps.issue(identity, target, at or datetime.now(UTC), parameters)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`grievance ARGS...` in-process: its exit code, standard output and standard error."""
    from cli.main import main

    code = 0
    try:
        main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for the real-browser tests: skipped without it, except in CI, which
    installs it (`.ci/run`)."""
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (Debian: apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must install it")
        pytest.skip(message)
    return found
