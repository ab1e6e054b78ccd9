"""Custom time-limit policies from TOML (the policy file, `GRIEVANCE_POLICY_FILE`): limits
written as `2h`, `30m` or `4wd`, targets, warnings and ladders; an error names the place it
is at (`policy[0].target[1]`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from workflow.errors import InvalidInput
from workflow.policies import Audience, Clock, LadderStep, Limit, Policy, Target, Warning
from workflow.vocab import Event

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
