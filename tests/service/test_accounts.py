"""Accounts: adding, listing, disabling, passwords, and the login check with its throttle and
security log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service import accounts, security
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from tests.conftest import Driver
from workflow.accounts import AccountRole, Identity
from workflow.actor import Actor
from workflow.errors import Duplicate, InvalidInput, NotFound
from workflow.timeutil import parse_instant as sh
from workflow.vocab import Role

PASSWORD = "correct horse 9"
T0 = sh("2026-12-07T09:00")


def _stamp(minutes: int = 0) -> Stamp:
    at = T0 + timedelta(minutes=minutes)
    return Stamp(actor=Actor("ops", Role.DISPATCHER), at=at, recorded_at=at)


@pytest.fixture
def with_unit(engine: Engine) -> Engine:
    add_unit(engine, _stamp(), code="ROAD", name="道路运输管理处")
    return engine


def _add(engine: Engine, name: str = "li", **kw: object) -> accounts.AccountView:
    args: dict[str, object] = {"role": "handler", "unit": "ROAD", "password": PASSWORD} | kw
    return accounts.add_user(engine, _stamp(), name=name, **args)[0]  # type: ignore[arg-type]


def test_an_account_keeps_only_an_argon2_hash(with_unit: Engine) -> None:
    view = _add(with_unit, "Li.Ming", display="李明")
    assert (view.name, view.display_name, view.role, view.unit) == (
        "li.ming",
        "李明",
        AccountRole.HANDLER,
        "ROAD",
    )
    from sqlmodel import select

    from models.access_tables import Account

    with with_unit.db.read() as session:
        row = session.exec(select(Account)).one()
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


def test_without_a_password_a_strong_one_is_generated_once(with_unit: Engine) -> None:
    view, generated = accounts.add_user(with_unit, _stamp(), name="zhang", role="dispatcher")
    assert generated is not None and len(generated) >= 20
    identity = accounts.authenticate(with_unit, "zhang", generated, T0)
    assert identity == Identity("zhang", "zhang", AccountRole.DISPATCHER, None)
    assert view.as_dict()["role"] == "dispatcher" and "password" not in view.as_dict()


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"role": "handler", "unit": None}, InvalidInput, "belongs to a unit"),
        ({"role": "analyst", "unit": "ROAD"}, InvalidInput, "work for the bureau"),
        ({"role": "handler", "unit": "NOPE"}, NotFound, "unknown unit"),
        ({"role": "boss", "unit": None}, InvalidInput, "unknown role"),
        ({"password": "short"}, InvalidInput, "10-256 characters"),
        ({"password": "aaaaaaaaaaaa"}, InvalidInput, "too easy"),
        ({"name": "has space"}, InvalidInput, "login name"),
    ],
)
def test_bad_accounts_are_refused_and_nothing_is_written(
    with_unit: Engine, kw: dict[str, object], error: type[Exception], message: str
) -> None:
    name = str(kw.pop("name", "wang"))
    with pytest.raises(error, match=message):
        _add(with_unit, name, **kw)
    assert accounts.list_users(with_unit) == []
    assert security.listing(with_unit) == []


def test_a_login_name_is_taken_once_whatever_its_case(with_unit: Engine) -> None:
    _add(with_unit, "li")
    with pytest.raises(Duplicate):
        _add(with_unit, "LI")


def test_login_checks_the_password_and_refuses_alike(with_unit: Engine) -> None:
    _add(with_unit, "li")
    identity = accounts.authenticate(with_unit, " LI ", PASSWORD, T0, remote="127.0.0.1")
    assert identity.actor == Actor("li", Role.HANDLER, "ROAD")
    refusals = []
    for name, password in (("li", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD)):
        with pytest.raises(accounts.LoginRefused) as refused:
            accounts.authenticate(with_unit, name, password, T0)
        refusals.append(str(refused.value))
    assert len(set(refusals)) == 1  # no telling a wrong name from a wrong password
    log = security.listing(with_unit)
    assert [e.kind for e in log][:4] == ["login_failed", "login_failed", "login_failed", "login"]
    assert accounts.get_user(with_unit, "li").last_login_at == T0


def test_five_failures_within_a_minute_refuse_the_name_for_a_minute(with_unit: Engine) -> None:
    _add(with_unit, "li")
    for second in range(5):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(with_unit, "li", "wrong guess 1", T0 + timedelta(seconds=second))
    with pytest.raises(accounts.LoginRefused) as refused:
        accounts.authenticate(with_unit, "li", PASSWORD, T0 + timedelta(seconds=10))
    assert refused.value.throttled
    # another name is not affected
    _add(with_unit, "wang")
    accounts.authenticate(with_unit, "wang", PASSWORD, T0 + timedelta(seconds=10))
    # a minute after the failures the right password works again
    assert accounts.authenticate(with_unit, "li", PASSWORD, T0 + timedelta(seconds=65)).name == "li"
    kinds = [e.kind for e in security.listing(with_unit, account="li")]
    assert kinds.count("login_failed") == 5 and kinds.count("login_throttled") == 1


def test_a_disabled_account_cannot_log_in_until_enabled(with_unit: Engine) -> None:
    _add(with_unit, "li")
    view, changed = accounts.set_disabled(with_unit, _stamp(1), "li", True)
    assert changed and view.disabled
    assert accounts.set_disabled(with_unit, _stamp(2), "li", True)[1] is False
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(with_unit, "li", PASSWORD, T0)
    assert accounts.active_identity(with_unit, "li") is None
    accounts.set_disabled(with_unit, _stamp(3), "li", False)
    assert accounts.active_identity(with_unit, "li") is not None
    detail = security.listing(with_unit, account="li")[-2]
    assert (detail.kind, detail.by) == ("user_disabled", "ops")


def test_a_new_password_replaces_the_old(with_unit: Engine) -> None:
    _add(with_unit, "li")
    accounts.set_password(with_unit, _stamp(1), "li", "another secret 7")
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(with_unit, "li", PASSWORD, T0)
    accounts.authenticate(with_unit, "li", "another secret 7", T0)


def test_the_security_log_is_append_only(with_unit: Engine) -> None:
    _add(with_unit, "li")
    from sqlalchemy import text

    for statement in ("UPDATE security_event SET kind = 'x'", "DELETE FROM security_event"):
        with pytest.raises(Exception, match="append-only"), with_unit.db.transaction() as s:
            s.execute(text(statement))


def test_analysts_and_admins_do_not_act_on_grievances(driver: Driver) -> None:
    assert Identity("a", "a", AccountRole.ANALYST).actor is None
    assert Identity("a", "a", AccountRole.ADMIN).actor is None
    assert Identity("s", "s", AccountRole.SUPERVISOR, "ROAD").actor == Actor(
        "s", Role.SUPERVISOR, "ROAD"
    )
