"""The partner API's use cases: a partner pushes a work order (idempotent by its own `ref` and
by an `Idempotency-Key`), pushes a batch, and reads where one stands.

Validation is the importer's (`service.work_orders.check_order`, on the `Accept` command): the
same 12328 field mapping, the same rules, every bad field named at once. A work order becomes
a grievance through `cases.accept` with the partner's record (`partner_intake`) written in the
same transaction, so a crash keeps both or neither. The grievance's (channel, ref) is unique:
a work order of the partner's channel imported from a file first is claimed, not duplicated
(the same grievance whichever arrived first), and its past events are called back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from models import audit_log, case_rows, sla_timers
from models.partner_tables import PartnerIntake
from models.prepared import Prepared, bound, params
from service import callbacks
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.partners import PartnerView
from service.work_orders import COLUMNS, OrderInvalid, check_order
from workflow.actor import Actor
from workflow.case import Case
from workflow.errors import Conflict, Duplicate, GrievanceError, InvalidInput, NotFound
from workflow.machine import SYSTEM_EVENTS
from workflow.privacy import mask_name, mask_phone, mask_plate, mask_text
from workflow.timeutil import iso
from workflow.vocab import Role, State

FIELDS = (
    "ref",
    "type",
    "category",
    "name",
    "phone",
    "plate",
    "description",
    "amount",
    "respondent",
    "urgent",
    "received_at",
)
BATCH_MAX = 1000
IDEMPOTENCY_KEY_MAX = 200
# the JT/T 1019.1 step a state belongs to (统一受理、分类转办、办理、办结、回访、归档)
STAGES = {
    State.ACCEPTED: "intake",
    State.RETURNED: "intake",
    State.ASSIGNED: "routed",
    State.HANDLING: "handling",
    State.SUSPENDED: "handling",
    State.CLOSED: "closed",
    State.REVISITED: "revisited",
    State.REVIEWED: "archived",
    State.MERGED: "archived",
}
_ALIASES = {zh: name for name, zhs in COLUMNS.items() for zh in zhs}
# a push's look-ups and its record, compiled once (they run on every request)
_INTAKE = PartnerIntake.metadata.tables["partner_intake"]
_SEEN = (_INTAKE.c.ref, _INTAKE.c.number, _INTAKE.c.body_hash, _INTAKE.c.grievance_id)
_BY_REF = Prepared(
    select_columns(*_SEEN).where(
        _INTAKE.c.partner_id == bindparam("partner_id"), _INTAKE.c.ref == bindparam("ref")
    )
)
_BY_KEY = Prepared(
    select_columns(*_SEEN).where(
        _INTAKE.c.partner_id == bindparam("partner_id"),
        _INTAKE.c.idempotency_key == bindparam("key"),
    )
)
_INTAKE_FIELDS = (
    "partner_id",
    "ref",
    "grievance_id",
    "number",
    "body_hash",
    "idempotency_key",
    "created_at",
)
_INSERT_INTAKE = Prepared(insert(_INTAKE).values(bound(_INTAKE, _INTAKE_FIELDS)))


@dataclass(frozen=True, slots=True)
class Submitted:
    """What a push came to: `created` (201) or the grievance it is already (200)."""

    created: bool
    number: str
    case: Case
    deadlines: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "ref": self.case.ref,
            "state": self.case.state.value,
            "deadlines": self.deadlines,
        }


def actor_of(partner: PartnerView) -> Actor:
    """Who the audit log says accepted a pushed grievance: the partner, as the desk."""
    return Actor(f"partner:{partner.code}"[:50], Role.DISPATCHER)


def _order_values(order: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The body's fields by the importer's names: English (or the 12328 export's Chinese
    headers), `received_at` as `accepted_at` (default: now). Unknown fields are refused."""
    if not isinstance(order, Mapping):
        raise OrderInvalid({"body": "must be a JSON object of a work order's fields"})
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in order.items():
        name = str(key)
        name = _ALIASES.get(name, name)
        if name == "accepted_at":
            name = "received_at"
        if name == "channel":
            errors[str(key)[:40]] = "not accepted: the channel is the partner's"
        elif name not in FIELDS:
            errors[str(key)[:40]] = "unknown field"
        else:
            values["accepted_at" if name == "received_at" else name] = value
    if errors:
        raise OrderInvalid(errors)
    values.setdefault("accepted_at", iso(now))
    return values


def _field_errors(error: OrderInvalid, order: Mapping[str, Any]) -> OrderInvalid:
    """The importer's field names as the API's (`accepted_at` is `received_at` here), and no
    personal data in the reasons: a refused value quoted back is left out, the rest masked."""
    fields: dict[str, str] = {}
    for key, reason in error.fields.items():
        name = "received_at" if key == "accepted_at" else key
        raw = order.get(name, order.get(key)) if isinstance(order, Mapping) else None
        if isinstance(raw, str) and len(raw) >= 3 and name != "received_at":
            reason = reason.replace(raw.strip(), "…")
        fields[name] = mask_text(reason)
    return OrderInvalid(fields)


def _hash(command_payload: dict[str, Any], at: datetime) -> str:
    canonical = json.dumps(
        {**command_payload, "received_at": iso(at)}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise OrderInvalid(
            {"Idempotency-Key": f"1-{IDEMPOTENCY_KEY_MAX} printable ASCII characters"}
        )
    return key


def deadlines_of(session: Session, grievance_id: int) -> list[dict[str, Any]]:
    return [
        {
            "target": t.target,
            "cycle": t.cycle,
            "state": t.state.value,
            "due_at": iso(t.due_at),
            "provisional": t.provisional,
        }
        for t in (
            sla_timers.timer_from_row(row)
            for row in sla_timers.timer_rows_of(session, grievance_id)
        )
    ]


def _seen(
    session: Session, partner: PartnerView, ref: str, digest: str, idem: str | None
) -> Submitted | None:
    """The same push seen before (a replay), or Conflict for a known ref or key with another
    order, or None."""
    seen = None
    if idem is not None:
        seen = _BY_KEY.first(session, {"partner_id": partner.id, "key": idem})
        if seen is not None and (seen.body_hash != digest or seen.ref != ref):
            raise Conflict(
                f"Idempotency-Key {idem[:40]!r} was used for another work order "
                f"(ref {seen.ref}, grievance {seen.number})"
            )
    if seen is None:
        seen = _BY_REF.first(session, {"partner_id": partner.id, "ref": ref})
        if seen is not None and seen.body_hash != digest:
            raise Conflict(
                f"ref {ref} is already grievance {seen.number} with other content; "
                "a correction goes to the desk, not a new push"
            )
    if seen is None:
        return None
    row = case_rows.get_row_by_id(session, seen.grievance_id)
    return Submitted(
        False, seen.number, case_rows.case_from_row(row), deadlines_of(session, seen.grievance_id)
    )


def _existing(
    engine: Engine, partner: PartnerView, ref: str, digest: str, idem: str | None, at: datetime
) -> Submitted | None:
    """A push seen before (replay: 200), a conflicting one (Conflict), a work order of the
    channel that arrived another way (claimed: 200), or None: new. Looked up in a read
    transaction (most pushes are new); only a claim writes."""
    with engine.db.read() as session:
        found = _seen(session, partner, ref, digest, idem)
        if found is not None or case_rows.number_by_ref(session, partner.channel, ref) is None:
            return found
    with engine.db.transaction() as session:
        found = _seen(session, partner, ref, digest, idem)
        if found is not None:
            return found
        number = case_rows.number_by_ref(session, partner.channel, ref)
        if number is None:  # gone since: impossible (grievances are never deleted), but safe
            return None
        row = case_rows.get_row(session, number)
        if row.id is None:
            raise NotFound(f"grievance {number} does not exist")
        other = session.exec(
            select(PartnerIntake).where(PartnerIntake.grievance_id == row.id)
        ).first()
        if other is not None:
            raise Conflict(f"ref {ref} of channel {partner.channel.value} is another partner's")
        case = case_rows.case_from_row(row)
        _claim(engine, session, partner, row.id, case, ref, digest, idem, at)
        return Submitted(False, number, case, deadlines_of(session, row.id))


def _claim(
    engine: Engine,
    session: Session,
    partner: PartnerView,
    grievance_id: int,
    case: Case,
    ref: str,
    digest: str,
    idem: str | None,
    at: datetime,
) -> None:
    """Follow a grievance of the partner's channel that arrived another way (a file): the
    partner's record, and the callbacks of what already happened to it."""
    session.add(
        PartnerIntake(
            partner_id=partner.id,
            ref=ref,
            grievance_id=grievance_id,
            number=case.number,
            body_hash=digest,
            idempotency_key=idem,
            created_at=at,
        )
    )
    if partner.callback_url is None:
        return
    for event in audit_log.events_of(session, case.number):
        if event.event in SYSTEM_EVENTS:
            continue
        callbacks.queue_one(
            engine,
            session,
            code=partner.code,
            url=partner.callback_url,
            ref=ref,
            grievance_id=grievance_id,
            number=case.number,
            cycle=case.cycle,
            event=event.event,
            state=event.to_state.value,
            seq=event.seq,
            at=event.at,
            recorded_at=at,
        )


def submit(
    engine: Engine,
    partner: PartnerView,
    order: Mapping[str, Any],
    now: datetime,
    *,
    idempotency_key: str | None = None,
) -> Submitted:
    """Push one work order: the new grievance (created), or the one it already is.

    Raises OrderInvalid (each bad field), Conflict (a known ref or key with another order).
    """
    idem = check_idempotency_key(idempotency_key)
    try:
        ready = check_order(_order_values(order, now), now, channel=partner.channel.value)
    except OrderInvalid as error:
        raise _field_errors(error, order) from None
    command = ready.command
    digest = _hash(command.payload(), ready.at)
    deadlines: list[list[dict[str, Any]]] = []
    for _ in range(2):  # a push racing another of the same ref: the second look finds it
        found = _existing(engine, partner, command.ref, digest, idem, now)
        if found is not None:
            return found
        deadlines.clear()

        def record(session: Session, grievance_id: int, case: Case) -> None:
            deadlines.append(deadlines_of(session, grievance_id))
            values = {
                "partner_id": partner.id,
                "ref": command.ref,
                "grievance_id": grievance_id,
                "number": case.number,
                "body_hash": digest,
                "idempotency_key": idem,
                "created_at": now,
            }
            _INSERT_INTAKE.execute(session, params(values))

        stamp = Stamp(actor=actor_of(partner), at=ready.at, recorded_at=now)
        try:
            case = uc.accept(engine, command, stamp, also=record)
        except Duplicate:
            continue
        return Submitted(True, case.number, case, deadlines[0])
    raise Conflict(f"ref {command.ref} is being registered at the same time; retry")


def submit_batch(
    engine: Engine,
    partner: PartnerView,
    orders: Sequence[Any],
    now: datetime,
) -> list[dict[str, Any]]:
    """Up to `BATCH_MAX` work orders, each on its own (one transaction each): per item its
    index and status (201, 200, 409, 422) with the number or the errors."""
    if not isinstance(orders, Sequence) or isinstance(orders, str | bytes):
        raise InvalidInput("orders: a JSON array of work orders")
    if len(orders) > BATCH_MAX:
        raise InvalidInput(f"orders: at most {BATCH_MAX} work orders per batch")
    results: list[dict[str, Any]] = []
    for index, order in enumerate(orders):
        item: dict[str, Any] = {"index": index}
        try:
            done = submit(engine, partner, order, now)
        except OrderInvalid as error:
            item |= {"status": 422, "errors": error.fields}
        except Conflict as error:
            item |= {"status": 409, "detail": str(error)}
        except GrievanceError as error:
            item |= {"status": 422, "errors": {"input": str(error)}}
        else:
            item |= {"status": 201 if done.created else 200, **done.as_dict()}
        results.append(item)
    return results


def status(engine: Engine, partner: PartnerView, ref: str) -> dict[str, Any]:
    """Where a pushed grievance stands: stage, state, deadlines, result, satisfaction, and
    its facts with personal data masked. Another partner's ref is NotFound."""
    with engine.db.read() as session:
        seen = session.exec(
            select(PartnerIntake).where(
                PartnerIntake.partner_id == partner.id, col(PartnerIntake.ref) == ref
            )
        ).first()
        if seen is None:
            raise NotFound(f"no work order with ref {ref[:64]!r} from this partner")
        row = case_rows.get_row_by_id(session, seen.grievance_id)
        case = case_rows.case_from_row(row)
        deadlines = deadlines_of(session, seen.grievance_id)
    return {
        "number": case.number,
        "ref": seen.ref,
        "stage": STAGES.get(case.state, case.state.value),
        "state": case.state.value,
        "state_zh": case.state.zh,
        "deadlines": deadlines,
        "result": case.result.value if case.result else None,
        "closed_at": iso(case.closed_at),
        "satisfaction": case.satisfaction.value if case.satisfaction else None,
        "merged_into": case.merged_into,
        "type": case.type.value,
        "category": case.category.value,
        "name": mask_name(case.name),
        "phone": mask_phone(case.phone),
        "plate": mask_plate(case.plate) or None,
        "description": mask_text(case.description),
        "received_at": iso(case.accepted_at),
    }
