"""Accounts: the people who sign in at the gate. Add, list, disable and enable them, set a
password (argon2id hashes, argon2-cffi's RFC 9106 defaults), and check a login: a wrong name and
a wrong password are refused alike and take as long, five failures for a name within a minute
refuse that name for a minute, and every outcome is written to the security log."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from models.access_tables import Account
from models.tables import Unit
from service import security
from service.acting import Stamp
from service.engine import Engine
from workflow.accounts import (
    AccountRole,
    Identity,
    check_password,
    check_unit,
    display_name,
    login_name,
)
from workflow.actor import Actor
from workflow.errors import Duplicate, GrievanceError, InvalidInput, NotFound, PermissionDenied
from workflow.timeutil import iso
from workflow.vocab import Role

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so that a wrong name takes as long as a
    wrong password (no telling which names exist from the time an answer takes)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


class LoginRefused(GrievanceError):
    """A login that did not succeed; `throttled` when the name is refused for a while."""

    def __init__(self, throttled: bool = False) -> None:
        self.throttled = throttled
        super().__init__(
            "too many failed logins: try again in a minute"
            if throttled
            else "wrong login name or password (or the account is disabled)"
        )


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as listed: never its hash."""

    name: str
    display_name: str
    role: AccountRole
    unit: str | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    last_login_at: datetime | None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def identity(self) -> Identity:
        return Identity(self.name, self.display_name, self.role, self.unit)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role.value,
            "unit": self.unit,
            "disabled": self.disabled,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "disabled_at": iso(self.disabled_at) if self.disabled_at else None,
            "last_login_at": iso(self.last_login_at) if self.last_login_at else None,
        }


def _view(row: Account) -> AccountView:
    return AccountView(
        name=row.name,
        display_name=row.display_name,
        role=AccountRole(row.role),
        unit=row.unit,
        created_at=row.created_at,
        created_by=row.created_by,
        disabled_at=row.disabled_at,
        last_login_at=row.last_login_at,
    )


def _role(text: str) -> AccountRole:
    try:
        return AccountRole(text)
    except ValueError:
        known = ", ".join(r.value for r in AccountRole)
        raise InvalidInput(f"unknown role {text[:40]!r}: use one of {known}") from None


def _row(session: Session, name: str) -> Account:
    row = session.exec(select(Account).where(col(Account.name) == login_name(name))).first()
    if row is None:
        raise NotFound(f"no account {name[:64]!r}")
    return row


def generate_password() -> str:
    """A strong password for a new account (24 URL-safe characters, 144 bits)."""
    return secrets.token_urlsafe(18)


def add_user(
    engine: Engine,
    stamp: Stamp,
    *,
    name: str,
    role: str,
    unit: str | None = None,
    display: str | None = None,
    password: str | None = None,
) -> tuple[AccountView, str | None]:
    """Create an account. Without a password a strong one is generated and returned (once:
    only its hash is stored)."""
    name = login_name(name)
    account_role = _role(role)
    check_unit(account_role, unit)
    shown = display_name(display, name)
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password(password, name)
    at = stamp.recorded_at
    with engine.db.transaction() as session:
        if (
            unit is not None
            and session.exec(select(Unit.id).where(col(Unit.code) == unit)).first() is None
        ):
            raise NotFound(f"unknown unit {unit[:40]!r} (grievance unit list)")
        if session.exec(select(Account.id).where(col(Account.name) == name)).first():
            raise Duplicate(f"account {name!r} already exists")
        row = Account(
            name=name,
            display_name=shown,
            role=account_role.value,
            unit=unit,
            password_hash=_HASHER.hash(password),
            created_at=at,
            created_by=stamp.actor.name,
            password_changed_at=at,
        )
        session.add(row)
        security.record(
            session,
            "user_added",
            at,
            account=name,
            by=stamp.actor.name,
            role=account_role.value,
            unit=unit,
        )
        session.flush()
        return _view(row), generated


def list_users(engine: Engine) -> list[AccountView]:
    with engine.db.read() as session:
        return [_view(r) for r in session.exec(select(Account).order_by(col(Account.name)))]


def get_user(engine: Engine, name: str) -> AccountView:
    with engine.db.read() as session:
        return _view(_row(session, name))


def set_disabled(
    engine: Engine, stamp: Stamp, name: str, disabled: bool
) -> tuple[AccountView, bool]:
    """Disable (or enable again) an account; whether anything changed. A disabled account
    cannot log in, and its open sessions and signed stamps stop working."""
    with engine.db.transaction() as session:
        row = _row(session, name)
        if (row.disabled_at is not None) == disabled:
            return _view(row), False
        row.disabled_at = stamp.recorded_at if disabled else None
        session.add(row)
        kind = "user_disabled" if disabled else "user_enabled"
        security.record(session, kind, stamp.recorded_at, account=row.name, by=stamp.actor.name)
        session.flush()
        return _view(row), True


def set_password(engine: Engine, stamp: Stamp, name: str, password: str) -> AccountView:
    with engine.db.transaction() as session:
        row = _row(session, name)
        check_password(password, row.name)
        row.password_hash = _HASHER.hash(password)
        row.password_changed_at = stamp.recorded_at
        session.add(row)
        security.record(
            session, "password_changed", stamp.recorded_at, account=row.name, by=stamp.actor.name
        )
        session.flush()
        return _view(row)


def authenticate(
    engine: Engine, name: str, password: str, at: datetime, remote: str | None = None
) -> Identity:
    """The identity behind a name and password, or `LoginRefused`. Each attempt is logged."""
    try:
        folded = login_name(name)
    except InvalidInput:
        folded = None
    key = folded or name.strip().lower()[:64]
    with engine.db.transaction() as session:  # the refusals are logged too: no raise inside
        if security.recent_failures(session, key, at) >= security.THROTTLE_FAILURES:
            security.record(session, "login_throttled", at, account=key, remote=remote)
            refused: LoginRefused | None = LoginRefused(throttled=True)
        else:
            row = None
            if folded is not None:
                row = session.exec(select(Account).where(col(Account.name) == folded)).first()
            if not _verify(row, password) or row is None or row.disabled_at is not None:
                why = "unknown" if row is None else "disabled" if row.disabled_at else "password"
                security.record(session, "login_failed", at, account=key, remote=remote, why=why)
                refused = LoginRefused()
            else:
                refused = None
                if _HASHER.check_needs_rehash(row.password_hash):
                    row.password_hash = _HASHER.hash(password)
                row.last_login_at = at
                session.add(row)
                security.record(session, "login", at, account=row.name, remote=remote)
                identity = _view(row).identity
    if refused is not None:
        raise refused
    return identity


def _verify(row: Account | None, password: str) -> bool:
    try:
        return (
            _HASHER.verify(row.password_hash if row else _dummy_hash(), password)
            and row is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def active_identity(engine: Engine, name: str) -> Identity | None:
    """The identity of an enabled account (None: unknown or disabled)."""
    with engine.db.read() as session:
        row = session.exec(select(Account).where(col(Account.name) == name)).first()
        return None if row is None or row.disabled_at is not None else _view(row).identity


def as_account(engine: Engine, actor: Actor) -> Actor:
    """The command line's actor: as given, unless an account of that name exists; then its
    role and unit hold, and a disabled account, or another role or unit typed, is refused.
    Analyst and admin accounts do not act on grievances: such a name keeps the role given."""
    try:
        name = login_name(actor.name)
    except InvalidInput:
        return actor  # not a login name (e.g. 张受理): no account can have it
    with engine.db.read() as session:
        row = session.exec(select(Account).where(col(Account.name) == name)).first()
    if row is None:
        return actor
    if row.disabled_at is not None:
        raise PermissionDenied(f"account {name!r} is disabled")
    acting = AccountRole(row.role).acting
    if acting is None:
        return actor
    if (actor.role, actor.unit) not in ((acting, row.unit), (Role.DISPATCHER, None)):
        shown = acting.value + (f"@{row.unit}" if row.unit else "")
        raise PermissionDenied(
            f"{name} has an account as {shown}: act with that role and unit (or none given)"
        )
    return Actor(name=name, role=acting, unit=row.unit)


SSO_HASH = "!sso"  # the password of an account made by single sign-on: none matches it


def sso_login(
    engine: Engine,
    *,
    name: str,
    display: str,
    role: AccountRole,
    unit: str | None,
    at: datetime,
    remote: str | None = None,
) -> Identity:
    """The identity of a person the identity provider vouched for: their account made on the
    first sign-on, its role and unit kept as the provider says (it is authoritative); a
    disabled account stays refused. Logged as a login `via` sso."""
    folded = login_name(name)
    if role not in (AccountRole.HANDLER, AccountRole.SUPERVISOR):
        unit = None  # the others work for the bureau
    check_unit(role, unit)
    shown = display_name(display[:50] if display else None, folded)
    with engine.db.transaction() as session:
        if (
            unit is not None
            and session.exec(select(Unit.id).where(col(Unit.code) == unit)).first() is None
        ):
            raise InvalidInput(f"the identity provider's unit {unit[:40]!r} is not a unit here")
        row = session.exec(select(Account).where(col(Account.name) == folded)).first()
        if row is not None and row.disabled_at is not None:
            refused = True
        else:
            refused = False
            if row is None:
                row = Account(
                    name=folded,
                    display_name=shown,
                    role=role.value,
                    unit=unit,
                    password_hash=SSO_HASH,
                    created_at=at,
                    created_by="sso",
                    password_changed_at=at,
                )
            row.display_name, row.role, row.unit, row.last_login_at = shown, role.value, unit, at
            session.add(row)
        security.record(
            session,
            "login_failed" if refused else "login",
            at,
            account=folded,
            remote=remote,
            via="sso",
            role=role.value,
            unit=unit,
            **({"why": "disabled"} if refused else {}),
        )
    if refused:
        raise LoginRefused()
    return Identity(folded, shown, role, unit)
