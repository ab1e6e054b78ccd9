"""The audit chain at work: sealing the grievances' heads into the bureau-wide log, anchoring
the head hash, and `verify`: every grievance's events checked against their chain and replayed
through the state machine and the SLA engine, compared with the stored row, timers and
documents, in batches; the seals and anchors checked too. Every problem is a finding, never
an exception (see docs/audit.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models import audit_log, audit_seals, case_rows, sla_timers
from models.prepared import Row
from models.tables import Document, Unit
from service import attachments, outbox, watchdog
from service.audit_ledger import check_anchors, check_seals
from service.documents import facts, render_bytes
from service.engine import Engine
from workflow import audit_findings as af
from workflow.audit_chain import GENESIS, SEAL_EVENTS, Link, anchor_text, heads_of, seal_hash
from workflow.audit_findings import Finding, shown
from workflow.case import Record
from workflow.errors import InvalidInput, NotFound
from workflow.policies import Audience
from workflow.replay import replay
from workflow.sla import rebuild
from workflow.vocab import Event

BATCH = 200  # grievances read and checked together (bounded memory)


@dataclass(frozen=True, slots=True)
class Sealed:
    seals: int  # new seals written
    events: int  # events they cover
    head: str  # the head hash after sealing
    seal_id: int


def seal(engine: Engine, at: datetime) -> Sealed:
    """Seal every event appended since the last seal: one seal per `SEAL_EVENTS` events, each
    the heads of the grievances it touched, chained to the seal before."""
    with engine.db.transaction() as session:
        audit_seals.lock_events(session)
        last = audit_seals.last_seal(session)
        prev = last.hash if last is not None else GENESIS
        after = last.through_event_id if last is not None else 0
        seal_id = int(last.id or 0) if last is not None else 0
        seals = events = 0
        while True:
            rows = audit_seals.event_heads_after(session, after, limit=SEAL_EVENTS)
            if not rows and last is not None:
                break
            through = rows[-1][0] if rows else after
            heads = heads_of((n, s, h) for _, n, s, h in rows)
            digest = seal_hash(prev, after, through, len(rows), heads)
            note = None if last is not None else "the chain began (no seal before)"
            made = audit_seals.add_seal(
                session,
                prev_hash=prev,
                digest=digest,
                after_id=after,
                through_id=through,
                events=len(rows),
                heads=heads,
                at=at,
                note=note,
            )
            last, prev, after, seal_id = made, digest, through, int(made.id or 0)
            seals, events = seals + 1, events + len(rows)
            if len(rows) < SEAL_EVENTS:
                break
    return Sealed(seals, events, prev, seal_id)


@dataclass(frozen=True, slots=True)
class Anchor:
    id: int
    seal_id: int
    hash: str
    at: datetime
    text: str  # the line to copy out of the database's reach


def anchor(
    engine: Engine, at: datetime, *, by: str, purpose: str = "anchor", send: bool = False
) -> Anchor:
    """Seal what is unsealed, then store and return the head hash with its time; with
    `send`, the anchor line also goes to the bureau's leadership through the outbox (an
    e-mail target there puts it out of the database admin's reach)."""
    sealed = seal(engine, at)
    with engine.db.transaction() as session:
        head = audit_seals.last_seal(session)
        if head is None:  # seal() always leaves one
            raise RuntimeError("no seal after sealing")
        anchor_id = audit_seals.add_anchor(session, head, at=at, by=by, purpose=purpose[:100])
        if send:
            line = anchor_text(sealed.head, sealed.seal_id, at)
            outbox.queue_audit(
                engine,
                session,
                kind="audit_anchor",
                key=f"anchor/{anchor_id}",
                audience=Audience.LEADERSHIP,
                context={"line": line, "hash": sealed.head, "seal": sealed.seal_id, "by": by},
                now=at,
            )
    return Anchor(
        anchor_id, sealed.seal_id, sealed.head, at, anchor_text(sealed.head, sealed.seal_id, at)
    )


def head_at(engine: Engine, at: datetime) -> tuple[int, str, datetime] | None:
    """(seal id, hash, sealed at) of the last seal made at or before `at`."""
    with engine.db.read() as session:
        found = audit_seals.seal_at(session, at)
        return None if found is None else (int(found.id or 0), found.hash, found.sealed_at)


@dataclass
class Verification:
    """What `verify` found: how many grievances it checked, and every finding."""

    checked: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)
    through_event_id: int = 0
    unsealed: int = 0  # events after the last seal (checked by their chain only)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": self.ok,
            "findings": [f.as_dict() for f in self.findings],
        }


def verify(
    engine: Engine,
    at: datetime,
    *,
    number: str | None = None,
    anchors: Sequence[str] = (),
    incremental: bool = False,
    record: bool = True,
    batch: int = BATCH,
    progress: Callable[[Verification], None] | None = None,
) -> Verification:
    """Check every grievance (one with `number`; with `incremental`, those with events after
    the last clean verification), the seals and the anchors; with `record` (not for one
    grievance), record the run: the watchdog's next incremental run starts from it."""
    result = Verification()
    files = attachments.FileChecker(attachments.AttachmentConfig.from_env(engine))
    with engine.db.read() as session:
        # what the next incremental run starts after: the last seal's events (all committed:
        # a seal locks out writers below it), not the highest id, which on PostgreSQL may
        # still have lower ids in flight
        head = audit_seals.last_seal(session)
        result.through_event_id = head.through_event_id if head is not None else 0
        since = after_seal = None
        if incremental:
            clean = audit_seals.last_clean_check(session)
            if clean is not None:
                since, after_seal = clean.through_event_id, clean.seal_id
        names = {u.code: u.name for u in session.exec(_UNITS).all()}
    if number is not None:
        with engine.db.read() as session:
            row = audit_seals.grievance_by_number(session, number)
            if row is None:
                raise NotFound(f"grievance {number} does not exist")
            _check_batch(engine, session, [row], names, result, files)
    else:
        last = 0
        while True:
            with engine.db.read() as session:
                if since is None:
                    rows = audit_seals.grievances_after(session, last, batch)
                else:
                    ids = audit_seals.grievance_ids_with_events_after(session, since, last, batch)
                    rows = audit_seals.grievances_by_id(session, ids)
                if not rows:
                    break
                last = int(rows[-1].id or 0)
                _check_batch(engine, session, rows, names, result, files)
            if progress is not None:
                progress(result)
    result.findings.extend(_check_ledger(engine, number, anchors, result, after_seal))
    if record and number is None:
        with engine.db.transaction() as session:
            last_seal = audit_seals.last_seal(session)
            audit_seals.add_check(
                session,
                at=at,
                through_id=result.through_event_id,
                seal_id=None if last_seal is None else last_seal.id,
                checked=result.checked,
                findings=len(result.findings),
                incremental=incremental,
            )
    return result


def _check_ledger(
    engine: Engine,
    number: str | None,
    anchors: Sequence[str],
    result: Verification,
    after_seal: int | None,
) -> list[Finding]:
    with engine.db.read() as session:
        found, unsealed = check_seals(session, only=number, after_seal=after_seal)
        if number is None:  # a grievance row deleted behind its events' backs
            for gone in audit_seals.orphan_event_numbers(session):
                detail = "audit events stored, the grievance row is gone"
                found.append(Finding(gone, af.MISSING_GRIEVANCE, detail))
        result.unsealed = unsealed
        found += check_anchors(session, anchors)
    return found


_UNITS = select(Unit)


def _check_batch(
    engine: Engine,
    session: Session,
    rows: Sequence[Row],
    names: dict[str, str],
    result: Verification,
    files: attachments.FileChecker,
) -> None:
    ids = [int(r.id or 0) for r in rows]
    events = audit_seals.events_of_many(session, ids)
    timers = audit_seals.timers_of_many(session, ids)
    documents = audit_seals.documents_of_many(session, ids)
    for row in rows:
        gid = int(row.id or 0)
        mine = events.get(gid, [])
        result.checked += 1
        result.events += len(mine)
        try:
            result.findings.extend(
                check_grievance(
                    engine, session, row, mine, timers.get(gid, []), documents.get(gid, []), names
                )
            )
        except watchdog.ENVIRONMENT:
            raise
        except Exception as error:  # noqa: BLE001 - bad data is a finding, never a crash
            result.findings.append(Finding(row.number, af.REPLAY, watchdog.describe(error)))
        result.findings.extend(_check_attachments(row.number, mine, files))


def _check_attachments(
    number: str, events: Sequence[Any], files: attachments.FileChecker
) -> list[Finding]:
    """Each evidence file the grievance's 上传证据 events name: in the store, hashing to its
    name (each file hashed once per verification)."""
    found = []
    for event in events:
        if event.event != Event.ATTACH:
            continue
        sha256 = str(event.payload.get("sha256", ""))
        try:
            problem = files.problem(sha256)
        except InvalidInput:
            problem = "not a SHA-256"
        if problem is not None:
            name = shown(event.payload.get("name"))
            detail = f"event {event.seq}: {name} ({sha256[:12]}): file {problem}"
            found.append(Finding(number, af.ATTACHMENT, detail))
    return found


def check_grievance(
    engine: Engine,
    session: Session,
    row: Row,
    events: Sequence[Row],
    timer_rows: Sequence[Any],
    documents: Sequence[Document],
    names: dict[str, str],
) -> list[Finding]:
    """One grievance: its chain, its replay against the row and timers, its documents."""
    number = row.number
    links = []
    for event in events:
        try:
            links.append((Link.of(event), event.hash))
        except (TypeError, ValueError, AttributeError) as error:
            return [Finding(number, af.EVENT, f"seq {event.seq} does not read: {error}")]
    found, _ = af.check_links(number, links)
    if not events:
        return [*found, Finding(number, af.MISSING_EVENT, "no audit events at all")]
    records: list[Record] = []
    for event in events:
        try:
            records.append(audit_log.record_from_event(event))
        except (TypeError, ValueError, KeyError) as error:
            found.append(Finding(number, af.EVENT, f"seq {event.seq} does not read: {error}"))
            return found
    try:
        replayed = replay(records)
    except watchdog.ENVIRONMENT:
        raise
    except Exception as error:  # noqa: BLE001 - a log that does not replay is a finding
        found.append(Finding(number, af.REPLAY, watchdog.describe(error)))
        return found
    if replayed is None:
        return found
    stored = case_rows.case_from_row(row)
    found += af.compare_case(number, stored, replayed)
    found += af.compare_version(number, row.version, events[-1].seq)
    try:
        policy = engine.policy(replayed.policy, session)
        rebuilt = rebuild(records, policy, engine.calendars)
    except watchdog.ENVIRONMENT:
        raise
    except Exception as error:  # noqa: BLE001
        found.append(
            Finding(number, af.TIMER, f"timers cannot be replayed: {watchdog.describe(error)}")
        )
        return found
    stored_timers = [sla_timers.timer_from_row(t) for t in timer_rows]
    found += af.compare_timers(number, stored_timers, rebuilt)
    if documents:
        found += _check_documents(engine, session, number, records, documents, names)
    return found


def _check_documents(
    engine: Engine,
    session: Session,
    number: str,
    records: Sequence[Record],
    documents: Sequence[Document],
    names: dict[str, str],
) -> list[Finding]:
    """Each stored document: its bytes against its stored hash, and the hash against a
    re-rendering from the facts as of its version (the audit events up to it, replayed)."""
    found: list[Finding] = []
    contexts: dict[tuple[str, int], dict[str, Any]] = {}
    merges: list[Record] | None = None
    for doc in documents:
        label = f"{doc.kind}.{doc.format} ({doc.language}, v{doc.version}, id {doc.id})"
        actual = hashlib.sha256(doc.content).hexdigest()
        if actual != doc.sha256:
            found.append(
                Finding(
                    number,
                    af.DOCUMENT,
                    f"{label}: bytes altered: stored hash {doc.sha256[:16]}, bytes hash "
                    f"{actual[:16]}",
                )
            )
            continue
        try:
            key = (doc.kind, doc.version)
            if key not in contexts:
                upto = [r for r in records[: doc.version]]
                case = replay(upto)
                if case is None:
                    raise ValueError(f"no audit events up to version {doc.version}")
                policy = engine.policy(case.policy, session)
                timers = rebuild(upto, policy, engine.calendars)
                if merges is None:  # the duplicates merged into it: the review report names them
                    merges = [
                        audit_log.record_from_event(e)
                        for e in audit_log.merges_into(session, number)
                    ]
                contexts[key] = facts(
                    doc.kind, case, upto, timers, policy, engine.calendar, names, merges
                )
            again = hashlib.sha256(
                render_bytes(doc.kind, doc.format, doc.language, contexts[key])
            ).hexdigest()
        except watchdog.ENVIRONMENT:
            raise
        except Exception as error:  # noqa: BLE001
            found.append(
                Finding(
                    number,
                    af.DOCUMENT,
                    f"{label}: cannot be re-rendered: {watchdog.describe(error)}",
                )
            )
            continue
        if again != doc.sha256:
            found.append(
                Finding(
                    number,
                    af.DOCUMENT,
                    f"{label}: stored hash {doc.sha256[:16]}, re-rendered {again[:16]}",
                )
            )
    return found
