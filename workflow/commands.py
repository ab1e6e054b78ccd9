"""One validated command model per lifecycle operation (the input of `machine.decide`).

The same models give the CLI its checks, the Prefect forms their bilingual titles, and the
audit log its payloads (`payload()` is what gets stored and replayed).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from workflow.attachments import FILE_NAME_MAX, MAX_BYTES_CEILING, SHA256_PATTERN, file_name
from workflow.errors import InvalidInput
from workflow.timeutil import SHANGHAI
from workflow.validation import (
    AMOUNT_MAX_YUAN,
    EVIDENCE_MAX,
    EXTENSION_DAYS_MAX,
    LongText,
    NoteText,
    PersonName,
    Phone,
    Plate,
    Reference,
    Respondent,
    ShortText,
    UnitCode,
    plain_amount,
)
from workflow.vocab import Category, Channel, CloseResult, Event, RequestType, Satisfaction

Yuan = Annotated[
    Decimal, BeforeValidator(plain_amount), Field(ge=0, le=AMOUNT_MAX_YUAN, decimal_places=2)
]
GrievanceNumber = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$")]
INSTANT_YEARS = (2000, 2100)


def _plausible_instant(value: datetime) -> datetime:
    """A time a person gives: without a zone it is Asia/Shanghai; years 2000-2100 only (a
    typo such as 0202 or 20266 is refused, not stored)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    first, last = INSTANT_YEARS
    if not first <= value.year <= last:
        raise ValueError(f"must be a time in the years {first}-{last}")
    return value


Instant = Annotated[datetime, AfterValidator(_plausible_instant)]


class Command(BaseModel):
    """Base of all commands: immutable, unknown fields refused."""

    # hide_input_in_errors: a refused value (a phone number...) never reaches an error text
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=False, hide_input_in_errors=True
    )
    event: ClassVar[Event]

    def payload(self) -> dict[str, Any]:
        """The JSON-ready form stored in the audit log."""
        return self.model_dump(mode="json")


class Accept(Command):
    """受理: register a new grievance."""

    event = Event.ACCEPT
    channel: Channel = Field(title="来源渠道 Channel", examples=["hotline_12328"])
    ref: Reference = Field(
        title="渠道编号 Channel reference",
        description="工单在来源渠道的编号 The work order number in the source channel",
        examples=["12328-20261123-0001"],
    )
    type: RequestType = Field(title="诉求类型 Request type", examples=["complaint"])
    category: Category = Field(title="诉求分类 Category", examples=["freight_unpaid"])
    name: PersonName = Field(title="诉求人 Complainant", examples=["王师傅"])
    phone: Phone = Field(title="联系电话 Phone", examples=["13812345678"])
    plate: Plate | None = Field(default=None, title="车牌号 Plate", examples=["川B12345"])
    description: LongText = Field(
        title="诉求内容 Description", examples=["货主拖欠运费3500元已两个月"]
    )
    amount: Yuan | None = Field(
        default=None, title="涉及金额（元） Amount in dispute (yuan)", examples=["3500"]
    )
    urgent: bool = Field(default=False, title="紧急 Urgent (即接即转即办)")
    respondent: Respondent | None = Field(
        default=None,
        title="被反映对象 Respondent",
        description="被投诉的企业、平台或部门 The company, platform or office complained about",
        examples=["某某物流有限公司"],
    )


# The units that help the lead unit of a routing (分办, 改派); `_co_units_apart` checks them.
CO_UNITS_MAX = 10
CoUnits = Annotated[
    list[UnitCode], Field(max_length=CO_UNITS_MAX, title="协办单位 Co-handling units")
]


def _co_units_apart(unit: str, *lists: list[str]) -> None:
    """A routing's rule: the lead unit is not also a co-handling unit, none is listed twice."""
    named = [code for codes in lists for code in codes]
    if unit in named:
        raise ValueError(f"unit {unit} cannot be both lead and co-handling unit")
    if len(set(named)) != len(named):
        raise ValueError("co-handling units listed twice")


class Assign(Command):
    """分办: route the grievance to a lead unit, with optional co-handling units."""

    event = Event.ASSIGN
    unit: UnitCode = Field(title="主办单位 Lead unit", examples=["YZC"])
    co_units: CoUnits = Field(default_factory=list)

    @model_validator(mode="after")
    def _co_units(self) -> Assign:
        _co_units_apart(self.unit, self.co_units)
        return self


class Sign(Command):
    """签收: the lead unit signs for the grievance (it becomes first handler if none yet)."""

    event = Event.SIGN
    note: NoteText | None = Field(default=None, title="备注 Note")


class ReturnToDesk(Command):
    """退单: the unit returns the grievance to the desk with a reason."""

    event = Event.RETURN
    reason: ShortText = Field(title="退单理由 Reason", examples=["不属于本单位管辖"])


class Reassign(Command):
    """改派: the desk routes the grievance to another (or the same) unit. The co-handling
    units stay unless the desk removes them; it may add others. (The audit record carries
    the resulting list and the one before: `machine.reassign_payload`.)"""

    event = Event.REASSIGN
    unit: UnitCode = Field(title="主办单位 Lead unit")
    reason: ShortText = Field(title="改派理由 Reason")
    add_co_units: CoUnits = Field(
        default_factory=list,
        title="增加协办单位 Co-handling units added",
        description="现有协办单位保留 The current co-handling units stay",
        examples=[["JTZF"]],
    )
    remove_co_units: CoUnits = Field(
        default_factory=list,
        title="撤销协办单位 Co-handling units removed",
        description="不再协办的单位代码 Codes of units that no longer help",
        examples=[["JTZF"]],
    )

    @model_validator(mode="after")
    def _co_units(self) -> Reassign:
        _co_units_apart(self.unit, self.add_co_units)
        if set(self.add_co_units) & set(self.remove_co_units):
            raise ValueError("a co-handling unit cannot be both added and removed")
        return self


class Feedback(Command):
    """进展反馈: progress feedback given to the driver."""

    event = Event.FEEDBACK
    note: NoteText = Field(title="反馈内容 Feedback", examples=["已联系货主，约定本周五前结清"])


class RequestExtension(Command):
    """申请延期: ask for more working days before the close deadline."""

    event = Event.REQUEST_EXTENSION
    days: int = Field(ge=1, le=EXTENSION_DAYS_MAX, title="延期工作日数 Working days")
    reason: ShortText = Field(title="延期理由 Reason")


class ApproveExtension(Command):
    """批准延期: a supervisor grants the pending extension."""

    event = Event.APPROVE_EXTENSION
    note: NoteText | None = Field(default=None, title="备注 Note")


class RejectExtension(Command):
    """驳回延期: a supervisor refuses the pending extension."""

    event = Event.REJECT_EXTENSION
    reason: ShortText = Field(title="驳回理由 Reason")


class Suspend(Command):
    """挂起: stop the clock while waiting on the driver or a third party (approved)."""

    event = Event.SUSPEND
    reason: ShortText = Field(title="挂起理由 Reason", examples=["等待司机补充运单材料"])


class Resume(Command):
    """恢复: restart handling after a suspension."""

    event = Event.RESUME
    note: NoteText | None = Field(default=None, title="备注 Note")


NO_FAULT_RESULTS = frozenset({CloseResult.NO_FAULT, CloseResult.UNSUBSTANTIATED})


class NoFaultFindings(BaseModel):
    """无责说明: what a no-fault or unsubstantiated conclusion rests on (all required)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
    verification: NoteText = Field(
        title="核实经过 How it was verified", examples=["调取运单、通话记录，走访货主"]
    )
    facts: NoteText = Field(title="查明事实 Facts found", examples=["运费已于11月20日结清"])
    basis: NoteText = Field(
        title="依据 Legal or policy basis", examples=["《道路货物运输及站场管理规定》第X条"]
    )
    explanation: NoteText = Field(
        title="向司机说明 What was explained to the driver",
        examples=["已电话告知司机核查结果及依据"],
    )
    explained_at: Instant = Field(title="说明时间 When it was explained")
    evidence: list[ShortText] = Field(
        min_length=1,
        max_length=EVIDENCE_MAX,
        title="证据清单 Evidence",
        examples=[["运单截图", "银行转账凭证"]],
    )


class Close(Command):
    """办结: close with a result. A no-fault or unsubstantiated result (无责/不属实) carries its
    findings for the no-fault statement and is closed by the unit supervisor (审核)."""

    event = Event.CLOSE
    result: CloseResult = Field(title="办理结果 Result")
    note: NoteText = Field(title="办结说明 Note")
    recovered: Yuan | None = Field(default=None, title="挽回金额（元） Recovered (yuan)")
    findings: NoFaultFindings | None = Field(
        default=None, title="无责说明 No-fault findings (for no_fault / unsubstantiated)"
    )

    @model_validator(mode="after")
    def _findings_fit_the_result(self) -> Close:
        if self.result in NO_FAULT_RESULTS and self.findings is None:
            raise ValueError(
                f"a {self.result.value} result needs its findings (verification, facts, basis, "
                "explanation, explained_at, evidence) for the no-fault statement"
            )
        if self.result not in NO_FAULT_RESULTS and self.findings is not None:
            raise ValueError("findings belong to a no_fault or unsubstantiated result only")
        return self


class Revisit(Command):
    """回访: the follow-up contact with the driver after closing."""

    event = Event.REVISIT
    satisfaction: Satisfaction = Field(title="满意度 Satisfaction")
    note: NoteText | None = Field(default=None, title="回访记录 Note")


class Redo(Command):
    """重办: back to handling after a dissatisfied revisit (a new cycle)."""

    event = Event.REDO
    reason: ShortText = Field(title="重办理由 Reason")


class Review(Command):
    """复盘: review the case; this finishes it."""

    event = Event.REVIEW
    root_cause: LongText = Field(title="问题根源 Root cause")
    actions: LongText = Field(title="整改措施 Corrective actions")
    lessons: LongText | None = Field(default=None, title="举一反三 Lessons")
    responsibility: ShortText | None = Field(default=None, title="责任认定 Responsibility")


class Merge(Command):
    """并单: merge this duplicate into another open grievance, saying why (并单理由)."""

    event = Event.MERGE
    into: GrievanceNumber = Field(title="并入工单 Merge into")
    reason: ShortText = Field(
        title="并单理由 Reason",
        description="为何是同一诉求 Why this is the same grievance",
        examples=["同一司机就同一运单重复来电"],
    )


class Amend(Command):
    """更正: correct registration facts (an audited correction, not a back door)."""

    event = Event.AMEND
    reason: ShortText = Field(title="更正理由 Reason")
    type: RequestType | None = Field(default=None, title="诉求类型 Request type")
    category: Category | None = Field(default=None, title="诉求分类 Category")
    description: LongText | None = Field(default=None, title="诉求内容 Description")
    amount: Yuan | None = Field(default=None, title="涉及金额（元） Amount (yuan)")
    respondent: Respondent | None = Field(default=None, title="被反映对象 Respondent")

    @model_validator(mode="after")
    def _something(self) -> Amend:
        values = (self.type, self.category, self.description, self.amount, self.respondent)
        if all(v is None for v in values):
            raise ValueError(
                "nothing to amend: give a type, category, description, amount or respondent"
            )
        return self


class Typical(Command):
    """典型案例: a reviewer marks a reviewed grievance as a typical case, with the lesson it
    teaches in a few lines (the monthly bulletin lists it). Marked again, the newer summary
    holds."""

    event = Event.TYPICAL
    summary: ShortText = Field(
        title="典型案例摘要 Summary",
        description="案情与启示，月度通报引用 The case and the lesson drawn, quoted in the bulletin",
        examples=["货主以货损为由拒付运费，经调取运单照片查明无损，督促结清；提示运单照片留存"],
    )


def _file_name(value: str) -> str:
    return file_name(value)


FileName = Annotated[str, Field(max_length=4 * FILE_NAME_MAX), AfterValidator(_file_name)]


class Attach(Command):
    """上传证据: a file of evidence (a photo, a PDF of a waybill or ticket) attached to the
    grievance. The audit record carries its SHA-256, type, size and name, never its bytes
    (`service.attachments` stores them, named by the hash)."""

    event = Event.ATTACH
    sha256: str = Field(pattern=SHA256_PATTERN, title="内容摘要 SHA-256")
    media_type: Literal[
        "image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"
    ] = Field(title="文件类型 Media type")
    size: int = Field(ge=1, le=MAX_BYTES_CEILING, title="大小（字节） Size (bytes)")
    name: FileName = Field(title="文件名 File name")
    note: NoteText | None = Field(default=None, title="说明 Note")


class Recalculate(Command):
    """重算时限: a deadline moved because the working-day calendar changed, or a timer moved
    to another calendar (a unit's own; recorded, audited, read by the replay)."""

    event = Event.RECALCULATE
    target: str = Field(max_length=32, title="时限 Target")
    cycle: int = Field(ge=1, title="轮次 Cycle")
    old_due: datetime = Field(title="原期限 Old deadline")
    new_due: datetime = Field(title="新期限 New deadline")
    reason: ShortText = Field(title="原因 Reason")
    # set when the timer moves to another calendar: "" the bureau's, "ROAD@2" a unit's
    calendar: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^([A-Za-z0-9_-]{1,32}@[0-9]{1,9})?$",
        title="日历 Calendar",
    )


class SlaStep(Command):
    """时限告警: the watchdog fired one step of a timer (yellow card, red card, 督办...)."""

    event = Event.SLA_STEP
    target: str = Field(max_length=32, title="时限 Target")
    cycle: int = Field(ge=1, title="轮次 Cycle")
    step: int = Field(ge=0, title="步骤序号 Step index")
    name: str = Field(max_length=32, title="步骤 Step")
    title: str = Field(max_length=32, title="步骤名称 Step title")
    due: datetime = Field(title="期限 Deadline")
    late_seconds: int = Field(ge=0, title="超时（秒） Late by (seconds)")
    notify: list[str] = Field(default_factory=list, title="通知对象 Audiences")


COMMANDS: dict[Event, type[Command]] = {
    cls.event: cls
    for cls in (
        Accept,
        Assign,
        Sign,
        ReturnToDesk,
        Reassign,
        Feedback,
        RequestExtension,
        ApproveExtension,
        RejectExtension,
        Suspend,
        Resume,
        Close,
        Revisit,
        Redo,
        Review,
        Merge,
        Amend,
        Recalculate,
        SlaStep,
        Typical,
        Attach,
    )
}


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field and why, without pydantic's URLs."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "input"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_command(event: Event, data: dict[str, Any]) -> Command:
    """Build the command for `event` from raw data, or raise InvalidInput with one line."""
    try:
        return COMMANDS[event].model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            f"invalid {event.value} input: {describe_validation_error(error)}"
        ) from None
