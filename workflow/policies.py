"""Time-limit policies as versioned data: 2142 (default), 2252, 2152, urgent, and custom ones
from TOML. A grievance keeps the policy version it was accepted under (`Policy.key`): each
version is stored the first time it is used, as the canonical JSON of `policy_json`.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from workflow.calendar import BusinessCalendar, Deadline
from workflow.errors import InvalidInput
from workflow.vocab import Event


class Clock(StrEnum):
    BUSINESS = "business"  # business hours on working days
    NATURAL = "natural"  # clock time: nights, weekends and holidays count
    WORKING_DAYS = "working_days"  # to close of business of the n-th working day after


class Audience(StrEnum):
    """Who hears about a warning or an escalation step."""

    DESK = "desk"  # the grievance desk (dispatchers)
    UNIT = "unit"  # the lead unit's handlers
    SUPERVISOR = "supervisor"  # the lead unit's supervisor
    LEADERSHIP = "leadership"  # bureau leadership (督办)


@dataclass(frozen=True, slots=True)
class Limit:
    """An amount of time on a clock: `2h` business, `4wd` working days, `30m` natural..."""

    clock: Clock
    span: timedelta = timedelta(0)  # business or natural time
    days: int = 0  # working days

    def __post_init__(self) -> None:
        if self.clock is Clock.WORKING_DAYS and self.days < 1:
            raise InvalidInput("a working-day limit needs at least 1 day")
        if self.clock is not Clock.WORKING_DAYS and self.span < timedelta(0):
            raise InvalidInput("a time limit cannot be negative")

    def deadline(
        self, calendar: BusinessCalendar, start: datetime, *, explain: bool = True
    ) -> Deadline:
        """The deadline from `start`; `explain=False` leaves out the reasons (same instant)."""
        if self.clock is Clock.WORKING_DAYS:
            return calendar.end_of_working_day(start, self.days, explain=explain)
        if self.clock is Clock.NATURAL:
            return calendar.add_natural_time(start, self.span, explain=explain)
        return calendar.add_business_time(start, self.span, explain=explain)

    def shift(
        self, calendar: BusinessCalendar, moment: datetime, *, explain: bool = True
    ) -> Deadline:
        """`moment` moved later by this amount (ladder steps after a breach)."""
        if self.clock is Clock.WORKING_DAYS:
            return calendar.add_working_days(moment, self.days, explain=explain)
        return self.deadline(calendar, moment, explain=explain)

    @property
    def text_zh(self) -> str:
        """1个工作日 / 2小时（工作时间） / 30分钟（自然时间）."""
        if self.clock is Clock.WORKING_DAYS:
            return f"{self.days}个工作日"
        minutes = int(self.span.total_seconds() // 60)
        hours, rest = divmod(minutes, 60)
        amount = (f"{hours}小时" if hours else "") + (f"{rest}分钟" if rest else "")
        kind = "工作时间" if self.clock is Clock.BUSINESS else "自然时间"
        return f"{amount or '0分钟'}（{kind}）"

    @property
    def text(self) -> str:
        if self.clock is Clock.WORKING_DAYS:
            return f"{self.days} working day{'s' if self.days != 1 else ''}"
        minutes = int(self.span.total_seconds() // 60)
        amount = f"{minutes // 60}h{minutes % 60:02d}m" if minutes % 60 else f"{minutes // 60}h"
        return f"{amount} {self.clock.value}"


@dataclass(frozen=True, slots=True)
class Warning:
    """When the yellow card comes: a share of the time, or an amount, before the deadline."""

    share: float | None = None  # e.g. 0.25: when a quarter of the time is left
    before: Limit | None = None  # e.g. 1 working day before

    def __post_init__(self) -> None:
        if (self.share is None) == (self.before is None):
            raise InvalidInput("a warning needs exactly one of: a share, or a time before")
        if self.share is not None and not 0 < self.share < 1:
            raise InvalidInput("a warning share must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class LadderStep:
    """One rung of the escalation ladder, counted from the breach."""

    name: str  # e.g. "red_card", "supervision"
    title_zh: str  # e.g. 红牌, 督办
    after: Limit | None  # None: at the breach itself
    notify: tuple[Audience, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """One time limit of a policy and the events that start, stop, pause and extend it."""

    name: str  # assign, feedback, close, revisit (or a custom name)
    title_zh: str
    limit: Limit
    starts_on: frozenset[Event]  # each of these starts a new cycle of the timer
    stops_on: frozenset[Event]  # the timer is met (or met late)
    cancels_on: frozenset[Event] = frozenset({Event.MERGE})
    pauses: bool = False  # suspension (挂起) stops the clock
    extends: bool = False  # an approved extension moves the deadline by working days
    warning: Warning | None = None
    warn_notify: tuple[Audience, ...] = (Audience.UNIT,)
    ladder: tuple[LadderStep, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: int
    title: str
    targets: tuple[Target, ...]
    max_extensions: int = 1
    source: str = "built-in"
    # Hold notifications to people until the next opening (not at 3 a.m. or on a holiday).
    notify_in_business_hours: bool = True

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(name)


# ----------------------------------------------------------------------------- built-ins
def _ladder(unit_audience: Audience) -> tuple[LadderStep, ...]:
    return (
        LadderStep("red_card", "红牌", None, (unit_audience, Audience.SUPERVISOR)),
        LadderStep(
            "supervision", "督办", Limit(Clock.WORKING_DAYS, days=1), (Audience.LEADERSHIP,)
        ),
    )


def _standard(name: str, title: str, feedback_days: int, close_days: int) -> Policy:
    """The "2-x-y-2" family: assign 2 business hours, then working-day limits."""
    accept_or_redo = frozenset({Event.ACCEPT, Event.REDO})
    return Policy(
        name=name,
        version=1,
        title=title,
        targets=(
            Target(
                "assign",
                "分办",
                Limit(Clock.BUSINESS, span=timedelta(hours=2)),
                starts_on=frozenset({Event.ACCEPT, Event.RETURN}),
                stops_on=frozenset({Event.ASSIGN, Event.REASSIGN}),
                warning=Warning(share=0.25),
                warn_notify=(Audience.DESK,),
                ladder=_ladder(Audience.DESK),
            ),
            Target(
                "feedback",
                "进展反馈",
                Limit(Clock.WORKING_DAYS, days=feedback_days),
                starts_on=accept_or_redo,
                stops_on=frozenset({Event.FEEDBACK, Event.CLOSE}),
                pauses=True,
                warning=Warning(share=0.25),
                ladder=_ladder(Audience.UNIT),
            ),
            Target(
                "close",
                "办结",
                Limit(Clock.WORKING_DAYS, days=close_days),
                starts_on=accept_or_redo,
                stops_on=frozenset({Event.CLOSE}),
                pauses=True,
                extends=True,
                warning=Warning(before=Limit(Clock.WORKING_DAYS, days=1)),
                ladder=_ladder(Audience.UNIT),
            ),
            Target(
                "revisit",
                "回访",
                Limit(Clock.WORKING_DAYS, days=2),
                starts_on=frozenset({Event.CLOSE}),
                stops_on=frozenset({Event.REVISIT}),
                warning=Warning(share=0.25),
                warn_notify=(Audience.DESK,),
                ladder=_ladder(Audience.DESK),
            ),
        ),
    )


def _urgent() -> Policy:
    """即接即转即办: received, transferred and handled at once, on the natural clock for the
    first two limits (urgent cases don't wait for office hours)."""
    base = _standard("urgent", "紧急诉求（即接即转即办）", 1, 1)
    natural = {
        "assign": Limit(Clock.NATURAL, span=timedelta(minutes=30)),
        "feedback": Limit(Clock.NATURAL, span=timedelta(hours=4)),
        "revisit": Limit(Clock.WORKING_DAYS, days=1),
    }
    targets = []
    for target in base.targets:
        limit = natural.get(target.name, target.limit)
        warning = Warning(share=0.25) if target.name == "close" else target.warning
        targets.append(_replace_target(target, limit=limit, warning=warning))
    return Policy(
        base.name,
        base.version,
        base.title,
        tuple(targets),
        max_extensions=0,
        notify_in_business_hours=False,  # urgent cases are everyone's business at once
    )


def _replace_target(target: Target, **changes: Any) -> Target:
    values = {name: getattr(target, name) for name in Target.__slots__}
    values.update(changes)
    return Target(**values)


BUILT_IN: tuple[Policy, ...] = (
    _standard("2142", "2142（绵阳）：2小时分办、1个工作日反馈、4个工作日办结、2个工作日回访", 1, 4),
    _standard(
        "2252", "2252（交通运输部）：2小时、2个工作日反馈、5个工作日办结、2个工作日回访", 2, 5
    ),
    _standard("2152", "2152（株洲）：2小时、1个工作日反馈、5个工作日办结、2个工作日回访", 1, 5),
    _urgent(),
)
DEFAULT_POLICY = "2142"
URGENT_POLICY = "urgent"


@dataclass(frozen=True)
class Registry:
    """Every known policy version; `latest(name)` is what new grievances get.

    `retired` are versions no longer configured (a policy file that moved on to a new
    version) but still in use by grievances accepted under them: they resolve for those
    grievances (`get`) and are never given to new ones (`latest`, `names`).
    """

    policies: Mapping[str, Policy] = field(default_factory=dict)  # key -> policy
    retired: frozenset[str] = frozenset()

    @classmethod
    def of(cls, policies: Iterable[Policy]) -> Registry:
        table: dict[str, Policy] = {}
        for policy in policies:
            if policy.key in table:
                raise InvalidInput(f"policy {policy.key} is defined twice")
            table[policy.key] = policy
        return cls(table)

    def get(self, key: str) -> Policy:
        try:
            return self.policies[key]
        except KeyError:
            raise InvalidInput(f"unknown policy version {key!r}") from None

    def _current(self) -> list[Policy]:
        return [p for p in self.policies.values() if p.key not in self.retired]

    def latest(self, name: str) -> Policy:
        versions = [p for p in self._current() if p.name == name]
        if not versions:
            known = ", ".join(sorted({p.name for p in self._current()}))
            raise InvalidInput(f"unknown policy {name!r} (known: {known})")
        return max(versions, key=lambda p: p.version)

    def names(self) -> list[str]:
        return sorted({p.name for p in self._current()})

    def with_retired(self, policy: Policy) -> Registry:
        """This registry and a stored version it does not configure (kept for its cases)."""
        if policy.key in self.policies:
            return self
        table = {**self.policies, policy.key: policy}
        return Registry(table, self.retired | {policy.key})


def check_unchanged(policy: Policy, stored_sha256: str) -> None:
    """InvalidInput if `policy` is not the content stored (and used) under its version."""
    if policy_sha256(policy) != stored_sha256:
        raise InvalidInput(
            f"policy {policy.key} ({policy.source}) differs from the {policy.key} already in "
            "use: a changed policy needs a new version number (bump `version`)"
        )


def registry(custom_toml: str | None = None) -> Registry:
    """The built-in policies plus the custom ones of a TOML text."""
    custom = policies_from_toml(custom_toml) if custom_toml else ()
    return Registry.of((*BUILT_IN, *custom))


# ----------------------------------------------------------------------------- TOML
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(wd|h|m|d)\s*$")


def parse_limit(text: str, clock: str | None = None) -> Limit:
    """'2h' / '30m' business time (or natural with clock='natural'); '4wd' working days."""
    match = _AMOUNT.match(str(text))
    if not match:
        raise InvalidInput(f"bad time limit {text!r}: use e.g. 2h, 30m, 4wd")
    amount, unit = float(match.group(1)), match.group(2)
    if unit == "wd":
        if clock not in (None, Clock.WORKING_DAYS.value) or amount != int(amount):
            raise InvalidInput(f"bad time limit {text!r}: working days are whole, e.g. 4wd")
        return Limit(Clock.WORKING_DAYS, days=int(amount))
    span = {
        "h": timedelta(hours=amount),
        "m": timedelta(minutes=amount),
        "d": timedelta(days=amount),
    }[unit]
    try:
        chosen = Clock(clock or Clock.BUSINESS.value)
    except ValueError:
        raise InvalidInput(f"unknown clock {clock!r}: business or natural") from None
    if chosen is Clock.WORKING_DAYS:
        raise InvalidInput(f"bad time limit {text!r} for the working_days clock: use e.g. 4wd")
    return Limit(chosen, span=span)


def _events(raw: Any, where: str) -> frozenset[Event]:
    try:
        return frozenset(Event(e) for e in raw)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"{where}: events must be a list of {[e.value for e in Event]}"
        ) from None


def _audiences(raw: Any, where: str) -> tuple[Audience, ...]:
    try:
        return tuple(Audience(a) for a in raw)
    except (ValueError, TypeError):
        raise InvalidInput(f"{where}: notify must list {[a.value for a in Audience]}") from None


def _warning(raw: str | None, where: str) -> Warning | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if text.endswith("%"):
        try:
            return Warning(share=float(text[:-1]) / 100)
        except ValueError:
            raise InvalidInput(f"{where}: bad warning {raw!r}") from None
    return Warning(before=parse_limit(text))


def _target(raw: Mapping[str, Any], where: str) -> Target:
    known = {
        "name",
        "title",
        "limit",
        "clock",
        "starts_on",
        "stops_on",
        "cancels_on",
        "pauses",
        "extends",
        "warn_before",
        "warn_notify",
        "ladder",
    }
    unknown = set(raw) - known
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {sorted(unknown)}")
    try:
        name = str(raw["name"])
        limit = parse_limit(raw["limit"], raw.get("clock"))
        starts = _events(raw["starts_on"], f"{where}.starts_on")
        stops = _events(raw["stops_on"], f"{where}.stops_on")
    except KeyError as missing:
        raise InvalidInput(f"{where}: missing {missing}") from None
    ladder = tuple(
        LadderStep(
            name=str(step.get("name", f"step{i + 1}")),
            title_zh=str(step.get("title", step.get("name", ""))),
            after=parse_limit(step["after"])
            if step.get("after") not in (None, "0", "0h")
            else None,
            notify=_audiences(step.get("notify", []), f"{where}.ladder[{i}]"),
        )
        for i, step in enumerate(raw.get("ladder", []))
    )
    return Target(
        name=name,
        title_zh=str(raw.get("title", name)),
        limit=limit,
        starts_on=starts,
        stops_on=stops,
        cancels_on=_events(raw.get("cancels_on", ["merge"]), f"{where}.cancels_on"),
        pauses=bool(raw.get("pauses", False)),
        extends=bool(raw.get("extends", False)),
        warning=_warning(raw.get("warn_before"), where),
        warn_notify=_audiences(raw.get("warn_notify", ["unit"]), f"{where}.warn_notify"),
        ladder=ladder,
    )


def policies_from_toml(text: str, source: str = "custom") -> tuple[Policy, ...]:
    """Custom policies; the format is in the README ("Time limits (SLA)", custom policy file)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"policy file is not valid TOML: {error}") from None
    result = []
    for i, raw in enumerate(data.get("policy", [])):
        where = f"policy[{i}]"
        if "name" not in raw or "targets" not in raw and "target" not in raw:
            raise InvalidInput(f"{where}: needs a name and at least one [[policy.target]]")
        targets = tuple(
            _target(t, f"{where}.target[{j}]")
            for j, t in enumerate(raw.get("target", raw.get("targets", [])))
        )
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise InvalidInput(f"{where}: a target name appears twice")
        result.append(
            Policy(
                name=str(raw["name"]),
                version=int(raw.get("version", 1)),
                title=str(raw.get("title", raw["name"])),
                targets=targets,
                max_extensions=int(raw.get("max_extensions", 1)),
                source=source,
                notify_in_business_hours=bool(raw.get("notify_in_business_hours", True)),
            )
        )
    if not result:
        raise InvalidInput("policy file defines no [[policy]]")
    return tuple(result)


# ----------------------------------------------------------------------------- stored form
POLICY_FORMAT = 1  # of `policy_json`: a stored definition says which one it is written in


def _limit_data(limit: Limit | None) -> dict[str, Any] | None:
    if limit is None:
        return None
    seconds = limit.span.total_seconds()
    return {
        "clock": limit.clock.value,
        "seconds": int(seconds) if seconds == int(seconds) else seconds,
        "days": limit.days,
    }


def _limit_of(data: Any) -> Limit | None:
    if data is None:
        return None
    return Limit(Clock(data["clock"]), timedelta(seconds=data["seconds"]), int(data["days"]))


def _events_data(events: frozenset[Event]) -> list[str]:
    return sorted(e.value for e in events)


def policy_data(policy: Policy) -> dict[str, Any]:
    """The policy as plain JSON data: every field that decides a deadline, a step or a
    message (all but `source`, which says where this copy came from)."""
    return {
        "format": POLICY_FORMAT,
        "name": policy.name,
        "version": policy.version,
        "title": policy.title,
        "max_extensions": policy.max_extensions,
        "notify_in_business_hours": policy.notify_in_business_hours,
        "targets": [
            {
                "name": t.name,
                "title_zh": t.title_zh,
                "limit": _limit_data(t.limit),
                "starts_on": _events_data(t.starts_on),
                "stops_on": _events_data(t.stops_on),
                "cancels_on": _events_data(t.cancels_on),
                "pauses": t.pauses,
                "extends": t.extends,
                "warning": None
                if t.warning is None
                else {"share": t.warning.share, "before": _limit_data(t.warning.before)},
                "warn_notify": [a.value for a in t.warn_notify],
                "ladder": [
                    {
                        "name": s.name,
                        "title_zh": s.title_zh,
                        "after": _limit_data(s.after),
                        "notify": [a.value for a in s.notify],
                    }
                    for s in t.ladder
                ],
            }
            for t in policy.targets
        ],
    }


def policy_json(policy: Policy) -> str:
    """The canonical serialization: sorted keys, no spaces, UTF-8 text (hashed and stored)."""
    return json.dumps(
        policy_data(policy), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def policy_sha256(policy: Policy) -> str:
    return hashlib.sha256(policy_json(policy).encode("utf-8")).hexdigest()


def policy_from_json(text: str, source: str = "stored") -> Policy:
    """A policy back from `policy_json` (InvalidInput if the text is not one)."""
    try:
        data = json.loads(text)
        if data.get("format") != POLICY_FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        targets = tuple(
            Target(
                name=str(t["name"]),
                title_zh=str(t["title_zh"]),
                limit=_limit_of(t["limit"]) or Limit(Clock.BUSINESS),
                starts_on=frozenset(Event(e) for e in t["starts_on"]),
                stops_on=frozenset(Event(e) for e in t["stops_on"]),
                cancels_on=frozenset(Event(e) for e in t["cancels_on"]),
                pauses=bool(t["pauses"]),
                extends=bool(t["extends"]),
                warning=None
                if t["warning"] is None
                else Warning(t["warning"]["share"], _limit_of(t["warning"]["before"])),
                warn_notify=tuple(Audience(a) for a in t["warn_notify"]),
                ladder=tuple(
                    LadderStep(
                        str(s["name"]),
                        str(s["title_zh"]),
                        _limit_of(s["after"]),
                        tuple(Audience(a) for a in s["notify"]),
                    )
                    for s in t["ladder"]
                ),
            )
            for t in data["targets"]
        )
        return Policy(
            name=str(data["name"]),
            version=int(data["version"]),
            title=str(data["title"]),
            targets=targets,
            max_extensions=int(data["max_extensions"]),
            source=source,
            notify_in_business_hours=bool(data["notify_in_business_hours"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise InvalidInput(f"stored policy definition is not readable: {error}") from None
