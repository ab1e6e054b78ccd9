"""Running the gate: uvicorn in a thread of the serving process (`grievance serve` / `demo`), on
the public address, in front of the Prefect server it is given."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from gateway.app import Gate
from gateway.proxy import Upstream
from gateway.sso import SsoConfig
from service.engine import Engine
from workflow.errors import GrievanceError

ENV_SECRET = "GRIEVANCE_GATE_SECRET"  # noqa: S105 - a variable name; the key, random when unset
ENV_SECURE = "GRIEVANCE_GATE_SECURE_COOKIE"  # "1" behind HTTPS: cookies sent over HTTPS only


class GateError(GrievanceError):
    """The gate could not be started."""


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def free_loopback_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (for the Prefect server behind the gate)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Running:
    """A gate running in a thread; `stop()` ends it."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 10) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start(
    engine: Engine, upstream: Upstream, *, host: str, port: int, timeout: float = 30
) -> Running:
    """Start the gate on host:port in front of `upstream`; returns once it accepts requests."""
    secret = os.environ.get(ENV_SECRET, "").encode() or secrets.token_bytes(32)
    gate = Gate(
        engine,
        upstream,
        secret,
        secure_cookie=os.environ.get(ENV_SECURE) == "1",
        sso=SsoConfig.from_env(),
    )
    config = uvicorn.Config(
        gate.app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        lifespan="on",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="grievance-gate", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise GateError(f"the gate could not listen on {host}:{port}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise GateError(f"the gate did not start in {timeout:.0f} s")
        time.sleep(0.05)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - only shown
    return Running(server, thread, f"http://{shown}:{port}")
