"""`grievance demo`: load the demo data (`service.demo`), run the watchdog and deliver once, show
where things stand, then serve the Prefect UI and the deployments.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.serving import HOST_OPTION, PORT_OPTION, serve_behind_gate
from models import case_rows, sla_timers
from service import calendars, delivery, importing, watchdog
from service.demo import SAMPLE_IMPORT, load, load_accounts, sample_work_orders
from service.engine import Engine


@click.command()
@click.option("--count", default=36, show_default=True, help="How many demo grievances.")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Start the gate and the Prefect server (unless PREFECT_API_URL is set) and serve "
    "the deployments.",
)
@HOST_OPTION
@PORT_OPTION
def demo(count: int, serve: bool, host: str, port: int) -> None:
    """Set up the database, load demo data, show the overview, then serve the Prefect UI.

    Ctrl-C stops the served deployments and the Prefect server it started.
    """
    overview(count)
    if not serve:
        return
    serve_behind_gate(None, host, port)


ACCOUNTS_FILE = Path("demo-accounts.txt")


def show_accounts(engine: Engine, now: datetime) -> None:
    """Add the demo accounts on first use; their passwords are kept in demo-accounts.txt
    (readable by this OS user only) and printed each time."""
    added = load_accounts(engine, now)
    if added:
        fresh = not ACCOUNTS_FILE.exists()
        with open(ACCOUNTS_FILE, "a", encoding="utf-8") as out:
            if fresh:
                out.write("# demo accounts at the gate (login name, role, password)\n")
            out.writelines(f"{name:<12} {role:<18} {password}\n" for name, role, password in added)
        ACCOUNTS_FILE.chmod(0o600)
    if ACCOUNTS_FILE.exists():
        click.echo(
            f"demo accounts 演示账号 ({ACCOUNTS_FILE}; change them with grievance user passwd):"
        )
        for line in ACCOUNTS_FILE.read_text(encoding="utf-8").splitlines()[1:]:
            click.echo(f"  {line}")
    else:
        click.echo("demo accounts exist, but demo-accounts.txt is gone: grievance user passwd NAME")


def show_sample_import(now: datetime) -> None:
    """Put a sample 12328 export into the import folder (once) and say how to import it."""
    folder = importing.import_dir()
    path = folder / SAMPLE_IMPORT
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(sample_work_orders(now), encoding="utf-8")
    click.echo(
        f"sample 12328 work orders 导入样例: {path} (UI: 批量导入 import, path {SAMPLE_IMPORT};"
        f" or .venv/bin/grievance import {path})"
    )


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
    show_accounts(engine, now)
    show_sample_import(now)
    click.echo("next: .venv/bin/grievance list --state accepted; .venv/bin/grievance show <number>")
    click.echo("      .venv/bin/grievance notifications list; .venv/bin/grievance sla sweep")
