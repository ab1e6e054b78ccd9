"""What every `grievance` command shares: the root click group and its global options, the
acting options (`--json`, `--at`, `--actor`, `--role`, `--actor-unit`), the context a command
runs in (engine, actor, stamp: the clock read here, once) and how results are printed.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from cli import present
from service import watchdog
from service.accounts import as_account
from service.acting import Stamp
from service.engine import Engine
from workflow.actor import Actor
from workflow.commands import INSTANT_YEARS
from workflow.errors import InvalidInput
from workflow.timeutil import local, parse_instant
from workflow.vocab import Event, Role

F = TypeVar("F", bound=Callable[..., Any])


def choice(enum: type[Any], exclude: Sequence[str] = ()) -> click.Choice[str]:
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
            type=choice(Role, exclude=(Role.SYSTEM.value,)),
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

    given: Stamp  # who acts as the options and the environment say
    json: bool

    @functools.cached_property
    def stamp(self) -> Stamp:
        """Who acts: as given, unless an account of that name exists, whose role and unit
        then hold (`service.accounts.as_account`; the command line is the operator's door)."""
        actor = as_account(self.engine, self.given.actor)
        return Stamp(actor=actor, at=self.given.at, recorded_at=self.given.recorded_at)

    @property
    def actor(self) -> Actor:
        return self.stamp.actor

    @functools.cached_property
    def engine(self) -> Engine:
        return Engine.open()


def make_ctx(
    json_out: bool | None,
    at_text: str | None,
    actor_name: str | None,
    role_name: str | None,
    actor_unit: str | None,
) -> Ctx:
    who: Who = click.get_current_context().find_object(Who) or Who()
    now = datetime.now(UTC)
    at_raw = _given("--at", at_text, who.at)
    name = (
        _given("--actor", actor_name, who.actor)
        or os.environ.get("GRIEVANCE_ACTOR")
        or getpass.getuser()
    )
    role_raw = role_name or who.role or os.environ.get("GRIEVANCE_ROLE") or Role.DISPATCHER.value
    unit = (
        _given("--actor-unit", actor_unit, who.actor_unit)
        or os.environ.get("GRIEVANCE_ACTOR_UNIT")
        or None
    )
    people = [r.value for r in Role if r is not Role.SYSTEM]
    if role_raw not in people:
        raise InvalidInput(f"unknown role {role_raw!r}: use one of {', '.join(people)}")
    role = Role(role_raw)
    actor = Actor(name=name, role=role, unit=unit)
    at = instant(at_raw) if at_raw else now
    return Ctx(
        given=Stamp(actor=actor, at=at, recorded_at=now),
        json=bool(json_out if json_out is not None else who.json),
    )


def _given(option: str, after: str | None, before: str | None) -> str | None:
    """An option's value, given after the command or before it; an empty value typed on
    purpose (`--at ''`) is refused, not read as "not given" (now, the OS user)."""
    for value in (after, before):
        if value is not None:
            if not value.strip():
                raise InvalidInput(f"{option} is empty: give a value or leave the option out")
            return value
    return None


def instant(text: str) -> datetime:
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


def emit(ctx: Ctx, data: Any, text: str) -> None:
    if ctx.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(text)


def emit_case(ctx: Ctx, case: Any, verb: Event) -> None:
    emit(
        ctx,
        present.case_dict(case),
        f"{verb.zh} {verb.value}: {case.number} -> {case.state.value} ({case.state.zh})",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--actor", metavar="NAME", help="Who acts (default $GRIEVANCE_ACTOR or the OS user).")
@click.option(
    "--role",
    type=choice(Role, exclude=(Role.SYSTEM.value,)),
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


def now_from(text: str | None, ctx: Ctx) -> datetime:
    """--now: an ISO 8601 instant (without offset: Asia/Shanghai); else --at, else the clock
    (an empty --now is refused like an empty --at)."""
    given = _given("--now", text, None)
    return instant(given) if given is not None else ctx.stamp.at


def progress(what: str) -> Callable[[Any], None] | None:
    if not sys.stderr.isatty():
        return None
    return lambda result: click.echo(f"\r{what}: {_count(result)}", nl=False, err=True)


def _count(result: Any) -> str:
    if isinstance(result, watchdog.SweepResult):
        return f"{len(result.fired)} steps fired in {result.batches} batches"
    return f"{result.sent} sent, {result.retried} to retry, {result.dead} dead"
