"""The handling process as the 复盘报告 review report tells it: one step per audit record
(when, what, who, what happened in both languages, the free text a person wrote with it) and
the returns and reassignments. Pure, masked (see `workflow.documents`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from workflow.attachments import MEDIA_TYPES, attachments_of, size_label
from workflow.case import Record, to_fen
from workflow.documents import (
    EN,
    free_text,
    label,
    named_unit,
    pair,
    target_title,
    who,
)
from workflow.policies import Policy
from workflow.privacy import mask_text
from workflow.vocab import Channel, CloseResult, Event, Satisfaction

STEPS_EN = {
    "warning": "yellow card (warning)",
    "breach": "breach",
    "red_card": "red card",
    "supervision": "supervision by the leadership",
}
AMENDABLE = (
    ("type", "诉求类型", "request type"),
    ("category", "诉求分类", "category"),
    ("description", "诉求内容", "description"),
    ("amount", "涉及金额", "amount"),
    ("respondent", "被反映对象", "respondent"),
)


# ----------------------------------------------------------------------------- formatting
def _time(at: datetime, zone: ZoneInfo) -> dict[str, str]:
    shown = at.astimezone(zone)
    return pair(
        f"{shown.year}年{shown.month}月{shown.day}日 {shown:%H:%M}", f"{shown:%Y-%m-%d %H:%M}"
    )


def _span(span: timedelta) -> dict[str, str]:
    hours, minutes = divmod(int(span.total_seconds() // 60), 60)
    if not hours:
        return pair(f"{minutes}分钟", f"{minutes} min")
    if not minutes:
        return pair(f"{hours}小时", f"{hours} h")
    return pair(f"{hours}小时{minutes}分钟", f"{hours} h {minutes} min")


def _yuan(fen: int) -> dict[str, str]:
    amount = f"{fen // 100:,}.{fen % 100:02d}"
    return pair(f"{amount}元", f"CNY {amount}")


def _step_detail(record: Record, policy: Policy, zone: ZoneInfo) -> dict[str, str]:
    """黄牌预警：进展反馈时限将于…到期 / 红牌：进展反馈时限已于…到期，已超时…"""
    p = record.payload
    title = target_title(policy, str(p["target"]))
    due_at = datetime.fromisoformat(str(p["due"]))
    due = _time(due_at, zone)
    step_en = STEPS_EN.get(str(p["name"]), str(p["name"]))
    if record.at < due_at:
        return pair(
            f"{p['title']}：{title['zh']}时限将于{due['zh']}到期",
            f"{step_en}: the {title['en'].lower()} limit runs out at {due['en']}",
        )
    zh = f"{p['title']}：{title['zh']}时限已于{due['zh']}到期"
    en = f"{step_en}: the {title['en'].lower()} limit ran out at {due['en']}"
    late = timedelta(seconds=int(p.get("late_seconds", 0)))
    if late:
        zh += f"，已超时{_span(late)['zh']}"
        en += f"; {_span(late)['en']} late"
    return pair(zh, en)


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
        return pair(zh, en)

    match record.event:
        case Event.ACCEPT:
            channel = Channel(p["channel"])
            zh, en = f"来源渠道：{channel.zh}", f"channel: {EN[channel]}"
            if p.get("urgent"):
                zh, en = zh + "；紧急诉求（即接即转即办）", en + "; urgent"
            return pair(zh, en)
        case Event.ASSIGN:
            return routed("分办至", "assigned to")
        case Event.REASSIGN:
            return routed("改派至", "reassigned to")
        case Event.SIGN:
            unit = name(record.actor.unit)
            if before.get("first_sign"):
                return pair(f"{unit}签收，为首办单位", f"{unit} signed for it: the first handler")
            return pair(f"{unit}签收", f"{unit} signed for it")
        case Event.RETURN:
            unit = name(record.actor.unit)
            return pair(f"{unit}退单，退回受理台", f"{unit} returned it to the desk")
        case Event.FEEDBACK:
            return pair("向诉求人反馈办理进展", "progress fed back to the driver")
        case Event.REQUEST_EXTENSION:
            return pair(
                f"申请延期{p['days']}个工作日", f"asked for {p['days']} more working day(s)"
            )
        case Event.APPROVE_EXTENSION:
            days = before.get("pending_days")
            return pair(f"同意延期{days}个工作日", f"extension of {days} working day(s) granted")
        case Event.REJECT_EXTENSION:
            return pair("不同意延期", "extension refused")
        case Event.SUSPEND:
            return pair("暂停计时", "the clock stops")
        case Event.RESUME:
            return pair("恢复计时", "the clock runs again")
        case Event.CLOSE:
            result = CloseResult(p["result"])
            zh, en = f"办理结果：{result.zh}", f"result: {EN[result]}"
            recovered = to_fen(p.get("recovered"))
            if recovered:
                money = _yuan(recovered)
                zh, en = zh + f"，挽回金额{money['zh']}", en + f"; recovered {money['en']}"
            return pair(zh, en)
        case Event.REVISIT:
            answer = Satisfaction(p["satisfaction"])
            return pair(f"诉求人评价：{answer.zh}", f"the driver: {EN[answer]}")
        case Event.REDO:
            cycle = int(before.get("cycle", 1)) + 1
            return pair(f"开始第{cycle}轮办理", f"handling round {cycle} starts")
        case Event.REVIEW:
            return pair("开展复盘，形成本报告", "reviewed; this report issued")
        case Event.MERGE:
            return pair(f"并入工单{p['into']}", f"merged into grievance {p['into']}")
        case Event.AMEND:
            changed = [(zh, en) for key, zh, en in AMENDABLE if p.get(key) is not None]
            return pair(
                f"更正{'、'.join(zh for zh, _ in changed)}",
                f"corrected: {', '.join(en for _, en in changed)}",
            )
        case Event.RECALCULATE:
            title = target_title(policy, str(p["target"]))
            old = _time(datetime.fromisoformat(str(p["old_due"])), zone)
            new = _time(datetime.fromisoformat(str(p["new_due"])), zone)
            return pair(
                f"工作日历调整，{title['zh']}时限由{old['zh']}调整为{new['zh']}",
                f"calendar changed: the {title['en'].lower()} deadline moves from {old['en']} "
                f"to {new['en']}",
            )
        case Event.SLA_STEP:
            return _step_detail(record, policy, zone)
        case Event.ATTACH:
            file = free_text(str(p["name"])) or ""
            kind, size = MEDIA_TYPES.get(str(p["media_type"]), ""), size_label(int(p["size"]))
            short = str(p["sha256"])[:12]
            return pair(
                f"{file}（{kind}，{size}，SHA-256 {short}）",
                f"{file} ({kind}, {size}, SHA-256 {short})",
            )
    return pair(record.event.zh, EN[record.event])


# a record's free text: what it is called in the document
REASONED = frozenset(
    {Event.RETURN, Event.REASSIGN, Event.REQUEST_EXTENSION, Event.REJECT_EXTENSION}
    | {Event.SUSPEND, Event.REDO, Event.AMEND, Event.RECALCULATE, Event.MERGE}
)
NOTE_LABELS = {True: pair("理由", "Reason"), False: pair("说明", "Note")}


def _note(record: Record) -> str | None:
    """The free text a person wrote with the record (masked); review texts have their own
    sections, and an acceptance's description is in the basic facts."""
    if record.event in (Event.REVIEW, Event.ACCEPT, Event.SLA_STEP):
        return None
    p = record.payload
    return free_text(p.get("note") or p.get("reason"))


def process(
    records: Sequence[Record], policy: Policy, names: Mapping[str, str], zone: ZoneInfo
) -> list[dict[str, Any]]:
    """One step per record, in order: when, what, who, what happened, the note."""
    steps: list[dict[str, Any]] = []
    # what the earlier records tell about this one: the first signature, the days asked for
    seen: dict[str, Any] = {"first_sign": True, "pending_days": None, "cycle": 1}
    for seq, record in enumerate(records, start=1):
        steps.append(
            {
                "seq": seq,
                "at": record.at,
                "event": label(record.event),
                "who": who(record.actor.name, record.actor.role, record.actor.unit, names),
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


def handovers(records: Sequence[Record], names: Mapping[str, str]) -> dict[str, Any]:
    """The returns to the desk and the reassignments, each with its reason."""
    returns = [
        {
            "at": r.at,
            "unit": named_unit(r.actor.unit, names),
            "who": who(r.actor.name, r.actor.role, r.actor.unit, names),
            "reason": free_text(r.payload.get("reason")),
        }
        for r in records
        if r.event is Event.RETURN
    ]
    reassigns = [
        {
            "at": r.at,
            "unit": named_unit(str(r.payload["unit"]), names),
            "reason": free_text(r.payload.get("reason")),
        }
        for r in records
        if r.event is Event.REASSIGN
    ]
    return {"returns": returns, "reassigns": reassigns}


def merged_in(merges: Sequence[Record], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The duplicates merged into this grievance (并单), each with its reason (并单理由)."""
    return [
        {
            "number": m.number,
            "at": m.at,
            "who": who(m.actor.name, m.actor.role, m.actor.unit, names),
            # a merge recorded before the reason was required has none
            "reason": free_text(m.payload.get("reason")),
        }
        for m in merges
        if m.event is Event.MERGE
    ]


def evidence(records: Sequence[Record], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The files attached to the grievance (上传证据), oldest first, as both documents list
    them: name (masked), type, size, short hash, when and who; never the bytes."""
    return [
        {
            "seq": seq,
            "name": free_text(item.name) or "",
            "kind": item.kind,
            "size": item.size_text,
            "short": item.short,
            "sha256": item.sha256,
            "at": item.at,
            "who": who(item.actor.name, item.actor.role, item.actor.unit, names),
            "note": free_text(item.note),
        }
        for seq, item in enumerate(attachments_of(records), start=1)
    ]
