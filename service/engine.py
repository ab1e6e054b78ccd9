"""The engine's configuration in one object: the database, the business calendar (library +
the overrides stored in the database) and the time-limit policies.

Settings come from the environment (documented in the README):
`GRIEVANCE_DATABASE_URL`, `GRIEVANCE_POLICY` (default 2142), `GRIEVANCE_POLICY_FILE` (custom
policies, TOML), `GRIEVANCE_BUSINESS_HOURS` (default "08:30-12:00,14:00-17:30") and
`GRIEVANCE_TIMEZONE` (default Asia/Shanghai); for notifications `GRIEVANCE_NOTIFY_DESK`,
`GRIEVANCE_NOTIFY_SUPERVISOR`, `GRIEVANCE_NOTIFY_LEADERSHIP` (Apprise URLs, separated by
spaces or new lines), `GRIEVANCE_NOTIFY_MAX_ATTEMPTS` (default 8),
`GRIEVANCE_NOTIFY_BACKOFF` (first retry delay in seconds, default 60; doubles, at most an
hour) and `GRIEVANCE_LANGUAGE` (zh, the default, or en).

Policy versions: each is stored in the database the first time a grievance is accepted under
it (`policy_version`), so `policy(key)` resolves a version from the configuration or, once
the file has moved on, from its stored definition. A configured version whose content
differs from the stored one is refused (InvalidInput) when the engine opens, and, for a
version stored by another process since, the first time this process resolves or uses it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from models import calendars, policy_rows, unit_rows
from models.db import Database
from templates import language
from workflow.calendar import BusinessCalendar
from workflow.errors import InvalidInput
from workflow.hours import BusinessHours
from workflow.hours import parse_hours as calendar_hours
from workflow.notices import Notice, Overrides
from workflow.policies import DEFAULT_POLICY, URGENT_POLICY, Policy
from workflow.policy_versions import (
    Registry,
    check_unchanged,
    policy_from_json,
    policy_json,
    policy_sha256,
    registry,
)
from workflow.sla_calendars import Calendars
from workflow.unit_time import UnitTime

# one revision of a unit's calendar: (unit code, revision, its working time)
UnitRevision = tuple[str, int, UnitTime]


def parse_hours(text: str, tz: str = "Asia/Shanghai") -> BusinessHours:
    """'08:30-12:00,14:00-17:30' -> BusinessHours."""
    return calendar_hours(text, tz)


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read {what} {path}: {error.strerror}") from None


def _urls(name: str) -> tuple[str, ...]:
    return tuple((os.environ.get(name) or "").split())


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r}: give a whole number") from None
    if value < 1:
        raise InvalidInput(f"{name}={raw!r}: give a number of at least 1")
    return value


@dataclass(frozen=True)
class NotifyConfig:
    """Bureau-level notification targets and the delivery policy."""

    desk: tuple[str, ...] = ()  # the grievance desk (dispatchers)
    supervisor: tuple[str, ...] = ()  # bureau supervisors: for units without their own
    leadership: tuple[str, ...] = ()  # bureau leadership (督办)
    language: str = "zh"
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=60)
    backoff_cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)  # a delivery not finished by then is retried

    @classmethod
    def from_env(cls) -> NotifyConfig:
        return cls(
            desk=_urls("GRIEVANCE_NOTIFY_DESK"),
            supervisor=_urls("GRIEVANCE_NOTIFY_SUPERVISOR"),
            leadership=_urls("GRIEVANCE_NOTIFY_LEADERSHIP"),
            language=language(),
            max_attempts=_positive_int("GRIEVANCE_NOTIFY_MAX_ATTEMPTS", 8),
            backoff=timedelta(seconds=_positive_int("GRIEVANCE_NOTIFY_BACKOFF", 60)),
        )

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th failure: 1, 2, 4... minutes, at most 1 h."""
        return min(self.backoff * (1 << min(max(attempts - 1, 0), 20)), self.backoff_cap)


@dataclass
class Engine:
    db: Database
    hours: BusinessHours
    policies: Registry
    default_policy: str
    calendar: BusinessCalendar
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    # policy versions known to agree with their committed stored definitions (or stored
    # only, not configured): resolved without asking the database again
    checked: set[str] = field(default_factory=set, repr=False)
    # every revision of every unit's own calendar (`grievance unit calendar`), oldest first
    unit_revisions: tuple[UnitRevision, ...] = ()
    _calendars: Calendars | None = field(default=None, repr=False, compare=False)

    @classmethod
    @contextmanager
    def opened(cls, url: str | None = None) -> Iterator[Engine]:
        """`open`, for one piece of work: the database connections are closed after it."""
        engine = cls.open(url)
        try:
            yield engine
        finally:
            engine.db.dispose()

    @classmethod
    def open(cls, url: str | None = None, *, db: Database | None = None) -> Engine:
        """The engine as the environment configures it (the database migrated if needed)."""
        database = db or Database(url)
        tz = os.environ.get("GRIEVANCE_TIMEZONE") or "Asia/Shanghai"
        hours_text = os.environ.get("GRIEVANCE_BUSINESS_HOURS")
        hours = parse_hours(hours_text, tz) if hours_text else BusinessHours(tz=tz)
        policy_file = os.environ.get("GRIEVANCE_POLICY_FILE")
        policies = registry(_read(policy_file, "policy file") if policy_file else None)
        default = os.environ.get("GRIEVANCE_POLICY") or DEFAULT_POLICY
        policies.latest(default)  # fail early on a misspelt policy name
        engine = cls(
            database, hours, policies, default, BusinessCalendar(hours), NotifyConfig.from_env()
        )
        engine.load_policies()
        engine.reload_calendar()
        return engine

    def unit_time(
        self, hours: str | None, workdays: dict[str, str], rest_days: dict[str, str]
    ) -> UnitTime:
        """A stored unit calendar revision as the calendar module's value."""
        return UnitTime(
            hours=None if hours is None else parse_hours(hours, self.hours.tz),
            workdays={date.fromisoformat(d): n for d, n in workdays.items()},
            rest_days={date.fromisoformat(d): n for d, n in rest_days.items()},
        )

    @property
    def calendars(self) -> Calendars:
        """The bureau calendar and every unit calendar revision, layered over it."""
        if self._calendars is None or self._calendars.bureau is not self.calendar:
            self._calendars = self.calendars_with(self.unit_revisions)
        return self._calendars

    def calendars_with(self, revisions: tuple[UnitRevision, ...]) -> Calendars:
        """The calendars as they would be with these unit calendar revisions."""
        return Calendars.build(self.calendar, revisions)

    def adopt_unit_revisions(self, revisions: tuple[UnitRevision, ...]) -> None:
        """Use these unit calendar revisions from now on (after they were committed)."""
        self.unit_revisions = revisions
        self._calendars = None

    # ------------------------------------------------------------------------- policies
    def load_policies(self) -> None:
        """Compare the configured policies with the stored versions (InvalidInput, before
        anything is written, for a version whose content changed without a new number) and
        add the stored versions the configuration no longer defines.

        A database upgraded to the `policy_version` table stores, once, the versions its
        grievances name that the configuration still defines."""
        with self.db.read() as session:
            stored = policy_rows.policy_versions(session)
            in_use = [] if stored else policy_rows.policy_names_in_use(session)
        policies = self.policies
        for row in stored:
            key = f"{row.name}@{row.version}"
            if key in policies.policies:
                check_unchanged(policies.policies[key], row.sha256)
            else:
                try:
                    kept = policy_from_json(row.definition)
                except InvalidInput:
                    continue  # unreadable: its grievances fail alone (the watchdog reports them)
                if kept.key != key or policy_sha256(kept) != row.sha256:
                    continue
                policies = policies.with_retired(kept)
            self.checked.add(key)
        self.policies = policies
        backfill = [policies.policies[key] for key in in_use if key in policies.policies]
        if backfill:
            now = datetime.now(UTC)  # when the upgrade happened: for the record only
            with self.db.transaction() as session:
                for policy in backfill:
                    self.use_policy(session, policy, now)
            self.checked.update(p.key for p in backfill)

    def policy(self, key: str, session: Session | None = None) -> Policy:
        """The policy version `key` ("tianjin@1"): configured or stored (InvalidInput if
        neither, or if the configured one differs from the stored one)."""
        if key in self.checked:
            return self.policies.get(key)
        if session is None:
            with self.db.read() as own:
                return self.policy(key, own)
        name, _, version = key.rpartition("@")
        row = policy_rows.policy_version(session, name, int(version)) if version.isdigit() else None
        configured = self.policies.policies.get(key)
        if row is None:
            return self.policies.get(key)  # configured and never stored (or unknown)
        if configured is not None:
            check_unchanged(configured, row.sha256)
        else:
            configured = policy_from_json(row.definition)
            self.policies = self.policies.with_retired(configured)
        self.checked.add(key)
        return configured

    def use_policy(self, session: Session, policy: Policy, at: datetime) -> None:
        """Store `policy` in `session`'s transaction unless it is stored already, and refuse
        it (InvalidInput: the caller's transaction rolls back) if the stored one differs.
        The caller marks it `checked` after its commit."""
        if policy.key in self.checked:
            return
        stored = policy_rows.store_policy_version(
            session,
            name=policy.name,
            version=policy.version,
            sha256=policy_sha256(policy),
            definition=policy_json(policy),
            source=policy.source,
            at=at,
        )
        check_unchanged(policy, stored)

    def reload_calendar(self) -> None:
        """Rebuild the calendar from the notices, overrides and unit calendar revisions
        stored in the database."""
        with self.db.read() as session:
            self.calendar = self.calendar_in(session)
            rows = unit_rows.unit_calendars(session)
        self.unit_revisions = tuple(
            (row.unit_code, row.revision, self.unit_time(row.hours, row.workdays, row.rest_days))
            for row in rows
        )
        self._calendars = None

    def calendar_in(self, session: Session) -> BusinessCalendar:
        """The calendar as `session` sees the stored notices and overrides (inside a
        transaction that is changing them, before its commit)."""
        overrides = calendars.calendar_overrides(session)
        return BusinessCalendar(self.hours, overrides, calendars.calendar_notices(session))

    def calendar_with(self, extra: Overrides | Notice) -> BusinessCalendar:
        """The engine's calendar with a calendar file on top (for planning with a file): a
        notice replaces its year (and the overrides of that year), overrides add days."""
        if isinstance(extra, Notice):
            notices = {**self.calendar.notices, extra.year: extra}
            overrides = self.calendar.overrides.without_year(extra.year)
            return BusinessCalendar(self.hours, overrides, notices)
        holidays = dict(self.calendar.overrides.holidays)
        workdays = dict(self.calendar.overrides.workdays)
        for day, name in extra.holidays.items():
            workdays.pop(day, None)
            holidays[day] = name
        for day, name in extra.workdays.items():
            holidays.pop(day, None)
            workdays[day] = name
        overrides = Overrides(holidays=holidays, workdays=workdays)
        return BusinessCalendar(self.hours, overrides, self.calendar.notices)

    def policy_for_new(self, urgent: bool) -> Policy:
        return self.policies.latest(URGENT_POLICY if urgent else self.default_policy)
