"""Single sign-on at the gate: OpenID Connect (authorization code flow) against the bureau's
identity provider, with the ID token checked by joserfc, authlib's JOSE library (signature from
the provider's JWKS, issuer, audience, expiry, nonce) and its claims mapped to an account's role and unit by
configuration. Off unless `GRIEVANCE_OIDC_ISSUER` is set.

    GRIEVANCE_OIDC_ISSUER         https://sso.example.gov.cn/realms/bureau (discovery below it)
    GRIEVANCE_OIDC_CLIENT_ID      the gate's client id at the provider
    GRIEVANCE_OIDC_CLIENT_SECRET  its secret
    GRIEVANCE_OIDC_ROLE_MAP       provider role -> account role, e.g.
                                  "desk=dispatcher,unit-staff=handler,chief=supervisor"
    GRIEVANCE_OIDC_ROLE_CLAIM     the claim with the roles (default "roles"; a list or a string)
    GRIEVANCE_OIDC_UNIT_CLAIM     the claim with the unit code (default "unit")
    GRIEVANCE_OIDC_NAME_CLAIM     the login name (default "preferred_username")
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from workflow.accounts import AccountRole
from workflow.errors import InvalidInput

DISCOVERY = "/.well-known/openid-configuration"
ALGORITHMS = ("RS256", "ES256", "PS256")  # asymmetric only: the client secret signs nothing


class SsoError(Exception):
    """A sign-on that did not succeed: the message says why (shown on the login page)."""


@dataclass(frozen=True)
class SsoConfig:
    issuer: str
    client_id: str
    client_secret: str
    role_map: dict[str, AccountRole]
    role_claim: str = "roles"
    unit_claim: str = "unit"
    name_claim: str = "preferred_username"

    @classmethod
    def from_env(cls) -> SsoConfig | None:
        issuer = os.environ.get("GRIEVANCE_OIDC_ISSUER", "").rstrip("/")
        if not issuer:
            return None
        client_id = os.environ.get("GRIEVANCE_OIDC_CLIENT_ID", "")
        secret = os.environ.get("GRIEVANCE_OIDC_CLIENT_SECRET", "")
        if not client_id or not secret:
            raise InvalidInput("GRIEVANCE_OIDC_ISSUER is set: set the client id and secret too")
        return cls(
            issuer=issuer,
            client_id=client_id,
            client_secret=secret,
            role_map=parse_role_map(os.environ.get("GRIEVANCE_OIDC_ROLE_MAP", "")),
            role_claim=os.environ.get("GRIEVANCE_OIDC_ROLE_CLAIM") or "roles",
            unit_claim=os.environ.get("GRIEVANCE_OIDC_UNIT_CLAIM") or "unit",
            name_claim=os.environ.get("GRIEVANCE_OIDC_NAME_CLAIM") or "preferred_username",
        )


def parse_role_map(text: str) -> dict[str, AccountRole]:
    """ "desk=dispatcher,chief=supervisor" -> {"desk": dispatcher, "chief": supervisor}."""
    mapping: dict[str, AccountRole] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        source, _, target = pair.partition("=")
        try:
            mapping[source.strip()] = AccountRole(target.strip())
        except ValueError:
            raise InvalidInput(
                f"GRIEVANCE_OIDC_ROLE_MAP: {pair!r}: map a provider role to one of "
                + ", ".join(r.value for r in AccountRole)
            ) from None
    if not mapping:
        raise InvalidInput("GRIEVANCE_OIDC_ROLE_MAP: map at least one provider role")
    return mapping


@dataclass(frozen=True)
class Claimed:
    """What the provider vouched for, mapped: login name, display name, role, unit."""

    name: str
    display_name: str
    role: AccountRole
    unit: str | None


class Sso:
    """The provider's endpoints (discovered once) and the two steps of a sign-on."""

    def __init__(self, config: SsoConfig, client: httpx.AsyncClient) -> None:
        self.config, self.client = config, client
        self._meta: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def meta(self) -> dict[str, Any]:
        if self._meta is None:
            answer = await self.client.get(self.config.issuer + DISCOVERY)
            if not answer.is_success:
                raise SsoError(f"the identity provider did not answer ({answer.status_code})")
            self._meta = dict(answer.json())
        return self._meta

    async def authorize_url(self, redirect_uri: str) -> tuple[str, str, str]:
        """Where to send the browser, with the state and nonce to check on its return."""
        meta = await self.meta()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid profile",
                "state": state,
                "nonce": nonce,
            }
        )
        return f"{meta['authorization_endpoint']}?{query}", state, nonce

    async def claims(self, code: str, redirect_uri: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims for this code, checked (signature, iss, aud, exp, nonce)."""
        meta = await self.meta()
        answer = await self.client.post(
            meta["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(self.config.client_id, self.config.client_secret),
        )
        if not answer.is_success or "id_token" not in answer.json():
            raise SsoError("the identity provider refused the sign-on code")
        if self._keys is None:
            jwks = await self.client.get(meta["jwks_uri"])
            self._keys = KeySet.import_key_set(jwks.json())
        try:
            token = jwt.decode(answer.json()["id_token"], self._keys, algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": self.config.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as error:
            reason = getattr(error, "error", type(error).__name__)
            raise SsoError(f"the ID token was refused ({reason})") from None
        return dict(token.claims)

    def mapped(self, claims: dict[str, Any]) -> Claimed:
        """The account the claims describe; SsoError when no role of theirs is mapped."""
        config = self.config
        raw = claims.get(config.role_claim) or []
        roles = [raw] if isinstance(raw, str) else [str(r) for r in raw]
        # the first role of the map that the person has: the map's order is its priority
        role = next((target for source, target in config.role_map.items() if source in roles), None)
        if role is None:
            raise SsoError("your identity provider roles give no role here (ask an admin)")
        unit = claims.get(config.unit_claim)
        name = str(claims.get(config.name_claim) or claims.get("sub") or "")
        display = str(claims.get("name") or name)
        return Claimed(name, display, role, str(unit) if unit else None)


# ------------------------------------------------------------------------ the gate's routes
SSO_COOKIE = "grievance_sso"  # state, nonce and where to go, for the ten minutes of a sign-on
SSO_MAX_AGE = 600
