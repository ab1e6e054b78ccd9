"""Single sign-on: the gate against a minimal OpenID Connect provider that the test runs on
127.0.0.1 (discovery, authorize, token, JWKS; RS256 ID tokens made with authlib)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import Gate
from gateway.proxy import Upstream
from gateway.sso import SsoConfig, parse_role_map
from service import accounts, security
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from tests.gateway.served import free_port
from workflow.actor import Actor
from workflow.timeutil import parse_instant
from workflow.vocab import Role

T0 = parse_instant("2026-12-07T09:00")
CLIENT_ID, CLIENT_SECRET = "grievance-gate", "provider-secret"


class Provider:
    """A minimal OIDC provider: whoever is `user` signs in at once; bounded to loopback."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"}, private=True)
        self.user: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.tamper = False
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
            }
        )

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        code = f"code-{len(self.codes)}"
        self.codes[code] = {"nonce": q["nonce"], "client_id": q["client_id"]}
        back = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        return RedirectResponse(back, status_code=302)

    async def token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        auth = request.headers.get("authorization", "")
        code = self.codes.pop(form.get("code", [""])[0], None)
        if code is None or not auth.startswith("Basic "):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": code["client_id"],
            "sub": self.user["preferred_username"],
            "iat": now,
            "exp": now + 300,
            "nonce": "forged" if self.tamper else code["nonce"],
            **self.user,
        }
        token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        return JSONResponse({"access_token": "x", "token_type": "Bearer", "id_token": token})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    made = Provider()
    server = uvicorn.Server(
        uvicorn.Config(made.app, host="127.0.0.1", port=made.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield made
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def gate(engine: Engine, provider: Provider) -> Iterator[TestClient]:
    stamp = Stamp(actor=Actor("ops", Role.DISPATCHER), at=T0, recorded_at=T0)
    add_unit(engine, stamp, code="ROAD", name="道路运输管理处")
    config = SsoConfig(
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        role_map=parse_role_map("bureau-admin=admin,desk=dispatcher,unit-staff=handler"),
    )
    made = Gate(
        engine,
        Upstream("http://prefect.internal", "x"),
        b"k" * 32,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})),
        sso=config,
    )
    with TestClient(made.app(), base_url="http://127.0.0.1:4200") as client:
        yield client


def _sign_on(gate: TestClient, provider: Provider, **user: Any) -> httpx.Response:
    """The browser's round trip: gate -> provider's authorize -> back to the gate."""
    provider.user = user
    start = gate.get("/login/sso?next=/runs", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(provider.issuer)
    authorize = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    back = urlsplit(authorize.headers["location"])
    return gate.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_the_login_page_offers_single_sign_on(gate: TestClient) -> None:
    assert "/login/sso" in gate.get("/login").text


def test_a_provider_user_signs_in_with_the_mapped_role_and_unit(
    gate: TestClient, provider: Provider, engine: Engine
) -> None:
    done = _sign_on(
        gate, provider, preferred_username="Li.Ming", name="李明", roles=["unit-staff"], unit="ROAD"
    )
    assert done.status_code == 303 and done.headers["location"] == "/runs"
    assert gate.get("/gate/whoami").json() == {
        "name": "li.ming",
        "display_name": "李明",
        "role": "handler",
        "unit": "ROAD",
    }
    # the provider is authoritative: a new role there is the role here at the next sign-on
    gate.cookies.clear()
    _sign_on(gate, provider, preferred_username="li.ming", roles=["desk", "unit-staff"])
    assert gate.get("/gate/whoami").json()["role"] == "dispatcher"
    logins = [e for e in security.listing(engine, account="li.ming") if e.kind == "login"]
    assert len(logins) == 2 and all(e.detail["via"] == "sso" for e in logins)
    with pytest.raises(accounts.LoginRefused):  # no password works for an SSO account
        accounts.authenticate(engine, "li.ming", "!sso", T0)


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"preferred_username": "wang", "roles": ["visitor"]}, "no role here"),
        ({"preferred_username": "wang", "roles": ["unit-staff"]}, "belongs to a unit"),
        ({"preferred_username": "wang", "roles": ["unit-staff"], "unit": "NOPE"}, "not a unit"),
    ],
)
def test_a_user_without_a_mapped_role_or_unit_is_refused(
    gate: TestClient, provider: Provider, user: dict[str, Any], message: str
) -> None:
    done = _sign_on(gate, provider, **user)
    assert done.status_code == 403 and message in done.text
    assert gate.get("/gate/whoami").status_code == 401


def test_a_disabled_account_a_forged_nonce_and_a_lost_state_are_refused(
    gate: TestClient, provider: Provider, engine: Engine
) -> None:
    _sign_on(gate, provider, preferred_username="zhao", roles=["desk"])
    ops = Stamp(actor=Actor("ops", Role.DISPATCHER), at=T0, recorded_at=T0)
    accounts.set_disabled(engine, ops, "zhao", True)
    gate.cookies.clear()
    assert _sign_on(gate, provider, preferred_username="zhao", roles=["desk"]).status_code == 403
    provider.tamper = True
    try:
        refused = _sign_on(gate, provider, preferred_username="qian", roles=["desk"])
        assert refused.status_code == 403 and "ID token was refused" in refused.text
    finally:
        provider.tamper = False
    gate.cookies.clear()
    lost = gate.get("/login/sso/callback?code=x&state=y", follow_redirects=False)
    assert lost.status_code == 400
