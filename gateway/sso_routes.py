"""The gate's single sign-on routes (OIDC, `gateway.sso`): `/login/sso` sends the browser to
the provider with a signed, short-lived cookie holding the state, nonce and where to go
after; `/login/sso/callback` checks the state, exchanges the code, maps the claims to a role
and unit (`accounts.sso_login`) and opens a session as a password login does."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import httpx
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.origin import remote_of, safe_next
from gateway.pages import login_page
from gateway.sso import SSO_COOKIE, SSO_MAX_AGE, Sso, SsoError
from service import accounts
from service.engine import Engine
from workflow.accounts import Identity
from workflow.errors import GrievanceError


class Gate(Protocol):
    """What the sign-on needs of the gate (`gateway.app.Gate`)."""

    engine: Engine
    sso: Sso | None
    sso_signer: URLSafeTimedSerializer
    secure_cookie: bool
    clock: Callable[[], datetime]

    async def refuse(self, request: Request, who: str | None, why: str) -> None: ...

    async def signed_in(
        self, identity: Identity, target: str, at: datetime, remote: str | None
    ) -> Response: ...


def _redirect_uri(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/login/sso/callback"


async def start(gate: Gate, request: Request) -> Response:
    if gate.sso is None:
        return Response("single sign-on is not configured", status_code=404)
    target = safe_next(request.query_params.get("next"))
    try:
        url, state, nonce = await gate.sso.authorize_url(_redirect_uri(request))
    except (SsoError, httpx.HTTPError) as error:
        page = login_page(next_path=target, sso=True, detail=f"单点登录不可用 SSO: {error}")
        return HTMLResponse(page, status_code=502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        SSO_COOKIE,
        gate.sso_signer.dumps({"state": state, "nonce": nonce, "next": target}),
        max_age=SSO_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=gate.secure_cookie,
        path="/login/sso",
    )
    return response


async def callback(gate: Gate, request: Request) -> Response:
    if gate.sso is None:
        return Response("single sign-on is not configured", status_code=404)
    at, remote = gate.clock(), remote_of(request)
    try:
        started = gate.sso_signer.loads(request.cookies.get(SSO_COOKIE, ""), max_age=SSO_MAX_AGE)
    except BadSignature:
        started = None
    state = request.query_params.get("state", "")
    if not isinstance(started, dict) or not hmac.compare_digest(
        str(started.get("state", "")), state
    ):
        await gate.refuse(request, None, "sso state missing or altered")
        page = login_page(sso=True, detail="单点登录已过期或无效，请重试 The sign-on expired")
        return HTMLResponse(page, status_code=400)
    target = safe_next(str(started.get("next") or "/"))
    try:
        claims = await gate.sso.claims(
            request.query_params.get("code", ""), _redirect_uri(request), str(started["nonce"])
        )
        claimed = gate.sso.mapped(claims)
        identity = await run_in_threadpool(
            accounts.sso_login,
            gate.engine,
            name=claimed.name,
            display=claimed.display_name,
            role=claimed.role,
            unit=claimed.unit,
            at=at,
            remote=remote,
        )
    except (SsoError, GrievanceError, httpx.HTTPError) as error:
        await gate.refuse(request, None, f"sso: {error}"[:200])
        page = login_page(next_path=target, sso=True, detail=f"单点登录失败 SSO: {error}")
        return HTMLResponse(page, status_code=403)
    response = await gate.signed_in(identity, target, at, remote)
    response.delete_cookie(SSO_COOKIE, path="/login/sso")
    return response
