"""The embedded Prefect server: started by `grievance demo` / `grievance serve` when no
`PREFECT_API_URL` is set, stopped again when they stop.

It is Prefect's own server (`prefect server start`, API and UI, SQLite under
`$PREFECT_HOME`, default `./.prefect` beside the grievance database), run as a child process
on 127.0.0.1 (`GRIEVANCE_PREFECT_PORT`, default 4200). Analytics are off: nothing leaves the
machine. With `PREFECT_API_URL` set, the server it names is used and nothing is started.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workflow.errors import GrievanceError

ENV_PORT = "GRIEVANCE_PREFECT_PORT"


class ServerError(GrievanceError):
    """The embedded Prefect server could not be started."""


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM (a service manager, `timeout`, `kill`) like Ctrl-C, so what this process
    started is stopped in order instead of being left behind."""

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)


@contextmanager
def prefect_api(
    *,
    port: int | None = None,
    timeout: float = 120,
    say: Callable[[str], None] = print,
    public_url: str | None = None,
) -> Iterator[str]:
    """Yield the Prefect API URL: the configured one, or an embedded server's while in use.

    With `public_url` (the gate's address) the embedded server is internal: on a free loopback
    port (`GRIEVANCE_PREFECT_PORT` if set), behind a random password that only this process,
    the gate and the served runs know (`PREFECT_API_AUTH_STRING`), its UI told to call the API
    through the gate."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        yield configured.rstrip("/")
        return
    set_password = False
    if public_url is not None:
        port = port or int(os.environ.get(ENV_PORT) or 0) or _free_port()
        if not os.environ.get("PREFECT_SERVER_API_AUTH_STRING"):
            os.environ["PREFECT_SERVER_API_AUTH_STRING"] = secrets.token_urlsafe(32)
            set_password = True
    port = port or int(os.environ.get(ENV_PORT) or 4200)
    api_url = f"http://127.0.0.1:{port}/api"
    if not _port_free(port):
        raise ServerError(
            f"port {port} is taken: stop what runs there, set {ENV_PORT} to another port, "
            "or point PREFECT_API_URL at a running Prefect server"
        )
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # A run's events list its tags, which the gate narrows unit staff's events by; the server
    # keeps a run's tags for its events 5 minutes by default, so a case run moved from the
    # desk to a unit (retagged, then suspended again) would show that unit none of its new
    # state's events for 5 minutes. Read afresh each time (a few small reads per state change).
    env.setdefault("PREFECT_SERVER_EVENTS_RELATED_RESOURCE_CACHE_TTL", "PT0S")
    env["PREFECT_UI_API_URL"] = f"{public_url}/api" if public_url else api_url
    log = Path(env["PREFECT_HOME"]) / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"starting the Prefect server on http://127.0.0.1:{port} (log: {log}) ...")
    with open(log, "ab") as out:
        server = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--analytics-off",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop it ourselves, in order
        )
    added_auth = False
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(api_url):
            if server.poll() is not None:
                raise ServerError(f"the Prefect server stopped at start-up; see {log}")
            if time.monotonic() > deadline:
                raise ServerError(
                    f"the Prefect server did not answer in {timeout:.0f} s; see {log}"
                )
            time.sleep(0.5)
        # Prefect reads its settings once at import: point this process at the server too
        from prefect.settings import (
            PREFECT_API_AUTH_STRING,
            PREFECT_API_URL,
            PREFECT_UI_URL,
            temporary_settings,
        )

        updates: dict[Any, str] = {PREFECT_API_URL: api_url}
        os.environ["PREFECT_API_URL"] = api_url  # for child processes (served runs)
        if public_url:  # the links runs log ("View at ...") point at the gate, not inside
            os.environ["PREFECT_UI_URL"] = public_url
            updates[PREFECT_UI_URL] = public_url
        # a server behind basic auth: this process and its children use the same password
        password = os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
        if password and not os.environ.get("PREFECT_API_AUTH_STRING"):
            added_auth = True
            os.environ["PREFECT_API_AUTH_STRING"] = password
            updates[PREFECT_API_AUTH_STRING] = password
        with temporary_settings(updates=updates):
            yield api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        if public_url:
            os.environ.pop("PREFECT_UI_URL", None)
        if added_auth:
            os.environ.pop("PREFECT_API_AUTH_STRING", None)
        if set_password:
            os.environ.pop("PREFECT_SERVER_API_AUTH_STRING", None)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        say("Prefect server stopped")
