"""What both documents (复盘报告 review report, 无责说明 no-fault statement) are built from.

The kinds and their titles, `DocumentIncomplete` (every missing field named), the English
labels of the vocabulary and of the time-limit targets, and the facts both documents share:
the grievance and its complainant, who acted, a unit, a date, free text. Pure: no I/O, no
clock. Personal data is masked here already (names, phone and plate numbers, also inside free
text), so no template can leak it. The documents' own facts: `workflow.review_report`
(with `workflow.review_process`) and `workflow.no_fault_statement`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workflow.case import Case, Record
from workflow.errors import InvalidInput
from workflow.policies import Policy, Target
from workflow.privacy import mask_name, mask_phone, mask_plate, mask_text
from workflow.vocab import (
    Category,
    Channel,
    CloseResult,
    Event,
    RequestType,
    Role,
    Satisfaction,
    State,
    Vocab,
)

REVIEW = "review"
NO_FAULT = "no_fault"
KINDS = (REVIEW, NO_FAULT)
TITLES = {REVIEW: ("复盘报告", "review report"), NO_FAULT: ("无责说明", "no-fault statement")}


class DocumentIncomplete(InvalidInput):
    """A document was asked for while a fact it needs is missing (every such field named)."""

    def __init__(self, kind: str, number: str, reason: str, missing: Sequence[str]) -> None:
        self.kind, self.number, self.reason = kind, number, reason
        self.missing = tuple(missing)
        zh, en = TITLES[kind]
        super().__init__(
            f"{zh} ({en}) of grievance {number} cannot be issued: {reason}: "
            f"{', '.join(self.missing)} missing"
        )


# ----------------------------------------------------------------------------- labels
EN: dict[Vocab, str] = {
    State.NEW: "new",
    State.ACCEPTED: "accepted",
    State.ASSIGNED: "assigned",
    State.RETURNED: "returned to the desk",
    State.HANDLING: "in handling",
    State.SUSPENDED: "suspended",
    State.CLOSED: "closed",
    State.REVISITED: "revisited",
    State.REVIEWED: "reviewed",
    State.MERGED: "merged",
    Channel.HOTLINE_12328: "12328 transport hotline",
    Channel.HOTLINE_12345: "12345 government hotline",
    Channel.MAILBOX: "worry-relief mailbox",
    Channel.MINI_PROGRAM: "driver mini-program",
    Channel.GRID: "grid worker",
    Channel.PLATFORM: "freight platform",
    Channel.WALK_IN: "walk-in at a driver home",
    RequestType.COMPLAINT: "complaint",
    RequestType.HELP: "request for help",
    RequestType.ENQUIRY: "enquiry",
    RequestType.SUGGESTION: "suggestion",
    Category.FREIGHT_UNPAID: "unpaid or disputed freight",
    Category.CARGO_DAMAGE: "cargo damage",
    Category.TOLL_ETC: "toll or ETC dispute",
    Category.PLATFORM_FEE: "platform fees",
    Category.ENFORCEMENT: "enforcement and fines",
    Category.OVERLOAD: "overload checks",
    Category.CONTRACT: "contract dispute",
    Category.INSURANCE: "insurance claim",
    Category.VEHICLE_SALE: "vehicle-sale trap",
    Category.CITY_ACCESS: "city entry permits and restrictions",
    Category.REST_PARKING: "rest stops, service areas and parking",
    Category.OTHER: "other",
    CloseResult.RESOLVED: "resolved",
    CloseResult.PARTLY_RESOLVED: "partly resolved",
    CloseResult.UNRESOLVED: "unresolved (explained)",
    CloseResult.UNSUBSTANTIATED: "not substantiated",
    CloseResult.NO_FAULT: "no fault",
    Satisfaction.SATISFIED: "satisfied",
    Satisfaction.BASICALLY_SATISFIED: "basically satisfied",
    Satisfaction.DISSATISFIED: "dissatisfied",
    Satisfaction.UNREACHABLE: "driver not reached",
    Role.DISPATCHER: "desk dispatcher",
    Role.HANDLER: "unit handler",
    Role.SUPERVISOR: "supervisor",
    Role.REVIEWER: "reviewer",
    Role.SYSTEM: "system",
    Event.ACCEPT: "accepted",
    Event.ASSIGN: "assigned",
    Event.SIGN: "signed for",
    Event.RETURN: "returned",
    Event.REASSIGN: "reassigned",
    Event.FEEDBACK: "progress feedback",
    Event.REQUEST_EXTENSION: "extension requested",
    Event.APPROVE_EXTENSION: "extension approved",
    Event.REJECT_EXTENSION: "extension rejected",
    Event.SUSPEND: "suspended",
    Event.RESUME: "resumed",
    Event.CLOSE: "closed",
    Event.REVISIT: "revisited",
    Event.REDO: "sent back for redo",
    Event.REVIEW: "reviewed",
    Event.MERGE: "merged",
    Event.AMEND: "corrected",
    Event.RECALCULATE: "deadline recalculated",
    Event.SLA_STEP: "time-limit alert",
    Event.TYPICAL: "marked as a typical case",
    Event.ATTACH: "evidence attached",
}
TARGETS_EN = {
    "assign": "Assignment",
    "feedback": "Progress feedback",
    "close": "Closing",
    "revisit": "Revisit",
}
_missing = [m for e in Vocab.__subclasses__() for m in e if m not in EN]
if _missing:  # checked at import, like the Chinese labels
    raise RuntimeError(f"missing English document labels: {_missing}")
SYSTEM_NAME = ("时限监控系统", "SLA watchdog")


def label(member: Vocab) -> dict[str, str]:
    """A vocabulary member as {"code", "zh", "en"}; templates pick their language."""
    return {"code": member.value, "zh": member.zh, "en": EN[member]}


def pair(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def named_unit(code: str | None, names: Mapping[str, str]) -> dict[str, str] | None:
    if code is None:
        return None
    return {"code": code, "name": mask_text(names.get(code, code))}


def free_text(value: Any) -> str | None:
    """Free text as shown in a document: masked, or None when absent or blank."""
    if value is None or not str(value).strip():
        return None
    return mask_text(str(value).strip())


def local_date(at: datetime, zone: ZoneInfo) -> dict[str, str]:
    shown = at.astimezone(zone)
    return pair(f"{shown.year}年{shown.month}月{shown.day}日", f"{shown:%Y-%m-%d}")


# ----------------------------------------------------------------------------- shared facts
def basics(case: Case, names: Mapping[str, str]) -> dict[str, Any]:
    """What both documents open with: the grievance and its complainant (masked)."""
    return {
        "number": case.number,
        "channel": label(case.channel),
        "ref": mask_text(case.ref),
        "type": label(case.type),
        "category": label(case.category),
        "urgent": case.urgent,
        "amount_fen": case.amount_fen,
        "respondent": free_text(case.respondent),
        "complainant": {
            "name": mask_name(case.name),
            "phone": mask_phone(case.phone),
            "plate": mask_plate(case.plate) or None,
        },
        "description": mask_text(case.description),
        "accepted_at": case.accepted_at,
        "state": label(case.state),
        "lead_unit": named_unit(case.lead_unit, names),
        "co_units": [named_unit(code, names) for code in case.co_units],
        "first_handler_unit": named_unit(case.first_handler_unit, names),
    }


def who(actor_name: str, role: Role, unit: str | None, names: Mapping[str, str]) -> dict[str, Any]:
    """Who acted: name, role and unit, and as one line (李明（承办人，市道路运输管理处）)."""
    if role is Role.SYSTEM:
        return {
            "name": pair(*SYSTEM_NAME),
            "role": label(role),
            "unit": None,
            "text": pair(*SYSTEM_NAME),
        }
    name = mask_text(actor_name)
    where = named_unit(unit, names)
    zh = f"{name}（{role.zh}" + (f"，{where['name']}" if where else "") + "）"
    en = f"{name} ({EN[role]}" + (f", {where['name']}" if where else "") + ")"
    return {"name": pair(name, name), "role": label(role), "unit": where, "text": pair(zh, en)}


def last_record(records: Sequence[Record], event: Event) -> Record | None:
    return next((r for r in reversed(records) if r.event is event), None)


# ----------------------------------------------------------------------------- time limits
def policy_target(policy: Policy, name: str) -> Target | None:
    try:
        return policy.target(name)
    except KeyError:
        return None


def target_title(policy: Policy, name: str) -> dict[str, str]:
    """A time-limit target's title in both languages (its name where none is known)."""
    target = policy_target(policy, name)
    return pair(target.title_zh if target else name, TARGETS_EN.get(name, name))
