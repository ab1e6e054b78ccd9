"""Identity stamps in use: the gate issues them (`issue`), a flow checks one before it acts
(`check`) and gets the actor it may act as. The key is `GRIEVANCE_STAMP_KEY`, known to the
gate and the flows only (`grievance serve` makes a random one per start and hands it to the
served runs); a stamp is good for one hour, for its target only, once (one run; one input of a
case run), and only while its account is enabled and unchanged. Every refusal is written to the
security log."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from models.access_tables import UsedStamp
from service import accounts, security
from service.engine import Engine
from workflow.accounts import Identity
from workflow.actor import Actor
from workflow.errors import PermissionDenied
from workflow.stamps import Claim, InvalidStamp, digest_of, sign, verify

ENV_KEY = "GRIEVANCE_STAMP_KEY"
TTL = timedelta(hours=1)
SKEW = timedelta(minutes=5)  # a stamp issued this far "in the future" is still taken
KEY_MIN = 16
IMPORT_TARGET = "import"  # what the stamps of the bulk import's runs are issued for


def key() -> bytes:
    """The stamp key from the environment; InvalidStamp when it is not set (no gate)."""
    text = os.environ.get(ENV_KEY, "")
    if len(text) < KEY_MIN:
        raise InvalidStamp(
            f"no identity stamps can be checked: {ENV_KEY} is not set (at least {KEY_MIN} "
            "characters); runs must come through the gate (grievance serve)"
        )
    return text.encode()


def ensure_key() -> None:
    """Make a random key for this process and the runs it starts, unless one is set."""
    if len(os.environ.get(ENV_KEY, "")) < KEY_MIN:
        os.environ[ENV_KEY] = secrets.token_urlsafe(32)


def issue(
    identity: Identity,
    target: str,
    at: datetime,
    parameters: Mapping[str, Any] | None = None,
) -> str:
    """A stamp for `identity` on `target` ("action:<event>", "flow_run:<id>" or
    `IMPORT_TARGET`), binding the
    parameters it is issued with when given."""
    claim = Claim(
        name=identity.name,
        role=identity.role.value,
        unit=identity.unit,
        target=target,
        digest=None if parameters is None else digest_of(parameters),
        issued_at=int(at.timestamp()),
        nonce=secrets.token_urlsafe(18),
    )
    return sign(claim, key())


def check(
    engine: Engine,
    token: object,
    *,
    target: str,
    at: datetime,
    run_id: str,
    use: str = "",
    parameters: Mapping[str, Any] | None = None,
) -> Actor:
    """The actor a run may act as, from its stamp; InvalidStamp or PermissionDenied (logged)
    when the stamp is missing, altered, expired, for another target or parameters, already
    used by another run (or input), or its account is disabled, changed or does not act."""
    claim: Claim | None = None
    try:
        claim = verify(token, key())
        return _accept(
            engine, claim, target=target, at=at, run_id=run_id, use=use, parameters=parameters
        )
    except (InvalidStamp, PermissionDenied) as refused:
        with engine.db.transaction() as session:
            security.record(
                session,
                "refused",
                at,
                account=claim.name if claim else None,
                why=str(refused),
                target=target,
                run=run_id,
            )
        raise


def _accept(
    engine: Engine,
    claim: Claim,
    *,
    target: str,
    at: datetime,
    run_id: str,
    use: str,
    parameters: Mapping[str, Any] | None,
) -> Actor:
    if claim.target != target:
        raise InvalidStamp("identity stamp issued for another run or action")
    if parameters is not None and claim.digest != digest_of(parameters):
        raise InvalidStamp("the run's parameters are not those the identity stamp was issued for")
    age = at.timestamp() - claim.issued_at
    if age > TTL.total_seconds() or age < -SKEW.total_seconds():
        raise InvalidStamp("identity stamp expired: start the action again")
    identity = accounts.active_identity(engine, claim.name)
    if identity is None:
        raise InvalidStamp(f"account {claim.name!r} is disabled or unknown")
    if (identity.role.value, identity.unit) != (claim.role, claim.unit):
        raise InvalidStamp(f"account {claim.name!r} changed since it was stamped: act again")
    actor = identity.actor
    if actor is None:
        raise PermissionDenied(f"a {identity.role.value} account does not act on grievances")
    _use_once(engine, claim, at=at, run_id=run_id, use=use)
    return actor


def _use_once(engine: Engine, claim: Claim, *, at: datetime, run_id: str, use: str) -> None:
    """Record the nonce for this run (and input); the same run re-checking it (a retry, a
    re-run after a crash) is fine, any other is refused."""
    try:
        with engine.db.transaction() as session:
            session.add(
                UsedStamp(
                    nonce=claim.nonce[:64],
                    run_id=run_id,
                    use=use[:128],
                    account=claim.name,
                    used_at=at,
                )
            )
    except IntegrityError:
        with engine.db.read() as session:
            used = session.get(UsedStamp, claim.nonce[:64])
        if used is None or (used.run_id, used.use) != (run_id, use[:128]):
            raise InvalidStamp("identity stamp already used by another run") from None
