"""One Prefect flow per lifecycle action, so a dispatcher runs each one from a UI form.

Each flow is a thin wrapper over its use case (`service.cases`): it reads the clock once,
calls the use case and publishes its effects (a log line, a markdown artifact keyed
`grievance-<number>`, and a small result dict: number, event, state, version).

- Parameters: one pydantic model per action (`AssignForm`...), built from the command's own
  fields (`workflow.commands`, same bilingual titles) plus who acts (姓名, 角色 — human roles
  only —, 所属单位), the grievance number (工单编号, except for accept), the effective time
  (生效时间, default now) and the version the actor looked at (版本, optional). Enums render
  as dropdowns in the Prefect UI.
- Runs are named `<action> <number>` (accept: `accept <channel reference>`, renamed to
  `accept <new number>` once registered) and tagged `grievance:<number>` and `unit:<code>`
  (the lead unit after the action and the actor's unit), so the UI filters by case and unit.
- An error a dispatcher can cause (illegal move, permission, unknown unit, conflict, invalid
  input, not found) ends the run Failed with the one-line reason as its message, no traceback.

- After a committed action, the grievance's case run (the worklist, `flows.worklist`) is
  re-synced so it never shows a stale form; that step never fails the action.

`action_deployments()` gives one deployment per action (no schedule) for `prefect.serve`.
Shared with `flows.worklist`: `SharedFields`/`copy_field` (the who-acts fields), `BY_EVENT`
(each action's form and use case), `run_action` and `on_existing` (apply a form through its
use case with the same messages).
"""

# No `from __future__ import annotations` here: Prefect and pydantic introspect the flows'
# parameter annotations at runtime (the form models are built with `create_model`).

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.flows import Flow
from prefect.runtime import flow_run
from prefect.states import Failed, State
from pydantic import BaseModel, ConfigDict, Field, create_model

from models import repo
from service import cases as uc
from service import documents
from service.engine import Engine
from templates import md_cell
from workflow import commands as cmd
from workflow.actor import Actor
from workflow.case import Case
from workflow.commands import NO_FAULT_RESULTS, GrievanceNumber
from workflow.errors import GrievanceError
from workflow.privacy import mask_text
from workflow.timeutil import SHANGHAI, iso
from workflow.validation import PersonName, UnitCode
from workflow.vocab import Event, Role

PARAM = "params"  # the name of every action flow's one parameter


class MaskPersonalData(logging.Filter):
    """Masks phone, ID and plate numbers in a log record before any handler sees it.

    Prefect logs a form it refuses with its raw input (`prefect.flows`: "Parameter
    validation failed ... Parameters: {...}") and a run's errors on `prefect.flow_runs`;
    those lines go to the console and to the server's run logs, readable by anyone in the UI.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is left to logging itself
            return True
        masked = mask_text(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


MASKED_LOGGERS = (
    "prefect.flows",
    "prefect.engine",
    "prefect.flow_runs",
    "prefect.task_runs",
    "grievance",
)


def mask_logs() -> None:
    """Put the masking filter on the loggers that may carry a form's input (idempotent)."""
    for name in MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskPersonalData) for f in logger.filters):
            logger.addFilter(MaskPersonalData())


mask_logs()


class HumanRole(StrEnum):
    """角色 Role: the people who act on grievances (the engine's own `system` role is not one)."""

    DISPATCHER = Role.DISPATCHER.value
    HANDLER = Role.HANDLER.value
    SUPERVISOR = Role.SUPERVISOR.value
    REVIEWER = Role.REVIEWER.value


class SharedFields(BaseModel):
    """The fields every form shares (their FieldInfos are copied into each form, and into the
    case forms of `flows.worklist`)."""

    number: GrievanceNumber = Field(
        title="工单编号 Grievance number",
        description="受理时生成的工单编号 The number given at acceptance",
        examples=["20261123-0001"],
    )
    actor: PersonName = Field(
        title="姓名 Your name",
        description="办理人姓名，记入办理记录 Your name, as recorded in the audit log",
        examples=["张敏"],
    )
    role: HumanRole = Field(
        title="角色 Role",
        description=(
            "受理员 dispatcher、承办人 handler、主管 supervisor、复盘人 reviewer: "
            "your role in this action"
        ),
        examples=["dispatcher"],
    )
    actor_unit: UnitCode | None = Field(
        default=None,
        title="所属单位 Your unit",
        description=(
            "承办单位人员必填（单位代码），受理员留空 Your unit's code: required for unit staff "
            "(handlers, unit supervisors), empty at the desk"
        ),
        examples=["YZC"],
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


WHO = ("actor", "role", "actor_unit", "at", "expect_version")


class ActionForm(BaseModel):
    """Base of every action form (fields come from `_form`): immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    def stamp(self, clock: datetime) -> uc.Stamp:
        """Who acts, at the effective time (default the clock), recorded at the clock."""
        at: datetime = getattr(self, "at", None) or clock
        if at.tzinfo is None:
            at = at.replace(tzinfo=SHANGHAI)
        role = Role(getattr(self, "role").value)  # noqa: B009 - fields are added by _form
        actor = Actor(getattr(self, "actor"), role, getattr(self, "actor_unit", None))  # noqa: B009
        return uc.Stamp(actor=actor, at=at, recorded_at=clock)

    def command_fields(self) -> dict[str, Any]:
        """The command's own fields, as keyword arguments of its use case."""
        return {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name not in (*WHO, "number")
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
    fields.update({n: copy_field(command, n) for n in command.model_fields if n not in skip})
    fields.update(extra or {})
    fields.update({name: copy_field(SharedFields, name) for name in WHO})
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


# ------------------------------------------------------------------------------ the runner
def _value(params: Any, name: str) -> Any:
    """A field of the flow's parameter model, validated (a model) or not yet (a dict)."""
    if isinstance(params, BaseModel):
        return getattr(params, name, None)
    if isinstance(params, dict):
        return params.get(name)
    return None


def _run_name(action: str, field: str = "number") -> Callable[[], str]:
    """`flow_run_name` callable: "<action> <number>" from the run's parameters."""

    def name() -> str:
        value = _value(flow_run.parameters.get(PARAM), field)
        return f"{action} {value}" if value else action

    name.__name__ = f"{action}_run_name"
    return name


def _tag(number: str | None, units: list[str | None], *, rename: str | None = None) -> None:
    """Add `grievance:<number>` and `unit:<code>` tags to the current flow run (keeping its
    tags), and rename it if asked. Outside a flow run it does nothing."""
    run_id = flow_run.id
    if run_id is None:
        return
    wanted = [f"grievance:{number}"] if number else []
    wanted += [f"unit:{unit}" for unit in dict.fromkeys(units) if unit]
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(UUID(str(run_id)))
        tags = list(dict.fromkeys([*current.tags, *wanted]))
        client.update_flow_run(UUID(str(run_id)), tags=tags, name=rename)


def _version(engine: Engine, number: str) -> int:
    with engine.db.read() as session:
        return repo.get_row(session, number).version


def _issue_documents(engine: Engine, number: str, clock: datetime) -> None:
    """Issue the documents the action queued, right after its commit. A failure is logged,
    never raised: the action is committed, and the job stays for `grievance documents issue`
    (failed) or the next watchdog tick (pending)."""
    for job in documents.issue(engine, clock, number=number):
        if job.error is not None:
            get_run_logger().warning("document %s %s not issued: %s", job.kind, number, job.error)


def _publish_document(engine: Engine, event: Event, case: Case, stamp: uc.Stamp) -> None:
    """A review issues the 复盘报告 and a no-fault close the 无责说明 (stored by the use case):
    each is also a markdown artifact keyed by the grievance number, for the analysts."""
    if event is Event.REVIEW:
        kind, key = "review", f"review-{case.number}"
    elif event is Event.CLOSE and case.result in NO_FAULT_RESULTS:
        kind, key = "no_fault", f"no-fault-{case.number}"
    else:
        return
    doc = documents.render(engine, case.number, kind, "md", stamp.actor, stamp.recorded_at)
    create_markdown_artifact(
        key=re.sub(r"[^a-z0-9-]+", "-", key.lower()),
        markdown=doc.content.decode("utf-8"),
        description=f"{doc.filename} sha256 {doc.sha256[:12]}",
    )


def _publish(event: Event, case: Case, version: int, stamp: uc.Stamp) -> dict[str, Any]:
    """Log one line, publish a markdown artifact keyed by the grievance, return the summary."""
    action = f"{event.zh} {event.value}"
    get_run_logger().info("%s %s -> %s", action, case.number, case.state.value)
    units = ", ".join(case.co_units) or "-"
    create_markdown_artifact(
        key=re.sub(r"[^a-z0-9-]+", "-", f"grievance-{case.number}".lower()),
        markdown=(
            f"## {case.number}: {action}\n\n"
            "| 项目 Item | 值 Value |\n|---|---|\n"
            f"| 状态 State | {case.state.zh} {case.state.value} |\n"
            f"| 主办单位 Lead unit | {case.lead_unit or '-'} |\n"
            f"| 协办单位 Co-handling units | {units} |\n"
            f"| 版本 Version | {version} |\n"
            f"| 办理人 By | {md_cell(stamp.actor)} |\n"  # a name as typed in the form
            f"| 生效时间 Effective time | {iso(stamp.at)} |\n"
        ),
        description=f"{action} {case.number} -> {case.state.value}",
    )
    return {
        "number": case.number,
        "event": event.value,
        "state": case.state.value,
        "lead_unit": case.lead_unit,
        "version": version,
    }


def run_action(
    event: Event,
    params: ActionForm,
    call: Callable[[Engine, uc.Stamp], Case],
    *,
    tag_run: bool = True,
    resync: bool = True,
) -> dict[str, Any] | State:
    """Read the clock once, call the use case, publish; a GrievanceError ends the run Failed
    with its one-line message (logged at WARNING), anything else propagates.

    Shared by the action flows and the case flow of `flows.worklist` (which passes
    `tag_run=False`: its run keeps its own tags, and `resync=False`: it re-suspends itself).
    After a committed action the grievance's case run is re-synced (`worklist.resync_soft`:
    never raises, so a Prefect hiccup cannot fail or undo what was committed)."""
    clock = datetime.now(UTC)
    number = _value(params, "number")
    actor_unit = _value(params, "actor_unit")
    engine: Engine | None = None
    try:
        stamp = params.stamp(clock)
        engine = Engine.open()
        case = call(engine, stamp)
        version = _version(engine, case.number)
        _issue_documents(engine, case.number, clock)
        _publish_document(engine, event, case, stamp)
    except GrievanceError as error:
        get_run_logger().warning("%s %s: %s", event.value, number or "", error)
        if tag_run:
            _tag(number, [actor_unit])
        return Failed(message=str(error))
    finally:
        if engine is not None:
            engine.db.dispose()
    if tag_run:
        rename = f"{event.value} {case.number}" if event is Event.ACCEPT else None
        _tag(case.number, [case.lead_unit, actor_unit], rename=rename)
    summary = _publish(event, case, version, stamp)
    if resync and event is not Event.ACCEPT:  # a new grievance has no case run yet
        from flows import worklist  # it imports this module

        worklist.resync_soft(case.number)
    return summary


def on_existing(
    usecase: Callable[..., Case], params: ActionForm
) -> Callable[[Engine, uc.Stamp], Case]:
    """The call of a use case on an existing grievance with the form's fields."""

    def call(engine: Engine, stamp: uc.Stamp) -> Case:
        return usecase(
            engine,
            _value(params, "number"),
            stamp,
            **params.command_fields(),
            expected_version=_value(params, "expect_version"),
        )

    return call


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
    )
}


# ------------------------------------------------------------------------------- the flows
@flow(
    name="受理 accept",
    flow_run_name=_run_name("accept", "ref"),
    description="受理：登记一件新诉求。",
)
def accept(params: AcceptForm) -> dict[str, Any] | State:
    """受理 Accept: register a new grievance; the run is renamed `accept <new number>`."""

    def call(engine: Engine, stamp: uc.Stamp) -> Case:
        command = cmd.parse_command(Event.ACCEPT, params.command_fields())
        assert isinstance(command, cmd.Accept)
        return uc.accept(engine, command, stamp)

    return run_action(Event.ACCEPT, params, call)


@flow(
    name="分办 assign",
    flow_run_name=_run_name("assign"),
    description="分办：派给主办单位（可加协办单位）。",
)
def assign(params: AssignForm) -> dict[str, Any] | State:
    """分办 Assign: route the grievance to a lead unit, with optional co-handling units."""
    return run_action(Event.ASSIGN, params, on_existing(uc.assign, params))


@flow(name="签收 sign", flow_run_name=_run_name("sign"), description="签收：主办单位签收工单。")
def sign(params: SignForm) -> dict[str, Any] | State:
    """签收 Sign: the lead unit signs for the grievance."""
    return run_action(Event.SIGN, params, on_existing(uc.sign, params))


@flow(
    name="退单 return",
    flow_run_name=_run_name("return"),
    description="退单：退回受理台并说明理由。",
)
def return_to_desk(params: ReturnForm) -> dict[str, Any] | State:
    """退单 Return: the unit returns the grievance to the desk with a reason."""
    return run_action(Event.RETURN, params, on_existing(uc.return_to_desk, params))


@flow(
    name="改派 reassign",
    flow_run_name=_run_name("reassign"),
    description="改派：改派给其他（或同一）单位。",
)
def reassign(params: ReassignForm) -> dict[str, Any] | State:
    """改派 Reassign: the desk routes the grievance to another (or the same) unit."""
    return run_action(Event.REASSIGN, params, on_existing(uc.reassign, params))


@flow(
    name="进展反馈 feedback",
    flow_run_name=_run_name("feedback"),
    description="进展反馈：向司机反馈办理进展。",
)
def feedback(params: FeedbackForm) -> dict[str, Any] | State:
    """进展反馈 Feedback: progress feedback given to the driver."""
    return run_action(Event.FEEDBACK, params, on_existing(uc.feedback, params))


@flow(
    name="申请延期 request_extension",
    flow_run_name=_run_name("request_extension"),
    description="申请延期：申请延长办结期限（工作日）。",
)
def request_extension(params: RequestExtensionForm) -> dict[str, Any] | State:
    """申请延期 Request an extension of the close deadline (working days)."""
    return run_action(Event.REQUEST_EXTENSION, params, on_existing(uc.request_extension, params))


@flow(
    name="批准延期 approve_extension",
    flow_run_name=_run_name("approve_extension"),
    description="批准延期：主管批准待审的延期申请。",
)
def approve_extension(params: ApproveExtensionForm) -> dict[str, Any] | State:
    """批准延期 Approve the pending extension (a supervisor)."""
    return run_action(Event.APPROVE_EXTENSION, params, on_existing(uc.approve_extension, params))


@flow(
    name="驳回延期 reject_extension",
    flow_run_name=_run_name("reject_extension"),
    description="驳回延期：主管驳回待审的延期申请。",
)
def reject_extension(params: RejectExtensionForm) -> dict[str, Any] | State:
    """驳回延期 Reject the pending extension (a supervisor)."""
    return run_action(Event.REJECT_EXTENSION, params, on_existing(uc.reject_extension, params))


@flow(
    name="挂起 suspend",
    flow_run_name=_run_name("suspend"),
    description="挂起：等待司机或第三方时暂停计时。",
)
def suspend(params: SuspendForm) -> dict[str, Any] | State:
    """挂起 Suspend: stop the clock while waiting on the driver or a third party."""
    return run_action(Event.SUSPEND, params, on_existing(uc.suspend, params))


@flow(name="恢复 resume", flow_run_name=_run_name("resume"), description="恢复：挂起后恢复办理。")
def resume(params: ResumeForm) -> dict[str, Any] | State:
    """恢复 Resume: handling restarts after a suspension."""
    return run_action(Event.RESUME, params, on_existing(uc.resume, params))


@flow(
    name="办结 close",
    flow_run_name=_run_name("close"),
    description="办结：填写办理结果；无责/不属实需填无责说明并由主管办结。",
)
def close(params: CloseForm) -> dict[str, Any] | State:
    """办结 Close with a result; a no_fault or unsubstantiated result needs its findings and
    the unit supervisor."""
    return run_action(Event.CLOSE, params, on_existing(uc.close, params))


@flow(name="回访 revisit", flow_run_name=_run_name("revisit"), description="回访：记录司机满意度。")
def revisit(params: RevisitForm) -> dict[str, Any] | State:
    """回访 Revisit: record the driver's answer after closing."""
    return run_action(Event.REVISIT, params, on_existing(uc.revisit, params))


@flow(name="重办 redo", flow_run_name=_run_name("redo"), description="重办：不满意回访后重新办理。")
def redo(params: RedoForm) -> dict[str, Any] | State:
    """重办 Redo: back to handling after a dissatisfied revisit (a new cycle)."""
    return run_action(Event.REDO, params, on_existing(uc.redo, params))


@flow(
    name="复盘 review",
    flow_run_name=_run_name("review"),
    description="复盘：问题根源与整改措施，复盘后结案。",
)
def review(params: ReviewForm) -> dict[str, Any] | State:
    """复盘 Review the case; this finishes it."""
    return run_action(Event.REVIEW, params, on_existing(uc.review, params))


@flow(
    name="并单 merge",
    flow_run_name=_run_name("merge"),
    description="并单：将重复工单并入另一件在办工单。",
)
def merge(params: MergeForm) -> dict[str, Any] | State:
    """并单 Merge this duplicate into another open grievance."""
    return run_action(Event.MERGE, params, on_existing(uc.merge, params))


ACTION_FLOWS: list[Flow[..., Any]] = [
    accept,
    assign,
    sign,
    return_to_desk,
    reassign,
    feedback,
    request_extension,
    approve_extension,
    reject_extension,
    suspend,
    resume,
    close,
    revisit,
    redo,
    review,
    merge,
]


def action_name(action_flow: Flow[..., Any]) -> str:
    """The action's code: "分办 assign" -> "assign"."""
    return action_flow.name.split(" ")[-1]


def action_deployments() -> list[Any]:
    """One deployment per action (no schedule): dispatchers run them from the UI form."""
    return [
        action_flow.to_deployment(
            name=action_name(action_flow),
            tags=["grievance", "action"],
            description=f"{action_flow.description} {(action_flow.fn.__doc__ or '').strip()}",
        )
        for action_flow in ACTION_FLOWS
    ]
