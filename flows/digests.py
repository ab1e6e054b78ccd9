"""The digest flows: `daily-reminder` (08:00 Asia/Shanghai, every day; does nothing on rest
days, runs on make-up Saturdays), `weekly-summary` (Mondays 08:30, the week before) and
`monthly-bulletin` (the 1st, 09:00, the month before): each renders its digests
(`service.digests`), writes HTML, Markdown and Excel files to `$GRIEVANCE_REPORT_DIR`
(default `./reports`), and publishes each as a Prefect markdown artifact (key
`daily-reminder-<unit>`, `weekly-summary`, `monthly-bulletin`), so the Artifacts page always
shows the latest.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from service import digests, outbox
from service.digest_data import Digest
from service.engine import Engine
from workflow.errors import InvalidInput
from workflow.measures import month_of, week_of

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
    with Engine.opened() as engine:
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
    with Engine.opened() as engine:
        digest = digests.weekly(engine, period, at)
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
    with Engine.opened() as engine:
        digest = digests.monthly(engine, period, at)
    publish(digest)
    return digest.title
