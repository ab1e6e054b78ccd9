"""Scheduled Prefect flows and the `grievance serve` process.

- `sla-watchdog` (every minute by default, `GRIEVANCE_WATCHDOG_INTERVAL` seconds): one sweep
  (`flows.watchdog.sweep`) then one delivery round (`flows.delivery.deliver`), each a task,
  at one instant read from the clock once. Every fired step is also a Prefect event, so
  Prefect automations can react:

  | event                    | when                                        |
  |--------------------------|---------------------------------------------|
  | `grievance.sla.warning`  | a yellow card (黄牌预警) before the deadline |
  | `grievance.sla.breached` | the deadline itself (红牌)                   |
  | `grievance.escalated`    | a later rung of the ladder (督办...)         |

  The resource is `grievance.<number>` (label `grievance.unit` = the lead unit), with the unit
  as a related resource. Event ids derive from the step, so a re-sent event is recognisable.
  Events follow the database commit; the audit log and the outbox are the record, events are
  a signal (one can be lost if the process dies between the commit and the emit).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, serve, task
from prefect.events import emit_event

from flows import delivery, watchdog
from flows.engine import Engine
from workflow.errors import InvalidInput
from workflow.timeutil import iso

WARNING, BREACHED, ESCALATED = (
    "grievance.sla.warning",
    "grievance.sla.breached",
    "grievance.escalated",
)
ENV_INTERVAL = "GRIEVANCE_WATCHDOG_INTERVAL"


def event_name(fired: watchdog.Fired) -> str:
    if fired.at < fired.due_at:
        return WARNING
    return BREACHED if fired.at == fired.due_at else ESCALATED


def emit_fired(fired: watchdog.Fired) -> None:
    """One Prefect event for one fired step."""
    key = f"{fired.number}/{fired.target}/{fired.cycle}/{fired.step}"
    resource = {
        "prefect.resource.id": f"grievance.{fired.number}",
        "prefect.resource.name": fired.number,
        "grievance.target": fired.target,
        "grievance.unit": fired.unit or "",
    }
    related = (
        [{"prefect.resource.id": f"grievance.unit.{fired.unit}", "prefect.resource.role": "unit"}]
        if fired.unit
        else []
    )
    emit_event(
        event=event_name(fired),
        resource=resource,
        related=related,
        payload={
            "step": fired.step,
            "title": fired.title,
            "target": fired.target,
            "cycle": fired.cycle,
            "at": iso(fired.at),
            "due_at": iso(fired.due_at),
            "late_seconds": int(fired.late.total_seconds()),
            "notify": list(fired.audiences),
        },
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"grievance:{key}"),
    )


@task(name="sweep")
def sweep_task(now: datetime) -> list[watchdog.Fired]:
    engine = Engine.open()
    try:
        result = watchdog.sweep(engine, now)
    finally:
        engine.db.dispose()
    for fired in result.fired:
        emit_fired(fired)
    logger = get_run_logger()
    logger.info("fired %d step(s) as of %s", len(result.fired), iso(now))
    if result.conflicts:
        logger.warning("%d grievance(s) changed meanwhile: next sweep", result.conflicts)
    return result.fired


@task(name="deliver")
def deliver_task(now: datetime) -> dict[str, int]:
    engine = Engine.open()
    try:
        result = delivery.deliver(engine, now)
    finally:
        engine.db.dispose()
    logger = get_run_logger()
    logger.info("sent %d, to retry %d, dead-lettered %d", result.sent, result.retried, result.dead)
    for error in result.errors:
        logger.warning("dead letter: %s", error)
    return {"sent": result.sent, "retried": result.retried, "dead": result.dead}


@flow(name="sla-watchdog", description="时限监控：触发预警、超时与督办，并发送通知。")
def sla_watchdog(now: datetime | None = None) -> dict[str, Any]:
    """时限监控 SLA watchdog: fire due warnings, breaches and escalations, then deliver the
    notifications. `now` defaults to the clock (read once); give one to replay an instant."""
    at = now.astimezone(UTC) if now is not None else datetime.now(UTC)
    fired = sweep_task(at)
    sent = deliver_task(at)
    return {"now": iso(at), "fired": len(fired), **sent}


def watchdog_interval() -> timedelta:
    raw = os.environ.get(ENV_INTERVAL) or "60"
    try:
        seconds = int(raw)
    except ValueError:
        raise InvalidInput(f"{ENV_INTERVAL}={raw!r}: give whole seconds, e.g. 60") from None
    if seconds < 5:
        raise InvalidInput(f"{ENV_INTERVAL}={raw!r}: at least 5 seconds")
    return timedelta(seconds=seconds)


def deployments(interval: timedelta | None = None) -> list[Any]:
    """Every deployment the served process runs (more join as the Prefect work lands)."""
    return [
        sla_watchdog.to_deployment(
            name="sla-watchdog",
            interval=interval or watchdog_interval(),
            tags=["grievance", "watchdog"],
            description="时限监控（每分钟）SLA watchdog, every minute by default",
        )
    ]


def run_serve(interval: timedelta | None = None) -> None:
    """Serve every deployment in this process until interrupted (Ctrl-C)."""
    serve(*deployments(interval))
