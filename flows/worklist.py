"""The dispatcher's worklist in the Prefect UI: one suspended case flow run per open grievance.

PROTOTYPE (not wired into `flows/scheduled.py`, the action flows or the use cases).

`case_flow(number)` (flow "工单 case", run `case <number>`, tags `grievance:<number>`,
`unit:<lead unit>`, `worklist`, and `desk` while the desk is expected to act) loops:

1. re-read the grievance (`flows.usecases.show`); reviewed or merged: finish;
2. suspend (`prefect.flow_runs.suspend_flow_run(wait_for_input=<form>, key=..., timeout=None)`)
   with the form that fits the state (`FORMS`): a choice of action among the events the waiting
   party may take now, the fields of those actions' commands, and who acts. A suspended run
   holds no process; "Resume" in the UI shows the form (the server validates it against the
   stored JSON schema before it accepts);
3. on resume Prefect re-runs the flow from the top: the flow finds the pause key it was
   resumed from (`<state>-v<version>-<n>`, kept in the run's `empirical_policy.pause_keys`),
   suspends again with that same key — the server refuses a second suspension with a used key
   and `suspend_flow_run` returns the input instead — and applies it through the same action
   form and use case as `flows/actions.py` (`actions._act`). A form made for another state
   than the stored one is stale. Stale or illegal input is refused: the one-line reason is
   logged (WARNING) and the loop suspends again with a fresh key (the form comes back).

`resync(number)` is for every other path that acts (CLI, an action deployment, bulk import):
it finds the grievance's open case run (tag `grievance:<number>`). If its pause key was made
for another state than the stored one, it re-suspends that same run in place, without a process:
it forces the run to Running (`set_flow_run_state(Running(), force=True)`) and proposes a new
`Suspended` state with a new key and the new form's schema (what `suspend_flow_run` does, done
from outside, because `suspend_flow_run(flow_run_id=...)` saves the input schema for the
*current* run only). No run yet: one is created from the case deployment and suspended the
same way. A finished grievance: its run is cancelled.

`python -m flows.worklist serve` serves the case deployment (needs `PREFECT_API_URL`).
"""

# No `from __future__ import annotations`: pydantic builds the forms at runtime.

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_paused_state
from prefect.runtime import flow_run
from prefect.states import Cancelled, Running, Scheduled, State, Suspended
from pydantic import Field, ValidationError, create_model

from flows import actions
from flows import usecases as uc
from flows.engine import Engine
from workflow.actor import Actor
from workflow.vocab import Event, Role
from workflow.vocab import State as GState

FLOW_NAME = "工单 case"
DEPLOYMENT = "case"
WORKLIST_TAG = "worklist"
DESK_TAG = "desk"
FINISHED = (GState.REVIEWED, GState.MERGED)
_SYSTEM = Actor("worklist", Role.DISPATCHER)  # reads only; a desk actor sees every case
_KEY = re.compile(r"^([a-z]+)-v(\d+)-(\d+)$")

# The action per event: its flat form (flows/actions.py) and its use case.
_ACTIONS: dict[Event, tuple[type[actions.ActionForm], Any]] = {
    Event.ASSIGN: (actions.AssignForm, uc.assign),
    Event.REASSIGN: (actions.ReassignForm, uc.reassign),
    Event.MERGE: (actions.MergeForm, uc.merge),
    Event.SIGN: (actions.SignForm, uc.sign),
    Event.RETURN: (actions.ReturnForm, uc.return_to_desk),
    Event.FEEDBACK: (actions.FeedbackForm, uc.feedback),
    Event.REQUEST_EXTENSION: (actions.RequestExtensionForm, uc.request_extension),
    Event.CLOSE: (actions.CloseForm, uc.close),
    Event.RESUME: (actions.ResumeForm, uc.resume),
    Event.REVISIT: (actions.RevisitForm, uc.revisit),
    Event.REDO: (actions.RedoForm, uc.redo),
    Event.REVIEW: (actions.ReviewForm, uc.review),
}

# Who is expected to act in each open state, and the actions offered to them (a subset of
# `workflow.machine.allowed_events(state)`, checked at import).
_WAITING: dict[GState, tuple[str, tuple[Event, ...]]] = {
    GState.ACCEPTED: ("desk", (Event.ASSIGN, Event.MERGE)),
    GState.RETURNED: ("desk", (Event.REASSIGN, Event.MERGE)),
    GState.ASSIGNED: ("unit", (Event.SIGN, Event.RETURN)),
    GState.HANDLING: ("unit", (Event.FEEDBACK, Event.CLOSE, Event.REQUEST_EXTENSION)),
    GState.SUSPENDED: ("unit", (Event.RESUME, Event.FEEDBACK)),
    GState.CLOSED: ("desk", (Event.REVISIT,)),
    GState.REVISITED: ("desk", (Event.REVIEW, Event.REDO, Event.REVISIT)),
}


def _check_waiting() -> None:
    from workflow.machine import allowed_events

    for state, (_, events) in _WAITING.items():
        extra = set(events) - set(allowed_events(state))
        if extra:
            raise RuntimeError(f"worklist offers {extra} in {state.value}: not in the table")


_check_waiting()


class CaseInput(RunInput):
    """Base of every case form: the chosen action, its fields and who acts."""

    def payload(self) -> dict[str, Any]:
        """The given fields, without the action choice."""
        return {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name != "action" and getattr(self, name) is not None
        }


def _build_form(state: GState) -> type[CaseInput]:
    """One form per state: an action dropdown, the union of the actions' command fields
    (optional unless the state offers a single action; the action's own form checks them
    again) and who acts (no version field: staleness is checked by state, see `apply`)."""
    party, events = _WAITING[state]
    choice = StrEnum(  # type: ignore[misc]
        f"{state.value.capitalize()}Action", {e.name: e.value for e in events}
    )
    fields: dict[str, Any] = {
        "action": (
            choice,
            Field(
                default=events[0].value,
                title="办理动作 Action",
                description=" / ".join(f"{e.zh} {e.value}" for e in events),
            ),
        )
    }
    for event in events:
        form = _ACTIONS[event][0]
        for name, info in form.model_fields.items():
            if name in (*actions.WHO, "number") or name in fields:
                continue
            if len(events) == 1:
                fields[name] = (info.annotation, info)
            else:
                title = f"{info.title} [{event.zh} {event.value}]"
                optional = Field(
                    default=None,
                    title=title,
                    description=info.description,
                    examples=info.examples,
                )
                fields[name] = (info.annotation | None, optional)
    for name in ("actor", "role", "actor_unit", "at"):
        annotation, info = actions._copy(actions._Shared, name)
        if name == "role":
            default = actions.HumanRole.DISPATCHER if party == "desk" else actions.HumanRole.HANDLER
            info = Field(default=default, title=info.title, description=info.description)
        fields[name] = (annotation, info)
    title = " / ".join(f"{e.zh} {e.value}" for e in events)
    model: type[CaseInput] = create_model(  # type: ignore[call-overload]
        f"Case{state.value.capitalize()}Input",
        __base__=CaseInput,
        __doc__=f"{state.zh} {state.value}: {title}",
        **fields,
    )
    return model


FORMS: dict[GState, type[CaseInput]] = {state: _build_form(state) for state in _WAITING}


# ------------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class Snapshot:
    """What the worklist needs of a grievance."""

    number: str
    state: GState
    version: int
    lead_unit: str | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def prefix(self) -> str:
        return f"{self.state.value}-v{self.version}-"

    def tags(self) -> list[str]:
        tags = [f"grievance:{self.number}", WORKLIST_TAG]
        if self.lead_unit:
            tags.append(f"unit:{self.lead_unit}")
        if self.state in _WAITING and _WAITING[self.state][0] == "desk":
            tags.append(DESK_TAG)
        return tags

    def description(self) -> str:
        party, events = _WAITING[self.state]
        offered = "、".join(f"{e.zh} {e.value}" for e in events)
        who = "受理台 the desk" if party == "desk" else f"承办单位 unit {self.lead_unit}"
        return (
            f"## 工单 {self.number}: {self.state.zh} {self.state.value} (版本 v{self.version})\n\n"
            f"等待 Waiting for: {who}\n\n可办理 Actions: {offered}\n\n"
            "提交后按数据库中的当前状态办理；他人已改动则拒绝并重新出表。"
            " Applied against the stored state; refused if someone acted since."
        )


def read(engine: Engine, number: str) -> Snapshot:
    view = uc.show(engine, number, _SYSTEM)
    return Snapshot(number, view.case.state, view.version, view.case.lead_unit)


def _parse(key: str) -> tuple[GState, int, int] | None:
    match = _KEY.match(key or "")
    if not match:
        return None
    try:
        return GState(match[1]), int(match[2]), int(match[3])
    except ValueError:
        return None


def _latest(keys: set[str] | list[str]) -> str | None:
    """The newest pause key (versions only grow; n counts attempts at one version)."""
    parsed = [(p[1], p[2], key) for key in keys if (p := _parse(key)) is not None]
    return max(parsed)[2] if parsed else None


def _next_key(snap: Snapshot, keys: set[str] | list[str]) -> str:
    used = [
        p[2] for key in keys if (p := _parse(key)) and (p[0], p[1]) == (snap.state, snap.version)
    ]
    return f"{snap.prefix}{max(used) + 1 if used else 0}"


def _pause_keys(client: SyncPrefectClient, run_id: UUID) -> set[str]:
    return set(client.read_flow_run(run_id).empirical_policy.pause_keys or set())


def _retag(client: SyncPrefectClient, run: FlowRun, snap: Snapshot) -> None:
    """Exactly the worklist tags (a reassignment moves the run to the new unit's list)."""
    keep = [t for t in run.tags if not t.startswith(("unit:", "grievance:")) and t != DESK_TAG]
    tags = list(dict.fromkeys([*snap.tags(), *keep]))
    if sorted(tags) != sorted(run.tags):
        client.update_flow_run(run.id, tags=tags)


def apply(number: str, key: str, data: CaseInput, current: Snapshot) -> str | None:
    """Apply a submitted form through the action's form and use case; None when done, else
    the one-line reason it was refused.

    A form is stale when the grievance left the state it was shown for (another path acted):
    refused. Within the same state the version may have moved (an SLA warning from the
    watchdog, a feedback by another path) without making the form wrong; the use case still
    checks the role, the unit's scope and the guards against the stored grievance."""
    parsed = _parse(key)
    if parsed is None:
        return f"unknown form key {key!r}"
    state, version, _ = parsed
    if state is not current.state:
        return (
            f"grievance {number}: the form was for {state.value} (v{version}) but the "
            f"grievance is now {current.state.value} (v{current.version}); use the new form"
        )
    event = Event(getattr(data, "action"))  # noqa: B009
    form_cls, usecase = _ACTIONS[event]
    payload = {k: v for k, v in data.payload().items() if k in form_cls.model_fields}
    payload.update(number=number)
    try:
        form = form_cls.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{event.value}: {where}: {first['msg']}"
    result = actions._act(event, form, actions._existing(usecase, form))
    if isinstance(result, State):
        return result.message or f"{event.value} refused"
    return None


# ----------------------------------------------------------------------------- the flow
def _case_run_name() -> str:
    return f"case {flow_run.parameters.get('number', '')}".strip()


@flow(
    name=FLOW_NAME,
    flow_run_name=_case_run_name,
    persist_result=True,  # suspension needs persisted results (and a deployment)
    description="工单待办：挂起等待当前状态对应的表单。Suspended until the form that fits the state.",
)
def case_flow(number: str) -> dict[str, Any]:
    """Wait (suspended, no process) for the next action on one grievance; apply it; repeat."""
    logger = get_run_logger()
    run_id = UUID(str(flow_run.id))
    tried: set[str] = set()
    while True:
        engine = Engine.open()
        try:
            snap = read(engine, number)
        finally:
            engine.db.dispose()
        if snap.finished:
            logger.info("%s is %s: the case flow ends", number, snap.state.value)
            return {"number": number, "state": snap.state.value, "version": snap.version}
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
            _retag(client, run, snap)
            keys = set(run.empirical_policy.pause_keys or set())
        latest = _latest(keys)
        if latest is not None and latest not in tried:
            # Re-run after a resume: the used key makes suspend_flow_run return the input.
            tried.add(latest)
            parsed = _parse(latest)
            assert parsed is not None
            form = FORMS[parsed[0]]
            try:
                data = suspend_flow_run(wait_for_input=form, key=latest, timeout=None)
            except Exception as error:  # resumed without input, or the input is gone
                logger.warning("%s: no usable input for %s: %s", number, latest, error)
                continue
            reason = apply(number, latest, data, snap)
            if reason:
                logger.warning("%s: refused, the form comes back: %s", number, reason)
            continue
        key = _next_key(snap, keys)
        tried.add(key)
        form = FORMS[snap.state].with_initial_data(description=snap.description())
        suspend_flow_run(wait_for_input=form, key=key, timeout=None)  # raises Pause: exits


def case_deployment() -> Any:
    return case_flow.to_deployment(
        name=DEPLOYMENT,
        tags=["grievance", WORKLIST_TAG],
        description="每件在办工单一个挂起的待办。One suspended case run per open grievance.",
    )


# ----------------------------------------------------------------------------- re-sync
# A run is in sync when its form was made for the stored *state*: the version also moves on
# SLA steps (the watchdog), which must not re-suspend thousands of runs.
def suspend_from_outside(client: SyncPrefectClient, run_id: UUID, snap: Snapshot) -> str:
    """Suspend `run_id` (no process) waiting for the form of `snap`: force Running, propose
    Suspended with a new key, save the form's schema and description (what
    `suspend_flow_run` does inside a run)."""
    keys = _pause_keys(client, run_id)
    key = _next_key(snap, keys)
    client.set_flow_run_state(run_id, Running(message="worklist re-sync"), force=True)
    state = Suspended(timeout_seconds=None, pause_key=key)
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = keyset
    result = client.set_flow_run_state(run_id, state)
    if result.state is None or not result.state.is_paused():
        raise RuntimeError(f"case run {run_id} not suspended: {result.details}")
    form = FORMS[snap.state].with_initial_data(description=snap.description())
    form.save(keyset, flow_run_id=run_id)
    return key


def PARKED() -> State:  # noqa: N802 - reads as a state constructor
    """A Scheduled state far in the future: a run created in it is not picked up by the
    runner (which polls for runs due within seconds) before `suspend_from_outside`."""
    return Scheduled(scheduled_time=datetime(2999, 1, 1, tzinfo=UTC), name="Parked")


def open_case_runs(client: SyncPrefectClient, number: str) -> list[FlowRun]:
    """The grievance's case runs that are not finished (suspended, scheduled or running)."""
    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"grievance:{number}", WORKLIST_TAG]),
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(
                    any_=[
                        StateType.PAUSED,
                        StateType.SCHEDULED,
                        StateType.PENDING,
                        StateType.RUNNING,
                    ]
                )
            ),
        ),
        limit=10,
    )


def resync(number: str, *, engine: Engine | None = None, create: bool = True) -> str:
    """Bring the grievance's case run in line with the database after another path acted.
    Returns what was done: in-sync, resuspended, created, cancelled, active, none."""
    own = engine is None
    engine = engine or Engine.open()
    try:
        snap = read(engine, number)
    finally:
        if own:
            engine.db.dispose()
    with get_client(sync_client=True) as client:
        runs = open_case_runs(client, number)
        if snap.finished:
            for run in runs:
                client.set_flow_run_state(
                    run.id, Cancelled(message=f"{number} is {snap.state.value}"), force=True
                )
            return "cancelled" if runs else "none"
        suspended = [r for r in runs if r.state is not None and r.state.name == "Suspended"]
        if len(suspended) < len(runs):
            return "active"  # a running case flow re-reads the grievance itself
        for extra in suspended[1:]:
            client.set_flow_run_state(extra.id, Cancelled(message="duplicate case run"), force=True)
        if not suspended:
            if not create:
                return "none"
            deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{DEPLOYMENT}")
            run = client.create_flow_run_from_deployment(
                deployment.id,
                parameters={"number": number},
                name=f"case {number}",
                tags=snap.tags(),
                state=PARKED(),  # not due: the served runner must not start it first
            )
            suspend_from_outside(client, run.id, snap)
            return "created"
        run = suspended[0]
        key = run.state.state_details.pause_key if run.state else None
        parsed = _parse(key or "")
        _retag(client, run, snap)
        if parsed is not None and parsed[0] is snap.state:
            return "in-sync"  # same state: the form still fits (see `apply`)
        suspend_from_outside(client, run.id, snap)
        return "resuspended"


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        from prefect import serve

        serve(case_deployment())
        return 0
    sys.stderr.write("usage: python -m flows.worklist serve\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
