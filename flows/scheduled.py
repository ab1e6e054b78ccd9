"""Scheduled Prefect flows and the `grievance serve` process.

- `daily-reminder` (08:00 Asia/Shanghai, every day; does nothing on rest days, runs on
  make-up Saturdays), `weekly-summary` (Mondays 08:30, the week before) and
  `monthly-bulletin` (the 1st, 09:00, the month before): each renders its digests
  (`service.digests`), writes HTML, Markdown and Excel files to `$GRIEVANCE_REPORT_DIR`
  (default `./reports`), and publishes each as a Prefect markdown artifact (key
  `daily-reminder-<unit>`, `weekly-summary`, `monthly-bulletin`), so the Artifacts page
  always shows the latest.
- `sla-watchdog` (every minute by default, `GRIEVANCE_WATCHDOG_INTERVAL` seconds): one sweep
  (`service.watchdog.sweep`), one delivery round (`service.delivery.deliver`), then the document
  jobs still pending (`service.documents.issue`: what a crash left), each a task,
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
  Its last task, `worklist` (`flows.worklist`), publishes the `worklist-<unit>` and
  `worklist-desk` tables and keeps the suspended case runs in line with the database
  (creating at most `GRIEVANCE_CASE_RUNS_BATCH` per tick; off with `GRIEVANCE_CASE_RUNS=0`).
  It fails soft: a problem there is a warning in the run's log, never a failed watchdog.
- `deployments()` is what `grievance serve` serves: the actions, `case` (the worklist's case
  runs, unless turned off), `import` (bulk import), the watchdog and the digests.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, serve, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event
from prefect.schedules import Cron

from models import reports
from service import delivery, digests, documents, outbox, watchdog
from service.digest_data import Digest
from service.engine import Engine
from workflow.errors import InvalidInput
from workflow.measures import month_of, week_of
from workflow.privacy import mask_text
from workflow.timeutil import iso

T = TypeVar("T")

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


def _on_engine(work: Callable[[Engine], T]) -> T:
    """`work` on an engine opened for it (a task runs in any thread), closed after."""
    engine = Engine.open()
    try:
        return work(engine)
    finally:
        engine.db.dispose()


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
def board_task(now: datetime) -> list[dict[str, Any]]:
    """The SLA board artifact: per unit, what is overdue, due today, due by the end of the
    next working day (refreshed by every watchdog run; key `sla-board`)."""
    engine = Engine.open()
    try:
        tz = engine.calendar.zone
        today = now.astimezone(tz).date()
        today_end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
        soon_day = digests.next_working_day(engine, today)
        soon_end = datetime.combine(soon_day + timedelta(days=1), time.min, tzinfo=tz)
        with engine.db.read() as session:
            rows = reports.sla_board(session, now, today_end, soon_end)
            units = outbox.load_units(session).items()
            names = {code: mask_text(unit.name) for code, unit in units}  # as in the digests
    finally:
        engine.db.dispose()
    table = [
        {
            "承办单位 Unit": f"{unit} {names.get(unit, '')}".strip() if unit else "（未分办）desk",
            "已超期 Overdue": overdue,
            "今日到期 Due today": due_today,
            f"即将到期 Due by {soon_day:%m-%d}": due_soon,
        }
        for unit, overdue, due_today, due_soon in rows
    ]
    create_table_artifact(
        key="sla-board",
        table=table,
        description=f"时限看板 SLA board as of {iso(now)}",
    )
    return table


@task(name="worklist")
def worklist_task(now: datetime) -> dict[str, Any]:
    """The worklist: the `worklist-<unit>` / `worklist-desk` tables, then the case runs
    (lazy, bounded creation and re-sync; `flows.worklist.sync_worklist`). Never fails the
    watchdog: each part logs a warning and the next tick tries again."""
    from flows import case_runs, worklist  # their forms import the action flows

    logger = get_run_logger()
    result: dict[str, Any] = {}
    engine = Engine.open()
    try:
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
    finally:
        engine.db.dispose()
    logger.info("worklist: %s", result)
    return result


@flow(name="sla-watchdog", description="时限监控：触发预警、超时与督办，并发送通知。")
def sla_watchdog(now: datetime | None = None) -> dict[str, Any]:
    """时限监控 SLA watchdog: fire due warnings, breaches and escalations, then deliver the
    notifications, refresh the SLA board and the worklist. `now` defaults to the clock (read
    once)."""
    at = now.astimezone(UTC) if now is not None else datetime.now(UTC)
    fired = sweep_task(at)
    sent = deliver_task(at)
    issued = documents_task(at)
    board_task(at)
    listed = worklist_task(at)
    return {
        "now": iso(at),
        "fired": len(fired),
        **sent,
        "documents": issued,
        "worklist": listed,
    }


ENV_REPORT_DIR = "GRIEVANCE_REPORT_DIR"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _clock(now: datetime | None) -> datetime:
    return now.astimezone(UTC) if now is not None else datetime.now(UTC)


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def publish(digest: Digest) -> list[str]:
    """Write the digest's files and publish it as a Prefect artifact; returns the paths."""
    folder = Path(os.environ.get(ENV_REPORT_DIR) or "reports") / digest.kind
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in ("html", "md", "xlsx"):
        path = folder / digest.filename(fmt)
        path.write_bytes(digests.render_digest(digest, fmt))
        paths.append(str(path))
    markdown = digests.render_digest(digest, "md").decode("utf-8")
    key = {
        "daily": artifact_key("daily-reminder", digest.unit or "desk"),
        "weekly": "weekly-summary",
        "monthly": "monthly-bulletin",
    }[digest.kind]
    create_markdown_artifact(markdown=markdown, key=key, description=digest.title)
    return paths


@flow(name="daily-reminder", description="日提醒：各单位今日到期、即将到期、已超期事项。")
def daily_reminder(now: datetime | None = None) -> dict[str, Any]:
    """日提醒 daily reminder per unit (working days only, make-up Saturdays included): sent to
    each unit's notification targets through the outbox, and published as an artifact."""
    at = _clock(now)
    day = at.astimezone(SHANGHAI).date()
    engine = Engine.open()
    try:
        made = digests.daily(engine, day, at)
        queued = 0
        with engine.db.transaction() as session:
            for digest in made:
                body = digests.render_digest(digest, "md").decode("utf-8")
                queued += len(
                    outbox.queue_reminder(
                        engine,
                        session,
                        unit=digest.unit or "",
                        day=day.isoformat(),
                        title=digest.title,
                        body=body,
                        now=at,
                    )
                )
    finally:
        engine.db.dispose()
    logger = get_run_logger()
    if not made:
        logger.info("%s is not a working day (or no unit has open work): no reminder", day)
        return {"day": day.isoformat(), "reminders": 0, "queued": 0}
    files = [path for digest in made for path in publish(digest)]
    logger.info("%d reminder(s) for %s, %d message(s) queued: %s", len(made), day, queued, files)
    return {"day": day.isoformat(), "reminders": len(made), "queued": queued}


@flow(name="weekly-summary", description="周汇总：上周各单位办理情况与指标。")
def weekly_summary(now: datetime | None = None, week_of_day: date | None = None) -> str:
    """周汇总 weekly summary of the week before `now` (or of the week holding `week_of_day`)."""
    at = _clock(now)
    period = (
        week_of(week_of_day) if week_of_day else week_of(at.astimezone(SHANGHAI).date()).previous()
    )
    engine = Engine.open()
    try:
        digest = digests.weekly(engine, period, at)
    finally:
        engine.db.dispose()
    publish(digest)
    return digest.title


@flow(name="monthly-bulletin", description="月通报：上月各单位指标、排名、超期清单与会商研判。")
def monthly_bulletin(now: datetime | None = None, month: str | None = None) -> str:
    """月通报 monthly bulletin of the month before `now` (or of `month`, e.g. "2026-11")."""
    at = _clock(now)
    if month:
        try:
            first = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise InvalidInput(f"month {month!r}: use YYYY-MM, e.g. 2026-11") from None
        period = month_of(first)
    else:
        period = month_of(at.astimezone(SHANGHAI).date()).previous()
    engine = Engine.open()
    try:
        digest = digests.monthly(engine, period, at)
    finally:
        engine.db.dispose()
    publish(digest)
    return digest.title


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
    """Every deployment the served process runs: one per lifecycle action (forms for the
    dispatchers), the case runs of the worklist (unless GRIEVANCE_CASE_RUNS=0), the bulk
    import, the watchdog and the digests on their schedules."""
    from flows import actions, case_runs, importer  # forms import pydantic models at runtime

    return [
        *actions.action_deployments(),
        *([case_runs.case_deployment()] if case_runs.enabled() else []),
        importer.import_deployment(),
        sla_watchdog.to_deployment(
            name="sla-watchdog",
            interval=interval or watchdog_interval(),
            tags=["grievance", "watchdog"],
            description="时限监控（每分钟）SLA watchdog, every minute by default",
        ),
        daily_reminder.to_deployment(
            name="daily-reminder",
            schedules=[Cron("0 8 * * *", timezone="Asia/Shanghai")],
            tags=["grievance", "digest"],
            description="日提醒（工作日08:00）daily reminder, working days 08:00",
        ),
        weekly_summary.to_deployment(
            name="weekly-summary",
            schedules=[Cron("30 8 * * 1", timezone="Asia/Shanghai")],
            tags=["grievance", "digest"],
            description="周汇总（每周一08:30）weekly summary, Mondays 08:30",
        ),
        monthly_bulletin.to_deployment(
            name="monthly-bulletin",
            schedules=[Cron("0 9 1 * *", timezone="Asia/Shanghai")],
            tags=["grievance", "digest"],
            description="月通报（每月1日09:00）monthly bulletin, the 1st at 09:00",
        ),
    ]


ENV_POLL = "GRIEVANCE_RUNNER_POLL"


def runner_poll() -> float:
    """How often the served runner asks for runs to start (a UI Run, a Resume): every 2 s by
    default (`GRIEVANCE_RUNNER_POLL` seconds; Prefect's own default is 10)."""
    raw = os.environ.get(ENV_POLL) or "2"
    try:
        seconds = float(raw)
    except ValueError:
        raise InvalidInput(f"{ENV_POLL}={raw!r}: give seconds, e.g. 2") from None
    if not 0.5 <= seconds <= 60:
        raise InvalidInput(f"{ENV_POLL}={raw!r}: between 0.5 and 60 seconds")
    return seconds


def run_serve(interval: timedelta | None = None) -> None:
    """Serve every deployment in this process until interrupted (Ctrl-C)."""
    serve(*deployments(interval), query_seconds=runner_poll())
