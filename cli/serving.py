"""`grievance serve`: the gate on the public port, the Prefect server behind it, and the
engine's deployments served (the one place the CLI starts `flows/` and `gateway/`)."""

from __future__ import annotations

import os
from datetime import timedelta

import click

from cli.context import cli

HOST_OPTION = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Where the gate listens (0.0.0.0: every interface; put HTTPS in front).",
)
PORT_OPTION = click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=4200,
    show_default=True,
    help="The gate's port: the Prefect UI and API, behind a login.",
)


def serve_behind_gate(interval: timedelta | None, host: str, port: int) -> None:
    """Start the Prefect server (internal), the gate in front of it, and serve the deployments
    until Ctrl-C or SIGTERM; everything started is stopped again, in order."""
    from flows import prefect_server, scheduled  # Prefect only for the commands that need it
    from gateway import server as gate_server
    from gateway.proxy import Upstream
    from service import stamps
    from service.engine import Engine

    if not gate_server.port_free(host, port):
        raise gate_server.GateError(
            f"port {port} is taken: stop what runs there or give --port another one"
        )
    public = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"  # noqa: S104
    stamps.ensure_key()  # the gate signs identity stamps with it, the served runs check them
    prefect_server.interrupt_on_sigterm()
    with prefect_server.prefect_api(say=click.echo, public_url=public) as api_url:
        upstream = Upstream(api_url.removesuffix("/api"), os.environ.get("PREFECT_API_AUTH_STRING"))
        with Engine.opened() as engine:
            gate = gate_server.start(engine, upstream, host=host, port=port)
            click.echo(
                f"grievance desk (Prefect UI behind a login): {gate.url}  "
                f"(deployments: {gate.url}/deployments; Ctrl-C stops)"
            )
            try:
                scheduled.run_serve(interval)
            except KeyboardInterrupt:
                click.echo("stopping...")
            finally:
                gate.stop()


@cli.command()
@click.option(
    "--watchdog-interval",
    type=click.IntRange(min=5),
    metavar="SECONDS",
    help="How often the SLA watchdog runs [GRIEVANCE_WATCHDOG_INTERVAL] (default 60).",
)
@HOST_OPTION
@PORT_OPTION
def serve(watchdog_interval: int | None, host: str, port: int) -> None:
    """Serve the engine: the gate (login) on --host/--port in front of the Prefect UI and API,
    and the deployments (actions, watchdog, digests), until Ctrl-C.

    Starts a Prefect server on an internal loopback port behind a random password (or uses
    the one at $PREFECT_API_URL) and stops it again. Add accounts first: grievance user add.
    """
    interval = timedelta(seconds=watchdog_interval) if watchdog_interval else None
    serve_behind_gate(interval, host, port)
