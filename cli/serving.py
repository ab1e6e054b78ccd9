"""`grievance serve`: the Prefect deployments served (the one place the CLI starts `flows/`)."""

from __future__ import annotations

from datetime import timedelta

import click

from cli.context import cli


@cli.command()
@click.option(
    "--watchdog-interval",
    type=click.IntRange(min=5),
    metavar="SECONDS",
    help="How often the SLA watchdog runs [GRIEVANCE_WATCHDOG_INTERVAL] (default 60).",
)
def serve(watchdog_interval: int | None) -> None:
    """Serve the engine's Prefect deployments (actions, watchdog, digests) until Ctrl-C.

    Uses the Prefect server at $PREFECT_API_URL, or starts one on 127.0.0.1 (and stops it).
    """
    from flows import prefect_server, scheduled  # Prefect only for the commands that need it

    interval = timedelta(seconds=watchdog_interval) if watchdog_interval else None
    prefect_server.interrupt_on_sigterm()
    with prefect_server.prefect_api(say=click.echo) as api_url:
        click.echo(f"Prefect UI: {api_url.removesuffix('/api')}  (Ctrl-C stops)")
        try:
            scheduled.run_serve(interval)
        except KeyboardInterrupt:
            click.echo("stopping...")
