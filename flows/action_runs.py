"""Running an action: read the clock once, call the use case, publish its effects (a log
line, a markdown artifact keyed `grievance-<number>`, run tags and a small result dict:
number, event, state, version). Shared by the action flows (`flows.actions`) and the case
flow (`flows.case_runs`), so both give the same messages: an error a dispatcher can cause
ends the run Failed with its one-line reason, no traceback."""

# No `from __future__ import annotations` here: the runner reads the forms' fields at runtime.

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run
from prefect.states import Failed, State
from pydantic import BaseModel

from flows.action_forms import ActionForm
from models import case_rows
from service import documents, personal_refs, stamps
from service.acting import Stamp
from service.engine import Engine
from templates import md_cell
from workflow.case import Case
from workflow.commands import NO_FAULT_RESULTS
from workflow.errors import GrievanceError
from workflow.timeutil import iso
from workflow.vocab import Event

PARAM = "params"  # the name of every action flow's one parameter


# ------------------------------------------------------------------------------ the runner
def _value(params: Any, name: str) -> Any:
    """A field of the flow's parameter model, validated (a model) or not yet (a dict)."""
    if isinstance(params, BaseModel):
        return getattr(params, name, None)
    if isinstance(params, dict):
        return params.get(name)
    return None


def run_name(action: str, field: str = "number") -> Callable[[], str]:
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
        return case_rows.get_row(session, number).version


def _issue_documents(engine: Engine, number: str, clock: datetime) -> None:
    """Issue the documents the action queued, right after its commit. A failure is logged,
    never raised: the action is committed, and the job stays for `grievance documents issue`
    (failed) or the next watchdog tick (pending)."""
    for job in documents.issue(engine, clock, number=number):
        if job.error is not None:
            get_run_logger().warning("document %s %s not issued: %s", job.kind, number, job.error)


def _publish_document(engine: Engine, event: Event, case: Case, stamp: Stamp) -> None:
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


def _publish(event: Event, case: Case, version: int, stamp: Stamp) -> dict[str, Any]:
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
            f"| 办理人 By | {md_cell(stamp.actor)} |\n"  # the signed-in account
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


def deployment_parameters() -> dict[str, Any] | None:
    """The parameters of this run as the server stores them (what the gate stamped), for a
    run of a deployment; None for a flow called in-process (no gate in between)."""
    if flow_run.id is None:
        return None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(flow_run.id)))
    return None if run.deployment_id is None else dict(run.parameters)


def _resolved(engine: Engine, params: ActionForm) -> ActionForm:
    """The form with the personal numbers the gate replaced by references put back
    (`service.personal_refs`); the use case then validates them as typed."""
    data = params.model_dump(warnings=False)  # a form built unvalidated (tests) dumps as is
    resolved = personal_refs.resolve(engine, data)
    return params if resolved is data else params.model_copy(update=resolved)


def run_action(
    event: Event,
    params: ActionForm,
    call: Callable[[Engine, Stamp, ActionForm], Case],
    *,
    token: str | None,
    target: str,
    use: str = "",
    tag_run: bool = True,
) -> dict[str, Any] | State:
    """Check the identity stamp, read the clock once, call the use case as the stamped
    person, publish; a GrievanceError (a refused stamp included) ends the run Failed with its
    one-line message (logged at WARNING), anything else propagates.

    Shared by the action flows (target `action:<event>`; the stamp binds the run's
    parameters; then the grievance's case run is re-synced) and the case flow of
    `flows.case_runs` (target `flow_run:<id>`, `use` the pause key; `tag_run=False`: its run
    keeps its own tags; it re-suspends itself)."""
    clock = datetime.now(UTC)
    number = _value(params, "number")
    actor_unit: str | None = None
    engine: Engine | None = None
    try:
        engine = Engine.open()
        actor = stamps.check(
            engine,
            token,
            target=target,
            at=clock,
            run_id=str(flow_run.id or ""),
            use=use,
            parameters=deployment_parameters() if target.startswith("action:") else None,
        )
        actor_unit = actor.unit
        stamp = params.stamp(clock, actor)
        case = call(engine, stamp, _resolved(engine, params))
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
    return _publish(event, case, version, stamp)


def on_existing(usecase: Callable[..., Case]) -> Callable[[Engine, Stamp, ActionForm], Case]:
    """The call of a use case on an existing grievance with a form's fields."""

    def call(engine: Engine, stamp: Stamp, form: ActionForm) -> Case:
        return usecase(
            engine,
            _value(form, "number"),
            stamp,
            **form.command_fields(),
            expected_version=_value(form, "expect_version"),
        )

    return call
