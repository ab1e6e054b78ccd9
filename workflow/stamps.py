"""Identity stamps: who a run acts for, as the gate vouches for it.

The gate writes a stamp into every action run it creates and every case-run input it resumes:
the signed-in person (login name, account role, unit), what the stamp is for (`target`: an
action deployment, `action:<event>`, or one flow run, `flow_run:<id>`), the digest of the
parameters it was issued with (if any), when, and a random nonce; HMAC-SHA256 with a key only
the gate and the flows know. A flow takes the actor from a stamp it verified, never from the
form. This module signs and checks the token; the key, the clock and the account lookup are
the service layer's (`service.stamps`).

Token: `base64url(canonical JSON of the claim) "." base64url(HMAC-SHA256(key, that JSON))`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from workflow.errors import GrievanceError

TOKEN_MAX = 2048


class InvalidStamp(GrievanceError):
    """A stamp that is missing, malformed, altered, expired, used elsewhere or not for this run."""


@dataclass(frozen=True, slots=True)
class Claim:
    name: str
    role: str
    unit: str | None
    target: str  # "action:<event>" or "flow_run:<uuid>"
    digest: str | None  # sha256 hex of the canonical parameters it was issued with
    issued_at: int  # unix seconds
    nonce: str


def canonical(data: Any) -> bytes:
    """The canonical JSON encoding: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(parameters: Mapping[str, Any]) -> str:
    """What a stamp binds the parameters by: SHA-256 of their canonical JSON (without the
    stamp itself)."""
    return hashlib.sha256(
        canonical({k: v for k, v in parameters.items() if k != "stamp"})
    ).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claim: Claim, key: bytes) -> str:
    body = canonical(asdict(claim))
    return f"{_b64(body)}.{_b64(hmac.new(key, body, hashlib.sha256).digest())}"


def verify(token: object, key: bytes) -> Claim:
    """The claim of a token signed with `key`, or InvalidStamp (whatever the input)."""
    if not isinstance(token, str) or not token:
        raise InvalidStamp("no identity stamp: act through the gate (sign in at the desk)")
    if len(token) > TOKEN_MAX or token.count(".") != 1:
        raise InvalidStamp("identity stamp malformed")
    body_text, mac_text = token.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, TypeError):
        raise InvalidStamp("identity stamp malformed") from None
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        raise InvalidStamp("identity stamp altered or signed with another key")
    try:
        data = json.loads(body)
        return Claim(**data)
    except (ValueError, TypeError):
        raise InvalidStamp("identity stamp malformed") from None
