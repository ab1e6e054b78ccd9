"""The facts of the 复盘报告 review report: the basic facts, the timeline of every time limit,
the handling process (`workflow.review_process`), the units, result and revisit, and the
review's own findings; `DocumentIncomplete` when a fact it needs is missing. Pure, masked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workflow.calendar import BusinessCalendar
from workflow.case import Case, Record
from workflow.documents import (
    REVIEW,
    DocumentIncomplete,
    basics,
    free_text,
    label,
    last_record,
    local_date,
    pair,
    policy_target,
    target_title,
    who,
)
from workflow.policies import Clock, Policy
from workflow.review_process import evidence, handovers, merged_in, process
from workflow.timers import Timer, TimerState
from workflow.vocab import Event

STATUS = {
    "met": ("按时完成", "met on time"),
    "late": ("超时完成", "met late"),
    "overdue": ("已超时，尚未完成", "overdue, still open"),
    "running": ("计时中", "running"),
    "paused": ("挂起，暂停计时", "paused (suspended)"),
    "cancelled": ("已取消", "cancelled"),
}


def _status(timer: Timer) -> str:
    if timer.state is TimerState.BREACHED:
        return "late" if timer.stopped_at is not None else "overdue"
    return timer.state.value


def _timeline(timers: Iterable[Timer], policy: Policy) -> list[dict[str, Any]]:
    order = {target.name: i for i, target in enumerate(policy.targets)}
    chosen = sorted(timers, key=lambda t: (order.get(t.target, len(order)), t.target, t.cycle))
    cycles: dict[str, int] = {}
    for timer in chosen:
        cycles[timer.target] = cycles.get(timer.target, 0) + 1
    entries = []
    for timer in chosen:
        target = policy_target(policy, timer.target)
        status = _status(timer)
        stopped = timer.stopped_at is not None and timer.state is not TimerState.CANCELLED
        entries.append(
            {
                "target": timer.target,
                "title": target_title(policy, timer.target),
                "cycle": timer.cycle,
                "several_cycles": cycles[timer.target] > 1,
                "limit": pair(target.limit.text_zh, target.limit.text) if target else None,
                "natural": target is not None and target.limit.clock is Clock.NATURAL,
                "started_at": timer.started_at,
                "due_at": timer.due_at,
                "provisional": timer.provisional,
                "stopped_at": timer.stopped_at,
                "status": {"code": status, "zh": STATUS[status][0], "en": STATUS[status][1]},
                "breached": timer.state is TimerState.BREACHED,
                "late": timer.late,
                "used": timer.used if stopped else None,
                "paused": timer.paused_total,
                "extended_days": timer.extended_days,
            }
        )
    return entries


def review_facts(
    case: Case,
    records: Sequence[Record],
    timers: Iterable[Timer],
    policy: Policy,
    calendar: BusinessCalendar,
    unit_names: Mapping[str, str],
    merges: Sequence[Record] = (),
) -> dict[str, Any]:
    """The facts of the 复盘报告: basic facts, the timeline of every time limit, the handling
    process, the units and the duplicates merged in (`merges`: their 并单 records), result
    and revisit, and the review's own findings."""
    records = list(records)
    review = last_record(records, Event.REVIEW)
    close = last_record(records, Event.CLOSE)
    revisit = last_record(records, Event.REVISIT)
    if review is None:
        raise DocumentIncomplete(
            REVIEW,
            case.number,
            "no 复盘 record yet",
            ["root cause (问题根源)", "corrective actions (整改措施)"],
        )
    missing = [
        field
        for field, present in (
            ("root cause (问题根源)", free_text(review.payload.get("root_cause"))),
            ("corrective actions (整改措施)", free_text(review.payload.get("actions"))),
            ("handling result (办理结果)", case.result is not None and close is not None),
            ("revisit answer (回访结果)", case.satisfaction is not None and revisit is not None),
            ("lead unit (承办单位)", case.lead_unit),
        )
        if not present
    ]
    if (
        missing
        or close is None
        or revisit is None
        or case.result is None
        or case.satisfaction is None
    ):
        raise DocumentIncomplete(REVIEW, case.number, "the record is incomplete", missing)
    zone = calendar.zone
    timeline = _timeline(timers, policy)
    counted = [t for t in timeline if t["status"]["code"] != "cancelled"]
    rp = review.payload
    return {
        "kind": REVIEW,
        **basics(case, unit_names),
        "policy": {"key": policy.key, "title": policy.title},
        "timeline": timeline,
        "timeline_summary": {
            "total": len(counted),
            "met": sum(1 for t in counted if t["status"]["code"] == "met"),
            "breached": sum(1 for t in counted if t["breached"]),
        },
        "process": process(records, policy, unit_names, zone),
        **handovers(records, unit_names),
        "merged_in": merged_in(merges, unit_names),
        "attachments": evidence(records, unit_names),
        "result": {
            "value": label(case.result),
            "closed_at": close.at,
            "closed_by": who(close.actor.name, close.actor.role, close.actor.unit, unit_names),
            "note": free_text(close.payload.get("note")),
            "recovered_fen": case.recovered_fen,
        },
        "revisit": {
            "satisfaction": label(case.satisfaction),
            "at": revisit.at,
            "note": free_text(revisit.payload.get("note")),
        },
        "redo_count": case.cycle - 1,
        "review": {
            "root_cause": free_text(rp.get("root_cause")),
            "actions": free_text(rp.get("actions")),
            "lessons": free_text(rp.get("lessons")),
            "responsibility": free_text(rp.get("responsibility")),
            "reviewer": who(review.actor.name, review.actor.role, review.actor.unit, unit_names),
            "at": review.at,
            "date": local_date(review.at, zone),
        },
    }
