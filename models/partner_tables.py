"""SQLModel tables of the partner API: the partner systems (12328, platforms, the
mini-program), the SHA-256 of their API keys and the grievances each pushed (by its own
`ref`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


def _utc(nullable: bool = True) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class Partner(SQLModel, table=True):
    """A partner system (`grievance partner add`): its code, channel, callback URL and its
    callback signing secret, encrypted (Fernet under `GRIEVANCE_PARTNER_KEY`). Disabled,
    never deleted: its grievances name it."""

    __tablename__ = "partner"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    channel: str = Field(max_length=16)  # workflow.vocab.Channel value
    callback_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    webhook_secret: str = Field(sa_column=Column(Text, nullable=False))  # ciphertext
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=64)
    disabled_at: datetime | None = _utc()


class PartnerKey(SQLModel, table=True):
    """An API key of a partner: only its SHA-256 (the key is 256 random bits, shown once).
    A rotated key keeps working until `expires_at` (the grace period)."""

    __tablename__ = "partner_key"
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc(nullable=False)
    expires_at: datetime | None = _utc()


class PartnerIntake(SQLModel, table=True):
    """A grievance a partner pushed (or a work order of its channel it claimed by the same
    `ref`): idempotent by (partner, ref) and by (partner, Idempotency-Key); `body_hash` is the
    SHA-256 of the validated order, so the same order again is a replay and another is 409."""

    __tablename__ = "partner_intake"
    __table_args__ = (
        UniqueConstraint("partner_id", "ref"),
        UniqueConstraint("partner_id", "idempotency_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    ref: str = Field(max_length=64)
    grievance_id: int = Field(foreign_key="grievance.id", index=True)
    number: str = Field(max_length=32)
    body_hash: str = Field(max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = _utc(nullable=False)
