"""The audit chain (审计链): the canonical encoding of an audit event, its SHA-256 linked to the
previous event of the same grievance, and the seals that chain the grievances' heads in one
bureau-wide log. Pure: the hashes of data handed in; see docs/audit.md for the encoding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

CHAIN_VERSION = 1
GENESIS = "0" * 64  # the `prev` of a grievance's first event, and of the first seal
SEAL_EVENTS = 5_000  # at most this many events in one seal (bounded rows, bounded memory)


def canonical(value: Any) -> bytes:
    """The canonical JSON encoding: keys sorted, no spaces, UTF-8 (not \\u escapes), no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def instant(at: datetime) -> str:
    """An instant as it is hashed: UTC, microseconds, `Z` (`2026-11-23T01:10:00.000000Z`)."""
    if at.tzinfo is None:
        raise ValueError("a naive time cannot be hashed (its zone is unknown)")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _code(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True, slots=True)
class Link:
    """What one audit event hashes: its content as stored, and the hash before it."""

    number: str
    seq: int
    event: str
    from_state: str
    to_state: str
    actor: str
    role: str
    actor_unit: str | None
    at: datetime
    recorded_at: datetime
    payload: Mapping[str, Any]
    prev_hash: str

    @classmethod
    def of(cls, row: Any, prev_hash: str | None = None) -> Link:
        """From anything with the event's attributes (a row, a record's values); `prev_hash`
        defaults to the row's own."""
        return cls(
            number=str(row.number),
            seq=int(row.seq),
            event=str(_code(row.event)),
            from_state=str(_code(row.from_state)),
            to_state=str(_code(row.to_state)),
            actor=str(row.actor),
            role=str(_code(row.role)),
            actor_unit=row.actor_unit,
            at=row.at,
            recorded_at=row.recorded_at,
            payload=row.payload,
            prev_hash=row.prev_hash if prev_hash is None else prev_hash,
        )

    def content(self) -> dict[str, Any]:
        return {
            "v": CHAIN_VERSION,
            "number": self.number,
            "seq": self.seq,
            "event": self.event,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "actor": self.actor,
            "role": self.role,
            "actor_unit": self.actor_unit,
            "at": instant(self.at),
            "recorded_at": instant(self.recorded_at),
            "payload": dict(self.payload),
            "prev": self.prev_hash,
        }

    def hash(self) -> str:
        return hashlib.sha256(canonical(self.content())).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """A grievance's last event within a seal: (number, seq, hash)."""

    number: str
    seq: int
    hash: str

    def as_list(self) -> list[Any]:
        return [self.number, self.seq, self.hash]


def heads_of(events: Iterable[tuple[str, int, str]]) -> list[Head]:
    """The head of each grievance among (number, seq, hash) events: its highest seq, sorted
    by number."""
    best: dict[str, tuple[int, str]] = {}
    for number, seq, digest in events:
        if number not in best or seq > best[number][0]:
            best[number] = (seq, digest)
    return [Head(n, s, h) for n, (s, h) in sorted(best.items())]


def seal_content(
    prev_hash: str, first_event_id: int, last_event_id: int, events: int, heads: Sequence[Head]
) -> dict[str, Any]:
    return {
        "v": CHAIN_VERSION,
        "prev": prev_hash,
        "after": first_event_id,
        "through": last_event_id,
        "events": events,
        "heads": [h.as_list() for h in heads],
    }


def seal_hash(
    prev_hash: str, first_event_id: int, last_event_id: int, events: int, heads: Sequence[Head]
) -> str:
    """The hash of one seal: the previous seal's hash, the event ids it covers (`after` <
    id <= `through`), their count and the heads of the grievances they touched."""
    content = seal_content(prev_hash, first_event_id, last_event_id, events, heads)
    return hashlib.sha256(canonical(content)).hexdigest()


def anchor_text(head_hash: str, seal_id: int, at: datetime) -> str:
    """The line a bureau copies out of the database's reach (bulletin, e-mail, other storage)."""
    return f"grievance-audit-anchor v{CHAIN_VERSION} seal {seal_id} {instant(at)} {head_hash}"
