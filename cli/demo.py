"""`grievance demo`: load the demo data (`service.demo`), run the watchdog and deliver once, show
where things stand, then serve the Prefect UI and the deployments.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from models import case_rows, sla_timers
from service import calendars, delivery, watchdog
from service.demo import load
from service.engine import Engine


@click.command()
@click.option("--count", default=36, show_default=True, help="How many demo grievances.")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Start the Prefect server (unless PREFECT_API_URL is set) and serve the deployments.",
)
def demo(count: int, serve: bool) -> None:
    """Set up the database, load demo data, show the overview, then serve the Prefect UI.

    Ctrl-C stops the served deployments and the Prefect server it started.
    """
    overview(count)
    if not serve:
        return
    from flows import prefect_server, scheduled  # Prefect only when serving

    prefect_server.interrupt_on_sigterm()
    with prefect_server.prefect_api(say=click.echo) as api_url:
        ui = api_url.removesuffix("/api")
        click.echo(f"Prefect UI: {ui}  (deployments: {ui}/deployments; Ctrl-C stops)")
        try:
            scheduled.run_serve()
        except KeyboardInterrupt:
            click.echo("stopping...")


def overview(count: int) -> None:
    """Load the demo data, run the watchdog once, and print where things stand."""
    now = datetime.now(UTC)
    for audience in ("DESK", "SUPERVISOR", "LEADERSHIP"):
        os.environ.setdefault(f"GRIEVANCE_NOTIFY_{audience}", f"inbox://{audience.lower()}")
    engine = Engine.open()
    added = load(engine, now, count=count)
    fired = watchdog.sweep(engine, now).fired
    sent = delivery.deliver(engine, now)
    held = len(delivery.listing(engine, status="pending", limit=100_000))
    with engine.db.read() as session:
        counts = case_rows.count_by_state(session)
        overdue = sla_timers.overdue_by_target(session, now)
    click.echo(f"grievance database: {engine.db.url}")
    click.echo(f"demo data: {added} grievances added" if added else "demo data: already loaded")
    for state, n in sorted(counts.items(), key=lambda kv: kv[0].value):
        click.echo(f"  {state.value:<10} {state.zh:<4} {n:>4}")
    late = ", ".join(f"{target} {n}" for target, n in sorted(overdue.items())) or "none"
    click.echo(f"overdue now (open timers past their deadline): {late}")
    inbox = os.environ.get("GRIEVANCE_INBOX_DIR") or "inbox"
    click.echo(
        f"watchdog: {len(fired)} warning/breach/escalation steps fired; notifications: "
        f"{sent.sent} delivered to {inbox}/, {held} held for business hours or retry, "
        f"{sent.dead} dead-lettered"
    )
    status = calendars.status(engine, now)
    for year in status.years:
        if not year.official:
            click.echo(
                f"calendar {year.year}: provisional (暂定, law-minimum holidays, no State Council "
                f"notice loaded; {year.provisional_timers} open deadline(s) depend on it). When "
                f"the notice is published: .venv/bin/grievance calendar load "
                f"calendars/notices/{year.year}.toml (template and steps in calendars/notices/)"
            )
    click.echo("next: .venv/bin/grievance list --state accepted; .venv/bin/grievance show <number>")
    click.echo("      .venv/bin/grievance notifications list; .venv/bin/grievance sla sweep")
