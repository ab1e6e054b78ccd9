"""The action forms: one flat pydantic model per lifecycle action (`AssignForm`...), which
the Prefect UI renders as the action deployment's form, and `BY_EVENT`, each action's form
and use case.

A form is built from the command's own fields (`workflow.commands`, same bilingual titles)
plus the grievance number (工单编号, except for accept), the effective time (生效时间, default
now) and the version the actor looked at (版本, optional). Enums render as dropdowns. No form
asks who acts: that is the signed-in person, from the identity stamp the gate adds to the run
(`Stamped`, checked by `flows.action_runs`). `SharedFields`/`copy_field` are shared with the
case forms of `flows.case_forms`.
"""

# No `from __future__ import annotations` here: pydantic introspects the annotations at
# runtime (the form models are built with `create_model`).

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import SkipJsonSchema

from service import cases as uc
from service.acting import Stamp
from workflow import commands as cmd
from workflow.actor import Actor
from workflow.case import Case
from workflow.commands import GrievanceNumber
from workflow.timeutil import SHANGHAI
from workflow.vocab import Event


class SharedFields(BaseModel):
    """The fields every form shares (their FieldInfos are copied into each form, and into the
    case forms of `flows.worklist`)."""

    number: GrievanceNumber = Field(
        title="工单编号 Grievance number",
        description="受理时生成的工单编号 The number given at acceptance",
        examples=["20261123-0001"],
    )
    at: datetime | None = Field(
        default=None,
        title="生效时间 Effective time",
        description=(
            "实际办理时间，默认现在，不带时区按北京时间 When it happened; default now. "
            "A time without a zone is read as Asia/Shanghai"
        ),
        examples=["2026-11-23T09:30:00+08:00"],
    )
    expect_version: int | None = Field(
        default=None,
        ge=0,
        title="版本 Version",
        description=(
            "您查看时的工单版本，他人已改动则拒绝；留空不检查 The version you looked at: the "
            "action is refused if someone acted since. Empty: no check"
        ),
        examples=[3],
    )


CONTEXT = ("at", "expect_version")  # besides the command: when, and the version seen

# The identity stamp the gate adds to every action run (`service.stamps`): a parameter of each
# action flow, left out of the form's schema (nobody types it; whatever a caller puts there the
# gate replaces).
Stamped = SkipJsonSchema[str | None]


class ActionForm(BaseModel):
    """Base of every action form (fields come from `_form`): immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    def stamp(self, clock: datetime, actor: Actor) -> Stamp:
        """`actor` (from the run's verified identity stamp) at the effective time (default
        the clock), recorded at the clock."""
        at: datetime = getattr(self, "at", None) or clock
        if at.tzinfo is None:
            at = at.replace(tzinfo=SHANGHAI)
        return Stamp(actor=actor, at=at, recorded_at=clock)

    def command_fields(self) -> dict[str, Any]:
        """The command's own fields, as keyword arguments of its use case."""
        return {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name not in (*CONTEXT, "number")
        }


# Descriptions and examples for the command fields that carry only a title in
# `workflow.commands`, so every field of every form explains itself.
_HELP: dict[str, tuple[str, list[Any]]] = {
    "channel": ("诉求来源渠道 Where the grievance came in", ["hotline_12328"]),
    "type": ("投诉、求助、咨询或建议 Complaint, help, enquiry or suggestion", ["complaint"]),
    "category": ("诉求所属分类 What the grievance is about", ["freight_unpaid"]),
    "name": ("诉求人（司机）姓名 The driver's name", ["王师傅"]),
    "phone": ("手机或带区号的座机 A mobile or a landline with area code", ["13812345678"]),
    "plate": ("涉及车辆的车牌号（可空） The vehicle's plate, if any", ["川B12345"]),
    "description": ("司机反映的问题 What the driver reports", ["货主拖欠运费3500元已两个月"]),
    "amount": ("诉求涉及的金额（可空） The amount in dispute, if any", ["3500"]),
    "urgent": ("紧急诉求即接即转即办 Urgent: handled at once under the urgent policy", [False]),
    "unit": ("负责办理的单位代码 The code of the unit that handles it", ["YZC"]),
    "co_units": ("协助办理的单位代码（可空） Codes of units that help (optional)", [["JTZF"]]),
    "note": ("说明或备注 What was done or noted", ["已电话联系司机"]),
    "reason": ("理由，记入办理记录 The reason, recorded in the audit log", ["不属于本单位管辖"]),
    "days": ("延长的工作日数 How many working days more", [5]),
    "result": ("办理结果 The outcome of handling", ["resolved"]),
    "recovered": ("为司机挽回的金额（可空） Money recovered for the driver", ["3500"]),
    "satisfaction": ("司机的满意度 The driver's answer", ["satisfied"]),
    "root_cause": ("问题产生的根源 Why it happened", ["货主资金周转困难，合同未约定付款期限"]),
    "actions": ("已采取或将采取的整改 What was or will be done", ["约谈货主，推广运费保证金"]),
    "lessons": ("可推广的经验（可空） What others can learn", ["同类纠纷先核运单"]),
    "responsibility": ("责任认定（可空） Who was responsible", ["货主责任"]),
    "into": ("保留的在办工单编号 The open grievance to keep", ["20261123-0002"]),
    "explained_at": ("向司机说明的时间 When it was explained", ["2026-11-24T10:00:00+08:00"]),
}


def copy_field(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    """A field of `model` (annotation and FieldInfo), with a description and examples."""
    info = model.model_fields[name]
    description, examples = _HELP.get(name, ("", []))
    if info.description is None and description:
        info = copy.copy(info)
        info.description = description
    if info.examples is None and examples:
        info = copy.copy(info)
        info.examples = examples
    return (info.annotation, info)


# Fields that hold nothing but a phone or plate number: the gate sends a reference in their
# place (`service.personal_refs`), so the form takes plain text of the same length limits and
# the same look; the use case checks the number once the run has put it back.
_CARRIED = {"phone": 32, "plate": 16}


def _carried(name: str, field: tuple[Any, Any]) -> tuple[Any, Any]:
    if name not in _CARRIED:
        return field
    _, info = field
    optional = not info.is_required()
    return (
        str | None if optional else str,
        Field(
            default=info.default if optional else ...,
            max_length=_CARRIED[name],
            title=info.title,
            description=info.description,
            examples=info.examples,
        ),
    )


def _titled(base: type[ActionForm], title: str) -> type[ActionForm]:
    """`base` with a form title (what the UI shows above the form)."""
    config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True, title=title)
    return type(f"{base.__name__}Titled", (base,), {"model_config": config})


def _form(
    command: type[cmd.Command],
    title: str,
    *,
    with_number: bool = True,
    base: type[ActionForm] = ActionForm,
    extra: dict[str, tuple[Any, Any]] | None = None,
    skip: tuple[str, ...] = (),
) -> Any:
    """A flat form: the grievance number, the command's own fields (with their titles and
    constraints), any `extra` fields, then who acts. The use case validates the command again
    (cross-field rules such as "a lead unit is not also a co-handling unit")."""
    fields: dict[str, Any] = {"number": copy_field(SharedFields, "number")} if with_number else {}
    fields.update(
        {n: _carried(n, copy_field(command, n)) for n in command.model_fields if n not in skip}
    )
    fields.update(extra or {})
    fields.update({name: copy_field(SharedFields, name) for name in CONTEXT})
    return create_model(
        f"{command.__name__}Form",
        __base__=_titled(base, title),
        __doc__=f"{title}. {command.__doc__ or ''}".strip(),
        **fields,
    )


_RESULT_NOTE = "无责/不属实必填 Required for a no_fault or unsubstantiated result"


def _optional(name: str) -> tuple[Any, Any]:
    """A findings field made optional in the flat close form (the use case checks them)."""
    annotation, info = copy_field(cmd.NoFaultFindings, name)
    annotation = annotation | None
    copied = Field(
        default=None,
        title=info.title,
        description=f"{_RESULT_NOTE}. {info.description or ''}".strip(" ."),
        examples=info.examples,
    )
    return (annotation, copied)


class _CloseBase(ActionForm):
    def command_fields(self) -> dict[str, Any]:
        """Close's fields, with the flat findings gathered into `findings` when any is given."""
        data = super().command_fields()
        findings = {name: data.pop(name) for name in cmd.NoFaultFindings.model_fields}
        given = {name: value for name, value in findings.items() if value is not None}
        data["findings"] = given or None
        return data


AcceptForm = _form(cmd.Accept, "受理 Accept", with_number=False)
AssignForm = _form(cmd.Assign, "分办 Assign")
SignForm = _form(cmd.Sign, "签收 Sign")
ReturnForm = _form(cmd.ReturnToDesk, "退单 Return")
ReassignForm = _form(cmd.Reassign, "改派 Reassign")
FeedbackForm = _form(cmd.Feedback, "进展反馈 Feedback")
RequestExtensionForm = _form(cmd.RequestExtension, "申请延期 Request an extension")
ApproveExtensionForm = _form(cmd.ApproveExtension, "批准延期 Approve the extension")
RejectExtensionForm = _form(cmd.RejectExtension, "驳回延期 Reject the extension")
SuspendForm = _form(cmd.Suspend, "挂起 Suspend")
ResumeForm = _form(cmd.Resume, "恢复 Resume")
CloseForm = _form(
    cmd.Close,
    "办结 Close",
    base=_CloseBase,
    extra={name: _optional(name) for name in cmd.NoFaultFindings.model_fields},
    skip=("findings",),
)
RevisitForm = _form(cmd.Revisit, "回访 Revisit")
RedoForm = _form(cmd.Redo, "重办 Redo")
ReviewForm = _form(cmd.Review, "复盘 Review")
MergeForm = _form(cmd.Merge, "并单 Merge")
TypicalForm = _form(cmd.Typical, "典型案例 Typical case")


@dataclass(frozen=True)
class ActionSpec:
    """An action on an existing grievance: its flat form and its use case."""

    event: Event
    form: type[ActionForm]
    usecase: Callable[..., Case]


BY_EVENT: dict[Event, ActionSpec] = {
    spec.event: spec
    for spec in (
        ActionSpec(Event.ASSIGN, AssignForm, uc.assign),
        ActionSpec(Event.SIGN, SignForm, uc.sign),
        ActionSpec(Event.RETURN, ReturnForm, uc.return_to_desk),
        ActionSpec(Event.REASSIGN, ReassignForm, uc.reassign),
        ActionSpec(Event.FEEDBACK, FeedbackForm, uc.feedback),
        ActionSpec(Event.REQUEST_EXTENSION, RequestExtensionForm, uc.request_extension),
        ActionSpec(Event.APPROVE_EXTENSION, ApproveExtensionForm, uc.approve_extension),
        ActionSpec(Event.REJECT_EXTENSION, RejectExtensionForm, uc.reject_extension),
        ActionSpec(Event.SUSPEND, SuspendForm, uc.suspend),
        ActionSpec(Event.RESUME, ResumeForm, uc.resume),
        ActionSpec(Event.CLOSE, CloseForm, uc.close),
        ActionSpec(Event.REVISIT, RevisitForm, uc.revisit),
        ActionSpec(Event.REDO, RedoForm, uc.redo),
        ActionSpec(Event.REVIEW, ReviewForm, uc.review),
        ActionSpec(Event.MERGE, MergeForm, uc.merge),
        ActionSpec(Event.TYPICAL, TypicalForm, uc.mark_typical),
    )
}
