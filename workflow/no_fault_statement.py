"""The facts of the 无责说明 no-fault statement (a close as 无责 or 不属实): the grievance, how it
was verified, the facts and their basis, what the driver was told and when, the evidence, the
conclusion and its approval; `DocumentIncomplete` naming every missing finding. Pure, masked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workflow.case import Case, Record
from workflow.commands import NO_FAULT_RESULTS
from workflow.documents import (
    NO_FAULT,
    DocumentIncomplete,
    basics,
    free_text,
    label,
    last_record,
    local_date,
    pair,
    who,
)
from workflow.review_process import evidence
from workflow.timeutil import SHANGHAI
from workflow.vocab import CloseResult, Event

FINDINGS = (
    ("verification", "how it was verified (核实经过)"),
    ("facts", "facts found (查明事实)"),
    ("basis", "legal or policy basis (政策依据)"),
    ("explanation", "explanation to the driver (向诉求人说明情况)"),
    ("explained_at", "when it was explained (说明时间)"),
    ("evidence", "evidence list (证据清单)"),
)
CONCLUSIONS = {
    CloseResult.NO_FAULT: (
        "经核实，被反映对象对诉求所反映的问题不存在过错，认定无责。",
        "After verification, the party complained about is not at fault in what the "
        "grievance reports: no fault.",
    ),
    CloseResult.UNSUBSTANTIATED: (
        "经核实，诉求所反映情况与查明事实不符，认定诉求不属实。",
        "After verification, what the grievance reports does not match the facts found: "
        "not substantiated.",
    ),
}


def no_fault_facts(
    case: Case,
    records: Sequence[Record],
    unit_names: Mapping[str, str],
    *,
    zone: ZoneInfo = SHANGHAI,
) -> dict[str, Any]:
    """The facts of the 无责说明: the grievance, how it was verified, the facts and their
    basis, what the driver was told and when, the evidence, the conclusion and its approval
    (the unit supervisor who closed the case approved it)."""
    every = [field for _, field in FINDINGS]
    if case.result is None:
        raise DocumentIncomplete(
            NO_FAULT, case.number, "not closed yet", ["result (办理结果)", *every]
        )
    if case.result not in NO_FAULT_RESULTS:
        raise DocumentIncomplete(
            NO_FAULT,
            case.number,
            f"the result is {case.result.zh} ({case.result.value}), "
            "not 无责 (no_fault) or 不属实 (unsubstantiated)",
            every,
        )
    close = last_record(records, Event.CLOSE)
    findings = (close.payload.get("findings") if close is not None else None) or {}
    missing = [field for key, field in FINDINGS if not findings.get(key)]
    if close is None or missing:
        raise DocumentIncomplete(NO_FAULT, case.number, "no findings recorded", missing or every)
    conclusion = CONCLUSIONS[case.result]
    return {
        "kind": NO_FAULT,
        **basics(case, unit_names),
        "result": label(case.result),
        "closed_at": close.at,
        "note": free_text(close.payload.get("note")),
        "verification": free_text(findings["verification"]),
        "facts": free_text(findings["facts"]),
        "basis": free_text(findings["basis"]),
        "explanation": free_text(findings["explanation"]),
        "explained_at": datetime.fromisoformat(str(findings["explained_at"])),
        "evidence": [free_text(item) for item in findings["evidence"]],
        "attachments": evidence(records, unit_names),
        "conclusion": pair(*conclusion),
        "approval": {
            "who": who(close.actor.name, close.actor.role, close.actor.unit, unit_names),
            "at": close.at,
            "date": local_date(close.at, zone),
        },
    }
