"""The documented secure deployment: a Prefect server behind Prefect's basic authentication.

The self-hosted Prefect server has no user accounts: whoever reaches its API can start any
deployment (every lifecycle action), read every flow run's parameters and cancel runs.
docs/operations.md ("Securing the Prefect server") puts it behind
`PREFECT_SERVER_API_AUTH_STRING` on the server and `PREFECT_API_AUTH_STRING` on every process
that talks to it. This test starts a
real `prefect server start` that way (its own PREFECT_HOME and port) and checks that the API
refuses unauthenticated and wrongly authenticated calls (GET and POST) with 401, answers an
authenticated one, that Prefect's own client works with the client setting and fails without
it, and that the UI asks for the password.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SECRET = "grievance-admin:correct horse battery staple"


@dataclass(frozen=True)
class Server:
    url: str  # http://127.0.0.1:PORT
    log: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(
    url: str, *, method: str = "GET", body: object | None = None, auth: str | None = None
) -> tuple[int, str]:
    """One HTTP call; the status and the body (errors included)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_")  # no profile or API URL of the developer's
    }
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_AUTH_STRING=SECRET,
        PREFECT_UI_API_URL=f"http://127.0.0.1:{port}/api",
    )
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "prefect", "server", "start"]
            + ["--host", "127.0.0.1", "--port", str(port), "--analytics-off"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                pytest.fail(f"prefect server start exited: {log.read_text(errors='replace')}")
            try:
                if call(f"{url}/api/health")[0] == 200:  # the one path open without a password
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Prefect server did not start: {log.read_text(errors='replace')}")
            time.sleep(0.5)
        yield Server(url, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the group of the server we started
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


CALLS = [
    ("GET", "/admin/version", None),
    ("GET", "/flow_runs/00000000-0000-0000-0000-000000000000", None),
    ("POST", "/flows/filter", {}),
    ("POST", "/deployments/filter", {}),
    ("POST", "/flow_runs/filter", {"limit": 5}),
    ("POST", "/flows/", {"name": "intruder"}),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_an_unauthenticated_call_is_refused(
    server: Server, method: str, path: str, body: object
) -> None:
    assert call(f"{server.api}{path}", method=method, body=body)[0] == 401
    for wrong in ("grievance-admin:wrong", "", SECRET + "x", "admin:pass"):
        status, _ = call(f"{server.api}{path}", method=method, body=body, auth=wrong)
        assert status == 401, (path, wrong)


def test_an_authenticated_call_is_answered(server: Server) -> None:
    status, body = call(f"{server.api}/admin/version", auth=SECRET)
    assert status == 200 and body.strip('"')
    status, body = call(f"{server.api}/flows/filter", method="POST", body={}, auth=SECRET)
    assert status == 200
    flows = json.loads(body)
    assert isinstance(flows, list)
    assert "intruder" not in [flow["name"] for flow in flows]  # the refused POST made nothing
    status, body = call(f"{server.api}/flows/", method="POST", body={"name": "ok"}, auth=SECRET)
    assert status in (200, 201), body


def test_the_ui_asks_for_the_password(server: Server) -> None:
    status, body = call(f"{server.url}/ui-settings")
    assert status == 200 and json.loads(body)["auth"] == "BASIC"


def test_prefects_client_needs_the_client_setting(server: Server) -> None:
    """Workers, `grievance serve` and the CLI's Prefect calls use PREFECT_API_AUTH_STRING."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api, PREFECT_API_AUTH_STRING: SECRET}):
        with get_client(sync_client=True) as client:
            assert client.read_flows(limit=5) is not None
    with temporary_settings(
        {PREFECT_API_URL: server.api}, restore_defaults={PREFECT_API_AUTH_STRING}
    ):
        with get_client(sync_client=True) as client, pytest.raises(httpx.HTTPStatusError) as no:
            client.read_flows(limit=5)
        assert no.value.response.status_code == 401


def test_the_embedded_server_behind_a_password_is_used_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`grievance demo`/`serve` with only the server's setting: their own calls (and their
    served runs') carry the password, so setting it once is enough."""
    from prefect.client.orchestration import get_client

    from flows.prefect_server import prefect_api

    for key in [k for k in os.environ if k.startswith("PREFECT_API_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", SECRET)
    with prefect_api(port=_free_port(), timeout=240, say=lambda _line: None) as api:
        assert call(f"{api}/flows/filter", method="POST", body={})[0] == 401
        assert os.environ["PREFECT_API_AUTH_STRING"] == SECRET  # what served runs inherit
        with get_client(sync_client=True) as client:
            assert client.read_flows(limit=1) == []
    assert "PREFECT_API_AUTH_STRING" not in os.environ
