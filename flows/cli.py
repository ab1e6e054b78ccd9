"""The `grievance` command line: every lifecycle operation, `show`, `list`, units, the demo.

The clock is read here, once per command, and passed down. Errors a user can cause print one
line (`error: ...`) and exit 1; usage errors exit 2; tracebacks only with GRIEVANCE_DEBUG=1.
"""

from __future__ import annotations

import copy
import functools
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

import templates
from cli import demo, present, reports
from cli.importing import import_
from models.db import Database
from service import calendars, delivery, document_jobs, documents, watchdog
from service import cases as uc
from service.engine import Engine
from workflow.actor import Actor
from workflow.calendar import parse_hours
from workflow.commands import INSTANT_YEARS, Accept, parse_command
from workflow.errors import GrievanceError, InvalidInput, PermissionDenied
from workflow.notices import read_calendar
from workflow.privacy import mask_value
from workflow.sla import plan
from workflow.timeutil import iso, local, parse_instant
from workflow.unit_time import UnitTime
from workflow.validation import has_binary
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

F = TypeVar("F", bound=Callable[..., Any])


def _choice(enum: type[Any], exclude: Sequence[str] = ()) -> click.Choice[str]:
    return click.Choice([m.value for m in enum if m.value not in exclude])


@dataclass
class Who:
    """Global options, as given before the subcommand (`grievance --role handler sign ...`)."""

    actor: str | None = None
    role: str | None = None
    actor_unit: str | None = None
    json: bool = False
    at: str | None = None


def acting(func: F) -> F:
    """Add --json, --at, --actor, --role, --actor-unit to a command (they may follow it too)."""
    options = [
        click.option(
            "--json", "json_out", is_flag=True, default=None, help="Print machine-readable JSON."
        ),
        click.option(
            "--at",
            "at_text",
            metavar="ISO8601",
            help="Effective time (default now; without offset = Asia/Shanghai).",
        ),
        click.option("--actor", "actor_name", metavar="NAME", help="Who acts [GRIEVANCE_ACTOR]."),
        click.option(
            "--role",
            "role_name",
            type=_choice(Role, exclude=(Role.SYSTEM.value,)),
            help="Their role [GRIEVANCE_ROLE] (default dispatcher).",
        ),
        click.option(
            "--actor-unit",
            "actor_unit",
            metavar="CODE",
            help="Their unit, for handlers and unit supervisors [GRIEVANCE_ACTOR_UNIT].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass(frozen=True)
class Ctx:
    """Everything a command needs: who, when, output mode, the database."""

    stamp: uc.Stamp
    json: bool

    @property
    def actor(self) -> Actor:
        return self.stamp.actor

    @functools.cached_property
    def engine(self) -> Engine:
        return Engine.open()


def _ctx(
    json_out: bool | None,
    at_text: str | None,
    actor_name: str | None,
    role_name: str | None,
    actor_unit: str | None,
) -> Ctx:
    who: Who = click.get_current_context().find_object(Who) or Who()
    now = datetime.now(UTC)
    at_raw = at_text or who.at
    name = actor_name or who.actor or os.environ.get("GRIEVANCE_ACTOR") or getpass.getuser()
    role_raw = role_name or who.role or os.environ.get("GRIEVANCE_ROLE") or Role.DISPATCHER.value
    unit = actor_unit or who.actor_unit or os.environ.get("GRIEVANCE_ACTOR_UNIT") or None
    people = [r.value for r in Role if r is not Role.SYSTEM]
    if role_raw not in people:
        raise InvalidInput(f"unknown role {role_raw!r}: use one of {', '.join(people)}")
    role = Role(role_raw)
    actor = Actor(name=name, role=role, unit=unit)
    at = _instant(at_raw) if at_raw else now
    return Ctx(
        stamp=uc.Stamp(actor=actor, at=at, recorded_at=now),
        json=bool(json_out if json_out is not None else who.json),
    )


def _instant(text: str) -> datetime:
    """An ISO 8601 time from the command line, in the years the engine plans for (a year 1 or
    9999 time is a typo, and past what the calendar arithmetic can hold)."""
    try:
        moment = parse_instant(text)
    except (ValueError, OverflowError):  # InvalidInput is neither: these come from the zone
        raise InvalidInput(f"not a time: {text[:64]!r} (out of range)") from None
    first, last = INSTANT_YEARS
    if not first <= local(moment).year <= last:
        raise InvalidInput(f"time {text[:64]!r}: use a time in the years {first}-{last}")
    return moment


def _emit(ctx: Ctx, data: Any, text: str) -> None:
    if ctx.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(text)


def _emit_case(ctx: Ctx, case: Any, verb: Event) -> None:
    _emit(
        ctx,
        present.case_dict(case),
        f"{verb.zh} {verb.value}: {case.number} -> {case.state.value} ({case.state.zh})",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--actor", metavar="NAME", help="Who acts (default $GRIEVANCE_ACTOR or the OS user).")
@click.option(
    "--role",
    type=_choice(Role, exclude=(Role.SYSTEM.value,)),
    help="Role (default $GRIEVANCE_ROLE or dispatcher).",
)
@click.option("--actor-unit", metavar="CODE", help="Unit of a handler or unit supervisor.")
@click.option("--json", "json_out", is_flag=True, help="Print machine-readable JSON.")
@click.option("--at", "at_text", metavar="ISO8601", help="Effective time (default now).")
@click.pass_context
def cli(
    click_ctx: click.Context,
    actor: str | None,
    role: str | None,
    actor_unit: str | None,
    json_out: bool,
    at_text: str | None,
) -> None:
    """货车司机诉求办理 — grievance engine for truck drivers' grievances.

    Database: $GRIEVANCE_DATABASE_URL (default ./grievance.db, created on first use).
    """
    click_ctx.obj = Who(actor=actor, role=role, actor_unit=actor_unit, json=json_out, at=at_text)


# ----------------------------------------------------------------------------- units
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
        "calendar": uc.unit_calendar_of(calendar),
    }


def _unit_text(u: Any, calendar: Any = None) -> str:
    targets = len(u.notify), len(u.supervisor_notify)
    text = f"{u.code:<12} {u.name}  (notify: {targets[0]}, supervisor: {targets[1]})"
    return text + _calendar_text(uc.unit_calendar_of(calendar))


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
    ctx = _ctx(**who)
    added = uc.add_unit(
        ctx.engine,
        ctx.stamp,
        code=code,
        name=name,
        notify=notify,
        supervisor_notify=supervisor_notify,
    )
    _emit(ctx, _unit_dict(added), f"unit added: {_unit_text(added)}")


@unit.command("notify")
@click.argument("code")
@_NOTIFY
@_SUPERVISOR_NOTIFY
@acting
def unit_notify(
    code: str, notify: tuple[str, ...], supervisor_notify: tuple[str, ...], **who: Any
) -> None:
    """Replace where a unit's notifications go (give no URL to clear both lists)."""
    ctx = _ctx(**who)
    changed = uc.set_unit_targets(
        ctx.engine, ctx.stamp, code=code, notify=notify, supervisor_notify=supervisor_notify
    )
    _emit(ctx, _unit_dict(changed), f"unit updated: {_unit_text(changed)}")


@unit.command("list")
@acting
def unit_list(**who: Any) -> None:
    """List the handling units."""
    ctx = _ctx(**who)
    units = uc.list_units(ctx.engine)
    calendars = uc.unit_calendars(ctx.engine)
    _emit(
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
    ctx = _ctx(**who)
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
    change = uc.set_unit_calendar(ctx.engine, ctx.stamp, code=code, time=time, source=source)
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
    _emit(ctx, data, "\n".join(lines))


def _moved_dict(m: uc.Moved) -> dict[str, Any]:
    return {
        "number": m.number,
        "target": m.target,
        "cycle": m.cycle,
        "old_due": iso(m.old_due),
        "new_due": iso(m.new_due),
        "provisional": m.provisional,
        "calendar": m.calendar,
    }


# ----------------------------------------------------------------------------- lifecycle
@cli.command()
@click.option("--channel", required=True, type=_choice(Channel), help="Source channel (来源渠道).")
@click.option("--ref", required=True, help="The channel's own reference number (渠道编号).")
@click.option("--type", "type_", required=True, type=_choice(RequestType), help="诉求类型.")
@click.option("--category", required=True, type=_choice(Category), help="诉求分类.")
@click.option("--name", required=True, help="Complainant's name (诉求人).")
@click.option("--phone", required=True, help="Complainant's phone.")
@click.option("--plate", help="Plate number, e.g. 川B12345.")
@click.option("--description", required=True, help="What the driver asks (at most 2000 chars).")
@click.option("--amount", help="Amount in dispute, yuan.")
@click.option("--urgent", is_flag=True, help="Urgent: received, transferred and handled at once.")
@click.option("--respondent", help="Who is complained about (被反映对象): company, platform...")
@acting
def accept(
    channel: str,
    ref: str,
    type_: str,
    category: str,
    name: str,
    phone: str,
    plate: str | None,
    description: str,
    amount: str | None,
    urgent: bool,
    respondent: str | None,
    **who: Any,
) -> None:
    """受理: register a new grievance."""
    ctx = _ctx(**who)
    data = {
        "channel": channel,
        "ref": ref,
        "type": type_,
        "category": category,
        "name": name,
        "phone": phone,
        "plate": plate,
        "description": description,
        "amount": amount,
        "urgent": urgent,
        "respondent": respondent,
    }
    command = parse_command(Event.ACCEPT, {k: v for k, v in data.items() if v is not None})
    if not isinstance(command, Accept):
        raise TypeError("accept parsed to another command")
    case = uc.accept(ctx.engine, command, ctx.stamp)
    _emit_case(ctx, case, Event.ACCEPT)


def _resync_case_run(ctx: Ctx, number: str) -> None:
    """After a committed action: re-sync the grievance's case run in the Prefect UI
    (`flows.worklist`), only when PREFECT_API_URL names a server and case runs are on; else
    the watchdog's next tick does it from the audit log. Never fails the command."""
    switch = (os.environ.get("GRIEVANCE_CASE_RUNS") or "1").strip().lower()
    if switch in ("0", "false", "no", "off") or not os.environ.get("PREFECT_API_URL"):
        return
    try:
        from flows import worklist

        done = worklist.resync_after_cli(number, engine=ctx.engine)
    except Exception as error:  # noqa: BLE001 - the action is committed whatever happens here
        done = f"failed: {type(error).__name__}"
    if done.startswith("failed"):
        click.echo(f"note: Prefect worklist not re-synced ({done}); the watchdog will", err=True)


def _issue_documents(ctx: Ctx, number: str) -> None:
    """Issue the documents the action just queued (a review's 复盘报告, a no-fault close's
    无责说明), after its commit: a failure is a note, not an error (the action stands; the
    job waits in `grievance documents jobs`)."""
    for job in documents.issue(ctx.engine, ctx.stamp.recorded_at, number=number):
        if job.error is not None:
            click.echo(f"note: document {job.kind} of {number} not issued: {job.error}", err=True)


def _action(
    name: str, event: Event, run: Callable[..., Any], params: Sequence[Callable[[F], F]]
) -> None:
    """Declare one `grievance <name> NUMBER [options]` command that calls use case `run`."""

    def command(number: str, expect_version: int | None, **kwargs: Any) -> None:
        who = {
            k: kwargs.pop(k)
            for k in ("json_out", "at_text", "actor_name", "role_name", "actor_unit")
        }
        ctx = _ctx(**who)
        case = run(ctx.engine, number, ctx.stamp, expected_version=expect_version, **kwargs)
        _issue_documents(ctx, case.number)
        _emit_case(ctx, case, event)
        _resync_case_run(ctx, case.number)

    command.__doc__ = (run.__doc__ or event.zh).splitlines()[0]
    decorated: Any = acting(command)
    for param in reversed(params):
        decorated = param(decorated)
    decorated = click.option(
        "--expect-version",
        type=int,
        metavar="N",
        help="Refuse (conflict) unless the grievance is still at this version.",
    )(decorated)
    decorated = click.argument("number")(decorated)
    cli.command(name)(decorated)


_reason = click.option("--reason", required=True, help="Why (at most 500 chars).")
_note = click.option("--note", help="Note.")
_co = click.option(
    "--co-unit",
    "co_units",
    multiple=True,
    metavar="CODE",
    help="Co-handling unit (协办), repeatable.",
)

_action(
    "assign",
    Event.ASSIGN,
    uc.assign,
    [click.option("--unit", required=True, metavar="CODE", help="Lead unit (主办)."), _co],
)
_action("sign", Event.SIGN, uc.sign, [_note])
_action("return", Event.RETURN, uc.return_to_desk, [_reason])
_action(
    "reassign",
    Event.REASSIGN,
    uc.reassign,
    [click.option("--unit", required=True, metavar="CODE", help="New lead unit."), _reason, _co],
)
_action(
    "feedback",
    Event.FEEDBACK,
    uc.feedback,
    [click.option("--note", required=True, help="What the driver was told.")],
)
_action(
    "extend",
    Event.REQUEST_EXTENSION,
    uc.request_extension,
    [click.option("--days", required=True, type=int, help="Working days asked for."), _reason],
)
_action("approve-extension", Event.APPROVE_EXTENSION, uc.approve_extension, [_note])
_action("reject-extension", Event.REJECT_EXTENSION, uc.reject_extension, [_reason])
_action("suspend", Event.SUSPEND, uc.suspend, [_reason])
_action("resume", Event.RESUME, uc.resume, [_note])


def _close(
    engine: Engine,
    number: str,
    stamp: uc.Stamp,
    *,
    verification: str | None,
    facts: str | None,
    basis: str | None,
    explanation: str | None,
    explained_at: str | None,
    evidence: tuple[str, ...],
    **kwargs: Any,
) -> Any:
    """办结: close with a result (no_fault / unsubstantiated: with the findings, by a supervisor)."""
    parts = {
        "verification": verification,
        "facts": facts,
        "basis": basis,
        "explanation": explanation,
        "explained_at": iso(_instant(explained_at)) if explained_at else None,
        "evidence": list(evidence) or None,
    }
    findings = {k: v for k, v in parts.items() if v is not None} or None
    return uc.close(engine, number, stamp, findings=findings, **kwargs)


_action(
    "close",
    Event.CLOSE,
    _close,
    [
        click.option("--result", required=True, type=_choice(CloseResult), help="办理结果."),
        click.option("--note", required=True, help="How it was handled."),
        click.option("--recovered", metavar="YUAN", help="Amount recovered for the driver."),
        click.option("--verification", help="无责说明: how it was verified (核实经过)."),
        click.option("--facts", help="无责说明: the facts found (查明事实)."),
        click.option("--basis", help="无责说明: the legal or policy basis (依据)."),
        click.option("--explanation", help="无责说明: what was explained to the driver."),
        click.option("--explained-at", metavar="ISO8601", help="无责说明: when it was explained."),
        click.option(
            "--evidence", multiple=True, help="无责说明: one piece of evidence (repeatable)."
        ),
    ],
)
_action(
    "revisit",
    Event.REVISIT,
    uc.revisit,
    [
        click.option(
            "--satisfaction", required=True, type=_choice(Satisfaction), help="The driver's answer."
        ),
        _note,
    ],
)
_action("redo", Event.REDO, uc.redo, [_reason])
_action(
    "review",
    Event.REVIEW,
    uc.review,
    [
        click.option("--root-cause", required=True, help="问题根源."),
        click.option("--actions", required=True, help="整改措施 corrective actions."),
        click.option("--lessons", help="举一反三 lessons."),
        click.option("--responsibility", help="责任认定 responsibility finding."),
    ],
)
_action(
    "merge",
    Event.MERGE,
    uc.merge,
    [click.option("--into", required=True, metavar="NUMBER", help="The grievance kept.")],
)
_action(
    "amend",
    Event.AMEND,
    uc.amend,
    [
        _reason,
        click.option("--type", "type", type=_choice(RequestType), help="Corrected type."),
        click.option("--category", type=_choice(Category), help="Corrected category."),
        click.option("--description", help="Corrected description."),
        click.option("--amount", metavar="YUAN", help="Corrected amount."),
        click.option("--respondent", help="Corrected respondent (被反映对象)."),
    ],
)


# ----------------------------------------------------------------------------- reading
@cli.command()
@click.argument("number")
@click.option("--explain", is_flag=True, help="Explain each deadline: days skipped and why.")
@acting
def show(number: str, explain: bool, **who: Any) -> None:
    """One grievance with its audit events and SLA timers (personal data masked)."""
    ctx = _ctx(**who)
    view = uc.show(ctx.engine, number, ctx.actor, explain=explain)
    now = ctx.stamp.recorded_at
    data = present.case_dict(view.case, version=view.version)
    data["policy"] = view.case.policy
    # every string of a payload masked, also a level down (a close's findings)
    data["events"] = [mask_value(present.event_dict(e)) for e in view.events]
    data["timers"] = [present.timer_dict(t, now) for t in view.timers]
    if explain:
        for item, timer in zip(data["timers"], view.timers, strict=True):
            item["explanation"] = view.explanations.get(timer.key, [])
    lines = [
        present.case_text(view.case, version=view.version, events=view.events),
        f"  时限 SLA timers (policy {view.case.policy}):",
    ]
    for timer in view.timers:
        lines += present.timer_text(timer, now, view.explanations.get(timer.key, ()))
    _emit(ctx, data, "\n".join(lines))


@cli.command("list")
@click.option("--state", type=_choice(State, exclude=["new"]), help="Only this state.")
@click.option("--unit", metavar="CODE", help="Only this lead unit.")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--offset", type=int, default=0)
@acting
def list_(state: str | None, unit: str | None, limit: int, offset: int, **who: Any) -> None:
    """Grievances in order of acceptance (unit staff see their unit's only)."""
    ctx = _ctx(**who)
    cases = uc.list_cases(
        ctx.engine,
        ctx.actor,
        state=State(state) if state else None,
        unit=unit,
        limit=limit,
        offset=offset,
    )
    _emit(
        ctx,
        [present.case_dict(c) for c in cases],
        "\n".join(present.case_line(c) for c in cases) or "no grievances",
    )


# ----------------------------------------------------------------------------- SLA
@cli.group()
def sla() -> None:
    """Time limits (时限): plan deadlines, check timers against the audit log."""


@sla.command("plan")
@click.option("--accepted-at", required=True, metavar="ISO8601", help="When it was accepted.")
@click.option("--closed-at", metavar="ISO8601", help="When it was closed (adds revisit).")
@click.option("--policy", "policy_name", metavar="NAME", help="Policy (default: configured).")
@click.option(
    "--calendar",
    "calendar_file",
    metavar="FILE",
    help="A calendar TOML file on top of the stored calendar.",
)
@acting
def sla_plan(
    accepted_at: str,
    closed_at: str | None,
    policy_name: str | None,
    calendar_file: str | None,
    **who: Any,
) -> None:
    """Deadlines a grievance accepted (and closed) at these times gets. Touches no grievance."""
    ctx = _ctx(**who)
    engine = ctx.engine
    policy = engine.policies.latest(policy_name or engine.default_policy)
    calendar = engine.calendar
    if calendar_file:
        calendar = engine.calendar_with(read_calendar(calendar_file))
    accepted = _instant(accepted_at)
    closed = _instant(closed_at) if closed_at else None
    if closed is not None and closed < accepted:
        raise InvalidInput("--closed-at is before --accepted-at")
    result = plan(policy, calendar, accepted, closed)
    data = {
        "policy": policy.name,
        "version": policy.version,
        "provisional": result.provisional,
        "deadlines": {name: iso(d.at) for name, d in result.deadlines.items()},
    }
    text = [f"policy {policy.key}: {policy.title}"]
    for name, deadline in result.deadlines.items():
        flag = "  (provisional 暂定)" if deadline.provisional else ""
        text.append(f"  {name:<9} {iso(deadline.at)}{flag}")
    _emit(ctx, data, "\n".join(text))


@sla.command("check")
@click.option("--fix", is_flag=True, help="Store the timers replayed from the audit log.")
@acting
def sla_check(fix: bool, **who: Any) -> None:
    """Rebuild every grievance's timers from its audit log and compare with the stored ones."""
    ctx = _ctx(**who)
    uc.require_bureau(ctx.actor, "sla check")
    if fix:
        uc.require_desk(ctx.actor, "stores replayed timers (sla check --fix)")
    problems = uc.check_timers(ctx.engine, fix=fix)
    _emit(
        ctx,
        {"differences": problems, "fixed": fix and bool(problems)},
        "\n".join(problems) or "all timers match their audit logs",
    )
    if problems and not fix:
        sys.exit(1)


def _now(text: str | None, ctx: Ctx) -> datetime:
    """--now: an ISO 8601 instant (without offset: Asia/Shanghai); else --at, else the clock."""
    return _instant(text) if text else ctx.stamp.at


def _progress(what: str) -> Callable[[Any], None] | None:
    if not sys.stderr.isatty():
        return None
    return lambda result: click.echo(f"\r{what}: {_count(result)}", nl=False, err=True)


def _count(result: Any) -> str:
    if isinstance(result, watchdog.SweepResult):
        return f"{len(result.fired)} steps fired in {result.batches} batches"
    return f"{result.sent} sent, {result.retried} to retry, {result.dead} dead"


@sla.command("sweep")
@click.option("--now", "now_text", metavar="ISO8601", help="Run as of this instant (default now).")
@click.option("--batch", default=watchdog.BATCH, show_default=True, help="Timers per transaction.")
@acting
def sla_sweep(now_text: str | None, batch: int, **who: Any) -> None:
    """Run the watchdog once: fire the warnings, breaches and escalations due now."""
    ctx = _ctx(**who)
    uc.require_desk(ctx.actor, "runs the watchdog (sla sweep)")
    if not 1 <= batch <= 10_000:
        raise InvalidInput("--batch must be between 1 and 10000")
    result = watchdog.sweep(
        ctx.engine, _now(now_text, ctx), batch=batch, progress=_progress("sweep")
    )
    steps = [present.fired_dict(f) for f in result.fired]
    lines = [present.fired_text(f) for f in result.fired]
    lines.append(f"fired {len(result.fired)} step(s) as of {iso(result.now)}")
    if result.conflicts:
        lines.append(f"{result.conflicts} grievance(s) changed meanwhile: next sweep")
    lines += [present.broken_text(b) for b in result.broken]
    data = {"fired": len(result.fired), "now": iso(result.now), "conflicts": result.conflicts}
    broken = [present.broken_dict(b) for b in result.broken]
    _emit(ctx, {**data, "steps": steps, "broken": broken}, "\n".join(lines))


@cli.command()
@click.option(
    "--watchdog-interval",
    type=click.IntRange(min=5),
    metavar="SECONDS",
    help="How often the SLA watchdog runs [GRIEVANCE_WATCHDOG_INTERVAL] (default 60).",
)
def serve(watchdog_interval: int | None) -> None:
    """Serve the engine's Prefect deployments (actions, watchdog, digests) until Ctrl-C.

    Uses the Prefect server at $PREFECT_API_URL, or starts one on 127.0.0.1 (and stops it).
    """
    from flows import prefect_server, scheduled  # Prefect only for the commands that need it

    interval = timedelta(seconds=watchdog_interval) if watchdog_interval else None
    prefect_server.interrupt_on_sigterm()
    with prefect_server.prefect_api(say=click.echo) as api_url:
        click.echo(f"Prefect UI: {api_url.removesuffix('/api')}  (Ctrl-C stops)")
        try:
            scheduled.run_serve(interval)
        except KeyboardInterrupt:
            click.echo("stopping...")


# ----------------------------------------------------------------------------- notifications
@cli.group()
def notifications() -> None:
    """The notification outbox (通知): list, deliver, retry dead letters."""


@notifications.command("list")
@click.option(
    "--status", type=click.Choice(["pending", "sending", "sent", "dead"]), help="Only these."
)
@click.option("--grievance", "number", metavar="NUMBER", help="Only this grievance's.")
@click.option("--limit", default=100, show_default=True, help="At most this many.")
@acting
def notifications_list(status: str | None, number: str | None, limit: int, **who: Any) -> None:
    """Queued, sent and dead-lettered notifications (recipients shown without secrets)."""
    ctx = _ctx(**who)
    rows = uc.list_notifications(ctx.engine, ctx.actor, status=status, number=number, limit=limit)
    text = [
        f"{r['id']:>6} {r['status']:<8} {r['grievance'] or r['kind']} {r['step']:<12} "
        f"→ {r['recipient']}"
        f"  attempts {r['attempts']}" + (f"  ({r['last_error']})" if r["last_error"] else "")
        for r in rows
    ]
    _emit(ctx, rows, "\n".join(text) or "no notifications")


@notifications.command("deliver")
@click.option("--now", "now_text", metavar="ISO8601", help="Run as of this instant (default now).")
@acting
def notifications_deliver(now_text: str | None, **who: Any) -> None:
    """Send the notifications due now through their channels (retries with backoff)."""
    ctx = _ctx(**who)
    uc.require_desk(ctx.actor, "delivers notifications")
    result = delivery.deliver(ctx.engine, _now(now_text, ctx), progress=_progress("deliver"))
    data = {"sent": result.sent, "retried": result.retried, "dead": result.dead}
    text = [f"sent {result.sent}, to retry {result.retried}, dead-lettered {result.dead}"]
    _emit(ctx, {**data, "errors": result.errors}, "\n".join(text + result.errors))


@notifications.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_dead", is_flag=True, help="Every dead letter.")
@click.option("--now", "now_text", metavar="ISO8601", help="As of this instant (default now).")
@acting
def notifications_retry(
    ids: tuple[int, ...], all_dead: bool, now_text: str | None, **who: Any
) -> None:
    """Give dead letters another round of attempts (after fixing the channel)."""
    ctx = _ctx(**who)
    uc.require_desk(ctx.actor, "retries dead letters")
    if not ids and not all_dead:
        raise InvalidInput("give notification ids, or --all for every dead letter")
    if any(not 1 <= i <= uc.VERSION_MAX for i in ids):
        raise InvalidInput(f"notification ids are between 1 and {uc.VERSION_MAX}")
    count = delivery.requeue(ctx.engine, _now(now_text, ctx), list(ids) or None)
    _emit(ctx, {"requeued": count}, f"{count} dead letter(s) queued again")


# ----------------------------------------------------------------------------- document jobs
@cli.group("documents")
def documents_group() -> None:
    """Document jobs (出具文书): the documents reviews and no-fault closes issue."""


@documents_group.command("jobs")
@click.option("--status", type=click.Choice(document_jobs.JOB_STATUSES), help="Only these.")
@click.option("--limit", default=100, show_default=True, help="At most this many.")
@acting
def documents_jobs(status: str | None, limit: int, **who: Any) -> None:
    """Document jobs, newest first: pending, done, or failed with the reason."""
    ctx = _ctx(**who)
    uc.require_bureau(ctx.actor, "the list of document jobs")
    if not 1 <= limit <= 100_000:
        raise InvalidInput("--limit must be between 1 and 100000")
    rows = document_jobs.jobs(ctx.engine, status=status, limit=limit)
    text = [
        f"{r['id']:>6} {r['status']:<8} {r['number']} {r['kind']:<9} v{r['version']}"
        f"  attempts {r['attempts']}" + (f"  ({r['last_error']})" if r["last_error"] else "")
        for r in rows
    ]
    _emit(ctx, rows, "\n".join(text) or "no document jobs")


@documents_group.command("issue")
@click.option("--retry-failed", is_flag=True, help="Also try the failed ones again.")
@click.option("--now", "now_text", metavar="ISO8601", help="As of this instant (default now).")
@acting
def documents_issue(retry_failed: bool, now_text: str | None, **who: Any) -> None:
    """Render and store the documents still pending (the watchdog does it every tick)."""
    ctx = _ctx(**who)
    uc.require_desk(ctx.actor, "issues pending documents")
    done = documents.issue(
        ctx.engine, _now(now_text, ctx), limit=100_000, retry_failed=retry_failed
    )
    failed = [job for job in done if job.error is not None]
    data = {
        "issued": len(done) - len(failed),
        "failed": [
            {"number": j.number, "kind": j.kind, "version": j.version, "error": j.error}
            for j in failed
        ],
    }
    text = [f"issued {data['issued']}, failed {len(failed)}"]
    text += [f"  {j.number} {j.kind} v{j.version}: {j.error}" for j in failed]
    _emit(ctx, data, "\n".join(text))


def write_file(out: Path, content: bytes) -> None:
    """Write `content` to `out` (folders created); a path that can't be written is the
    user's error, named in one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise InvalidInput(f"--out {str(out)[:200]!r}: can't write the file: {reason}") from None


@cli.command("document")
@click.argument("number")
@click.argument("kind", type=click.Choice(["review", "no-fault"]))
@click.option(
    "--format", "fmt", type=click.Choice(documents.FORMATS), default="html", show_default=True
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (overwritten; missing folders are created).",
)
@click.option(
    "--lang",
    type=click.Choice(templates.LANGUAGES),
    default=None,
    help="zh (default) or en [GRIEVANCE_LANGUAGE].",
)
@click.option("--json", "json_out", is_flag=True, default=None, help="Print JSON.")
@click.option("--at", "at_text", metavar="ISO8601", help="When it is rendered (default now).")
@click.option("--actor", "actor_name", metavar="NAME", help="Who renders [GRIEVANCE_ACTOR].")
@click.option(
    "--role", "role_name", type=_choice(Role, exclude=(Role.SYSTEM.value,)), help="Their role."
)
@click.option("--actor-unit", "actor_unit", metavar="CODE", help="Their unit (unit staff).")
def document(number: str, kind: str, fmt: str, out: Path, lang: str | None, **who: Any) -> None:
    """复盘报告 / 无责说明: render the review report or no-fault statement of a grievance to a
    file (HTML, Markdown or Word) and store it with its hash."""
    ctx = _ctx(**who)
    rendered = documents.render(
        ctx.engine,
        number,
        kind.replace("-", "_"),
        fmt,
        ctx.actor,
        ctx.stamp.at,
        lang=lang,
        before_store=lambda done: write_file(out, done.content),
    )
    data = {
        "path": str(out),
        "format": fmt,
        "language": rendered.language,
        "sha256": rendered.sha256,
        "bytes": len(rendered.content),
    }
    if ctx.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(
            f"{out}  {fmt} ({rendered.language})  {len(rendered.content)} bytes  "
            f"sha256 {rendered.sha256}"
        )


# ----------------------------------------------------------------------------- calendar
@cli.group()
def calendar() -> None:
    """The working-day calendar (工作日): State Council notices, library data, the law
    minimum for years without a notice, and operator overrides."""


@calendar.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--replace", is_flag=True, help="Replace the notice already loaded for the file's year."
)
@acting
def calendar_load(file: str, replace: bool, **who: Any) -> None:
    """Load a State Council notice ([notice] table: the whole year) or an override file
    (single days); recompute open deadlines, each move written to the audit log."""
    ctx = _ctx(**who)
    data = read_calendar(file)
    loaded = calendars.load(
        ctx.engine, data, ctx.stamp, source=os.path.basename(file), replace=replace
    )
    notice = loaded.notice
    out = {
        "notice": None
        if notice is None
        else {
            "year": notice.year,
            "document": notice.document,
            "published": notice.published.isoformat(),
            "digest": notice.digest,
        },
        "holidays": loaded.holidays,
        "workdays": loaded.workdays,
        "unchanged": loaded.unchanged,
        "replaced": loaded.replaced,
        "dropped_overrides": [d.isoformat() for d in loaded.dropped_overrides],
        "now_official": loaded.now_official,
        "moved": [
            {
                "number": m.number,
                "target": m.target,
                "cycle": m.cycle,
                "old_due": iso(m.old_due),
                "new_due": iso(m.new_due),
                "provisional": m.provisional,
            }
            for m in loaded.moved
        ],
    }
    _emit(ctx, out, "\n".join(_loaded_lines(loaded)))


def _loaded_lines(loaded: calendars.Loaded) -> list[str]:
    days = f"{loaded.holidays} holiday(s), {loaded.workdays} workday(s)"
    notice = loaded.notice
    if notice is not None and loaded.unchanged:
        return [f"the notice for {notice.year} ({notice.document}) is already loaded: no change"]
    if notice is not None:
        head = f"loaded the notice for {notice.year} ({notice.document}): {days}"
        if loaded.replaced:
            head += f"; replaced {loaded.replaced}"
        lines = [head, f"{notice.year} is official now (正式); its law-minimum days are replaced"]
        if loaded.dropped_overrides:
            dropped = ", ".join(d.isoformat() for d in loaded.dropped_overrides)
            lines.append(f"override days of {notice.year} superseded and removed: {dropped}")
    else:
        lines = [f"loaded {days}"]
    lines.append(
        f"{len(loaded.moved)} deadline(s) moved; "
        f"{loaded.now_official} open deadline(s) no longer provisional"
    )
    lines += [
        f"  {m.number} {m.target}#{m.cycle}: {iso(m.old_due)} -> {iso(m.new_due)}"
        f"{'  (provisional 暂定)' if m.provisional else ''}"
        for m in loaded.moved
    ]
    return lines


@calendar.command("status")
@acting
def calendar_status(**who: Any) -> None:
    """Each year from the earliest open deadline to next year: where its days come from
    (library, notice, law minimum), official or provisional, open deadlines depending on it."""
    ctx = _ctx(**who)
    result = calendars.status(ctx.engine, ctx.stamp.at)
    data = {
        "years": [
            {
                "year": y.year,
                "source": y.source,
                "document": y.document,
                "official": y.official,
                "provisional_timers": y.provisional_timers,
                "overrides": y.overrides,
            }
            for y in result.years
        ],
        "earliest_open_due": iso(result.earliest_open_due) if result.earliest_open_due else None,
        "provisional_timers": result.provisional_timers,
    }
    source_text = {"library": "library (chinesecalendar)", "law_minimum": "law minimum"}
    lines = []
    for y in result.years:
        source = f"notice {y.document}" if y.source == "notice" else source_text[y.source]
        state = "official 正式" if y.official else "provisional 暂定"
        line = f"{y.year}  {state:<16} {source}"
        if not y.official:
            line += f"; {y.provisional_timers} open deadline(s) depend on it"
        if y.overrides:
            line += f"; {y.overrides} override day(s)"
        lines.append(line)
    if result.provisional_years:
        lines.append(
            "Load the State Council notice when it is published: "
            "grievance calendar load calendars/notices/YEAR.toml (see calendars/notices/README.md)"
        )
    _emit(ctx, data, "\n".join(lines))


@calendar.command("show")
@click.argument("start", metavar="DATE")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 366))
@acting
def calendar_show(start: str, days: int, **who: Any) -> None:
    """Each day from DATE: working or not, and why (holiday name, make-up workday...)."""
    ctx = _ctx(**who)
    first = local(_instant(start)).date()
    infos = [ctx.engine.calendar.day(first + timedelta(days=i)) for i in range(days)]
    data = [
        {
            "date": i.day.isoformat(),
            "working": i.working,
            "reason": i.reason,
            "name": i.name,
            "provisional": i.provisional,
        }
        for i in infos
    ]
    text = [
        f"{i.day.isoformat()} {i.day:%a}  {'work' if i.working else 'rest'}  {i.reason}"
        f"{' ' + i.name if i.name else ''}{'  (provisional)' if i.provisional else ''}"
        for i in infos
    ]
    _emit(ctx, data, "\n".join(text))


# ----------------------------------------------------------------------------- admin
@cli.command()
def migrate() -> None:
    """Create or upgrade the grievance database schema (also done on first use)."""
    db = Database(migrate=False)
    applied = db.migrate()
    click.echo(
        f"database at revision {db.current_revision()}"
        + (" (upgraded)" if applied else " (already current)")
    )


@cli.command()
@click.option(
    "--check",
    "check_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Exit 1 unless FILE carries the current diagram.",
)
def diagram(check_file: str | None) -> None:
    """Print the state machine as Mermaid, generated from the transition table."""
    from workflow.diagram import readme_block

    block = readme_block()
    if check_file is None:
        click.echo(block)
        return
    try:
        with open(check_file, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"can't read {check_file}: {error}") from None
    if block not in text:
        raise click.ClickException(f"{check_file} does not carry the current state diagram")


def _guarded(command: click.Command, check: Callable[[Actor, dict[str, Any]], None]) -> Any:
    """A copy of `command` (defined elsewhere, without the acting options) that first checks
    the actor given by the global options or the environment (`check` may adjust kwargs)."""
    callback = command.callback
    if callback is None:
        raise TypeError(f"command {command.name} has no callback")

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check(_ctx(None, None, None, None, None).actor, kwargs)
        return callback(*args, **kwargs)

    copied = copy.copy(command)
    copied.callback = guarded
    return copied


def _report_now(kwargs: dict[str, Any]) -> None:
    """A report's --now, checked as every other time of the command line."""
    if kwargs.get("now_text"):
        _instant(kwargs["now_text"])


def _daily_access(actor: Actor, kwargs: dict[str, Any]) -> None:
    """Unit staff get their own unit's daily reminder only."""
    _report_now(kwargs)
    if actor.unit_bound:
        if kwargs.get("unit") not in (None, actor.unit):
            raise PermissionDenied(
                f"unit {actor.unit} staff may not read unit {kwargs['unit']}'s daily reminder"
            )
        kwargs["unit"] = actor.unit


def _bureau_report(what: str) -> Callable[[Actor, dict[str, Any]], None]:
    """A digest across units: for bureau roles, not for unit staff."""

    def check(actor: Actor, kwargs: dict[str, Any]) -> None:
        _report_now(kwargs)
        uc.require_bureau(actor, what)

    return check


def _import_access(actor: Actor, kwargs: dict[str, Any]) -> None:
    if has_binary(str(kwargs.get("file", ""))):
        raise InvalidInput("FILE: the file name contains control characters")
    if actor.role is not Role.DISPATCHER:
        raise PermissionDenied(
            f"a {actor.role.value} may not import work orders (only dispatcher): "
            "importing accepts grievances"
        )


_report = copy.copy(reports.report)
_report.commands = {
    "daily": _guarded(reports.report.commands["daily"], _daily_access),
    "weekly": _guarded(reports.report.commands["weekly"], _bureau_report("the weekly summary")),
    "monthly": _guarded(reports.report.commands["monthly"], _bureau_report("the monthly bulletin")),
}
cli.add_command(_guarded(demo.demo, lambda actor, _: uc.require_desk(actor, "loads demo data")))
cli.add_command(_report)
cli.add_command(_guarded(import_, _import_access))


def _one_line(text: str) -> str:
    """An error message as one line of plain text (user input in it may hold line breaks or
    terminal escapes)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _binary_argument(args: Sequence[str]) -> str | None:
    """The option (or position) of the first argument holding a NUL or bytes that were not
    valid UTF-8: such input is binary data, refused before any command sees it."""
    for index, arg in enumerate(args):
        if "\x00" in arg or any("\ud800" <= c <= "\udfff" for c in arg):
            if arg.startswith("--") and "=" in arg:
                return arg.split("=", 1)[0]
            previous = args[index - 1] if index else ""
            return previous if previous.startswith("-") else f"argument {index + 1}"
    return None


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `grievance` console script."""
    debug = bool(os.environ.get("GRIEVANCE_DEBUG"))
    args = list(argv) if argv is not None else sys.argv[1:]
    bad = _binary_argument(args)
    if bad is not None:
        click.echo(
            f"error: {_one_line(bad)}: contains a NUL byte or bytes that are not UTF-8 text",
            err=True,
        )
        sys.exit(1)
    try:
        cli.main(
            args=args,
            prog_name="grievance",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        click.echo(f"error: {_one_line(error.format_message())}", err=True)
        sys.exit(error.exit_code)
    except GrievanceError as error:
        click.echo(f"error: {_one_line(str(error))}", err=True)
        sys.exit(1)
    except SQLAlchemyError as error:
        if debug:
            raise
        first = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
        click.echo(f"error: database: {_one_line(first)}", err=True)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - the last line of defence of a CLI
        if debug:
            raise
        click.echo(
            f"error: internal error ({type(error).__name__}: {_one_line(str(error))}); "
            "rerun with GRIEVANCE_DEBUG=1 for details",
            err=True,
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
