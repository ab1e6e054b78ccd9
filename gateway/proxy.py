"""Forwarding to the Prefect server behind the gate: the caller's credentials and hop-by-hop
headers taken out, the server's own password (HTTP Basic, `PREFECT_SERVER_API_AUTH_STRING`)
put in, the answer streamed back as it comes."""

from __future__ import annotations

import base64
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
    client: httpx.AsyncClient, request: Request, upstream: Upstream, body: bytes | None = None
) -> Response:
    """Send the request upstream (with `body` if already read) and stream the answer back."""
    url = httpx.URL(upstream.url + request.url.path, query=request.url.query.encode())
    content = body if body is not None else request.stream()
    sent = client.build_request(
        request.method, url, headers=forwarded_headers(request, upstream), content=content
    )
    try:
        answer = await client.send(sent, stream=True)
    except httpx.HTTPError as error:
        return Response(
            f"the Prefect server behind the gate did not answer ({type(error).__name__})",
            status_code=502,
            media_type="text/plain; charset=utf-8",
        )
    headers = [
        (k, v)
        for k, v in answer.headers.multi_items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server")  # uvicorn's own
    ]
    response = StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
    )
    response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return response
