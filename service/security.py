"""The security log: every login, refused login and change to an account, one appended row
each (`security_event`, which refuses UPDATE and DELETE), also written to the
`grievance.security` logger; and the count of recent failures that throttles a login name."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.access_tables import SecurityEvent
from service.engine import Engine
from workflow.timeutil import iso

LOG = logging.getLogger("grievance.security")

KINDS = (
    "login",  # a password login that succeeded
    "login_failed",  # wrong name or password, or a disabled account
    "login_throttled",  # refused without checking: too many failures for the name
    "logout",
    "refused",  # a request the gate refused (no session, a role or unit rule)
    "user_added",
    "user_disabled",
    "user_enabled",
    "password_changed",
    "reveal",  # a driver's number shown in full (service.disclosure)
    "attachment_read",  # an evidence file downloaded at the gate (service.attachments)
    "partner_added",  # a partner system and its first API key (service.partners)
    "partner_rotated",  # a partner's new API key; the old one ends after the grace period
    "partner_disabled",
)

# the kinds about one grievance (their `number` detail is also a column, for `grievance show`)
ABOUT_A_GRIEVANCE = ("reveal", "attachment_read")

# Five failed logins for one name within a minute: refused for a minute.
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=1)


def record(
    session: Session,
    kind: str,
    at: datetime,
    *,
    account: str | None = None,
    by: str | None = None,
    remote: str | None = None,
    **detail: Any,
) -> None:
    """Append one security event (in the caller's transaction) and log it."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None
    number = detail.get("number") if kind in ABOUT_A_GRIEVANCE else None
    session.add(
        SecurityEvent(
            at=at, kind=kind, account=account, by=by, remote=remote, detail=text, number=number
        )
    )
    LOG.info(
        "%s account=%s by=%s remote=%s %s",
        kind,
        account or "-",
        by or "-",
        remote or "-",
        text or "",
    )


def recent_failures(session: Session, account: str, at: datetime) -> int:
    """Failed logins for this name within the throttle window before `at`."""
    statement = select(func.count()).where(
        col(SecurityEvent.account) == account,
        col(SecurityEvent.kind) == "login_failed",
        col(SecurityEvent.at) > at - THROTTLE_WINDOW,
        col(SecurityEvent.at) <= at,
    )
    return int(session.exec(statement).one())


@dataclass(frozen=True, slots=True)
class Logged:
    """One row of the security log, as listed."""

    at: str
    kind: str
    account: str | None
    by: str | None
    remote: str | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": self.kind,
            "account": self.account,
            "by": self.by,
            "remote": self.remote,
            "detail": self.detail,
        }


def _logged(row: SecurityEvent) -> Logged:
    return Logged(
        at=iso(row.at) or "",
        kind=row.kind,
        account=row.account,
        by=row.by,
        remote=row.remote,
        detail=json.loads(row.detail) if row.detail else {},
    )


def listing(engine: Engine, *, account: str | None = None, limit: int = 100) -> list[Logged]:
    """The newest security events first (of one account, if given)."""
    statement = select(SecurityEvent).order_by(col(SecurityEvent.id).desc()).limit(limit)
    if account is not None:
        statement = statement.where(col(SecurityEvent.account) == account)
    with engine.db.read() as session:
        return [_logged(row) for row in session.exec(statement).all()]


def about_grievance(session: Session, number: str) -> list[Logged]:
    """Who saw grievance `number`'s driver's number in full, or downloaded its evidence files
    (`ABOUT_A_GRIEVANCE`), oldest first."""
    statement = (
        select(SecurityEvent)
        .where(
            col(SecurityEvent.number) == number,
            col(SecurityEvent.kind).in_(ABOUT_A_GRIEVANCE),
        )
        .order_by(col(SecurityEvent.id))
    )
    return [_logged(row) for row in session.exec(statement).all()]
