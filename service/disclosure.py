"""Showing a driver's number to the people who must call back: the desk (dispatchers, bureau
supervisors) and the lead unit's staff, with a reason, each reveal written to the security log
(who, when, which grievance, why). Everywhere else the numbers stay masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models import case_rows
from service import security
from service.acting import Stamp, check_number
from service.engine import Engine
from workflow.errors import InvalidInput, PermissionDenied
from workflow.machine import can_see
from workflow.privacy import mask_text
from workflow.validation import has_binary
from workflow.vocab import Role

WHY_MIN, WHY_MAX = 2, 200


@dataclass(frozen=True, slots=True)
class Revealed:
    number: str
    name: str
    phone: str
    plate: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "name": self.name, "phone": self.phone, "plate": self.plate}


def reveal(engine: Engine, stamp: Stamp, number: str, why: str) -> Revealed:
    """The driver's name, phone and plate in full, for a person who calls back; logged."""
    check_number(number)
    why = why.strip()
    if not WHY_MIN <= len(why) <= WHY_MAX or has_binary(why):
        raise InvalidInput(f"why: give the reason in {WHY_MIN}-{WHY_MAX} characters (回访/核实…)")
    actor = stamp.actor
    with engine.db.read() as session:
        row = case_rows.get_row(session, number)
        case = case_rows.case_from_row(row)
    if not can_see(actor, case):
        raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")
    desk = actor.role in (Role.DISPATCHER, Role.SUPERVISOR) and not actor.unit_bound
    lead = actor.unit_bound and actor.unit == case.lead_unit
    if not (desk or lead):
        raise PermissionDenied(
            f"a {actor.role.value} may not see a driver's number: the desk and the lead unit "
            "call back"
        )
    with engine.db.transaction() as session:
        security.record(
            session,
            "reveal",
            stamp.recorded_at,
            account=actor.name,
            by=actor.name,
            number=number,
            why=mask_text(why),  # a number typed into the reason stays out of the log
            role=actor.role.value,
            unit=actor.unit,
        )
    return Revealed(number, row.name, row.phone, row.plate)
