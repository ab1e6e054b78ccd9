"""Forwarding to the Prefect server behind the gate: the caller's credentials and hop-by-hop
headers taken out, the server's own password (HTTP Basic, `PREFECT_SERVER_API_AUTH_STRING`)
put in, the answer streamed back as it comes.

Prefect's server answers 503 for the errors its own client retries on (on SQLite: "database is
locked" while another writer holds the file; the request's transaction was rolled back). Its
client sends the request again; the UI in a browser does not, and shows the desk an error for
a click that would pass a moment later. The gate sends such a request again itself, after
`RETRY_DELAYS`, and only answers the 503 when every try got one.

Every method is sent again, as Prefect's own client does: the 503 comes from the exception
handler for database errors raised inside the request's transaction, which is rolled back, so
nothing was created or resumed. Should a create ever have gone through before its 503, the
second run would find its action done: the identity stamp is spent once per run and input,
and the use case refuses a step the grievance has passed (`flows.case_runs`)."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# what a caller may not pass upstream: its own credentials, our cookie, and the headers Prefect
# trusts to name an automation as the run's creator
_DROPPED = HOP_BY_HOP | {"host", "authorization", "cookie", "content-length"}
_logger = logging.getLogger("grievance.gate")
# the waits before each new try of a request the Prefect server answered 503 (6.3 s in all)
RETRY_DELAYS: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


@dataclass(frozen=True)
class Upstream:
    """The Prefect server behind the gate: its base URL (without /api) and its password."""

    url: str
    auth_string: str | None = None

    def headers(self) -> dict[str, str]:
        if not self.auth_string:
            return {}
        token = base64.b64encode(self.auth_string.encode()).decode()
        return {"authorization": f"Basic {token}"}


def forwarded_headers(request: Request, upstream: Upstream) -> list[tuple[str, str]]:
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name not in _DROPPED and not name.startswith("prefect-automation-")
    ]
    headers.extend(upstream.headers().items())
    if "accept-encoding" not in request.headers:  # else httpx asks for gzip on its own
        headers.append(("accept-encoding", "identity"))
    if request.client is not None:
        headers.append(("x-forwarded-for", request.client.host))
    return headers


async def forward(
    client: httpx.AsyncClient,
    request: Request,
    upstream: Upstream,
    body: bytes | None = None,
    *,
    delays: tuple[float, ...] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Response:
    """Send the request upstream (with `body` if already read) and stream the answer back;
    a 503 (Prefect's "try again") is tried again after each of `delays` (`RETRY_DELAYS`)."""
    url = httpx.URL(upstream.url + request.url.path, query=request.url.query.encode())
    content = body if body is not None else await request.body()  # kept: a retry resends it
    headers = forwarded_headers(request, upstream)
    waits = list(RETRY_DELAYS if delays is None else delays)
    while True:
        sent = client.build_request(request.method, url, headers=headers, content=content)
        try:
            answer = await client.send(sent, stream=True)
        except httpx.HTTPError as error:
            return Response(
                f"the Prefect server behind the gate did not answer ({type(error).__name__})",
                status_code=502,
                media_type="text/plain; charset=utf-8",
            )
        if answer.status_code != 503 or not waits:
            if answer.status_code == 503:
                _logger.warning(
                    "%s %s: the Prefect server stayed busy (503)", request.method, url.path
                )
            break
        await answer.aclose()
        await sleep(waits.pop(0))
    kept = [
        (k, v)
        for k, v in answer.headers.multi_items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server")  # uvicorn's own
    ]
    response = StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
    )
    response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in kept]
    return response
