"""SQLModel tables: units, grievances (the current state), and the append-only audit log.

A grievance row is a projection: replaying its audit events through `workflow.case.evolve`
gives the same values (tests check it). Columns mirror `workflow.case.Case` field by field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.types import EnumValue, UTCDateTime
from workflow.timers import TimerState
from workflow.vocab import (
    Category,
    Channel,
    CloseResult,
    Event,
    RequestType,
    Role,
    Satisfaction,
    State,
)

# Named constraints, so migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _utc(nullable: bool = True, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _enum(enum: type, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(EnumValue(enum), nullable=nullable, index=index))


class Unit(SQLModel, table=True):
    """A handling unit (承办单位) that grievances are assigned to."""

    __tablename__ = "unit"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=50)
    # Apprise URLs: the unit's handlers (yellow and red cards) and its supervisor.
    notify: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    supervisor_notify: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class Grievance(SQLModel, table=True):
    """The current state of one grievance (诉求工单)."""

    __tablename__ = "grievance"
    __table_args__ = (
        UniqueConstraint("channel", "ref"),
        Index(None, "state", "lead_unit"),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    version: int = Field(default=1)
    state: State = _enum(State, index=True)
    policy: str = Field(max_length=64)  # the policy version it was accepted under, "2142@1"
    channel: Channel = _enum(Channel)
    ref: str = Field(max_length=64, index=True)  # found by reference alone (0018)
    type: RequestType = _enum(RequestType)
    category: Category = _enum(Category)
    name: str = Field(max_length=50)
    phone: str = Field(max_length=32, index=True)  # `grievance find`, the duplicate hint
    plate: str | None = Field(default=None, max_length=16, index=True)
    description: str = Field(sa_column=Column(Text, nullable=False))
    amount_fen: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    urgent: bool = Field(default=False)
    respondent: str | None = Field(default=None, max_length=100, index=True)
    accepted_at: datetime = _utc(nullable=False, index=True)
    last_event_at: datetime = _utc(nullable=False)
    lead_unit: str | None = Field(default=None, max_length=32)
    co_units: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_handler_unit: str | None = Field(default=None, max_length=32)
    assigned_at: datetime | None = _utc()
    signed_at: datetime | None = _utc()
    return_count: int = 0
    reassign_count: int = 0
    feedback_count: int = 0
    last_feedback_at: datetime | None = _utc()
    pending_extension_days: int | None = None
    extensions_granted: int = 0
    extension_days: int = 0
    suspension_count: int = 0
    result: CloseResult | None = _enum(CloseResult, nullable=True)
    closed_at: datetime | None = _utc()
    recovered_fen: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    satisfaction: Satisfaction | None = _enum(Satisfaction, nullable=True)
    revisited_at: datetime | None = _utc()
    cycle: int = 1
    reviewed_at: datetime | None = _utc()
    merged_into: str | None = Field(default=None, max_length=32)
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class GrievanceEvent(SQLModel, table=True):
    """One audited event (审计日志). Append-only: the database refuses updates and deletes."""

    __tablename__ = "grievance_event"
    __table_args__ = (
        UniqueConstraint("grievance_id", "seq"),
        # the markings of typical cases (典型案例) by time, for the monthly bulletin (0018):
        # a few rows among millions, so a partial index
        Index(
            "ix_grievance_event_typical",
            "at",
            sqlite_where=text("event = 'typical'"),
            postgresql_where=text("event = 'typical'"),
        ),
        # the returns and reassignments by time, for the digests' 首办负责 figures (0019)
        Index(
            "ix_grievance_event_handoffs",
            "at",
            sqlite_where=text("event IN ('return', 'reassign')"),
            postgresql_where=text("event IN ('return', 'reassign')"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    grievance_id: int = Field(foreign_key="grievance.id", index=True)
    number: str = Field(max_length=32, index=True)
    seq: int  # equals the grievance version this event produced
    event: Event = _enum(Event)
    from_state: State = _enum(State)
    to_state: State = _enum(State)
    actor: str = Field(max_length=50)
    role: Role = _enum(Role)
    actor_unit: str | None = Field(default=None, max_length=32)
    at: datetime = _utc(nullable=False)  # effective time, as the actor stated it
    recorded_at: datetime = _utc(nullable=False)  # wall-clock time of recording
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # the audit chain (0016, `workflow.audit_chain`): the hash of the event before (of the same
    # grievance) and the SHA-256 of this event's canonical content with it
    prev_hash: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    hash: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})


class SlaTimer(SQLModel, table=True):
    """One SLA timer per (grievance, target, cycle). `next_fire_at` is what the watchdog asks."""

    __tablename__ = "sla_timer"
    __table_args__ = (
        UniqueConstraint("grievance_id", "target", "cycle"),
        Index(None, "stopped_at", "due_at"),  # open timers by deadline (overdue, due lists)
        # a grievance's timers with what the measures sum over them, read from the index
        # alone (migration 0008); serves the lookups by grievance too
        Index(
            "ix_sla_timer_measures",
            "grievance_id",
            "target",
            "cycle",
            "state",
            "stopped_at",
            "due_at",
            "used_seconds",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    grievance_id: int = Field(foreign_key="grievance.id")
    number: str = Field(max_length=32)
    target: str = Field(max_length=32)
    cycle: int
    state: TimerState = _enum(TimerState)
    started_at: datetime = _utc(nullable=False)
    due_at: datetime = _utc(nullable=False, index=True)
    provisional: bool = False
    warn_at: datetime | None = _utc()
    paused_since: datetime | None = _utc()
    paused_seconds: int = 0
    extended_days: int = 0
    stopped_at: datetime | None = _utc()
    breached_at: datetime | None = _utc()
    late_seconds: int = 0
    used_seconds: int = 0  # business (or natural) seconds from start to stop, pauses excluded
    fired: int = 0
    next_fire_at: datetime | None = _utc(index=True)
    # the calendar it counts on: "" the bureau's, "ROAD@2" revision 2 of unit ROAD's (0010)
    calendar: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    version: int = 1


class Notification(SQLModel, table=True):
    """The outbox: one message to one recipient, written in the transaction that decided it.

    `dedupe_key` (grievance/target/cycle/step/recipient) is unique, so no step can ever queue
    the same message twice. Delivery is a separate step (`service.delivery`).
    """

    __tablename__ = "notification"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    # None for messages about no single grievance (a unit's daily reminder)
    grievance_id: int | None = Field(default=None, foreign_key="grievance.id", index=True)
    number: str | None = Field(default=None, max_length=32)
    # sla_step | sla_broken | revisit_dissatisfied | daily_reminder
    kind: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=32)
    cycle: int
    step: str = Field(max_length=32)  # warning, red_card, supervision, dissatisfied...
    audience: str = Field(max_length=16)
    unit: str | None = Field(default=None, max_length=32)
    recipient: str = Field(max_length=80)  # e.g. "unit/ROAD#3fa2c1d0" (no secrets)
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    language: str = Field(max_length=8)
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _utc(nullable=False)
    not_before: datetime = _utc(nullable=False)  # held until business hours, if so configured
    status: str = Field(max_length=16)  # pending | sending | sent | dead
    attempts: int = 0
    give_up_after: int  # dead-lettered when `attempts` reaches this (raised by a requeue)
    next_attempt_at: datetime | None = _utc()
    lease_until: datetime | None = _utc()  # a delivery in progress; retried after it expires
    sent_at: datetime | None = _utc()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = 1


class NotificationAttempt(SQLModel, table=True):
    """One delivery attempt of a notification (kept, for the record and for dead letters)."""

    __tablename__ = "notification_attempt"
    __table_args__ = (UniqueConstraint("notification_id", "attempt"),)
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    attempt: int
    started_at: datetime = _utc(nullable=False)
    finished_at: datetime | None = _utc()
    ok: bool | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CalendarDay(SQLModel, table=True):
    """An operator's calendar override: a holiday or a working day the library doesn't know."""

    __tablename__ = "calendar_day"
    day: date = Field(primary_key=True)
    working: bool
    name: str = Field(max_length=50)
    source: str = Field(max_length=200)
    loaded_at: datetime = _utc(nullable=False)
    loaded_by: str = Field(max_length=50)


class CalendarNotice(SQLModel, table=True):
    """A State Council holiday notice loaded for one year: that year's days, as published.

    `content` is the notice's canonical data (`workflow.notices.Notice.as_data`), `digest`
    its SHA-256, so loading the same file again is recognised and a different one refused
    unless it is meant to replace it."""

    __tablename__ = "calendar_notice"
    year: int = Field(primary_key=True)
    document: str = Field(max_length=200)
    published: date
    digest: str = Field(max_length=64)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=200)
    loaded_at: datetime = _utc(nullable=False)
    loaded_by: str = Field(max_length=50)


class PolicyVersion(SQLModel, table=True):
    """A time-limit policy version as first used: its definition, so a grievance keeps the
    rules it was accepted under after the policy file has moved on.

    `definition` is `workflow.policy_versions.policy_json` (canonical JSON, kept as text so the
    stored bytes are the hashed ones) and `sha256` its hash: a file that changes a stored
    version's content without a new version number is refused (`service.engine`).
    """

    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60)
    version: int
    sha256: str = Field(max_length=64)
    definition: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=200)  # where it came from: built-in, custom
    stored_at: datetime = _utc(nullable=False)


class UnitCalendarRevision(SQLModel, table=True):
    """One revision of a unit's own working time (append-only: timers that counted on an
    earlier revision keep it, see `workflow.sla_calendars`). The latest revision is the unit's now; one
    with no hours and no days puts its timers back on the bureau calendar."""

    __tablename__ = "unit_calendar"
    __table_args__ = (UniqueConstraint("unit_code", "revision"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=32, foreign_key="unit.code")
    revision: int
    hours: str | None = Field(default=None, max_length=200)  # "08:00-12:00,13:00-20:00"
    # {"2026-11-28": "周末值班", ...}
    workdays: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    rest_days: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=200)
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=50)


class NumberCounter(SQLModel, table=True):
    """Per-day sequence behind grievance numbers (20261123-0001)."""

    __tablename__ = "number_counter"
    day: str = Field(primary_key=True, max_length=8)
    last: int = 0


class Document(SQLModel, table=True):
    """A rendered document (复盘报告, 无责说明...) as issued: bytes, hash, who and when.

    Rendering the same facts again gives the same bytes, so the hash identifies the content.
    """

    __tablename__ = "document"
    __table_args__ = (Index(None, "number", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    grievance_id: int = Field(foreign_key="grievance.id", index=True)
    number: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # review | no_fault
    format: str = Field(max_length=8)  # html | md | docx
    language: str = Field(max_length=8)
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    version: int  # the grievance version it was rendered from
    rendered_at: datetime = _utc(nullable=False)
    rendered_by: str = Field(max_length=50)


class DocumentJob(SQLModel, table=True):
    """A document to issue: written in the transaction of the record that issues it (a review,
    a close as 无责 or 不属实), rendered and stored after the commit (`service.documents.issue`).

    The outbox pattern, as for notifications: rendering HTML and Word (tens of milliseconds)
    stays out of the transaction and its write lock, and a crash between the commit and the
    rendering loses nothing: the job is still pending and the next watchdog tick issues it.
    One job per (grievance, kind, version): the document shows the grievance as of `version`.
    """

    __tablename__ = "document_job"
    __table_args__ = (
        UniqueConstraint("number", "kind", "version"),
        Index(None, "status", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    grievance_id: int = Field(foreign_key="grievance.id", index=True)
    number: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # review | no_fault
    version: int  # the version the record that issued it created
    language: str = Field(max_length=8)
    requested_by: str = Field(max_length=50)  # the record's actor: the documents' issuer
    requested_at: datetime = _utc(nullable=False)  # the record's recorded time
    status: str = Field(max_length=16)  # pending | done | failed
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    done_at: datetime | None = _utc()


# The access tables (accounts, sessions, the security log, stamps, personal references) live in
# models/access_tables.py; imported here so that the metadata of `models.tables` is all tables.
from models import access_tables as _access_tables  # noqa: E402, F401
from models import audit_tables as _audit_tables  # noqa: E402, F401
from models import partner_tables as _partner_tables  # noqa: E402, F401
