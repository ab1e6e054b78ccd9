"""The gate as an ASGI app (Starlette): `/login` and `/logout`, the session cookie, and every
other request forwarded to the Prefect server for a signed-in person only.

Without a valid session an `/api/...` request is answered 401 and a page redirects to
`/login`. The cookie (`grievance_session`) is HttpOnly, SameSite=Lax and signed with the gate's
key; it carries a random token whose session row (`service.sessions`) ends on logout, after
8 hours idle, or when the account is disabled. Requests that change something must come from
the gate's own origin (an `Origin` header of another site is refused), and Prefect's templated
values (`__prefect_kind`) are refused in what people send, so typed input cannot read Prefect
variables. The endpoints that change the system (deployments, work pools, blocks, variables,
automations, deleting runs, forcing states) are for admins only. Runs it creates and case runs
it resumes carry the person's identity stamp (`gateway.stamping`); unit staff see their unit's
runs only (`gateway.narrowing`)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from gateway import evidence, search, shortcuts, sso_routes
from gateway.narrowing import narrow
from gateway.origin import SAFE, remote_of, safe_next, same_origin
from gateway.pages import login_page, reveal_page
from gateway.partner_api import PartnerApi
from gateway.partner_openapi import PREFIX as PARTNER_PREFIX
from gateway.proxy import Upstream, forward
from gateway.sso import Sso, SsoConfig
from gateway.stamping import Refusal, stamp_request
from service import accounts, disclosure, security, sessions
from service.acting import Stamp
from service.engine import Engine
from workflow.accounts import AccountRole, Identity
from workflow.errors import GrievanceError

COOKIE = "grievance_session"
NO_STORE = {"Cache-Control": "no-store"}  # pages with a driver's number are never cached
REFUSAL_QUIET = timedelta(minutes=1)  # the same refusal is logged once a minute
FORM_MAX = 8 * 1024  # a login form is small; anything bigger is not one
# Prefect endpoints that change the system rather than a grievance: admins only
# (reads of them, e.g. the deployments list the UI shows everyone, are POST .../filter)
_SYSTEM = re.compile(
    r"^/api/(?:"
    r"deployments/?$|deployments/(?!filter$|count$|paginate$|get_scheduled_flow_runs$)[^/]+$|deployments/[^/]+/(?:schedules|pause|resume|branch)"
    r"|work_pools/(?!filter$|count$)|work_queues/(?!filter$)|block_(?:documents|types|schemas)"
    r"/(?!filter$|count$)|variables/(?!filter$|count$)|automations/(?!filter$|count$)"
    r"|flow_runs/[^/]+/set_state$|task_runs/[^/]+/set_state$|concurrency_limits"
    r"|flows/(?!filter$|count$|paginate$)[^/]+$|admin/"
    r")"
)
_DELETE_OK = re.compile(r"^/api/flow_runs/[^/]+/input/")


def _now() -> datetime:
    return datetime.now(UTC)


def _is_system_change(method: str, path: str) -> bool:
    if method in SAFE:
        return False
    if method == "DELETE":
        return not _DELETE_OK.match(path)
    return bool(_SYSTEM.match(path))


class Gate:
    """The gate's state: the engine, the upstream server, the cookie signer, the clock."""

    def __init__(
        self,
        engine: Engine,
        upstream: Upstream,
        secret: bytes,
        *,
        secure_cookie: bool = False,
        clock: Callable[[], datetime] = _now,
        transport: httpx.AsyncBaseTransport | None = None,
        sso: SsoConfig | None = None,
    ) -> None:
        self.engine = engine
        self.upstream = upstream
        self.signer = URLSafeSerializer(secret, salt="grievance-session")
        self.secure_cookie = secure_cookie
        self.clock = clock
        self.client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(60, connect=5))
        self.sso = (
            Sso(sso, httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5))) if sso else None
        )
        self.sso_signer = URLSafeTimedSerializer(secret, salt="grievance-sso")
        self._refused: dict[tuple[str | None, str | None, str], datetime] = {}

    # --- sessions ------------------------------------------------------------------------
    async def identity(self, request: Request) -> Identity | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            token = self.signer.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(token, str):
            return None
        return await run_in_threadpool(sessions.resolve, self.engine, token, self.clock())

    async def refuse(self, request: Request, who: str | None, why: str) -> None:
        """Write a refusal to the security log: once a minute per (client, account, reason),
        so a signed-out tab that keeps polling does not write a row per request."""
        at, remote = self.clock(), remote_of(request)
        key = (remote, who, why)
        last = self._refused.get(key)
        if last is not None and at - last < REFUSAL_QUIET:
            return
        if len(self._refused) > 10_000:  # bounded: old entries go first
            self._refused.clear()
        self._refused[key] = at

        def log() -> None:
            with self.engine.db.transaction() as session:
                security.record(
                    session,
                    "refused",
                    at,
                    account=who,
                    remote=remote,
                    method=request.method,
                    path=request.url.path[:200],
                    why=why,
                )

        await run_in_threadpool(log)

    # --- routes --------------------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        return HTMLResponse(login_page(next_path=target, sso=self.sso is not None))

    async def login(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > FORM_MAX:
            return Response("login form too large", status_code=413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        username, password = form.get("username", ""), form.get("password", "")
        target = safe_next(form.get("next"))
        if not same_origin(request):
            page = login_page(next_path=target, error="origin", username=username)
            return HTMLResponse(page, status_code=403)
        at, remote = self.clock(), remote_of(request)
        try:
            identity = await run_in_threadpool(
                accounts.authenticate, self.engine, username, password, at, remote
            )
        except accounts.LoginRefused as refused:
            error = "throttled" if refused.throttled else "refused"
            page = login_page(
                next_path=target, error=error, username=username[:64], sso=self.sso is not None
            )
            if refused.throttled:
                return HTMLResponse(page, status_code=429, headers={"Retry-After": "60"})
            return HTMLResponse(page, status_code=401)
        return await self.signed_in(identity, target, at, remote)

    async def signed_in(
        self, identity: Identity, target: str, at: datetime, remote: str | None
    ) -> Response:
        """A session for a person who just signed in, its cookie, and on to `target`."""
        token = await run_in_threadpool(sessions.open_session, self.engine, identity, at, remote)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            self.signer.dumps(token),
            httponly=True,
            samesite="lax",
            secure=self.secure_cookie,
            path="/",
        )
        return response

    # --- single sign-on (OIDC): `gateway.sso_routes` ---------------------------------------
    async def sso_start(self, request: Request) -> Response:
        return await sso_routes.start(self, request)

    async def sso_callback(self, request: Request) -> Response:
        return await sso_routes.callback(self, request)

    async def logout(self, request: Request) -> Response:
        cookie = request.cookies.get(COOKIE)
        if cookie and same_origin(request):
            try:
                token = self.signer.loads(cookie)
            except BadSignature:
                token = None
            if isinstance(token, str):
                await run_in_threadpool(
                    sessions.end_session, self.engine, token, self.clock(), remote_of(request)
                )
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def whoami(self, request: Request) -> Response:
        identity = await self.identity(request)
        if identity is None:
            return JSONResponse({"detail": "not signed in 未登录"}, status_code=401)
        return JSONResponse(
            {
                "name": identity.name,
                "display_name": identity.display_name,
                "role": identity.role.value,
                "unit": identity.unit,
            }
        )

    async def reveal_form(self, request: Request) -> Response:
        if await self.identity(request) is None:
            return RedirectResponse("/login?next=/gate/reveal", status_code=303)
        page = reveal_page(number=request.query_params.get("number", "")[:40])
        return HTMLResponse(page, headers=NO_STORE)

    async def reveal(self, request: Request) -> Response:
        """A driver's number in full for the desk and the lead unit (`service.disclosure`)."""
        identity = await self.identity(request)
        if identity is None:
            return RedirectResponse("/login?next=/gate/reveal", status_code=303)
        body = await request.body()
        form = {k: v[0] for k, v in parse_qs(body[:FORM_MAX].decode("utf-8", "replace")).items()}
        number, why = form.get("number", "").strip(), form.get("why", "")
        actor = identity.actor
        if not same_origin(request) or actor is None:
            why_not = "cross-site request" if actor is not None else "this account does not act"
            await self.refuse(request, identity.name, why_not)
            return HTMLResponse(reveal_page(number=number, error=why_not), 403, NO_STORE)
        now = self.clock()
        try:
            shown = await run_in_threadpool(
                disclosure.reveal, self.engine, Stamp(actor, now, now), number, why
            )
        except GrievanceError as error:
            return HTMLResponse(reveal_page(number=number, error=str(error)), 403, NO_STORE)
        return HTMLResponse(reveal_page(number=number, shown=shown.as_dict()), headers=NO_STORE)

    async def find_form(self, request: Request) -> Response:
        return await search.find_form(self, request)

    async def find(self, request: Request) -> Response:
        """查找工单 (`gateway.search`): masked results, unit staff their unit's only."""
        return await search.find(self, request, same_origin(request))

    async def evidence_page(self, request: Request) -> Response:
        return await evidence.show(self, request)

    async def attach(self, request: Request) -> Response:
        """上传证据 (`gateway.evidence`): multipart, acting staff, same origin, size-limited."""
        return await evidence.attach(self, request, same_origin(request))

    async def evidence_file(self, request: Request) -> Response:
        return await evidence.download(self, request)

    async def board(self, request: Request) -> Response:
        return await shortcuts.board(self, request)

    async def worklist(self, request: Request) -> Response:
        return await shortcuts.worklist(self, request)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"gate": "ok"})

    async def through(self, request: Request) -> Response:
        """Every other path: the Prefect UI and API, for a signed-in person."""
        path = request.url.path
        api = path == "/api" or path.startswith("/api/")
        identity = await self.identity(request)
        if identity is None:
            if api:
                await self.refuse(request, None, "no session")
                return JSONResponse(
                    {"detail": "sign in first 请先登录", "login": "/login"}, status_code=401
                )
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        if request.method not in SAFE and not same_origin(request):
            await self.refuse(request, identity.name, "cross-site request")
            return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        if identity.role is not AccountRole.ADMIN and _is_system_change(request.method, path):
            await self.refuse(request, identity.name, "admins only")
            return JSONResponse(
                {"detail": "only an admin may change the system 仅系统管理员可操作"},
                status_code=403,
            )
        body = None
        if request.method not in SAFE:
            body = await request.body()
            if b"__prefect_kind" in body:
                await self.refuse(request, identity.name, "templated input")
                return JSONResponse(
                    {"detail": "templated values (__prefect_kind) are not accepted"},
                    status_code=400,
                )
            stamped = await stamp_request(
                self.engine, self.client, self.upstream, identity, path, body, self.clock()
            )
            if isinstance(stamped, Refusal):
                await self.refuse(request, identity.name, stamped.detail)
                return JSONResponse({"detail": stamped.detail}, status_code=stamped.status)
            body = stamped
        narrowed = await narrow(
            self.client, self.upstream, identity, request.method, path, body, request.url.query
        )
        if isinstance(narrowed, Refusal):
            await self.refuse(request, identity.name, narrowed.detail)
            return JSONResponse({"detail": narrowed.detail}, status_code=narrowed.status)
        body = narrowed
        if request.method == "GET" and path.endswith("/ui-settings"):
            return await self.ui_settings(request)
        return await forward(self.client, request, self.upstream, body)

    async def ui_settings(self, request: Request) -> Response:
        """Prefect's UI settings, with the API behind the gate and no password prompt."""
        answer = await self.client.get(
            self.upstream.url + request.url.path, headers=self.upstream.headers()
        )
        settings: dict[str, Any] = json.loads(answer.content) if answer.is_success else {}
        settings["auth"] = None
        settings["api_url"] = str(request.base_url).rstrip("/") + "/api"
        return JSONResponse(settings, status_code=200 if answer.is_success else 502)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        await self.client.aclose()
        if self.sso is not None:
            await self.sso.client.aclose()

    def app(self) -> Starlette:
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Starlette(
            routes=[
                Route("/login", self.login_form, methods=["GET"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"]),
                Route("/login/sso", self.sso_start, methods=["GET"]),
                Route("/login/sso/callback", self.sso_callback, methods=["GET"]),
                Route("/gate/whoami", self.whoami, methods=["GET"]),
                Route("/gate/health", self.health, methods=["GET"]),
                Route("/gate/reveal", self.reveal_form, methods=["GET"]),
                Route("/gate/reveal", self.reveal, methods=["POST"]),
                Route("/gate/find", self.find_form, methods=["GET"]),
                Route("/gate/find", self.find, methods=["POST"]),
                Route("/gate/attachments", self.evidence_page, methods=["GET"]),
                Route("/gate/attach", self.attach, methods=["POST"]),
                Route("/gate/attachment", self.evidence_file, methods=["GET"]),
                Route("/gate/board", self.board, methods=["GET"]),
                Route("/gate/worklist", self.worklist, methods=["GET"]),
                # the partner API: its own bearer keys, no session (gateway.partner_api)
                Mount(PARTNER_PREFIX, app=PartnerApi(self.engine, clock=self.clock).app()),
                Route("/{path:path}", self.through, methods=methods),
            ],
            lifespan=self._lifespan,
        )
