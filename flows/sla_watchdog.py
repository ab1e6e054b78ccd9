"""The `sla-watchdog` flow (every minute by default, `GRIEVANCE_WATCHDOG_INTERVAL` seconds):
one sweep (`service.watchdog.sweep`), one delivery round (`service.delivery.deliver`), then the
document jobs still pending (`service.documents.issue`: what a crash left), the worklist and
the SLA board (`flows.sla_board`), then the audit chain (new events sealed, verified incrementally, findings to
the bureau's supervisors), each a task, at one instant read from the clock once. Every fired step is also
a Prefect event, so Prefect automations can react:

| event                    | when                                        |
|--------------------------|---------------------------------------------|
| `grievance.sla.warning`  | a yellow card (黄牌预警) before the deadline |
| `grievance.sla.breached` | the deadline itself (红牌)                   |
| `grievance.escalated`    | a later rung of the ladder (督办...)         |

The resource is `grievance.<number>` (label `grievance.unit` = the lead unit), with the unit
as a related resource. Event ids derive from the step, so a re-sent event is recognisable.
Events follow the database commit; the audit log and the outbox are the record, events are
a signal (one can be lost if the process dies between the commit and the emit).
Its last task, `worklist` (`flows.worklist`), publishes the `worklist-<unit>` and
`worklist-desk` tables and keeps the suspended case runs in line with the database
(creating at most `GRIEVANCE_CASE_RUNS_BATCH` per tick; off with `GRIEVANCE_CASE_RUNS=0`).
It fails soft: a problem there is a warning in the run's log, never a failed watchdog.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.events import emit_event

from service import audit_watch, delivery, documents, watchdog
from service.engine import Engine
from workflow.privacy import mask_text
from workflow.sla_board import DESK, board_key
from workflow.timeutil import iso

T = TypeVar("T")
DESK_KEY = board_key(DESK)

WARNING, BREACHED, ESCALATED = (
    "grievance.sla.warning",
    "grievance.sla.breached",
    "grievance.escalated",
)


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


def _on_engine(work: Callable[[Engine], T]) -> T:
    """`work` on an engine opened for it (a task runs in any thread), closed after."""
    with Engine.opened() as engine:
        return work(engine)


@task(name="sweep")
def sweep_task(now: datetime) -> list[watchdog.Fired]:
    result = _on_engine(lambda engine: watchdog.sweep(engine, now))
    for fired in result.fired:
        emit_fired(fired)
    logger = get_run_logger()
    logger.info("fired %d step(s) as of %s", len(result.fired), iso(now))
    if result.conflicts:
        logger.warning("%d grievance(s) changed meanwhile: next sweep", result.conflicts)
    for broken in result.broken:  # `error` is masked; reported to supervisors once
        log = logger.warning if broken.reported else logger.info
        log(
            "grievance %s cannot be processed (%s): %s%s",
            broken.number,
            ", ".join(broken.targets) or "?",
            broken.error,
            "; supervisors notified" if broken.reported else "; reported before",
        )
    return result.fired


@task(name="deliver")
def deliver_task(now: datetime) -> dict[str, int]:
    result = _on_engine(lambda engine: delivery.deliver(engine, now))
    logger = get_run_logger()
    logger.info("sent %d, to retry %d, dead-lettered %d", result.sent, result.retried, result.dead)
    for error in result.errors:
        logger.warning("dead letter: %s", error)
    return {"sent": result.sent, "retried": result.retried, "dead": result.dead}


@task(name="documents")
def documents_task(now: datetime) -> dict[str, int]:
    """Issue the documents still pending (the action that queued one issues it right after
    its commit; this catches what a crash or a failure left)."""
    issued = _on_engine(lambda engine: documents.issue(engine, now))
    logger = get_run_logger()
    failed = [job for job in issued if job.error is not None]
    if issued:
        logger.info("issued %d document job(s), %d failed", len(issued), len(failed))
    for job in failed:
        logger.warning(
            "document %s %s v%d failed: %s", job.kind, job.number, job.version, job.error
        )
    return {"issued": len(issued) - len(failed), "failed": len(failed)}


@task(name="sla-board")
def board_task(now: datetime) -> dict[str, int]:
    """The SLA board (`flows.sla_board`): every running timer with its card, the business
    time left or overdue and the step reached, for the desk (key `sla-board`) and per unit
    (`sla-board-<unit>`), refreshed by every watchdog run. Returns the running timers per
    board."""
    from flows import sla_board

    logger = get_run_logger()
    with Engine.opened() as engine:
        published = sla_board.publish_boards(engine, now, logger=logger)
    logger.info(
        "SLA board: %d running timer(s), %d unit board(s)",
        published[DESK_KEY].total if DESK_KEY in published else 0,
        len(published) - 1,
    )
    return {key: board.total for key, board in published.items()}


@task(name="worklist")
def worklist_task(now: datetime) -> dict[str, Any]:
    """The worklist: the `worklist-<unit>` / `worklist-desk` tables, then the case runs
    (lazy, bounded creation and re-sync; `flows.worklist.sync_worklist`). Never fails the
    watchdog: each part logs a warning and the next tick tries again."""
    from flows import case_runs, worklist  # their forms import the action flows

    logger = get_run_logger()
    result: dict[str, Any] = {}
    with Engine.opened() as engine:
        try:
            counts = worklist.publish_worklists(engine, now)
            result["waiting"] = sum(counts.values())
        except Exception as error:  # noqa: BLE001 - reported, retried next tick
            logger.warning("worklist tables not published: %s", error)
        if case_runs.enabled():
            try:
                report = worklist.sync_worklist(engine)
            except Exception as error:  # noqa: BLE001 - reported, retried next tick
                logger.warning("case runs not synced (next tick): %s", error)
            else:
                result["case_runs"] = report.summary()
                for problem in report.errors[:10]:
                    logger.warning("case run: %s", problem)
    logger.info("worklist: %s", result)
    return result


@task(name="audit")
def audit_task(now: datetime) -> dict[str, int]:
    """The audit chain: new events sealed, verified incrementally, findings reported to the
    bureau's supervisors (`service.audit_watch`). Never fails the watchdog: a problem is a
    warning in the log and the next tick tries again."""
    logger = get_run_logger()
    try:
        watched = _on_engine(lambda engine: audit_watch.watch(engine, now))
    except Exception as error:  # noqa: BLE001 - reported, retried next tick
        logger.warning("audit chain not verified (next tick): %s", mask_text(str(error))[:300])
        return {}
    if watched.findings:
        logger.warning(
            "audit verify: %d finding(s) in %d grievance(s) checked; %d notification(s) queued",
            watched.findings,
            watched.checked,
            watched.notified,
        )
    return {
        "sealed": watched.sealed,
        "checked": watched.checked,
        "findings": watched.findings,
        "notified": watched.notified,
    }


@flow(name="sla-watchdog", description="时限监控：触发预警、超时与督办，并发送通知。")
def sla_watchdog(now: datetime | None = None) -> dict[str, Any]:
    """时限监控 SLA watchdog: fire due warnings, breaches and escalations, then deliver the
    notifications, refresh the SLA board and the worklist. `now` defaults to the clock (read
    once)."""
    at = now.astimezone(UTC) if now is not None else datetime.now(UTC)
    fired = sweep_task(at)
    sent = deliver_task(at)
    issued = documents_task(at)
    listed = worklist_task(at)
    board_task(at)  # after the worklist: its rows link to the case runs made this tick
    audited = audit_task(at)
    return {
        "now": iso(at),
        "fired": len(fired),
        **sent,
        "documents": issued,
        "worklist": listed,
        "audit": audited,
    }
