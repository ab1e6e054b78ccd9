"""The stored policy versions: each (name, version) with its definition and hash as first used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.tables import Grievance, PolicyVersion


def policy_versions(session: Session) -> list[PolicyVersion]:
    """Every stored policy version (a few rows: one per version ever used)."""
    query = select(PolicyVersion).order_by(col(PolicyVersion.name), col(PolicyVersion.version))
    return list(session.exec(query).all())


def policy_version(session: Session, name: str, version: int) -> PolicyVersion | None:
    query = select(PolicyVersion).where(
        col(PolicyVersion.name) == name, col(PolicyVersion.version) == version
    )
    return session.exec(query).first()


def policy_names_in_use(session: Session) -> list[str]:
    """The policy versions the grievances name ("2142@1"): one pass over the grievances,
    for the one-off backfill of a database upgraded to `policy_version`."""
    query = select(Grievance.policy).distinct().order_by(col(Grievance.policy))
    return list(session.exec(query).all())


def store_policy_version(
    session: Session,
    *,
    name: str,
    version: int,
    sha256: str,
    definition: str,
    source: str,
    at: datetime,
) -> str:
    """Store a policy version unless one of that (name, version) is stored already (also by
    a concurrent transaction); returns the hash of the one stored, for the caller to compare."""
    existing = policy_version(session, name, version)
    if existing is None:
        row = PolicyVersion(
            name=name,
            version=version,
            sha256=sha256,
            definition=definition,
            source=source[:200],
            stored_at=at,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return sha256
        except IntegrityError:  # stored meanwhile by another transaction: read that one
            existing = policy_version(session, name, version)
            if existing is None:
                raise
    return existing.sha256
