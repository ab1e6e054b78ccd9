"""Status callbacks to partner systems: one outbox row per audit event of a grievance a
partner pushed, written in the transaction of that event (so a crash keeps both or neither),
delivered by `service.delivery` with its retries, backoff and dead letters, and signed per
the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature:
v1,<base64 HMAC-SHA256 of id.timestamp.body>`) with the partner's secret.

The body is thin and carries no personal data: `number`, `ref`, `event`, `state`, `at`,
`seq`. The `webhook-id` is one per event (the same on every retry), so a receiver drops
repeats; delivery is at least once. The engine's own records (a recalculated deadline, a fired
SLA step) are not called back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import bindparam, select
from sqlmodel import Session
from sqlmodel import select as select_rows

from models.partner_tables import Partner, PartnerIntake
from models.prepared import Prepared
from models.tables import Notification
from service import partners
from service.engine import Engine
from service.outbox import PENDING
from workflow.case import Case
from workflow.machine import SYSTEM_EVENTS
from workflow.timeutil import iso
from workflow.vocab import Event

KIND = "partner_callback"
TIMEOUT = httpx.Timeout(10, connect=5)
_INTAKE = PartnerIntake.metadata.tables["partner_intake"]
_PARTNER = Partner.metadata.tables["partner"]
_WATCHERS = Prepared(
    select(_PARTNER.c.code, _PARTNER.c.callback_url, _INTAKE.c.ref)
    .select_from(_INTAKE.join(_PARTNER, _PARTNER.c.id == _INTAKE.c.partner_id))
    .where(
        _INTAKE.c.grievance_id == bindparam("grievance_id"),
        _PARTNER.c.disabled_at.is_(None),
        _PARTNER.c.callback_url.is_not(None),
    )
)


def body(*, number: str, ref: str, event: Event, state: str, at: datetime, seq: int) -> str:
    """The callback's JSON body (no personal data)."""
    data = {
        "number": number,
        "ref": ref,
        "event": event.value,
        "state": state,
        "at": iso(at),
        "seq": seq,
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def message_id(dedupe_key: str) -> str:
    """The `webhook-id` of a callback: one per event and partner, the same on every retry."""
    return "msg_" + hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]


def queue_event(
    engine: Engine,
    session: Session,
    *,
    grievance_id: int,
    case: Case,
    event: Event,
    seq: int,
    at: datetime,
    recorded_at: datetime,
) -> int:
    """Queue the callback of one audit event to each partner following the grievance (in the
    caller's transaction); returns how many rows were written."""
    if event in SYSTEM_EVENTS:
        return 0
    count = 0
    for row in _WATCHERS.rows(session, {"grievance_id": grievance_id}):
        queue_one(
            engine,
            session,
            code=row.code,
            url=row.callback_url,
            ref=row.ref,
            grievance_id=grievance_id,
            number=case.number,
            cycle=case.cycle,
            event=event,
            state=case.state.value,
            seq=seq,
            at=at,
            recorded_at=recorded_at,
        )
        count += 1
    return count


def queue_one(
    engine: Engine,
    session: Session,
    *,
    code: str,
    url: str,
    ref: str,
    grievance_id: int,
    number: str,
    cycle: int,
    event: Event,
    state: str,
    seq: int,
    at: datetime,
    recorded_at: datetime,
) -> None:
    session.add(
        Notification(
            dedupe_key=f"partner/{code}/{number}/{seq}",
            grievance_id=grievance_id,
            number=number,
            kind=KIND,
            target=None,
            cycle=cycle,
            step=event.value,
            audience="partner",
            unit=None,
            recipient=f"partner/{code}",
            url=url,
            language="json",
            title=f"{event.value} {number}",
            body=body(number=number, ref=ref, event=event, state=state, at=at, seq=seq),
            created_at=recorded_at,
            not_before=recorded_at,
            status=PENDING,
            give_up_after=engine.notify.max_attempts,
            next_attempt_at=recorded_at,
        )
    )


def signed_headers(secret: str, msg_id: str, at: datetime, content: str) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (the timestamp is the attempt's)."""
    from standardwebhooks.webhooks import Webhook

    signature = Webhook(secret).sign(msg_id, at, content)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def send(
    engine: Engine, row: Notification, clock: Callable[[], datetime] = _wall_clock
) -> str | None:
    """POST one callback, signed; None when the partner answered 2xx, else the error.

    The signature's timestamp is the attempt's wall-clock time (receivers refuse one more
    than about five minutes off theirs), not the delivery round's `now`."""
    code = row.recipient.removeprefix("partner/")
    with engine.db.read() as session:
        partner = session.exec(select_rows(Partner).where(Partner.code == code)).first()
        if partner is None or partner.id is None:
            return f"no partner {code}"
        if partner.disabled_at is not None:
            return f"partner {code} is disabled"
        _, secret = partners.signing_secret(session, partner.id)
    headers = signed_headers(secret, message_id(row.dedupe_key), clock(), row.body)
    if row.url is None:
        return "no callback URL"
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            answer = client.post(row.url, content=row.body.encode(), headers=headers)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:500]
    if answer.is_success:
        return None
    return f"HTTP {answer.status_code} from {partners.shown_url(row.url)}"


def payload_of(row: Notification) -> dict[str, Any]:
    """The JSON body of a queued callback as data (for lists and tests)."""
    data: dict[str, Any] = json.loads(row.body)
    return data
