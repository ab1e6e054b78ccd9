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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from models import repo
from models.db import Database
from templates import language
from workflow.calendar import BusinessCalendar, BusinessHours, Overrides, UnitTime
from workflow.calendar import parse_hours as calendar_hours
from workflow.errors import InvalidInput
from workflow.policies import DEFAULT_POLICY, URGENT_POLICY, Policy, Registry, registry
from workflow.sla import Calendars

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
    # every revision of every unit's own calendar (`grievance unit calendar`), oldest first
    unit_revisions: tuple[UnitRevision, ...] = ()
    _calendars: Calendars | None = field(default=None, repr=False, compare=False)

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
        engine.reload_calendar()
        return engine

    def reload_calendar(self) -> None:
        """Rebuild the calendar from the library and the overrides stored in the database."""
        with self.db.read() as session:
            overrides = repo.calendar_overrides(session)
            rows = repo.unit_calendars(session)
        self.calendar = BusinessCalendar(self.hours, overrides)
        self.unit_revisions = tuple(
            (row.unit_code, row.revision, self.unit_time(row.hours, row.workdays, row.rest_days))
            for row in rows
        )
        self._calendars = None

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

    def calendar_with(self, extra: Overrides) -> BusinessCalendar:
        """The engine's calendar with `extra` overrides on top (for planning with a file)."""
        holidays = dict(self.calendar.overrides.holidays)
        workdays = dict(self.calendar.overrides.workdays)
        for day, name in extra.holidays.items():
            workdays.pop(day, None)
            holidays[day] = name
        for day, name in extra.workdays.items():
            holidays.pop(day, None)
            workdays[day] = name
        return BusinessCalendar(self.hours, Overrides(holidays=holidays, workdays=workdays))

    def policy_for_new(self, urgent: bool) -> Policy:
        return self.policies.latest(URGENT_POLICY if urgent else self.default_policy)
