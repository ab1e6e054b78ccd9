"""`grievance unit add|notify|list|calendar`: the units, their notification targets and their
own working time."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

import click

from cli.context import acting, cli, emit, make_ctx
from service import delivery
from service.timers import Moved
from service.units import (
    add_unit,
    list_units,
    set_unit_calendar,
    set_unit_targets,
    unit_calendar_of,
    unit_calendars,
)
from workflow.errors import InvalidInput
from workflow.hours import parse_hours
from workflow.timeutil import iso
from workflow.unit_time import UnitTime
from workflow.validation import has_binary


@cli.group()
def unit() -> None:
    """Handling units (承办单位)."""


_NOTIFY = click.option(
    "--notify",
    "notify",
    multiple=True,
    metavar="URL",
    help="Apprise URL for the unit's handlers (repeatable): dingtalk://, wecombot://, "
    "feishu://, mailto://, json://, inbox://NAME.",
)
_SUPERVISOR_NOTIFY = click.option(
    "--supervisor-notify",
    "supervisor_notify",
    multiple=True,
    metavar="URL",
    help="Apprise URL for the unit's supervisor (repeatable).",
)


def _unit_dict(u: Any, calendar: Any = None) -> dict[str, Any]:
    return {
        "code": u.code,
        "name": u.name,
        "notify": [delivery.redact(url) for url in u.notify],
        "supervisor_notify": [delivery.redact(url) for url in u.supervisor_notify],
        "calendar": unit_calendar_of(calendar),
    }


def _unit_text(u: Any, calendar: Any = None) -> str:
    targets = len(u.notify), len(u.supervisor_notify)
    text = f"{u.code:<12} {u.name}  (notify: {targets[0]}, supervisor: {targets[1]})"
    return text + _calendar_text(unit_calendar_of(calendar))


def _calendar_text(shown: dict[str, Any] | None) -> str:
    if shown is None or (shown["hours"] is None and not shown["workdays"] + shown["rest_days"]):
        return "  calendar: bureau 局日历"
    parts = [f"hours {shown['hours'] or 'bureau'}"]
    for key, what in (("workdays", "workday"), ("rest_days", "rest day")):
        if shown[key]:
            days = ", ".join(d["date"] + (f" {d['name']}" if d["name"] else "") for d in shown[key])
            parts.append(f"{what}(s) {days}")
    return f"  calendar {shown['id']} 单位日历: " + "; ".join(parts)


@unit.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Unit name, e.g. 市道路运输管理处.")
@_NOTIFY
@_SUPERVISOR_NOTIFY
@acting
def unit_add(
    code: str, name: str, notify: tuple[str, ...], supervisor_notify: tuple[str, ...], **who: Any
) -> None:
    """Register a handling unit and where its notifications go."""
    ctx = make_ctx(**who)
    added = add_unit(
        ctx.engine,
        ctx.stamp,
        code=code,
        name=name,
        notify=notify,
        supervisor_notify=supervisor_notify,
    )
    emit(ctx, _unit_dict(added), f"unit added: {_unit_text(added)}")


@unit.command("notify")
@click.argument("code")
@_NOTIFY
@_SUPERVISOR_NOTIFY
@acting
def unit_notify(
    code: str, notify: tuple[str, ...], supervisor_notify: tuple[str, ...], **who: Any
) -> None:
    """Replace where a unit's notifications go (give no URL to clear both lists)."""
    ctx = make_ctx(**who)
    changed = set_unit_targets(
        ctx.engine, ctx.stamp, code=code, notify=notify, supervisor_notify=supervisor_notify
    )
    emit(ctx, _unit_dict(changed), f"unit updated: {_unit_text(changed)}")


@unit.command("list")
@acting
def unit_list(**who: Any) -> None:
    """List the handling units."""
    ctx = make_ctx(**who)
    units = list_units(ctx.engine)
    calendars = unit_calendars(ctx.engine)
    emit(
        ctx,
        [_unit_dict(u, calendars.get(u.code)) for u in units],
        "\n".join(_unit_text(u, calendars.get(u.code)) for u in units) or "no units yet",
    )


def _days(values: Sequence[str], option: str) -> dict[date, str]:
    """--workday 2026-11-28[:周末值班] ... as {date: name}."""
    days: dict[date, str] = {}
    for value in values:
        raw, _, name = value.partition(":")
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
                raise ValueError
            day = date.fromisoformat(raw.strip())
        except ValueError:
            raise InvalidInput(
                f"{option} {value[:40]!r}: give a date such as 2026-11-28, optionally with ':name'"
            ) from None
        if day in days:
            raise InvalidInput(f"{option} {day.isoformat()} is given twice")
        if has_binary(name):
            raise InvalidInput(f"{option} {day.isoformat()}: the name contains control characters")
        days[day] = name.strip()
    return days


@unit.command("calendar")
@click.argument("code")
@click.option("--hours", metavar="HH:MM-HH:MM[,...]", help="The unit's business hours (办公时间).")
@click.option(
    "--workday",
    "workdays",
    multiple=True,
    metavar="DATE[:NAME]",
    help="A date the unit works whatever the national calendar says (repeatable).",
)
@click.option(
    "--rest-day",
    "rest_days",
    multiple=True,
    metavar="DATE[:NAME]",
    help="A date the unit rests whatever the national calendar says (repeatable).",
)
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False),
    help='A TOML file: hours = "...", [[workdays]] and [[rest_days]] with date and name.',
)
@click.option("--clear", is_flag=True, help="Back to the bureau calendar (局日历).")
@acting
def unit_calendar(
    code: str,
    hours: str | None,
    workdays: tuple[str, ...],
    rest_days: tuple[str, ...],
    file: str | None,
    clear: bool,
    **who: Any,
) -> None:
    """Give a unit its own working time (单位日历) on top of the national calendar.

    What is given replaces the unit's calendar as a whole; open deadlines of the unit's
    timers (feedback, close) are recomputed and each move is logged (重算时限).
    """
    ctx = make_ctx(**who)
    given = hours is not None or bool(workdays) or bool(rest_days)
    if clear and (given or file):
        raise InvalidInput("--clear goes alone: it puts the unit back on the bureau calendar")
    if file and given:
        raise InvalidInput("give either --file or --hours/--workday/--rest-day, not both")
    if not (clear or file or given):
        raise InvalidInput("give --hours, --workday, --rest-day, --file, or --clear")
    tz = ctx.engine.hours.tz
    if file:
        try:
            with open(file, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInput(f"can't read unit calendar file {file}: {error}") from None
        time = UnitTime.from_toml(text, tz)
        source = os.path.basename(file)
    else:
        time = UnitTime(
            hours=None if hours is None else parse_hours(hours, tz),
            workdays=_days(workdays, "--workday"),
            rest_days=_days(rest_days, "--rest-day"),
        )
        source = "cleared" if clear else "command line"
    change = set_unit_calendar(ctx.engine, ctx.stamp, code=code, time=time, source=source)
    data = {
        "unit": change.unit,
        "revision": change.revision,
        "calendar": change.calendar,
        "changed": change.revision is not None,
        "moved": [_moved_dict(m) for m in change.moved],
    }
    which = f"calendar {change.calendar}" if change.calendar else "the bureau calendar"
    if change.revision is None:
        lines = [f"unit {code}: calendar unchanged, nothing written ({which})"]
    else:
        moved = [m for m in change.moved if m.old_due != m.new_due]
        lines = [
            f"unit {code}: calendar revision {change.revision}, its timers count on {which}; "
            f"{len(change.moved)} open timer(s) moved, {len(moved)} deadline(s) changed"
        ]
        lines += [
            f"  {m.number} {m.target}#{m.cycle}: {iso(m.old_due)} -> {iso(m.new_due)}"
            for m in moved
        ]
    emit(ctx, data, "\n".join(lines))


def _moved_dict(m: Moved) -> dict[str, Any]:
    return {
        "number": m.number,
        "target": m.target,
        "cycle": m.cycle,
        "old_due": iso(m.old_due),
        "new_due": iso(m.new_due),
        "provisional": m.provisional,
        "calendar": m.calendar,
    }
