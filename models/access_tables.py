"""SQLModel tables of access: accounts (who signs in at the gate), their sessions, the
append-only security log, the identity stamps runs have used, and the personal numbers kept
out of Prefect behind references."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


def _utc(nullable: bool = True, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Account(SQLModel, table=True):
    """A person who signs in at the gate (`grievance user add`): login name, role, unit and
    the argon2 hash of their password. Disabled, never deleted: the audit log names them."""

    __tablename__ = "account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)  # the login name, lower case
    display_name: str = Field(max_length=50)
    role: str = Field(max_length=16)  # workflow.accounts.AccountRole
    unit: str | None = Field(default=None, max_length=32)
    password_hash: str = Field(max_length=200)
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=64)
    password_changed_at: datetime = _utc(nullable=False)
    disabled_at: datetime | None = _utc()
    last_login_at: datetime | None = _utc()


class SecurityEvent(SQLModel, table=True):
    """The security log: logins, refusals and changes to accounts, appended only (`kind` as in
    `service.security.KINDS`)."""

    __tablename__ = "security_event"
    __table_args__ = (Index(None, "account", "kind", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(nullable=False, index=True)
    kind: str = Field(max_length=32)
    account: str | None = Field(default=None, max_length=64)  # whom it is about
    by: str | None = Field(default=None, max_length=64)  # who did it (None: the person)
    remote: str | None = Field(default=None, max_length=64)  # the client's address
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # the grievance it is about (a reveal, a file read), for `grievance show` (0020)
    number: str | None = Field(default=None, max_length=32, index=True)


class AccountSession(SQLModel, table=True):
    """A signed-in browser at the gate: the cookie carries a random token, this row its SHA-256
    (a stolen database yields no usable cookie). Ended by logout, 8 h idle, or the account's
    disabling."""

    __tablename__ = "account_session"
    id: str = Field(max_length=64, primary_key=True)  # sha256 hex of the token
    account: str = Field(max_length=64, index=True)
    created_at: datetime = _utc(nullable=False)
    last_seen_at: datetime = _utc(nullable=False)
    ended_at: datetime | None = _utc()
    remote: str | None = Field(default=None, max_length=64)


class UsedStamp(SQLModel, table=True):
    """An identity stamp a run has acted on (`service.stamps`): each is good for one run (and,
    for a case run, one of its inputs), so a stamp copied from one run fails on another."""

    __tablename__ = "used_stamp"
    nonce: str = Field(max_length=64, primary_key=True)
    run_id: str = Field(max_length=64)
    use: str = Field(max_length=128)  # the case run's pause key ("" for an action run)
    account: str = Field(max_length=64)
    used_at: datetime = _utc(nullable=False)


class PersonalRef(SQLModel, table=True):
    """A phone, plate or ID number typed in a form, kept here while Prefect stores only the
    reference (`pii:` and 12 letters) that the gate put in its place (`service.personal_refs`)."""

    __tablename__ = "personal_ref"
    ref: str = Field(max_length=16, primary_key=True)
    value: str = Field(max_length=64)
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=64)
