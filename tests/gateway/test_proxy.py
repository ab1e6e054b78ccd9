"""The gate's forwarding: a 503 from the Prefect server (its "try again": SQLite was locked by
another writer) is sent again, the same request with the same body, so the desk's click in the
UI passes instead of showing an error; every other answer goes back as it came."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.proxy import RETRY_DELAYS, Upstream, forward


class Upstream503:
    """A Prefect server that answers 503 `busy` times, then 200 with what it was sent."""

    def __init__(self, busy: int, status: int = 503) -> None:
        self.busy = busy
        self.status = status
        self.seen: list[tuple[str, str, bytes, str | None]] = []

    async def answer(self, request: Request) -> Response:
        body = await request.body()
        auth = request.headers.get("authorization")
        self.seen.append((request.method, str(request.url), body, auth))
        if len(self.seen) <= self.busy:
            return JSONResponse({"exception_message": "Service Unavailable"}, self.status)
        return Response(b"done:" + body)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{rest:path}", self.answer, methods=["GET", "POST"])])


def _gate(
    upstream: Upstream503, waited: list[float], delays: tuple[float, ...] | None
) -> TestClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream.app()))

    async def sleep(seconds: float) -> None:  # time is not waited for in tests
        waited.append(seconds)

    async def through(request: Request) -> Response:
        body = await request.body() if request.method == "POST" else None
        return await forward(
            client,
            request,
            Upstream("http://prefect.internal", "admin:pw"),
            body,
            delays=delays,
            sleep=sleep,
        )

    app = Starlette(routes=[Route("/api/{rest:path}", through, methods=["GET", "POST"])])
    return TestClient(app, base_url="http://127.0.0.1:4200")


def test_a_503_is_sent_again_with_the_same_body_until_it_passes() -> None:
    upstream = Upstream503(busy=2)
    waited: list[float] = []
    with _gate(upstream, waited, None) as gate:
        answer = gate.post("/api/flow_runs/abc/resume?x=1", content=b'{"run_input": {"u": 1}}')
    assert answer.status_code == 200 and answer.content == b'done:{"run_input": {"u": 1}}'
    assert len(upstream.seen) == 3
    assert {s[0:3] for s in upstream.seen} == {
        ("POST", "http://prefect.internal/api/flow_runs/abc/resume?x=1", b'{"run_input": {"u": 1}}')
    }
    assert {s[3] for s in upstream.seen} == {
        "Basic YWRtaW46cHc="
    }  # the server's password each time
    assert waited == list(RETRY_DELAYS[:2])


def test_a_get_is_sent_again_too() -> None:
    upstream = Upstream503(busy=1)
    waited: list[float] = []
    with _gate(upstream, waited, (0.5,)) as gate:
        answer = gate.get("/api/flow_runs/abc")
    assert answer.status_code == 200 and len(upstream.seen) == 2 and waited == [0.5]


def test_when_every_try_gets_503_the_503_goes_back() -> None:
    upstream = Upstream503(busy=100)
    waited: list[float] = []
    with _gate(upstream, waited, (0.1, 0.2)) as gate:
        answer = gate.post("/api/flow_runs/filter", content=b"{}")
    assert answer.status_code == 503 and answer.json() == {
        "exception_message": "Service Unavailable"
    }
    assert len(upstream.seen) == 3 and waited == [0.1, 0.2]


@pytest.mark.parametrize("status", [500, 502, 409, 422])
def test_other_errors_are_not_sent_again(status: int) -> None:
    upstream = Upstream503(busy=1, status=status)
    waited: list[float] = []
    with _gate(upstream, waited, None) as gate:
        answer = gate.post("/api/flow_runs/abc/resume", content=b"{}")
    assert answer.status_code == status and len(upstream.seen) == 1 and waited == []
