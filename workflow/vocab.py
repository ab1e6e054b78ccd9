"""The domain's vocabulary as string enums, each member with its Chinese label (`.zh`).

Values are the stable English codes used by the CLI, the database and the audit log.
"""

from __future__ import annotations

from enum import StrEnum


class Vocab(StrEnum):
    """A string enum whose members carry a Chinese label."""

    @property
    def zh(self) -> str:
        return ZH[self]

    @property
    def bilingual(self) -> str:
        return f"{self.value} ({self.zh})"


class State(Vocab):
    NEW = "new"  # pseudo-state before acceptance; never stored
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    RETURNED = "returned"
    HANDLING = "handling"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    REVISITED = "revisited"
    REVIEWED = "reviewed"
    MERGED = "merged"


class Event(Vocab):
    ACCEPT = "accept"
    ASSIGN = "assign"
    SIGN = "sign"
    RETURN = "return"
    REASSIGN = "reassign"
    FEEDBACK = "feedback"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REJECT_EXTENSION = "reject_extension"
    SUSPEND = "suspend"
    RESUME = "resume"
    CLOSE = "close"
    REVISIT = "revisit"
    REDO = "redo"
    REVIEW = "review"
    MERGE = "merge"
    AMEND = "amend"
    RECALCULATE = "recalculate"
    SLA_STEP = "sla_step"  # the watchdog fired a warning, breach or escalation step
    TYPICAL = "typical"  # a reviewer marks a reviewed grievance as a typical case
    ATTACH = "attach"  # a file of evidence (photo, PDF) attached to a grievance


class Role(Vocab):
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    REVIEWER = "reviewer"
    SYSTEM = "system"  # the engine itself (the watchdog); never a person


class Channel(Vocab):
    HOTLINE_12328 = "hotline_12328"
    HOTLINE_12345 = "hotline_12345"
    MAILBOX = "mailbox"
    MINI_PROGRAM = "mini_program"
    GRID = "grid"
    PLATFORM = "platform"
    WALK_IN = "walk_in"


class RequestType(Vocab):
    COMPLAINT = "complaint"
    HELP = "help"
    ENQUIRY = "enquiry"
    SUGGESTION = "suggestion"


class Category(Vocab):
    FREIGHT_UNPAID = "freight_unpaid"
    CARGO_DAMAGE = "cargo_damage"
    TOLL_ETC = "toll_etc"
    PLATFORM_FEE = "platform_fee"
    ENFORCEMENT = "enforcement"
    OVERLOAD = "overload"
    CONTRACT = "contract"
    INSURANCE = "insurance"
    VEHICLE_SALE = "vehicle_sale"
    CITY_ACCESS = "city_access"
    REST_PARKING = "rest_parking"
    OTHER = "other"


class CloseResult(Vocab):
    RESOLVED = "resolved"
    PARTLY_RESOLVED = "partly_resolved"
    UNRESOLVED = "unresolved"
    UNSUBSTANTIATED = "unsubstantiated"
    NO_FAULT = "no_fault"


class Satisfaction(Vocab):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    UNREACHABLE = "unreachable"


ZH: dict[Vocab, str] = {
    State.NEW: "新建",
    State.ACCEPTED: "已受理",
    State.ASSIGNED: "已分办",
    State.RETURNED: "已退单",
    State.HANDLING: "办理中",
    State.SUSPENDED: "已挂起",
    State.CLOSED: "已办结",
    State.REVISITED: "已回访",
    State.REVIEWED: "已复盘",
    State.MERGED: "已并单",
    Event.ACCEPT: "受理",
    Event.ASSIGN: "分办",
    Event.SIGN: "签收",
    Event.RETURN: "退单",
    Event.REASSIGN: "改派",
    Event.FEEDBACK: "进展反馈",
    Event.REQUEST_EXTENSION: "申请延期",
    Event.APPROVE_EXTENSION: "批准延期",
    Event.REJECT_EXTENSION: "驳回延期",
    Event.SUSPEND: "挂起",
    Event.RESUME: "恢复",
    Event.CLOSE: "办结",
    Event.REVISIT: "回访",
    Event.REDO: "重办",
    Event.REVIEW: "复盘",
    Event.MERGE: "并单",
    Event.AMEND: "更正",
    Event.RECALCULATE: "重算时限",
    Event.SLA_STEP: "时限告警",
    Event.TYPICAL: "典型案例",
    Event.ATTACH: "上传证据",
    Role.DISPATCHER: "受理员",
    Role.HANDLER: "承办人",
    Role.SUPERVISOR: "主管",
    Role.REVIEWER: "复盘人",
    Role.SYSTEM: "系统",
    Channel.HOTLINE_12328: "12328热线",
    Channel.HOTLINE_12345: "12345热线",
    Channel.MAILBOX: "解忧信箱",
    Channel.MINI_PROGRAM: "司机直通车小程序",
    Channel.GRID: "网格员",
    Channel.PLATFORM: "货运平台",
    Channel.WALK_IN: "司机之家来访",
    RequestType.COMPLAINT: "投诉举报",
    RequestType.HELP: "求助",
    RequestType.ENQUIRY: "信息咨询",
    RequestType.SUGGESTION: "意见建议",
    Category.FREIGHT_UNPAID: "运费纠纷/拖欠运费",
    Category.CARGO_DAMAGE: "货物损坏",
    Category.TOLL_ETC: "高速通行费/ETC争议",
    Category.PLATFORM_FEE: "平台收费",
    Category.ENFORCEMENT: "执法/罚款",
    Category.OVERLOAD: "超限",
    Category.CONTRACT: "合同纠纷",
    Category.INSURANCE: "保险理赔",
    Category.VEHICLE_SALE: "车辆买卖套路",
    Category.CITY_ACCESS: "城市通行证/限行",
    Category.REST_PARKING: "司机之家/服务区/停车",
    Category.OTHER: "其他",
    CloseResult.RESOLVED: "已解决",
    CloseResult.PARTLY_RESOLVED: "部分解决",
    CloseResult.UNRESOLVED: "未解决（已说明）",
    CloseResult.UNSUBSTANTIATED: "不属实",
    CloseResult.NO_FAULT: "无责",
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
    Satisfaction.UNREACHABLE: "未联系上",
}

_missing = [m for e in Vocab.__subclasses__() for m in e if m not in ZH]
if _missing:  # checked at import: every member has a Chinese label
    raise RuntimeError(f"missing Chinese labels: {_missing}")
