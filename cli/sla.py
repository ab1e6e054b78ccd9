"""`grievance sla plan|check|sweep`: deadlines planned, timers checked against the audit log,
the watchdog swept once."""

from __future__ import annotations

import sys
from typing import Any

import click

from cli import present
from cli.context import acting, cli, emit, instant, make_ctx, now_from, progress
from service import watchdog
from service.acting import require_bureau, require_desk
from service.timers import check_timers
from workflow.errors import InvalidInput
from workflow.notices import read_calendar
from workflow.sla import plan
from workflow.timeutil import iso


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
    ctx = make_ctx(**who)
    engine = ctx.engine
    policy = engine.policies.latest(policy_name or engine.default_policy)
    calendar = engine.calendar
    if calendar_file:
        calendar = engine.calendar_with(read_calendar(calendar_file))
    accepted = instant(accepted_at)
    closed = instant(closed_at) if closed_at else None
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
    emit(ctx, data, "\n".join(text))


@sla.command("check")
@click.option("--fix", is_flag=True, help="Store the timers replayed from the audit log.")
@acting
def sla_check(fix: bool, **who: Any) -> None:
    """Rebuild every grievance's timers from its audit log and compare with the stored ones."""
    ctx = make_ctx(**who)
    require_bureau(ctx.actor, "sla check")
    if fix:
        require_desk(ctx.actor, "stores replayed timers (sla check --fix)")
    problems = check_timers(ctx.engine, fix=fix)
    emit(
        ctx,
        {"differences": problems, "fixed": fix and bool(problems)},
        "\n".join(problems) or "all timers match their audit logs",
    )
    if problems and not fix:
        sys.exit(1)


@sla.command("sweep")
@click.option("--now", "now_text", metavar="ISO8601", help="Run as of this instant (default now).")
@click.option("--batch", default=watchdog.BATCH, show_default=True, help="Timers per transaction.")
@acting
def sla_sweep(now_text: str | None, batch: int, **who: Any) -> None:
    """Run the watchdog once: fire the warnings, breaches and escalations due now."""
    ctx = make_ctx(**who)
    require_desk(ctx.actor, "runs the watchdog (sla sweep)")
    if not 1 <= batch <= 10_000:
        raise InvalidInput("--batch must be between 1 and 10000")
    result = watchdog.sweep(
        ctx.engine, now_from(now_text, ctx), batch=batch, progress=progress("sweep")
    )
    steps = [present.fired_dict(f) for f in result.fired]
    lines = [present.fired_text(f) for f in result.fired]
    lines.append(f"fired {len(result.fired)} step(s) as of {iso(result.now)}")
    if result.conflicts:
        lines.append(f"{result.conflicts} grievance(s) changed meanwhile: next sweep")
    lines += [present.broken_text(b) for b in result.broken]
    data = {"fired": len(result.fired), "now": iso(result.now), "conflicts": result.conflicts}
    broken = [present.broken_dict(b) for b in result.broken]
    emit(ctx, {**data, "steps": steps, "broken": broken}, "\n".join(lines))
