"""What `audit verify` finds: a grievance's stored events checked against their chain, its stored
row and timers against the replay of its events (`evolve`, the SLA engine), each difference one
`Finding` (grievance, kind, stored vs replayed). Pure: compares what it is handed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from typing import Any

from workflow.audit_chain import GENESIS, Link
from workflow.case import Case
from workflow.privacy import mask_name, mask_phone, mask_plate, mask_value
from workflow.timers import Timer

# the kinds of finding, as `--json` names them
EVENT = "event"  # an event's content does not match its hash (rewritten)
CHAIN = "chain"  # an event's link to the one before is broken (reordered, replaced)
MISSING_EVENT = "missing_event"  # a gap in the sequence, or the row's version ahead of its log
REPLAY = "replay"  # the events do not replay through the transition table
ROW = "row"  # a stored case field differs from the replay
TIMER = "timer"  # a stored timer differs from the replay
DOCUMENT = "document"  # a stored document's bytes or hash differ from its re-rendering
SEAL = "seal"  # the bureau-wide log of seals is broken
MISSING_GRIEVANCE = "missing_grievance"  # a sealed grievance or event no longer stored
ANCHOR = "anchor"  # an anchored hash is not in the log of seals
ATTACHMENT = "attachment"  # an evidence file is missing from its store or not its hash
KINDS = (EVENT, CHAIN, MISSING_EVENT, REPLAY, ROW, TIMER, DOCUMENT, SEAL, MISSING_GRIEVANCE, ANCHOR)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which grievance ("" for the bureau-wide log), what kind, what differs."""

    number: str
    kind: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"number": self.number, "kind": self.kind, "detail": self.detail}


def shown(value: Any) -> str:
    """A value as a finding shows it: enums by code, instants in ISO, text cut at 60."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return "[" + ",".join(shown(v) for v in value) + "]"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_links(number: str, links: Sequence[tuple[Link, str]]) -> tuple[list[Finding], str]:
    """Check a grievance's events, in `seq` order, each (its content, its stored hash): the
    content hashes to the stored hash, each links to the one before, no seq is missing.
    Returns the findings and the head hash as stored."""
    found: list[Finding] = []
    expected_prev = GENESIS
    expected_seq = 1
    head = GENESIS
    for link, stored in links:
        if link.seq != expected_seq:
            if link.seq > expected_seq:
                missing = f"{expected_seq}" + (
                    f"-{link.seq - 1}" if link.seq - 1 > expected_seq else ""
                )
                found.append(Finding(number, MISSING_EVENT, f"event seq {missing} missing"))
            else:
                found.append(Finding(number, CHAIN, f"event seq {link.seq} stored twice"))
        if link.prev_hash != expected_prev:
            found.append(
                Finding(
                    number,
                    CHAIN,
                    f"seq {link.seq}: links to {link.prev_hash[:16] or '(none)'}, the event "
                    f"before is {expected_prev[:16]} (reordered, replaced or deleted)",
                )
            )
        try:
            computed = link.hash()
        except (TypeError, ValueError) as error:
            computed = f"(cannot be hashed: {error})"
        if computed != stored:
            found.append(
                Finding(
                    number,
                    EVENT,
                    f"seq {link.seq} ({link.event}): content does not match its hash: stored "
                    f"{stored[:16] or '(none)'}, recomputed {computed[:16]}",
                )
            )
        expected_prev = stored
        expected_seq = link.seq + 1
        head = stored
    return found, head


_CASE_FIELDS = tuple(f.name for f in fields(Case))


# personal data is shown masked in a finding, as everywhere (workflow/privacy.py)
_MASKS: dict[str, Callable[[Any], str]] = {
    "name": mask_name,
    "phone": mask_phone,
    "plate": mask_plate,
}


def _masked(field: str, value: Any) -> Any:
    mask = _MASKS.get(field)
    if mask is not None and value is not None:
        return mask(value)
    return mask_value(value) if isinstance(value, str) else value


def compare_case(number: str, stored: Case, replayed: Case) -> list[Finding]:
    """Every field the replay determines, stored vs replayed (personal data masked)."""
    found = []
    for name in _CASE_FIELDS:
        mine, theirs = getattr(stored, name), getattr(replayed, name)
        if mine != theirs:
            a, b = shown(_masked(name, mine)), shown(_masked(name, theirs))
            found.append(Finding(number, ROW, f"{name}: stored {a}, replayed {b}"))
    return found


def compare_version(number: str, version: int, last_seq: int) -> list[Finding]:
    if version == last_seq:
        return []
    kind = MISSING_EVENT if version > last_seq else ROW
    return [Finding(number, kind, f"version: stored {version}, last event seq {last_seq}")]


_TIMER_FIELDS = tuple(f.name for f in fields(Timer))


def compare_timers(
    number: str, stored: Iterable[Timer], replayed: Iterable[Timer]
) -> list[Finding]:
    """Timers by (target, cycle): missing, extra, or each field that differs."""
    mine = {t.key: t for t in stored}
    theirs = {t.key: t for t in replayed}
    found = []
    for key in sorted(mine.keys() | theirs.keys(), key=str):
        name = "/".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
        a, b = mine.get(key), theirs.get(key)
        if a is None:
            found.append(Finding(number, TIMER, f"timer {name}: not stored, replayed"))
        elif b is None:
            found.append(Finding(number, TIMER, f"timer {name}: stored, not replayed"))
        elif a != b:
            for field in _TIMER_FIELDS:
                x, y = getattr(a, field), getattr(b, field)
                if x != y:
                    found.append(
                        Finding(
                            number,
                            TIMER,
                            f"timer {name} {field}: stored {shown(x)}, replayed {shown(y)}",
                        )
                    )
    return found
