"""One Prefect flow per lifecycle action, so a dispatcher runs each one from a UI form.

Each flow is a thin wrapper over its use case (`service.cases`): it reads the clock once,
calls the use case and publishes its effects (a log line, a markdown artifact keyed
`grievance-<number>`, and a small result dict: number, event, state, version).

- Parameters: one pydantic model per action (`AssignForm`...), built from the command's own
  fields (`workflow.commands`, same bilingual titles) plus the grievance number (工单编号,
  except for accept), the effective time (生效时间, default now) and the version the actor
  looked at (版本, optional). Enums render as dropdowns in the Prefect UI. Who acts is not a
  form field: the gate adds the signed-in person's identity stamp (`stamp`, hidden from the
  form), and the run refuses to act without a valid one (`flows.action_runs`).
- Runs are named `<action> <number>` (accept: `accept <channel reference>`, renamed to
  `accept <new number>` once registered) and tagged `grievance:<number>` and `unit:<code>`
  (the lead unit after the action and the actor's unit), so the UI filters by case and unit.
- An error a dispatcher can cause (illegal move, permission, unknown unit, conflict, invalid
  input, not found) ends the run Failed with the one-line reason as its message, no traceback.

- After a committed action, the grievance's case run (the worklist, `flows.case_sync`) is
  re-synced so it never shows a stale form; that step never fails the action.

`action_deployments()` gives one deployment per action (no schedule) for `prefect.serve`.
The forms are in `flows.action_forms`, the runner shared with the case flow in
`flows.action_runs`, the log masking in `flows.logs`.
"""

# No `from __future__ import annotations` here: Prefect and pydantic introspect the flows'
# parameter annotations at runtime (the form models are built with `create_model`).

import re
from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.flows import Flow
from prefect.states import State
from sqlalchemy.exc import SQLAlchemyError

from flows import case_sync, logs
from flows.action_forms import (
    AcceptForm,
    ActionForm,
    ApproveExtensionForm,
    AssignForm,
    CloseForm,
    FeedbackForm,
    MergeForm,
    ReassignForm,
    RedoForm,
    RejectExtensionForm,
    RequestExtensionForm,
    ResumeForm,
    ReturnForm,
    ReviewForm,
    RevisitForm,
    SignForm,
    Stamped,
    SuspendForm,
    TypicalForm,
)
from flows.action_runs import on_existing, run_action, run_name
from service import cases as uc
from service import finding
from service.acting import Stamp
from service.engine import Engine
from workflow import commands as cmd
from workflow.case import Case
from workflow.vocab import Event

logs.mask_logs()


def _act(
    event: Event,
    params: ActionForm,
    call: Callable[[Engine, Stamp, ActionForm], Case],
    stamp: str | None,
) -> dict[str, Any] | State:
    """`run_action` as the person the identity stamp names, then the grievance's case run
    re-synced (`case_sync.resync_soft`: never raises, so a Prefect hiccup cannot fail or undo
    what was committed)."""
    result = run_action(event, params, call, token=stamp, target=f"action:{event.value}")
    if isinstance(result, dict) and event is not Event.ACCEPT:  # no case run yet on accept
        case_sync.resync_soft(result["number"])
    return result


# ------------------------------------------------------------------------------- the flows
@flow(
    name="受理 accept",
    flow_run_name=run_name("accept", "ref"),
    description="受理：登记一件新诉求。",
)
def accept(params: AcceptForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """受理 Accept: register a new grievance; the run is renamed `accept <new number>`. The
    summary names the open (or lately closed) grievances of the same phone or plate, to merge
    into (疑似重复)."""
    candidates: list[finding.Candidate] = []

    def call(engine: Engine, who: Stamp, form: ActionForm) -> Case:
        command = cmd.parse_command(Event.ACCEPT, form.command_fields())
        assert isinstance(command, cmd.Accept)
        case = uc.accept(engine, command, who)
        try:  # after the commit: a hint that cannot be read never fails the registration
            candidates.extend(finding.duplicate_candidates(engine, case, who.at))
        except SQLAlchemyError as error:
            get_run_logger().warning("%s: duplicate hint not read: %s", case.number, error)
        return case

    result = _act(Event.ACCEPT, params, call, stamp)
    if isinstance(result, dict):
        result["duplicates"] = [c.as_dict() for c in candidates]
        hint = finding.duplicate_hint(candidates)
        if hint:
            get_run_logger().warning("%s: %s", result["number"], hint)
            result["duplicate_hint"] = hint
            _publish_duplicates(result["number"], candidates)
    return result


def _publish_duplicates(number: str, candidates: list[finding.Candidate]) -> None:
    """疑似重复: a table artifact beside the accepted grievance's, naming the candidates (no
    personal data: numbers, states, units and what they share)."""
    rows = "".join(
        f"| {c.number} | {c.state} | {c.lead_unit or '-'} | {', '.join(c.same)} | "
        f"{'grievance merge ' + number + ' --into ' + c.number + ' --reason 重复来电' if c.open else '-'} |\n"
        for c in candidates
    )
    create_markdown_artifact(
        key=re.sub(r"[^a-z0-9-]+", "-", f"duplicates-{number}".lower()),
        markdown=(
            f"## {number}: 疑似重复 possible repeat\n\n"
            "| 工单编号 Number | 状态 State | 主办单位 Lead unit | 相同 Same | 并单 Merge |\n"
            f"|---|---|---|---|---|\n{rows}"
        ),
        description=f"{number}: {len(candidates)} grievance(s) of the same phone or plate",
    )


@flow(
    name="分办 assign",
    flow_run_name=run_name("assign"),
    description="分办：派给主办单位（可加协办单位）。",
)
def assign(params: AssignForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """分办 Assign: route the grievance to a lead unit, with optional co-handling units."""
    return _act(Event.ASSIGN, params, on_existing(uc.assign), stamp)


@flow(name="签收 sign", flow_run_name=run_name("sign"), description="签收：主办单位签收工单。")
def sign(params: SignForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """签收 Sign: the lead unit signs for the grievance."""
    return _act(Event.SIGN, params, on_existing(uc.sign), stamp)


@flow(
    name="退单 return",
    flow_run_name=run_name("return"),
    description="退单：退回受理台并说明理由。",
)
def return_to_desk(params: ReturnForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """退单 Return: the unit returns the grievance to the desk with a reason."""
    return _act(Event.RETURN, params, on_existing(uc.return_to_desk), stamp)


@flow(
    name="改派 reassign",
    flow_run_name=run_name("reassign"),
    description="改派：改派给其他（或同一）单位。",
)
def reassign(params: ReassignForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """改派 Reassign: the desk routes the grievance to another (or the same) unit."""
    return _act(Event.REASSIGN, params, on_existing(uc.reassign), stamp)


@flow(
    name="进展反馈 feedback",
    flow_run_name=run_name("feedback"),
    description="进展反馈：向司机反馈办理进展。",
)
def feedback(params: FeedbackForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """进展反馈 Feedback: progress feedback given to the driver."""
    return _act(Event.FEEDBACK, params, on_existing(uc.feedback), stamp)


@flow(
    name="申请延期 request_extension",
    flow_run_name=run_name("request_extension"),
    description="申请延期：申请延长办结期限（工作日）。",
)
def request_extension(
    params: RequestExtensionForm, stamp: Stamped = None
) -> dict[str, Any] | State:
    """申请延期 Request an extension of the close deadline (working days)."""
    return _act(Event.REQUEST_EXTENSION, params, on_existing(uc.request_extension), stamp)


@flow(
    name="批准延期 approve_extension",
    flow_run_name=run_name("approve_extension"),
    description="批准延期：主管批准待审的延期申请。",
)
def approve_extension(
    params: ApproveExtensionForm, stamp: Stamped = None
) -> dict[str, Any] | State:
    """批准延期 Approve the pending extension (a supervisor)."""
    return _act(Event.APPROVE_EXTENSION, params, on_existing(uc.approve_extension), stamp)


@flow(
    name="驳回延期 reject_extension",
    flow_run_name=run_name("reject_extension"),
    description="驳回延期：主管驳回待审的延期申请。",
)
def reject_extension(params: RejectExtensionForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """驳回延期 Reject the pending extension (a supervisor)."""
    return _act(Event.REJECT_EXTENSION, params, on_existing(uc.reject_extension), stamp)


@flow(
    name="挂起 suspend",
    flow_run_name=run_name("suspend"),
    description="挂起：等待司机或第三方时暂停计时。",
)
def suspend(params: SuspendForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """挂起 Suspend: stop the clock while waiting on the driver or a third party."""
    return _act(Event.SUSPEND, params, on_existing(uc.suspend), stamp)


@flow(name="恢复 resume", flow_run_name=run_name("resume"), description="恢复：挂起后恢复办理。")
def resume(params: ResumeForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """恢复 Resume: handling restarts after a suspension."""
    return _act(Event.RESUME, params, on_existing(uc.resume), stamp)


@flow(
    name="办结 close",
    flow_run_name=run_name("close"),
    description="办结：填写办理结果；无责/不属实需填无责说明并由主管办结。",
)
def close(params: CloseForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """办结 Close with a result; a no_fault or unsubstantiated result needs its findings and
    the unit supervisor."""
    return _act(Event.CLOSE, params, on_existing(uc.close), stamp)


@flow(name="回访 revisit", flow_run_name=run_name("revisit"), description="回访：记录司机满意度。")
def revisit(params: RevisitForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """回访 Revisit: record the driver's answer after closing."""
    return _act(Event.REVISIT, params, on_existing(uc.revisit), stamp)


@flow(name="重办 redo", flow_run_name=run_name("redo"), description="重办：不满意回访后重新办理。")
def redo(params: RedoForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """重办 Redo: back to handling after a dissatisfied revisit (a new cycle)."""
    return _act(Event.REDO, params, on_existing(uc.redo), stamp)


@flow(
    name="复盘 review",
    flow_run_name=run_name("review"),
    description="复盘：问题根源与整改措施，复盘后结案。",
)
def review(params: ReviewForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """复盘 Review the case; this finishes it."""
    return _act(Event.REVIEW, params, on_existing(uc.review), stamp)


@flow(
    name="并单 merge",
    flow_run_name=run_name("merge"),
    description="并单：将重复工单并入另一件在办工单。",
)
def merge(params: MergeForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """并单 Merge this duplicate into another open grievance."""
    return _act(Event.MERGE, params, on_existing(uc.merge), stamp)


@flow(
    name="典型案例 typical",
    flow_run_name=run_name("typical"),
    description="典型案例：复盘人将已复盘工单列为典型案例，写明案情与启示，月度通报引用。",
)
def typical(params: TypicalForm, stamp: Stamped = None) -> dict[str, Any] | State:
    """典型案例 Typical case: a reviewer marks a reviewed grievance as typical, with the
    lesson drawn (the monthly bulletin lists it)."""
    return _act(Event.TYPICAL, params, on_existing(uc.mark_typical), stamp)


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
    typical,
]


def action_name(action_flow: Flow[..., Any]) -> str:
    """The action's code: "分办 assign" -> "assign"."""
    return action_flow.name.split(" ")[-1]


def action_deployments() -> list[Any]:
    """One deployment per action (no schedule): dispatchers run them from the UI form."""
    return [
        action_flow.to_deployment(
            name=action_name(action_flow),
            tags=["grievance", "action", f"action:{action_name(action_flow)}"],
            description=f"{action_flow.description} {(action_flow.fn.__doc__ or '').strip()}",
        )
        for action_flow in ACTION_FLOWS
    ]
