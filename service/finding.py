"""Finding a grievance by one exact key (number, channel reference, phone or plate), as
`grievance find` and the gate's search page ask; and the duplicate hint at intake: the open
(or lately closed) grievances of the same phone or plate as a new one, to merge it into.

Unit staff find only the grievances their unit has a stake in, as in `reading.list_cases`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from models import case_rows, case_search
from models.case_search import FindKey
from models.tables import Grievance
from service.acting import check_number
from service.engine import Engine
from workflow.actor import Actor
from workflow.case import Case
from workflow.errors import InvalidInput
from workflow.machine import OPEN_STATES, can_see
from workflow.privacy import mask_name, mask_phone, mask_plate
from workflow.timeutil import iso, local
from workflow.validation import REF_MAX, clean_text, normalize_phone, normalize_plate

FIND_KEYS: tuple[FindKey, ...] = ("number", "ref", "plate", "phone")
FIND_LIMIT = 200  # one driver's or one plate's grievances; more is a list, not a search
# a new grievance repeats one closed this many days ago or later (the desk offers the merge)
DUPLICATE_WINDOW = timedelta(days=30)


def normalised(key: str, value: str) -> tuple[FindKey, str]:
    """The key checked and the value as stored: a phone and a plate normalised the way
    intake stores them (`workflow.validation`), so 138-1234-5678 finds 13812345678."""
    if key not in FIND_KEYS:
        raise InvalidInput(f"find by one of {', '.join(FIND_KEYS)}, not {key[:20]!r}")
    found_key: FindKey = key
    try:
        if key == "number":
            check_number(value.strip())
            return found_key, value.strip()
        if key == "phone":
            return found_key, normalize_phone(value)
        if key == "plate":
            return found_key, normalize_plate(value)
        ref = clean_text(value)
    except ValueError as error:
        raise InvalidInput(f"{key}: {error}") from None
    if not ref or len(ref) > REF_MAX:
        raise InvalidInput(f"ref: give the channel's reference, 1-{REF_MAX} characters")
    return found_key, ref


def find_cases(engine: Engine, actor: Actor, key: str, value: str) -> list[Case]:
    """The grievances whose `key` is exactly `value` (normalised), oldest first, as far as
    `actor` may see them: unit staff find only their unit's."""
    column, wanted = normalised(key, value)
    visible = actor.unit if actor.unit_bound else None
    with engine.db.read() as session:
        rows = case_search.find_rows(
            session, column, wanted, visible_to_unit=visible, limit=FIND_LIMIT
        )
        cases = [case_rows.case_from_row(row) for row in rows]
    # the unit condition's LIKE is a prefilter: `can_see` decides, as everywhere
    return [case for case in cases if can_see(actor, case)]


def masked_row(case: Case) -> dict[str, str]:
    """A found grievance as a results table shows it (the gate's search page): personal
    data masked, labels in Chinese, times in Beijing time."""
    return {
        "number": case.number,
        "state": f"{case.state.zh} {case.state.value}",
        "channel": f"{case.channel.zh} {case.ref}",
        "category": case.category.zh,
        "complainant": " ".join(
            part
            for part in (mask_name(case.name), mask_phone(case.phone), mask_plate(case.plate))
            if part
        ),
        "lead_unit": case.lead_unit or "-",
        "accepted_at": local(case.accepted_at).strftime("%Y-%m-%d %H:%M"),
    }


@dataclass(frozen=True, slots=True)
class Candidate:
    """An earlier grievance of the same driver or vehicle that a new one may repeat."""

    number: str
    state: str
    lead_unit: str | None
    accepted_at: datetime
    closed_at: datetime | None
    same: tuple[str, ...]  # "phone", "plate": what the two share (never the value)

    @property
    def open(self) -> bool:
        return self.state in {s.value for s in OPEN_STATES}

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "lead_unit": self.lead_unit,
            "accepted_at": iso(self.accepted_at),
            "closed_at": iso(self.closed_at),
            "same": list(self.same),
            "merge_into": self.open,
        }

    def line(self) -> str:
        same = " + ".join(
            {"phone": "同一电话 same phone", "plate": "同一车牌 same plate"}[s] for s in self.same
        )
        when = f", closed {iso(self.closed_at)}" if self.closed_at and not self.open else ""
        return f"{self.number} ({self.state}{when}; {same})"


def duplicate_candidates(engine: Engine, case: Case, at: datetime) -> list[Candidate]:
    """疑似重复: the grievances other than `case` with its phone or plate that are open, or
    were closed within `DUPLICATE_WINDOW` before `at`; oldest first. The open ones are what
    the desk may merge the new grievance into (`grievance merge NEW --into NUMBER --reason TEXT`)."""
    with engine.db.read() as session:
        rows = case_search.same_driver_rows(
            session,
            phone=case.phone,
            plate=case.plate,
            closed_since=at - DUPLICATE_WINDOW,
            exclude=case.number,
        )
        found = [case_rows.case_from_row(row) for row in rows]
    return [_candidate(case.phone, case.plate, other) for other in found]


def _candidate(phone: str, plate: str | None, other: Case | Grievance) -> Candidate:
    return Candidate(
        number=other.number,
        state=other.state.value,
        lead_unit=other.lead_unit,
        accepted_at=other.accepted_at,
        closed_at=other.closed_at,
        same=tuple(
            name
            for name, mine, theirs in (("phone", phone, other.phone), ("plate", plate, other.plate))
            if mine and mine == theirs
        ),
    )


def duplicates_of_many(
    session: Session, waiting: Sequence[Grievance]
) -> dict[str, list[Candidate]]:
    """疑似重复 for the desk's worklist: per grievance of `waiting`, the candidates of
    `duplicate_candidates` as of its own acceptance (open now, or closed within
    `DUPLICATE_WINDOW` before it was accepted), oldest first; found in one pass for all of
    them (`case_search.same_driver_rows_many`). Grievances without any are left out."""
    if not waiting:
        return {}
    rows = case_search.same_driver_rows_many(
        session,
        phones=[g.phone for g in waiting],
        plates=[g.plate for g in waiting if g.plate],
        closed_since=min(g.accepted_at for g in waiting) - DUPLICATE_WINDOW,
    )
    found: dict[str, list[Candidate]] = {}
    for mine in waiting:
        since = mine.accepted_at - DUPLICATE_WINDOW
        for other in rows:
            if other.number == mine.number:
                continue
            if not (other.phone == mine.phone or (mine.plate and other.plate == mine.plate)):
                continue
            recent = other.closed_at is not None and other.closed_at >= since
            if other.state in OPEN_STATES or recent:
                found.setdefault(mine.number, []).append(_candidate(mine.phone, mine.plate, other))
    return found


def duplicate_hint(candidates: Sequence[Candidate]) -> str | None:
    """One line for the desk naming the candidates, or None when there are none."""
    if not candidates:
        return None
    merge = [c.number for c in candidates if c.open]
    offer = (
        f"; merge with `grievance merge NUMBER --into {merge[0]} --reason 重复来电`"
        if merge
        else ""
    )
    listed = "; ".join(c.line() for c in candidates)
    return f"疑似重复 possible repeat of {listed}{offer}"
