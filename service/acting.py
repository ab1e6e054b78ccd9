"""Who acts on which grievance: the `Stamp` every use case takes (who, the effective time, the
time of recording), the checks of an actor and of a grievance number as typed, and the work
only the desk or only bureau roles may do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.tables import Grievance
from workflow.actor import Actor
from workflow.commands import INSTANT_YEARS
from workflow.errors import InvalidInput, PermissionDenied
from workflow.timeutil import iso, local, to_utc
from workflow.validation import has_binary, is_grievance_number, is_unit_code
from workflow.vocab import Role

VERSION_MAX = 2**31 - 1  # versions, offsets and ids a user may give (SQL integers)


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who acts, the effective time they state, and the wall-clock time of recording."""

    actor: Actor
    at: datetime
    recorded_at: datetime

    def __post_init__(self) -> None:
        first, last = INSTANT_YEARS
        if not first - 1 <= self.at.year <= last + 1:  # before zone arithmetic can overflow
            raise InvalidInput(f"effective time: use a time in the years {first}-{last}")
        object.__setattr__(self, "at", to_utc(self.at))
        object.__setattr__(self, "recorded_at", to_utc(self.recorded_at))
        check_actor(self.actor)
        if not first <= local(self.at).year <= last:
            raise InvalidInput(
                f"effective time {iso(self.at)}: use a time in the years {first}-{last}"
            )


def check_actor(actor: Actor) -> None:
    """Who acts is recorded in the audit log: a name that is text, a unit that is a code."""
    if has_binary(actor.name):
        raise InvalidInput("actor name: contains control characters or binary data")
    if actor.unit is not None and not is_unit_code(actor.unit):
        raise InvalidInput(f"actor unit {actor.unit[:40]!r} is not a valid unit code")


def check_number(number: str) -> None:
    """A grievance number as the user typed it, before it is looked up."""
    if not is_grievance_number(number):
        raise InvalidInput(
            f"not a grievance number: {number[:40]!r} (letters, digits and '-', e.g. 20261123-0001)"
        )


def require_desk(actor: Actor, what: str) -> None:
    """The desk's own work: a dispatcher or a bureau supervisor (not unit staff)."""
    if actor.role not in (Role.DISPATCHER, Role.SUPERVISOR) or actor.unit_bound:
        raise PermissionDenied(f"only the desk (a dispatcher or bureau supervisor) {what}")


def require_bureau(actor: Actor, what: str) -> None:
    """Work that reads every unit's grievances: bureau roles only, never unit staff."""
    if actor.unit_bound:
        raise PermissionDenied(
            f"{what} covers every unit's grievances: not for unit staff "
            f"({actor.role.value} of unit {actor.unit})"
        )


def grievance_id(row: Grievance) -> int:
    """The id of a stored grievance row (a row read from the database always has one)."""
    if row.id is None:
        raise RuntimeError("grievance row without id")
    return row.id
