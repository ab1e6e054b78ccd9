"""What `grievance serve` serves, on which schedules: `deployments()` gives the actions,
`case` (the worklist's case runs, unless turned off), `import` (bulk import), the
`sla-watchdog` (`flows.sla_watchdog`, every minute by default) and the digests
(`flows.digests`: daily 08:00, Mondays 08:30, the 1st 09:00); `run_serve` serves them in
this process with the runner polling every `GRIEVANCE_RUNNER_POLL` seconds.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from prefect import serve
from prefect.schedules import Cron

from flows import runner_start
from flows.digests import daily_reminder, monthly_bulletin, weekly_summary
from flows.sla_watchdog import sla_watchdog
from workflow.errors import InvalidInput

ENV_INTERVAL = "GRIEVANCE_WATCHDOG_INTERVAL"


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
    """How often the served runner asks for runs to start (a UI Run, a Resume): every 0.5 s by
    default (`GRIEVANCE_RUNNER_POLL` seconds; Prefect's own default is 10; the wait for the
    next poll is part of every desk step, see bench/desk_step.py; one indexed query of
    scheduled runs and one of cancelling runs per poll)."""
    raw = os.environ.get(ENV_POLL) or "0.5"
    try:
        seconds = float(raw)
    except ValueError:
        raise InvalidInput(f"{ENV_POLL}={raw!r}: give seconds, e.g. 2") from None
    if not 0.5 <= seconds <= 60:
        raise InvalidInput(f"{ENV_POLL}={raw!r}: between 0.5 and 60 seconds")
    return seconds


def run_serve(interval: timedelta | None = None) -> None:
    """Serve every deployment in this process until interrupted (Ctrl-C); runs start forked
    from a pre-warmed fork server unless GRIEVANCE_RUNNER_START=spawn (`flows.runner_start`)."""
    if runner_start.install() == "spawn":
        serve(*deployments(interval), query_seconds=runner_poll())
    else:
        runner_start.serve_warm(deployments(interval), query_seconds=runner_poll())
