"""The bureau-wide log of seals checked: each seal's hash and its link to the one before, the
events of its range against the heads it sealed (a deleted grievance, an event inserted or
removed afterwards), and anchors (kept outside, or stored) against the seals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from models import audit_seals
from workflow import audit_findings as af
from workflow.audit_chain import GENESIS, Head, heads_of, seal_hash
from workflow.audit_findings import Finding

PAGE = 50  # seals read at a time (each covers up to SEAL_EVENTS events)


def check_seals(
    session: Session, only: str | None = None, after_seal: int | None = None
) -> tuple[list[Finding], int]:
    """Every seal in order (those after seal `after_seal`, checked before, if given: linked
    to it); returns the findings (those of grievance `only`, if given) and how many events are
    not sealed yet."""
    found: list[Finding] = []
    prev, through, last_id = GENESIS, 0, 0
    start = audit_seals.seal_by_id(session, after_seal) if after_seal else None
    if start is not None:
        prev, through, last_id = start.hash, start.through_event_id, int(start.id or 0)
    while True:
        page = audit_seals.seals_after(session, last_id, PAGE)
        if not page:
            break
        for seal in page:
            last_id = int(seal.id or 0)
            found += _check_seal(session, seal, prev, through)
            prev, through = seal.hash, seal.through_event_id
    unsealed = len(audit_seals.event_heads_after(session, through))
    if only is not None:
        found = [f for f in found if f.number == only]
    return found, unsealed


def _check_seal(
    session: Session, seal: audit_seals.AuditSeal, prev: str, through: int
) -> list[Finding]:
    name = f"seal {seal.id}"
    found: list[Finding] = []
    if seal.prev_hash != prev:
        found.append(
            Finding(
                "",
                af.SEAL,
                f"{name}: links to {seal.prev_hash[:16]}, the seal before is {prev[:16]}",
            )
        )
    if seal.after_event_id != through:
        found.append(
            Finding(
                "",
                af.SEAL,
                f"{name}: covers events after {seal.after_event_id}, the seal before ended at {through}",
            )
        )
    try:
        heads = [Head(str(n), int(s), str(h)) for n, s, h in seal.heads]
        again = seal_hash(
            seal.prev_hash, seal.after_event_id, seal.through_event_id, seal.events, heads
        )
    except (TypeError, ValueError) as error:
        return [*found, Finding("", af.SEAL, f"{name}: does not read: {error}")]
    if again != seal.hash:
        found.append(
            Finding(
                "",
                af.SEAL,
                f"{name}: content altered (stored {seal.hash[:16]}, recomputed {again[:16]})",
            )
        )
    rows = audit_seals.event_heads_after(
        session, seal.after_event_id, through_id=seal.through_event_id
    )
    now = {h.number: h for h in heads_of((n, s, h) for _, n, s, h in rows)}
    sealed = {h.number: h for h in heads}
    gone = [n for n in sealed if n not in now]
    stored = audit_seals.numbers_with_events(session, gone) if gone else set()
    for number, head in sorted(sealed.items()):
        current = now.get(number)
        if current is None:
            kind = af.MISSING_EVENT if number in stored else af.MISSING_GRIEVANCE
            what = "its events" if number in stored else "the grievance and its events"
            found.append(
                Finding(
                    number,
                    kind,
                    f"{name} sealed seq {head.seq} ({head.hash[:16]}); {what} no longer stored",
                )
            )
        elif current != head:
            found.append(
                Finding(
                    number,
                    af.CHAIN,
                    f"{name} sealed seq {head.seq} ({head.hash[:16]}), stored now: seq {current.seq} "
                    f"({current.hash[:16]})",
                )
            )
    for number in sorted(now.keys() - sealed.keys()):
        found.append(Finding(number, af.CHAIN, f"events in {name}'s range that it did not seal"))
    if len(rows) != seal.events and not found:
        found.append(
            Finding("", af.SEAL, f"{name}: sealed {seal.events} events, {len(rows)} stored now")
        )
    return found


def check_anchors(session: Session, hashes: Sequence[str]) -> list[Finding]:
    """Anchors given (kept outside the database) and stored: each must be a seal's hash."""
    found: list[Finding] = []
    for digest in hashes:
        if audit_seals.seal_by_hash(session, digest.strip().lower()) is None:
            found.append(Finding("", af.ANCHOR, f"anchor {digest[:16]} is not in the log of seals"))
    stored = audit_seals.anchors(session)
    seals = audit_seals.seal_hashes(session, {a.seal_id for a in stored})
    for anchor in stored:
        if seals.get(anchor.seal_id) != anchor.hash:
            found.append(
                Finding(
                    "",
                    af.ANCHOR,
                    f"stored anchor {anchor.id} ({anchor.hash[:16]}) does not match seal {anchor.seal_id}",
                )
            )
    return found
