"""The facts of each rendered document (复盘报告 review report, 无责说明 no-fault statement).

Pure: built from a case, its audit records, its timers, the policy and the calendar; no I/O,
no clock. Personal data is masked here already (names, phone and plate numbers, also inside
free text), so no template can leak it. A document that lacks a required fact raises
`DocumentIncomplete` naming every missing field, instead of rendering an empty section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from workflow.calendar import BusinessCalendar
from workflow.case import Case, Record, to_fen
from workflow.commands import NO_FAULT_RESULTS
from workflow.errors import InvalidInput
from workflow.policies import Clock, Policy, Target
from workflow.privacy import mask_name, mask_phone, mask_plate, mask_text
from workflow.timers import Timer, TimerState
from workflow.timeutil import SHANGHAI
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
}
TARGETS_EN = {
    "assign": "Assignment",
    "feedback": "Progress feedback",
    "close": "Closing",
    "revisit": "Revisit",
}
STEPS_EN = {
    "warning": "yellow card (warning)",
    "breach": "breach",
    "red_card": "red card",
    "supervision": "supervision by the leadership",
}
STATUS = {
    "met": ("按时完成", "met on time"),
    "late": ("超时完成", "met late"),
    "overdue": ("已超时，尚未完成", "overdue, still open"),
    "running": ("计时中", "running"),
    "paused": ("挂起，暂停计时", "paused (suspended)"),
    "cancelled": ("已取消", "cancelled"),
}
_missing = [m for e in Vocab.__subclasses__() for m in e if m not in EN]
if _missing:  # checked at import, like the Chinese labels
    raise RuntimeError(f"missing English document labels: {_missing}")
SYSTEM_NAME = ("时限监控系统", "SLA watchdog")
AMENDABLE = (
    ("type", "诉求类型", "request type"),
    ("category", "诉求分类", "category"),
    ("description", "诉求内容", "description"),
    ("amount", "涉及金额", "amount"),
    ("respondent", "被反映对象", "respondent"),
)


def label(member: Vocab) -> dict[str, str]:
    """A vocabulary member as {"code", "zh", "en"}; templates pick their language."""
    return {"code": member.value, "zh": member.zh, "en": EN[member]}


def _pair(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _unit(code: str | None, names: Mapping[str, str]) -> dict[str, str] | None:
    if code is None:
        return None
    return {"code": code, "name": mask_text(names.get(code, code))}


def _text(value: Any) -> str | None:
    """Free text as shown in a document: masked, or None when absent or blank."""
    if value is None or not str(value).strip():
        return None
    return mask_text(str(value).strip())


# ----------------------------------------------------------------------------- formatting
def _time(at: datetime, zone: ZoneInfo) -> dict[str, str]:
    shown = at.astimezone(zone)
    return _pair(
        f"{shown.year}年{shown.month}月{shown.day}日 {shown:%H:%M}", f"{shown:%Y-%m-%d %H:%M}"
    )


def _date(at: datetime, zone: ZoneInfo) -> dict[str, str]:
    shown = at.astimezone(zone)
    return _pair(f"{shown.year}年{shown.month}月{shown.day}日", f"{shown:%Y-%m-%d}")


def _span(span: timedelta) -> dict[str, str]:
    hours, minutes = divmod(int(span.total_seconds() // 60), 60)
    if not hours:
        return _pair(f"{minutes}分钟", f"{minutes} min")
    if not minutes:
        return _pair(f"{hours}小时", f"{hours} h")
    return _pair(f"{hours}小时{minutes}分钟", f"{hours} h {minutes} min")


def _yuan(fen: int) -> dict[str, str]:
    amount = f"{fen // 100:,}.{fen % 100:02d}"
    return _pair(f"{amount}元", f"CNY {amount}")


# ----------------------------------------------------------------------------- shared facts
def _basics(case: Case, names: Mapping[str, str]) -> dict[str, Any]:
    """What both documents open with: the grievance and its complainant (masked)."""
    return {
        "number": case.number,
        "channel": label(case.channel),
        "ref": mask_text(case.ref),
        "type": label(case.type),
        "category": label(case.category),
        "urgent": case.urgent,
        "amount_fen": case.amount_fen,
        "respondent": _text(case.respondent),
        "complainant": {
            "name": mask_name(case.name),
            "phone": mask_phone(case.phone),
            "plate": mask_plate(case.plate) or None,
        },
        "description": mask_text(case.description),
        "accepted_at": case.accepted_at,
        "state": label(case.state),
        "lead_unit": _unit(case.lead_unit, names),
        "co_units": [_unit(code, names) for code in case.co_units],
        "first_handler_unit": _unit(case.first_handler_unit, names),
    }


def _who(actor_name: str, role: Role, unit: str | None, names: Mapping[str, str]) -> dict[str, Any]:
    """Who acted: name, role and unit, and as one line (李明（承办人，市道路运输管理处）)."""
    if role is Role.SYSTEM:
        return {
            "name": _pair(*SYSTEM_NAME),
            "role": label(role),
            "unit": None,
            "text": _pair(*SYSTEM_NAME),
        }
    name = mask_text(actor_name)
    where = _unit(unit, names)
    zh = f"{name}（{role.zh}" + (f"，{where['name']}" if where else "") + "）"
    en = f"{name} ({EN[role]}" + (f", {where['name']}" if where else "") + ")"
    return {"name": _pair(name, name), "role": label(role), "unit": where, "text": _pair(zh, en)}


def _last(records: Sequence[Record], event: Event) -> Record | None:
    return next((r for r in reversed(records) if r.event is event), None)


# ----------------------------------------------------------------------------- review report
def _target(policy: Policy, name: str) -> Target | None:
    try:
        return policy.target(name)
    except KeyError:
        return None


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
        target = _target(policy, timer.target)
        status = _status(timer)
        stopped = timer.stopped_at is not None and timer.state is not TimerState.CANCELLED
        entries.append(
            {
                "target": timer.target,
                "title": _pair(
                    target.title_zh if target else timer.target,
                    TARGETS_EN.get(timer.target, timer.target),
                ),
                "cycle": timer.cycle,
                "several_cycles": cycles[timer.target] > 1,
                "limit": _pair(target.limit.text_zh, target.limit.text) if target else None,
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


def _step_detail(record: Record, policy: Policy, zone: ZoneInfo) -> dict[str, str]:
    """黄牌预警：进展反馈时限将于…到期 / 红牌：进展反馈时限已于…到期，已超时…"""
    p = record.payload
    target = _target(policy, str(p["target"]))
    title_zh = target.title_zh if target else str(p["target"])
    title_en = TARGETS_EN.get(str(p["target"]), str(p["target"]))
    due_at = datetime.fromisoformat(str(p["due"]))
    due = _time(due_at, zone)
    step_en = STEPS_EN.get(str(p["name"]), str(p["name"]))
    if record.at < due_at:
        return _pair(
            f"{p['title']}：{title_zh}时限将于{due['zh']}到期",
            f"{step_en}: the {title_en.lower()} limit runs out at {due['en']}",
        )
    zh = f"{p['title']}：{title_zh}时限已于{due['zh']}到期"
    en = f"{step_en}: the {title_en.lower()} limit ran out at {due['en']}"
    late = timedelta(seconds=int(p.get("late_seconds", 0)))
    if late:
        zh += f"，已超时{_span(late)['zh']}"
        en += f"; {_span(late)['en']} late"
    return _pair(zh, en)


def _detail(
    record: Record,
    before: Mapping[str, Any],
    policy: Policy,
    names: Mapping[str, str],
    zone: ZoneInfo,
) -> dict[str, str]:
    """What happened at one record, in both languages (free text excluded: see `_note`)."""
    p = record.payload

    def name(code: str | None) -> str:
        return mask_text(names.get(code or "", code or ""))

    def routed(verb_zh: str, verb_en: str) -> dict[str, str]:
        co = list(p.get("co_units") or [])
        zh = f"{verb_zh}{name(str(p['unit']))}"
        en = f"{verb_en} {name(str(p['unit']))}"
        if co:
            zh += f"，协办单位：{'、'.join(name(c) for c in co)}"
            en += f"; co-handling: {', '.join(name(c) for c in co)}"
        return _pair(zh, en)

    match record.event:
        case Event.ACCEPT:
            channel = Channel(p["channel"])
            zh, en = f"来源渠道：{channel.zh}", f"channel: {EN[channel]}"
            if p.get("urgent"):
                zh, en = zh + "；紧急诉求（即接即转即办）", en + "; urgent"
            return _pair(zh, en)
        case Event.ASSIGN:
            return routed("分办至", "assigned to")
        case Event.REASSIGN:
            return routed("改派至", "reassigned to")
        case Event.SIGN:
            unit = name(record.actor.unit)
            if before.get("first_sign"):
                return _pair(f"{unit}签收，为首办单位", f"{unit} signed for it: the first handler")
            return _pair(f"{unit}签收", f"{unit} signed for it")
        case Event.RETURN:
            unit = name(record.actor.unit)
            return _pair(f"{unit}退单，退回受理台", f"{unit} returned it to the desk")
        case Event.FEEDBACK:
            return _pair("向诉求人反馈办理进展", "progress fed back to the driver")
        case Event.REQUEST_EXTENSION:
            return _pair(
                f"申请延期{p['days']}个工作日", f"asked for {p['days']} more working day(s)"
            )
        case Event.APPROVE_EXTENSION:
            days = before.get("pending_days")
            return _pair(f"同意延期{days}个工作日", f"extension of {days} working day(s) granted")
        case Event.REJECT_EXTENSION:
            return _pair("不同意延期", "extension refused")
        case Event.SUSPEND:
            return _pair("暂停计时", "the clock stops")
        case Event.RESUME:
            return _pair("恢复计时", "the clock runs again")
        case Event.CLOSE:
            result = CloseResult(p["result"])
            zh, en = f"办理结果：{result.zh}", f"result: {EN[result]}"
            recovered = to_fen(p.get("recovered"))
            if recovered:
                money = _yuan(recovered)
                zh, en = zh + f"，挽回金额{money['zh']}", en + f"; recovered {money['en']}"
            return _pair(zh, en)
        case Event.REVISIT:
            answer = Satisfaction(p["satisfaction"])
            return _pair(f"诉求人评价：{answer.zh}", f"the driver: {EN[answer]}")
        case Event.REDO:
            cycle = int(before.get("cycle", 1)) + 1
            return _pair(f"开始第{cycle}轮办理", f"handling round {cycle} starts")
        case Event.REVIEW:
            return _pair("开展复盘，形成本报告", "reviewed; this report issued")
        case Event.MERGE:
            return _pair(f"并入工单{p['into']}", f"merged into grievance {p['into']}")
        case Event.AMEND:
            changed = [(zh, en) for key, zh, en in AMENDABLE if p.get(key) is not None]
            return _pair(
                f"更正{'、'.join(zh for zh, _ in changed)}",
                f"corrected: {', '.join(en for _, en in changed)}",
            )
        case Event.RECALCULATE:
            target = _target(policy, str(p["target"]))
            title_zh = target.title_zh if target else str(p["target"])
            title_en = TARGETS_EN.get(str(p["target"]), str(p["target"]))
            old = _time(datetime.fromisoformat(str(p["old_due"])), zone)
            new = _time(datetime.fromisoformat(str(p["new_due"])), zone)
            return _pair(
                f"工作日历调整，{title_zh}时限由{old['zh']}调整为{new['zh']}",
                f"calendar changed: the {title_en.lower()} deadline moves from {old['en']} "
                f"to {new['en']}",
            )
        case Event.SLA_STEP:
            return _step_detail(record, policy, zone)
    return _pair(record.event.zh, EN[record.event])


# a record's free text: what it is called in the document
REASONED = frozenset(
    {Event.RETURN, Event.REASSIGN, Event.REQUEST_EXTENSION, Event.REJECT_EXTENSION}
    | {Event.SUSPEND, Event.REDO, Event.AMEND, Event.RECALCULATE}
)
NOTE_LABELS = {True: _pair("理由", "Reason"), False: _pair("说明", "Note")}


def _note(record: Record) -> str | None:
    """The free text a person wrote with the record (masked); review texts have their own
    sections, and an acceptance's description is in the basic facts."""
    if record.event in (Event.REVIEW, Event.ACCEPT, Event.SLA_STEP):
        return None
    p = record.payload
    return _text(p.get("note") or p.get("reason"))


def _process(
    records: Sequence[Record], policy: Policy, names: Mapping[str, str], zone: ZoneInfo
) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    # what the earlier records tell about this one: the first signature, the days asked for
    seen: dict[str, Any] = {"first_sign": True, "pending_days": None, "cycle": 1}
    for seq, record in enumerate(records, start=1):
        steps.append(
            {
                "seq": seq,
                "at": record.at,
                "event": label(record.event),
                "who": _who(record.actor.name, record.actor.role, record.actor.unit, names),
                "detail": _detail(record, seen, policy, names, zone),
                "note": _note(record),
                "note_label": NOTE_LABELS[record.event in REASONED],
            }
        )
        if record.event is Event.SIGN:
            seen["first_sign"] = False
        elif record.event is Event.REQUEST_EXTENSION:
            seen["pending_days"] = record.payload["days"]
        elif record.event is Event.REDO:
            seen["cycle"] += 1
    return steps


def _handovers(records: Sequence[Record], names: Mapping[str, str]) -> dict[str, Any]:
    returns = [
        {
            "at": r.at,
            "unit": _unit(r.actor.unit, names),
            "who": _who(r.actor.name, r.actor.role, r.actor.unit, names),
            "reason": _text(r.payload.get("reason")),
        }
        for r in records
        if r.event is Event.RETURN
    ]
    reassigns = [
        {
            "at": r.at,
            "unit": _unit(str(r.payload["unit"]), names),
            "reason": _text(r.payload.get("reason")),
        }
        for r in records
        if r.event is Event.REASSIGN
    ]
    return {"returns": returns, "reassigns": reassigns}


def review_facts(
    case: Case,
    records: Sequence[Record],
    timers: Iterable[Timer],
    policy: Policy,
    calendar: BusinessCalendar,
    unit_names: Mapping[str, str],
) -> dict[str, Any]:
    """The facts of the 复盘报告: basic facts, the timeline of every time limit, the handling
    process, the units, result and revisit, and the review's own findings."""
    records = list(records)
    review = _last(records, Event.REVIEW)
    close = _last(records, Event.CLOSE)
    revisit = _last(records, Event.REVISIT)
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
            ("root cause (问题根源)", _text(review.payload.get("root_cause"))),
            ("corrective actions (整改措施)", _text(review.payload.get("actions"))),
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
        **_basics(case, unit_names),
        "policy": {"key": policy.key, "title": policy.title},
        "timeline": timeline,
        "timeline_summary": {
            "total": len(counted),
            "met": sum(1 for t in counted if t["status"]["code"] == "met"),
            "breached": sum(1 for t in counted if t["breached"]),
        },
        "process": _process(records, policy, unit_names, zone),
        **_handovers(records, unit_names),
        "result": {
            "value": label(case.result),
            "closed_at": close.at,
            "closed_by": _who(close.actor.name, close.actor.role, close.actor.unit, unit_names),
            "note": _text(close.payload.get("note")),
            "recovered_fen": case.recovered_fen,
        },
        "revisit": {
            "satisfaction": label(case.satisfaction),
            "at": revisit.at,
            "note": _text(revisit.payload.get("note")),
        },
        "redo_count": case.cycle - 1,
        "review": {
            "root_cause": _text(rp.get("root_cause")),
            "actions": _text(rp.get("actions")),
            "lessons": _text(rp.get("lessons")),
            "responsibility": _text(rp.get("responsibility")),
            "reviewer": _who(review.actor.name, review.actor.role, review.actor.unit, unit_names),
            "at": review.at,
            "date": _date(review.at, zone),
        },
    }


# ----------------------------------------------------------------------------- no-fault
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
    close = _last(records, Event.CLOSE)
    findings = (close.payload.get("findings") if close is not None else None) or {}
    missing = [field for key, field in FINDINGS if not findings.get(key)]
    if close is None or missing:
        raise DocumentIncomplete(NO_FAULT, case.number, "no findings recorded", missing or every)
    conclusion = CONCLUSIONS[case.result]
    return {
        "kind": NO_FAULT,
        **_basics(case, unit_names),
        "result": label(case.result),
        "closed_at": close.at,
        "note": _text(close.payload.get("note")),
        "verification": _text(findings["verification"]),
        "facts": _text(findings["facts"]),
        "basis": _text(findings["basis"]),
        "explanation": _text(findings["explanation"]),
        "explained_at": datetime.fromisoformat(str(findings["explained_at"])),
        "evidence": [_text(item) for item in findings["evidence"]],
        "conclusion": _pair(*conclusion),
        "approval": {
            "who": _who(close.actor.name, close.actor.role, close.actor.unit, unit_names),
            "at": close.at,
            "date": _date(close.at, zone),
        },
    }
