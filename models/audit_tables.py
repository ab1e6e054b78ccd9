"""SQLModel tables of the audit chain (migration 0016): the seals that chain the grievances'
heads bureau-wide, the anchors copied out of the database's reach, and the verifications run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


def _utc(nullable: bool = True) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class AuditSeal(SQLModel, table=True):
    """One link of the bureau-wide log: the audit events with `after_event_id` < id <=
    `through_event_id`, the head (number, seq, hash) of each grievance they touched, chained to
    the seal before (`workflow.audit_chain.seal_hash`). Seal 1 is written by migration 0016:
    when the chain began."""

    __tablename__ = "audit_seal"
    id: int | None = Field(default=None, primary_key=True)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    after_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    through_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    events: int
    heads: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sealed_at: datetime = _utc(nullable=False)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditAnchor(SQLModel, table=True):
    """A head hash printed for a bureau to keep where the database admin cannot write
    (`grievance audit anchor`, the monthly bulletin)."""

    __tablename__ = "audit_anchor"
    id: int | None = Field(default=None, primary_key=True)
    seal_id: int = Field(foreign_key="audit_seal.id")
    hash: str = Field(max_length=64)
    anchored_at: datetime = _utc(nullable=False)
    anchored_by: str = Field(max_length=64)
    purpose: str = Field(max_length=100)  # "anchor", "bulletin 2026-11"...


class AuditCheck(SQLModel, table=True):
    """One `audit verify` run: what it covered and what it found. The incremental verify of
    the watchdog starts after the last clean one (`through_event_id`)."""

    __tablename__ = "audit_check"
    id: int | None = Field(default=None, primary_key=True)
    checked_at: datetime = _utc(nullable=False)
    through_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    seal_id: int | None = None
    checked: int  # grievances
    findings: int
    incremental: bool = False
