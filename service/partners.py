"""Partner systems (the 12328 hotline, freight platforms, the mini-program) and their keys:
added, listed, keys rotated, disabled; an API key resolved to its partner.

An API key is 256 random bits shown once; only its SHA-256 is stored (a high-entropy key
needs no slow hash: nobody can guess one to match a stolen hash). A rotated key keeps working
for `GRACE` (24 hours) so a partner can switch without downtime. The callback signing secret
(Standard Webhooks, `whsec_` + base64) is needed in full to sign, so it is stored encrypted
(Fernet: AES-128-CBC + HMAC-SHA256) under `GRIEVANCE_PARTNER_KEY`, which stays out of the
database; losing that key means issuing new secrets (`partner rotate --secret`). Without the
variable the key is read from a file (`GRIEVANCE_PARTNER_KEY_FILE`, default
`grievance-partner.key` in the working directory, beside the default SQLite database), made
with owner-only permissions the first time a secret is sealed: so `partner add` and `serve`
started in one directory share it without set-up."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import bindparam
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.partner_tables import Partner, PartnerKey
from models.prepared import Prepared
from service import security
from service.acting import Stamp
from service.engine import Engine
from workflow.errors import Duplicate, InvalidInput, NotFound
from workflow.timeutil import iso, to_utc
from workflow.validation import has_binary
from workflow.vocab import Channel

ENV_KEY = "GRIEVANCE_PARTNER_KEY"
ENV_KEY_FILE = "GRIEVANCE_PARTNER_KEY_FILE"
KEY_MIN = 16
GRACE = timedelta(hours=24)  # a rotated key's overlap with its successor
CHANNELS = (
    Channel.HOTLINE_12328,
    Channel.HOTLINE_12345,
    Channel.PLATFORM,
    Channel.MINI_PROGRAM,
)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
KEY_PREFIX = "gpk_"
URL_MAX = 500


@dataclass(frozen=True, slots=True)
class Issued:
    """What a partner is told once: its code, API key and callback signing secret."""

    code: str
    key: str
    webhook_secret: str | None  # None: kept as it was (a key rotation)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"code": self.code, "key": self.key}
        if self.webhook_secret is not None:
            answer["webhook_secret"] = self.webhook_secret
        return answer


@dataclass(frozen=True, slots=True)
class PartnerView:
    """A partner as the API and the callbacks see it (no secrets)."""

    id: int
    code: str
    name: str
    channel: Channel
    callback_url: str | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def key_file() -> Path:
    return Path(os.environ.get(ENV_KEY_FILE) or Path.cwd() / "grievance-partner.key")


def _key_text(*, create: bool) -> str:
    """The partner key: the variable, else the key file (made when `create` and missing)."""
    text = os.environ.get(ENV_KEY, "")
    if text:
        if len(text) < KEY_MIN:
            raise InvalidInput(f"{ENV_KEY} is shorter than {KEY_MIN} characters")
        return text
    path = key_file()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if not create:
            raise InvalidInput(
                f"{ENV_KEY} is not set and {path} does not exist: it encrypts the partners' "
                "callback secrets; set the variable (the same in every process) or run this "
                "where the key file is"
            ) from None
        text = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise InvalidInput(f"cannot read the partner key file {path}: {exc.strerror}") from None
    if len(text) < KEY_MIN:
        raise InvalidInput(f"the partner key file {path} holds fewer than {KEY_MIN} characters")
    return text


def _fernet(*, create: bool = False) -> Fernet:
    text = _key_text(create=create)
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()))


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def seal(secret: str) -> str:
    return _fernet(create=True).encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise InvalidInput(
            f"cannot decrypt a partner's callback secret: {ENV_KEY} changed; "
            "issue a new secret with `grievance partner rotate CODE --secret`"
        ) from None


def check_code(code: str) -> str:
    if not _CODE.fullmatch(code):
        raise InvalidInput(
            f"partner code {code[:40]!r}: 1-32 letters, digits, '-' or '_' (e.g. HUOLALA)"
        )
    return code.upper()


def check_callback_url(url: str | None) -> str | None:
    """An http(s) URL with a host, or nothing (no callbacks)."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > URL_MAX or has_binary(url) or parts.scheme not in ("http", "https"):
        raise InvalidInput(f"callback URL must be http:// or https:// (at most {URL_MAX} chars)")
    if not parts.hostname:
        raise InvalidInput("callback URL has no host")
    return url


def shown_url(url: str | None) -> str | None:
    """A callback URL fit to list: scheme, host and port (a path may carry a token)."""
    if url is None:
        return None
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def _new_key() -> tuple[str, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_hash(key)


def _partner(session: Session, code: str) -> Partner:
    row = session.exec(select(Partner).where(Partner.code == check_code(code))).first()
    if row is None or row.id is None:
        raise NotFound(f"no partner {code[:40]!r} (grievance partner list)")
    return row


def add_partner(
    engine: Engine,
    stamp: Stamp,
    *,
    code: str,
    name: str,
    channel: str,
    callback_url: str | None = None,
) -> Issued:
    """A new partner with its first API key and its callback signing secret (shown once)."""
    code = check_code(code)
    name = name.strip()
    if not name or len(name) > 100 or has_binary(name):
        raise InvalidInput("partner name: 1-100 characters of text")
    allowed = {c.value for c in CHANNELS}
    if channel not in allowed:
        raise InvalidInput(f"channel {channel[:40]!r}: use one of {', '.join(sorted(allowed))}")
    url = check_callback_url(callback_url)
    secret = new_webhook_secret()
    key, hashed = _new_key()
    try:
        with engine.db.transaction() as session:
            row = Partner(
                code=code,
                name=name,
                channel=channel,
                callback_url=url,
                webhook_secret=seal(secret),
                created_at=stamp.recorded_at,
                created_by=stamp.actor.name,
            )
            session.add(row)
            session.flush()
            session.add(PartnerKey(partner_id=_id(row), key_hash=hashed, created_at=row.created_at))
            security.record(
                session, "partner_added", stamp.recorded_at, account=code, by=stamp.actor.name
            )
    except IntegrityError:
        raise Duplicate(f"partner {code} exists already") from None
    return Issued(code, key, secret)


def rotate(
    engine: Engine, stamp: Stamp, code: str, *, secret: bool = False, grace: timedelta = GRACE
) -> Issued:
    """A new API key; the partner's current keys end `grace` from now. With `secret`, a new
    callback signing secret too (at once: callbacks are signed with it from now on)."""
    key, hashed = _new_key()
    new_secret = new_webhook_secret() if secret else None
    at = stamp.recorded_at
    with engine.db.transaction() as session:
        partner = _partner(session, code)
        current = session.exec(
            select(PartnerKey).where(
                PartnerKey.partner_id == _id(partner),
                (col(PartnerKey.expires_at).is_(None)) | (col(PartnerKey.expires_at) > at + grace),
            )
        ).all()
        for old in current:
            old.expires_at = at + grace
            session.add(old)
        session.add(PartnerKey(partner_id=_id(partner), key_hash=hashed, created_at=at))
        if new_secret is not None:
            partner.webhook_secret = seal(new_secret)
            session.add(partner)
        security.record(
            session,
            "partner_rotated",
            at,
            account=partner.code,
            by=stamp.actor.name,
            old_keys_until=iso(at + grace),
            new_secret=new_secret is not None,
        )
        return Issued(partner.code, key, new_secret)


def disable(engine: Engine, stamp: Stamp, code: str) -> None:
    """No more requests with any of its keys (401), no more callbacks."""
    with engine.db.transaction() as session:
        partner = _partner(session, code)
        if partner.disabled_at is None:
            partner.disabled_at = stamp.recorded_at
            session.add(partner)
            security.record(
                session,
                "partner_disabled",
                stamp.recorded_at,
                account=partner.code,
                by=stamp.actor.name,
            )


def listing(engine: Engine, at: datetime) -> list[dict[str, Any]]:
    """Every partner with its channel, callback host, state and number of live keys."""
    at = to_utc(at)
    with engine.db.read() as session:
        partners = session.exec(select(Partner).order_by(col(Partner.code))).all()
        keys = session.exec(select(PartnerKey)).all()
        live: dict[int, int] = {}
        for key in keys:
            if key.expires_at is None or key.expires_at > at:
                live[key.partner_id] = live.get(key.partner_id, 0) + 1
        return [
            {
                "code": p.code,
                "name": p.name,
                "channel": p.channel,
                "callback": shown_url(p.callback_url),
                "enabled": p.disabled_at is None,
                "keys": live.get(p.id or 0, 0),
                "created_at": iso(p.created_at),
                "disabled_at": iso(p.disabled_at),
            }
            for p in partners
        ]


def _id(row: Partner) -> int:
    if row.id is None:
        raise RuntimeError("partner row without id")
    return row.id


def view(row: Partner) -> PartnerView:
    return PartnerView(_id(row), row.code, row.name, Channel(row.channel), row.callback_url)


_PARTNER = Partner.metadata.tables["partner"]
_KEY = PartnerKey.metadata.tables["partner_key"]
_BY_KEY = Prepared(  # on every request of the partner API: compiled once
    select_columns(
        _PARTNER.c.id,
        _PARTNER.c.code,
        _PARTNER.c.name,
        _PARTNER.c.channel,
        _PARTNER.c.callback_url,
        _PARTNER.c.disabled_at,
        _KEY.c.expires_at,
    )
    .select_from(_KEY.join(_PARTNER, _PARTNER.c.id == _KEY.c.partner_id))
    .where(_KEY.c.key_hash == bindparam("key_hash"))
)


def authenticate(engine: Engine, key: str, at: datetime) -> PartnerView | None:
    """The enabled partner whose live key this is, else None (unknown, expired, disabled)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    at = to_utc(at)
    with engine.db.read() as session:
        found = _BY_KEY.first(session, {"key_hash": key_hash(key)})
    if found is None or found.disabled_at is not None:
        return None
    if found.expires_at is not None and found.expires_at <= at:
        return None
    return PartnerView(found.id, found.code, found.name, Channel(found.channel), found.callback_url)


def signing_secret(session: Session, partner_id: int) -> tuple[Partner, str]:
    """A partner and its callback signing secret in clear, to sign one callback."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}")
    return partner, unseal(partner.webhook_secret)
