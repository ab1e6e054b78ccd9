"""Sessions at the gate: a login opens one (a random token for the cookie, its SHA-256 kept),
every request resolves it to the identity behind it, logout ends it. A session ends by itself
after 8 hours without a request, and at once when its account is disabled."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import col, select

from models.access_tables import Account, AccountSession
from service import security
from service.engine import Engine
from workflow.accounts import AccountRole, Identity

IDLE = timedelta(hours=8)
# last_seen_at is written at most this often per session: the UI polls several times a second
TOUCH_EVERY = timedelta(minutes=1)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, identity: Identity, at: datetime, remote: str | None) -> str:
    """A new session for a person who just logged in; the token to put in their cookie."""
    token = secrets.token_urlsafe(32)
    with engine.db.transaction() as session:
        session.add(
            AccountSession(
                id=_key(token),
                account=identity.name,
                created_at=at,
                last_seen_at=at,
                remote=(remote or None) and remote[:64],
            )
        )
    return token


def resolve(engine: Engine, token: str, at: datetime) -> Identity | None:
    """The identity behind a session token, or None (unknown, ended, idle for 8 h, or its
    account disabled). Marks the session seen."""
    key = _key(token)
    statement = (
        select(AccountSession, Account)
        .join(Account, col(Account.name) == col(AccountSession.account))
        .where(col(AccountSession.id) == key)
    )
    with engine.db.read() as session:
        found = session.exec(statement).first()
    if found is None:
        return None
    row, account = found
    if row.ended_at is not None or account.disabled_at is not None or at - row.last_seen_at > IDLE:
        return None
    if at - row.last_seen_at >= TOUCH_EVERY:
        with engine.db.transaction() as session:
            stored = session.get(AccountSession, key)
            if stored is not None and stored.last_seen_at < at:
                stored.last_seen_at = at
                session.add(stored)
    return Identity(account.name, account.display_name, AccountRole(account.role), account.unit)


def end_session(engine: Engine, token: str, at: datetime, remote: str | None = None) -> bool:
    """Log out: the session ends now (whether there was one to end)."""
    with engine.db.transaction() as session:
        stored = session.get(AccountSession, _key(token))
        if stored is None or stored.ended_at is not None:
            return False
        stored.ended_at = at
        session.add(stored)
        security.record(session, "logout", at, account=stored.account, remote=remote)
        return True
