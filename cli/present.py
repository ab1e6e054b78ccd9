"""How cases look on the command line and in JSON: personal data always masked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from models.tables import GrievanceEvent
from service.security import Logged
from service.watchdog import Broken, Fired
from workflow.case import Case
from workflow.privacy import mask_name, mask_phone, mask_plate, mask_text, mask_value
from workflow.timers import Timer, TimerState
from workflow.timeutil import iso
from workflow.vocab import Event


def yuan(fen: int | None) -> str | None:
    return None if fen is None else f"{fen / 100:.2f}"


def case_dict(case: Case, *, version: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": case.number,
        "state": case.state.value,
        "state_zh": case.state.zh,
        "channel": case.channel.value,
        "ref": case.ref,
        "type": case.type.value,
        "category": case.category.value,
        "complainant": {
            "name": mask_name(case.name),
            "phone": mask_phone(case.phone),
            "plate": mask_plate(case.plate) or None,
        },
        "description": mask_text(case.description),
        "amount": yuan(case.amount_fen),
        "urgent": case.urgent,
        "accepted_at": iso(case.accepted_at),
        "lead_unit": case.lead_unit,
        "co_units": list(case.co_units),
        "first_handler_unit": case.first_handler_unit,
        "return_count": case.return_count,
        "reassign_count": case.reassign_count,
        "feedback_count": case.feedback_count,
        "pending_extension_days": case.pending_extension_days,
        "extension_days": case.extension_days,
        "result": case.result.value if case.result else None,
        "closed_at": iso(case.closed_at),
        "recovered": yuan(case.recovered_fen),
        "satisfaction": case.satisfaction.value if case.satisfaction else None,
        "cycle": case.cycle,
        "merged_into": case.merged_into,
    }
    if version is not None:
        data["version"] = version
    return data


def _mask_payload(payload: dict[str, Any], event: str = "") -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "phone":
            masked[key] = mask_phone(value)
        elif key == "name" and event != Event.SLA_STEP:  # a step's name is not a person's
            masked[key] = mask_name(value)
        elif key == "plate":
            masked[key] = mask_plate(value) or None
        else:  # free text, also nested (a no-fault close's findings)
            masked[key] = mask_value(value)
    return masked


def event_dict(event: GrievanceEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "event": event.event.value,
        "from_state": event.from_state.value,
        "to_state": event.to_state.value,
        "at": iso(event.at),
        "recorded_at": iso(event.recorded_at),
        "actor": event.actor,
        "role": event.role.value,
        "actor_unit": event.actor_unit,
        "payload": _mask_payload(event.payload, event.event),
    }


def case_text(
    case: Case, *, version: int | None = None, events: Sequence[GrievanceEvent] = ()
) -> str:
    d = case_dict(case, version=version)
    who = d["complainant"]
    lines = [
        f"诉求 Grievance {case.number}   {case.state.value} ({case.state.zh})"
        + (f"   version {version}" if version is not None else ""),
        f"  渠道 Channel:     {case.channel.zh} / {case.ref}",
        f"  类型 Type:        {case.type.zh}   分类 Category: {case.category.zh}",
        f"  诉求人 Driver:    {who['name']}  {who['phone']}  {who['plate'] or ''}".rstrip(),
        f"  内容 Description: {d['description']}",
    ]
    if case.amount_fen is not None:
        lines.append(f"  金额 Amount:      {d['amount']} 元")
    if case.urgent:
        lines.append("  紧急 Urgent:      yes")
    lines.append(f"  受理 Accepted:    {d['accepted_at']}")
    if case.lead_unit:
        co = f" (协办 co: {', '.join(case.co_units)})" if case.co_units else ""
        lines.append(f"  主办 Lead unit:   {case.lead_unit}{co}")
    if case.first_handler_unit:
        lines.append(f"  首办 First handler: {case.first_handler_unit}")
    if case.return_count:
        lines.append(f"  退单 Returns:     {case.return_count}")
    if case.pending_extension_days:
        lines.append(f"  延期待批 Pending extension: {case.pending_extension_days} working day(s)")
    if case.extension_days:
        lines.append(f"  已延期 Extended:   {case.extension_days} working day(s)")
    if case.result:
        lines.append(
            f"  结果 Result:      {case.result.zh} ({case.result.value})  {d['closed_at']}"
        )
    if case.recovered_fen is not None:
        lines.append(f"  挽回 Recovered:   {d['recovered']} 元")
    if case.satisfaction:
        lines.append(f"  回访 Revisit:     {case.satisfaction.zh} ({case.satisfaction.value})")
    if case.cycle > 1:
        lines.append(f"  办理轮次 Cycle:   {case.cycle}")
    if case.merged_into:
        lines.append(f"  并入 Merged into: {case.merged_into}")
    if events:
        lines.append("  事件 Events:")
        for event in events:
            unit = f"@{event.actor_unit}" if event.actor_unit else ""
            what = f"{event.from_state.value} -> {event.to_state.value}"
            if event.event is Event.SLA_STEP:  # which step of which timer, not a move
                p = event.payload
                what = f"{p['title']} {p['name']}: {p['target']}#{p['cycle']}"
            elif event.event is Event.MERGE:  # into which grievance, and why (并单理由)
                p = _mask_payload(event.payload, event.event)
                what += f" {p['into']}: {p.get('reason') or '-'}"
            elif event.event is Event.REASSIGN and "co_units_before" in event.payload:
                p = event.payload  # the co-handling units' change (协办单位)
                if p["co_units_before"] != p["co_units"]:
                    before, after = ",".join(p["co_units_before"]), ",".join(p["co_units"])
                    what += f" co {before or '-'} -> {after or '-'}"
            lines.append(
                f"    {event.seq:>3}  {iso(event.at)}  {event.event.value:<18} "
                f"{what}  {event.actor} ({event.role.value}{unit})"
            )
    return "\n".join(lines)


def timer_dict(timer: Timer, now: datetime | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target": timer.target,
        "cycle": timer.cycle,
        "state": timer.state.value,
        "started_at": iso(timer.started_at),
        "due_at": iso(timer.due_at),
        "warn_at": iso(timer.warn_at),
        "provisional": timer.provisional,
        "paused_since": iso(timer.paused_since),
        "paused": str(timer.paused_total),
        "extended_days": timer.extended_days,
        "stopped_at": iso(timer.stopped_at),
        "breached_at": iso(timer.breached_at),
        "late_seconds": int(timer.late.total_seconds()),
        "steps_fired": timer.fired,
        "next_fire_at": iso(timer.next_fire_at),
        "calendar": timer.calendar or "bureau",
    }
    if now is not None:
        data["overdue"] = timer.open and now > timer.due_at
    return data


def timer_text(timer: Timer, now: datetime, explanation: Sequence[str] = ()) -> list[str]:
    flag = " (provisional 暂定)" if timer.provisional else ""
    if timer.stopped_at is not None:
        when = f"stopped {iso(timer.stopped_at)}"
    elif timer.state is TimerState.PAUSED:
        when = f"paused since {iso(timer.paused_since)}"
    elif now > timer.due_at:
        when = "OVERDUE 已超时"
    else:
        when = "running"
    extra = f", extended {timer.extended_days} wd" if timer.extended_days else ""
    extra += f", {timer.late} late" if timer.late else ""
    extra += f", {timer.fired} step(s) fired" if timer.fired else ""
    extra += f", calendar {timer.calendar}" if timer.calendar else ""
    lines = [
        f"    {timer.target:<9} #{timer.cycle} {timer.state.value:<9} due {iso(timer.due_at)}"
        f"{flag}  {when}{extra}"
    ]
    lines += [f"        {line}" for line in explanation]
    return lines


_DISCLOSED = {"reveal": "查看号码 reveal", "attachment_read": "下载证据 file read"}


def disclosure_dict(logged: Logged) -> dict[str, Any]:
    """One reveal or evidence download of a grievance: when, what, who (with role and unit),
    and why or which file."""
    detail = logged.detail
    data: dict[str, Any] = {
        "at": logged.at,
        "kind": logged.kind,
        "by": logged.by,
        "role": detail.get("role"),
        "unit": detail.get("unit"),
    }
    if "why" in detail:
        data["why"] = detail["why"]
    if "sha256" in detail:
        data["sha256"] = detail["sha256"]
    return data


def disclosure_line(data: dict[str, Any]) -> str:
    who = str(data.get("role") or "-") + (f"@{data['unit']}" if data.get("unit") else "")
    what = f": {data['why']}" if data.get("why") else ""
    what += f" {data['sha256'][:12]}" if data.get("sha256") else ""
    return f"    {data['at']}  {_DISCLOSED.get(data['kind'], data['kind'])}  {data['by']} ({who}){what}"


def case_line(case: Case) -> str:
    unit = case.lead_unit or "-"
    return (
        f"{case.number}  {case.state.value:<10} {unit:<10} {case.category.value:<15} "
        f"{iso(case.accepted_at)}  {mask_text(case.description)[:30]}"
    )


def fired_dict(fired: Fired) -> dict[str, Any]:
    return {
        "grievance": fired.number,
        "target": fired.target,
        "cycle": fired.cycle,
        "step": fired.step,
        "title": fired.title,
        "at": iso(fired.at),
        "due_at": iso(fired.due_at),
        "late_seconds": int(fired.late.total_seconds()),
        "unit": fired.unit,
        "notify": list(fired.audiences),
        "notifications": fired.notifications,
    }


def fired_text(fired: Fired) -> str:
    late = f", {fired.late} late" if fired.late else ""
    return (
        f"{fired.number}  {fired.target}#{fired.cycle}  {fired.title} {fired.step} "
        f"at {iso(fired.at)}{late} -> {', '.join(fired.audiences)}"
    )


def broken_dict(broken: Broken) -> dict[str, Any]:
    return {
        "grievance": broken.number,
        "timers": list(broken.targets),
        "error": broken.error,
        "reported": broken.reported,
    }


def broken_text(broken: Broken) -> str:
    timers = ", ".join(broken.targets) or "?"
    told = "supervisors notified" if broken.reported else "already reported"
    return f"{broken.number}  cannot be processed ({timers}): {broken.error} [{told}]"
