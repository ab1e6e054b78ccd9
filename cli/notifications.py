"""`grievance notifications list|deliver|retry`: the outbox, one delivery round, dead letters."""

from __future__ import annotations

from typing import Any

import click

from cli.context import acting, cli, emit, make_ctx, now_from, progress
from service import delivery
from service.acting import VERSION_MAX, require_desk
from service.reading import list_notifications
from workflow.errors import InvalidInput


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
    ctx = make_ctx(**who)
    rows = list_notifications(ctx.engine, ctx.actor, status=status, number=number, limit=limit)
    text = [
        f"{r['id']:>6} {r['status']:<8} {r['grievance'] or r['kind']} {r['step']:<12} "
        f"→ {r['recipient']}"
        f"  attempts {r['attempts']}" + (f"  ({r['last_error']})" if r["last_error"] else "")
        for r in rows
    ]
    emit(ctx, rows, "\n".join(text) or "no notifications")


@notifications.command("deliver")
@click.option("--now", "now_text", metavar="ISO8601", help="Run as of this instant (default now).")
@acting
def notifications_deliver(now_text: str | None, **who: Any) -> None:
    """Send the notifications due now through their channels (retries with backoff)."""
    ctx = make_ctx(**who)
    require_desk(ctx.actor, "delivers notifications")
    result = delivery.deliver(ctx.engine, now_from(now_text, ctx), progress=progress("deliver"))
    data = {"sent": result.sent, "retried": result.retried, "dead": result.dead}
    text = [f"sent {result.sent}, to retry {result.retried}, dead-lettered {result.dead}"]
    emit(ctx, {**data, "errors": result.errors}, "\n".join(text + result.errors))


@notifications.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_dead", is_flag=True, help="Every dead letter.")
@click.option("--now", "now_text", metavar="ISO8601", help="As of this instant (default now).")
@acting
def notifications_retry(
    ids: tuple[int, ...], all_dead: bool, now_text: str | None, **who: Any
) -> None:
    """Give dead letters another round of attempts (after fixing the channel)."""
    ctx = make_ctx(**who)
    require_desk(ctx.actor, "retries dead letters")
    if not ids and not all_dead:
        raise InvalidInput("give notification ids, or --all for every dead letter")
    if any(not 1 <= i <= VERSION_MAX for i in ids):
        raise InvalidInput(f"notification ids are between 1 and {VERSION_MAX}")
    count = delivery.requeue(ctx.engine, now_from(now_text, ctx), list(ids) or None)
    emit(ctx, {"requeued": count}, f"{count} dead letter(s) queued again")
