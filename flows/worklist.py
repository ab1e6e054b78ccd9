"""The dispatcher's worklist in the Prefect UI: case runs that wait for a form, and a table per
unit.

**Case runs.** A grievance on which the desk or a unit must act now has one flow run of the
`case` deployment (flow "工单 case", run `case <number>`), *suspended* with the form that fits
what it waits for (`WAITS`): an assign/merge form while it waits for the desk, sign/return
while it waits for the unit, approve/reject while an extension request waits for the unit's
supervisor, revisit after closing, redo/review after a dissatisfied revisit, review after a
revisit. A suspended run holds no process. Its tags: `grievance:<number>`, `worklist`,
`waiting:<unit code>` or `waiting:desk` (who must act), and `unit:<lead unit>`; so the Runs
page filtered to state "Suspended" and tag `waiting:ROAD` is unit ROAD's worklist, and
"Resume" opens the form (the server checks the input against the stored schema first).
Handling and suspended grievances (the unit works at its own pace until feedback or close is
due) have no case run: they are in the worklist table and acted on with the action
deployments.

**The database stays authoritative.** On every resume Prefect re-runs `case_flow` from the
top: it re-reads the grievance, finds the pause key it was resumed from (kept in the run's
`empirical_policy.pause_keys`; a key reads `<wait>-<party digest>-v<version>-<n>`), calls
`suspend_flow_run` with that same key (the server refuses a second suspension with a used key,
so the call returns the submitted input) and applies it through the action's own form and use
case (`flows.actions.BY_EVENT`, `run_action`). A form made for another wait or another party
than the stored grievance's is stale and refused; so is whatever the use case refuses (role,
unit, guard, unknown unit...). A refusal is logged as a warning and the form comes back, with
the reason on top of it.

**Re-sync.** Any other path that acts (an action deployment, the CLI, bulk import) leaves the
case run behind. `resync(number)` brings it in line: the same run is re-suspended in place with
the new form (forced Running, then Suspended with a new key and the new form's schema: what
`suspend_flow_run` does, done from outside, without a process), completed when nothing waits
any more (handling, reviewed, merged), or, with `create=True`, created from the case
deployment. The action flows and the CLI call `resync_soft` after they commit (it never
raises: a Prefect outage never fails or undoes a committed action). The audit log itself is
the "stale" mark: the `worklist` task of every `sla-watchdog` run (`sync_worklist`) re-syncs
the grievances with audit events since its cursor (kept in a Prefect variable), creates the
missing case runs lazily, at most `GRIEVANCE_CASE_RUNS_BATCH` (default 25) per tick so the
server never gets a burst (bulk imports are picked up this way), and walks both the waiting
grievances and the open case runs a page per tick to repair whatever was missed. Finished
case runs are deleted from Prefect `GRIEVANCE_CASE_RUNS_KEEP_DAYS` (7) days after they ended
(the audit log keeps the history), so the Prefect database holds what waits, not everything.

**The worklist table.** The same task publishes one keyed table artifact per unit,
`worklist-<unit>`, and `worklist-desk`: every open grievance that waits for it, what may be
done, the next deadline, overdue first. A new version only when its content changed; the
newest 10 versions of each are kept.

`GRIEVANCE_CASE_RUNS=0` turns case runs off (no case deployment, no creation, no re-sync);
the tables stay. Costs measured by `bench/worklist.py` are in the README.
"""

# No `from __future__ import annotations`: pydantic builds the forms at runtime.

import copy
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort
from prefect.exceptions import MissingContextError, ObjectNotFound, PrefectHTTPStatusError
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_paused_state
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Crashed, Running, Scheduled, Suspended
from pydantic import Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from sqlalchemy import and_, func, or_
from sqlmodel import col, select

from flows import actions
from models.tables import Grievance, GrievanceEvent
from service.engine import Engine
from service.worklist import (
    CASE_RUN_STATES,
    WAITS,
    WORKLIST_TAG,
    Snapshot,
    Wait,
    read,
    snapshots,
    worklist_tables,
)
from workflow.vocab import Event
from workflow.vocab import State as GState

FLOW_NAME = "工单 case"
DEPLOYMENT = "case"
ENV_CASE_RUNS = "GRIEVANCE_CASE_RUNS"
ENV_BATCH = "GRIEVANCE_CASE_RUNS_BATCH"
DEFAULT_BATCH = 25
ENV_KEEP = "GRIEVANCE_CASE_RUNS_KEEP_DAYS"
PRUNE = 50  # finished case runs deleted per tick at most
SWEEP = 200  # waiting grievances and open case runs looked at per tick (each)
PAGE = 200  # the most the Prefect API returns at once
EVENTS_PER_TICK = 2000  # audit events read per tick
RETRY_MAX = 50
TABLE_ROWS = 200  # rows per worklist artifact (the most urgent)
TABLE_VERSIONS = 10  # versions kept per worklist artifact
QUIET_EVENTS = {Event.SLA_STEP.value, Event.RECALCULATE.value}  # change no wait

_logger = logging.getLogger("grievance.worklist")


def enabled() -> bool:
    """Case runs are on unless GRIEVANCE_CASE_RUNS is 0 (or false/no/off)."""
    raw = (os.environ.get(ENV_CASE_RUNS) or "1").strip().lower()
    return raw not in ("0", "false", "no", "off")


def keep_days() -> float:
    """Finished case runs are deleted from Prefect this many days after they ended."""
    raw = os.environ.get(ENV_KEEP) or "7"
    try:
        return max(float(raw), 0.0)
    except ValueError:
        raise ValueError(f"{ENV_KEEP}={raw!r}: give days, e.g. 7") from None


def batch_size() -> int:
    """At most this many case runs are created per watchdog tick."""
    raw = os.environ.get(ENV_BATCH) or str(DEFAULT_BATCH)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_BATCH}={raw!r}: give a whole number, e.g. 25") from None
    return max(value, 0)


def _log() -> Any:
    try:
        return get_run_logger()
    except MissingContextError:
        return _logger


# ----------------------------------------------------------------------------- the forms
class CaseInput(RunInput):
    """Base of every case form: the chosen action, its fields and who acts."""

    def event(self) -> Event:
        return Event(str(getattr(self, "action")).split(" ")[-1])  # noqa: B009

    def payload(self) -> dict[str, Any]:
        """The given fields (an empty text or list is not given), without the action."""
        return {
            name: value
            for name in type(self).model_fields
            if name != "action" and (value := getattr(self, name)) not in (None, "", [])
        }


def _plain(annotation: Any) -> Any:
    """The bare type under Annotated/Optional: `str` for a NoteText | None, list for lists."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return list if get_origin(annotation) is list else annotation


def _loose(info: FieldInfo, title: str | None = None) -> tuple[Any, Any]:
    """An optional field as the UI shows it best: a plain text box ("" = not given) or a
    plain list ([] = none), else `X | None`. The action's own form checks the value."""
    help_ = {"title": title or info.title, "description": info.description}
    bare = _plain(info.annotation)
    if bare is str:
        return (str, Field(default="", examples=info.examples, **help_))
    if bare is list:
        return (list[str], Field(default_factory=list, examples=info.examples, **help_))
    return (info.annotation | None, Field(default=None, examples=info.examples, **help_))


def _build_form(wait: Wait) -> type[CaseInput]:
    """One form per wait: an action dropdown (`分办 assign`...), the fields of the offered
    actions' forms (optional when several actions share the form; the action's own form
    checks them again), and who acts. No version field: staleness is by wait (see `apply`)."""
    choice = StrEnum(  # type: ignore[misc]
        f"{wait.name.capitalize()}Action", {e.name: f"{e.zh} {e.value}" for e in wait.events}
    )
    fields: dict[str, Any] = {
        "action": (
            choice,
            Field(
                default=f"{wait.events[0].zh} {wait.events[0].value}",
                title="办理动作 Action",
                description=f"{wait.title}: {wait.offered()}",
            ),
        )
    }
    users: dict[str, list[Event]] = {}
    for event in wait.events:
        for name in actions.BY_EVENT[event].form.model_fields:
            if name not in (*actions.WHO, "number"):
                users.setdefault(name, []).append(event)
    for name, events in users.items():
        info = actions.BY_EVENT[events[0]].form.model_fields[name]
        if len(wait.events) == 1:
            fields[name] = (info.annotation, info) if info.is_required() else _loose(info)
            continue
        used_by = "/".join(f"{e.zh} {e.value}" for e in events)
        fields[name] = _loose(info, f"{info.title} [{used_by}]")
    for name in ("actor", "role", "actor_unit", "at"):
        annotation, info = actions.copy_field(actions.SharedFields, name)
        if name == "role":
            info = copy.copy(info)
            info.default = actions.HumanRole(wait.role.value)
        fields[name] = _loose(info) if name == "actor_unit" else (annotation, info)
    model: type[CaseInput] = create_model(  # type: ignore[call-overload]
        f"Case{wait.name.capitalize()}Input",
        __base__=CaseInput,
        __doc__=f"{wait.title}: {wait.offered()}",
        **fields,
    )
    return model


FORMS: dict[str, type[CaseInput]] = {w.name: _build_form(w) for w in WAITS.values() if w.case_run}


def _with_defaults(form: type[CaseInput], description: str, **defaults: Any) -> type[CaseInput]:
    """`form` with other defaults and the markdown shown above it (unlike
    `RunInput.with_initial_data`, the fields keep their titles and descriptions)."""
    fields: dict[str, Any] = {}
    for name, value in defaults.items():
        info = copy.copy(form.model_fields[name])
        info.default = value
        fields[name] = (info.annotation, info)
    model: type[CaseInput] = create_model(form.__name__, __base__=form, **fields)  # type: ignore[call-overload]
    model._description = description  # type: ignore[assignment]  # what RunInput.save reads
    return model


def form_of(snap: Snapshot, refused: str | None = None) -> type[CaseInput]:
    """The form for this snapshot, with the unit prefilled for unit staff."""
    assert snap.wait is not None
    unit = "" if snap.wait.desk else (snap.lead_unit or "")
    return _with_defaults(FORMS[snap.wait.name], snap.description(refused), actor_unit=unit)


# ----------------------------------------------------------------------------- pause keys
_KEY = re.compile(r"^([a-z]+)-([0-9a-f]{8})-v(\d+)-(\d+)$")


def _parse(key: str | None) -> tuple[str, int, int] | None:
    """(identity, version, n) of a case-run pause key."""
    match = _KEY.match(key or "")
    if not match or match[1] not in FORMS:
        return None
    return f"{match[1]}-{match[2]}", int(match[3]), int(match[4])


def _latest(keys: Iterable[str]) -> str | None:
    """The newest pause key (versions only grow; n counts suspensions at one version)."""
    parsed = [(p[1], p[2], key) for key in keys if (p := _parse(key)) is not None]
    return max(parsed)[2] if parsed else None


def _next_key(snap: Snapshot, keys: Iterable[str]) -> str:
    used = [
        p[2] for key in keys if (p := _parse(key)) and (p[0], p[1]) == (snap.identity, snap.version)
    ]
    return f"{snap.identity}-v{snap.version}-{max(used) + 1 if used else 0}"


def _wait_of_key(key: str) -> Wait:
    return WAITS[key.split("-")[0]]


# ----------------------------------------------------------------------------- applying
def apply(number: str, key: str, data: CaseInput, current: Snapshot | None) -> str | None:
    """Apply a submitted form through the action's form and use case: None when done, else
    the one-line reason it was refused (nothing written).

    A form is stale when the grievance no longer waits for what the form was made for
    (another path acted: another state, another party): refused. Within the same wait the
    version may have moved (an SLA warning, an amendment) without making the form wrong; the
    use case still checks role, unit and guards against the stored grievance."""
    parsed = _parse(key)
    if parsed is None:
        return f"unknown form key {key!r}"
    if current is None:
        return f"grievance {number} does not exist"
    if parsed[0] != current.identity:
        now = current.wait.title if current.wait else "nothing"
        return (
            f"grievance {number}: this form was for {_wait_of_key(key).title} (v{parsed[1]}), "
            f"but it is now {current.state.value} (v{current.version}), waiting for: {now}; "
            "use the new form"
        )
    event = data.event()
    spec = actions.BY_EVENT[event]
    payload = {k: v for k, v in data.payload().items() if k in spec.form.model_fields}
    payload["number"] = number
    try:
        form = spec.form.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()
        )
        return f"{event.value}: {problems}"
    result = actions.run_action(
        event, form, actions.on_existing(spec.usecase, form), tag_run=False, resync=False
    )
    if isinstance(result, dict):
        return None
    return result.message or f"{event.value} refused"


# ----------------------------------------------------------------------------- the flow
def _case_run_name() -> str:
    return f"case {flow_run.parameters.get('number', '')}".strip()


def _managed(tag: str) -> bool:
    return tag == WORKLIST_TAG or tag.startswith(("grievance:", "unit:", "waiting:"))


def _retag(client: SyncPrefectClient, run: FlowRun, snap: Snapshot) -> bool:
    """Exactly the worklist tags (a reassignment moves the run to the new unit's list)."""
    tags = list(dict.fromkeys([*snap.tags(), *(t for t in run.tags if not _managed(t))]))
    if sorted(tags) == sorted(run.tags):
        return False
    client.update_flow_run(run.id, tags=tags)
    return True


def _read_snapshot(number: str) -> Snapshot | None:
    engine = Engine.open()
    try:
        return read(engine, number)
    finally:
        engine.db.dispose()


@flow(
    name=FLOW_NAME,
    flow_run_name=_case_run_name,
    persist_result=True,  # suspension needs persisted results (and a deployment)
    description="工单待办：挂起等待当前状态对应的表单。Suspended until the form that fits the grievance.",
)
def case_flow(number: str) -> dict[str, Any]:
    """工单待办 One grievance's place in the worklist: wait (suspended, no process) for the
    form that fits it, apply the input through the use case, repeat until nothing waits."""
    logger = get_run_logger()
    run_id = UUID(str(flow_run.id))
    tried: set[str] = set()
    refused: str | None = None
    while True:
        snap = _read_snapshot(number)
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
            if snap is not None:
                _retag(client, run, snap)
            keys = set(run.empirical_policy.pause_keys or set())
        latest = _latest(keys)
        if latest is not None and latest not in tried:
            # Re-run after a resume: the used key makes suspend_flow_run return the input.
            tried.add(latest)
            parsed = _parse(latest)
            fits = snap is not None and parsed is not None and parsed[0] == snap.identity
            form = form_of(snap) if fits and snap is not None else FORMS[_wait_of_key(latest).name]
            try:
                data = suspend_flow_run(wait_for_input=form, key=latest, timeout=None)
            except Exception as error:  # resumed without usable input
                refused = f"no usable input: {error}".splitlines()[0]
                logger.warning("%s: %s", number, refused)
                continue
            refused = apply(number, latest, data, snap)
            if refused:
                logger.warning("%s: refused, the form comes back: %s", number, refused)
            else:
                logger.info("%s: %s applied", number, data.event().value)
            continue
        if snap is None or not snap.wants_run or snap.wait is None:
            what = "missing" if snap is None else snap.state.value
            logger.info("%s is %s: nothing waits in the worklist, the case run ends", number, what)
            return {"number": number, "state": what, "version": snap.version if snap else None}
        key = _next_key(snap, keys)
        tried.add(key)
        suspend_flow_run(wait_for_input=form_of(snap, refused), key=key, timeout=None)  # exits


def case_deployment() -> Any:
    return case_flow.to_deployment(
        name=DEPLOYMENT,
        tags=["grievance", WORKLIST_TAG],
        description=(
            "待办：每件需要受理台或承办单位现在办理的工单一个挂起的运行，由时限监控创建。"
            " One suspended run per grievance the desk or a unit must act on now; created by"
            " the sla-watchdog (do not start it by hand)."
        ),
    )


# ---------------------------------------------------------------------- from outside
def PARKED() -> Any:  # noqa: N802 - reads as a state constructor
    """A Scheduled state far in the future: a run created in it is not picked up by the
    runner (which polls for runs due within seconds) before `suspend_from_outside`."""
    return Scheduled(scheduled_time=datetime(2999, 1, 1, tzinfo=UTC), name="Parked")


def suspend_from_outside(
    client: SyncPrefectClient, run: FlowRun, snap: Snapshot, refused: str | None = None
) -> str:
    """Suspend `run` (no process) waiting for the form of `snap`: save the form's schema and
    description under a new pause key, force Running, propose Suspended with that key (what
    `suspend_flow_run` does inside a run). Returns the key."""
    run = client.read_flow_run(run.id)  # the pause keys as they are now
    used = set(run.empirical_policy.pause_keys or set())
    for _ in range(3):
        key = _next_key(snap, used)
        state = Suspended(timeout_seconds=None, pause_key=key)
        keyset = keyset_from_paused_state(state)
        state.state_details.run_input_keyset = keyset
        try:
            form_of(snap, refused).save(keyset, flow_run_id=run.id)  # first: Resume needs it
        except PrefectHTTPStatusError as error:
            if error.response.status_code != 409:
                raise
            used.add(key)  # saved by an attempt that went no further: take the next one
            continue
        client.set_flow_run_state(run.id, Running(message="worklist re-sync"), force=True)
        result = client.set_flow_run_state(run.id, state)
        if result.state is not None and result.state.is_paused():
            _retag(client, run, snap)
            return key
        used.add(key)  # suspended with this key meanwhile: take the next one
    raise RuntimeError(f"case run {run.id} not suspended after 3 attempts")


OPEN_TYPES = [StateType.PAUSED, StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]


def _runs_filter(
    types: list[StateType],
    *,
    names: list[str] | None = None,
    deployment_id: UUID | None = None,
    **more: Any,
) -> FlowRunFilter:
    """Runs by indexed columns only (state type, run name, deployment): on SQLite a filter on
    tags reads every run's JSON (3 s for 100 grievances among 5,000 runs, measured)."""
    if names is not None:
        more["name"] = FlowRunFilterName(any_=names)
    if deployment_id is not None:
        more["deployment_id"] = FlowRunFilterDeploymentId(any_=[deployment_id])
    return FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=types)), **more)


def _number_of(run: FlowRun) -> str | None:
    for tag in run.tags:
        if tag.startswith("grievance:"):
            return tag.removeprefix("grievance:")
    return None


def open_case_runs(client: SyncPrefectClient, numbers: Sequence[str]) -> dict[str, list[FlowRun]]:
    """The case runs that are not finished (suspended, scheduled, running) per grievance."""
    found: dict[str, list[FlowRun]] = {}
    for start in range(0, len(numbers), 100):
        chunk = list(numbers[start : start + 100])
        flt = _runs_filter(OPEN_TYPES, names=[f"case {n}" for n in chunk])
        offset = 0
        while True:  # the API gives at most 200 a page
            runs = client.read_flow_runs(flow_run_filter=flt, limit=PAGE, offset=offset)
            for run in runs:
                number = _number_of(run)
                if number is not None and WORKLIST_TAG in run.tags:
                    found.setdefault(number, []).append(run)
            if len(runs) < PAGE:
                break
            offset += PAGE
    return found


def _suspended(run: FlowRun) -> bool:
    return run.state is not None and run.state.type is StateType.PAUSED


def _parked(run: FlowRun) -> bool:
    return run.state is not None and run.state.name == "Parked"


STUCK = timedelta(minutes=15)  # a case flow runs for seconds between two suspensions


def _stuck(run: FlowRun) -> bool:
    state = run.state
    return (
        state is not None
        and state.type in (StateType.PENDING, StateType.RUNNING)
        and state.timestamp is not None
        and state.timestamp < datetime.now(UTC) - STUCK
    )


class _Deployment:
    """The case deployment's id, looked up once (None: not served)."""

    def __init__(self, client: SyncPrefectClient) -> None:
        self.client = client
        self.looked = False
        self.id: UUID | None = None

    def get(self) -> UUID | None:
        if not self.looked:
            self.looked = True
            try:
                self.id = self.client.read_deployment_by_name(f"{FLOW_NAME}/{DEPLOYMENT}").id
            except ObjectNotFound:
                _log().warning("the case deployment is not served: no case run created")
        return self.id


def sync_one(
    client: SyncPrefectClient,
    number: str,
    snap: Snapshot | None,
    runs: Sequence[FlowRun],
    *,
    deployment: _Deployment | None = None,
) -> str:
    """Bring one grievance's case runs in line with its snapshot. Returns what was done:
    created, resuspended, retagged, in-sync, completed, active (a running case flow re-reads
    the grievance itself), deferred (a run is needed; `deployment` None: not now), none."""
    active = [r for r in runs if not _suspended(r) and not _parked(r)]
    for run in [r for r in active if _stuck(r)]:  # its process died without a word
        client.set_flow_run_state(
            run.id, Crashed(message="case run stuck; the worklist replaces it"), force=True
        )
        active.remove(run)
    waiting = sorted(
        (r for r in runs if _suspended(r) or _parked(r)),
        key=lambda r: (not _suspended(r), r.created or datetime.min.replace(tzinfo=UTC)),
    )
    if snap is None or snap.identity is None:
        what = "missing" if snap is None else f"{snap.state.value}: nothing waits"
        for run in waiting:
            client.set_flow_run_state(run.id, Completed(message=f"{number} is {what}"), force=True)
        return "completed" if waiting else ("active" if active else "none")
    if active:
        return "active"
    for extra in waiting[1:]:
        client.set_flow_run_state(extra.id, Cancelled(message="duplicate case run"), force=True)
    if not waiting:
        deployment_id = deployment.get() if deployment is not None else None
        if deployment_id is None:
            return "deferred"
        run = client.create_flow_run_from_deployment(
            deployment_id,
            parameters={"number": number},
            name=f"case {number}",
            tags=snap.tags(),
            state=PARKED(),  # not due: the served runner must not start it first
        )
        suspend_from_outside(client, run, snap)
        return "created"
    run = waiting[0]
    key = run.state.state_details.pause_key if run.state and _suspended(run) else None
    parsed = _parse(key)
    if parsed is not None and parsed[0] == snap.identity:
        return "retagged" if _retag(client, run, snap) else "in-sync"
    suspend_from_outside(client, run, snap)
    return "resuspended"


def resync(number: str, *, engine: Engine | None = None, create: bool = False) -> str:
    """Bring the grievance's case run in line with the database after another path acted
    (see `sync_one` for the answers). Without `create` a missing run is left to the
    watchdog's next tick ("deferred")."""
    own = engine is None
    engine = engine or Engine.open()
    try:
        snap = read(engine, number)
    finally:
        if own:
            engine.db.dispose()
    with get_client(sync_client=True) as client:
        runs = open_case_runs(client, [number]).get(number, [])
        deployment = _Deployment(client) if create else None
        return sync_one(client, number, snap, runs, deployment=deployment)


def resync_soft(number: str, *, engine: Engine | None = None) -> str:
    """`resync` for the paths that just committed an action: never raises (the next
    watchdog tick re-syncs from the audit log); off with GRIEVANCE_CASE_RUNS=0."""
    if not enabled():
        return "off"
    try:
        done = resync(number, engine=engine)
    except Exception as error:  # noqa: BLE001 - a committed action must not fail here
        _log().warning(
            "%s: case run not re-synced (%s); the watchdog's next tick will", number, error
        )
        return f"failed: {type(error).__name__}"
    _log().debug("%s: case run %s", number, done)
    return done


def resync_after_cli(number: str, *, engine: Engine | None = None) -> str:
    """The CLI's hook: `resync_soft` with short timeouts and no retries, so a command never
    hangs on an unreachable Prefect server."""
    from prefect.settings import (
        PREFECT_API_REQUEST_TIMEOUT,
        PREFECT_CLIENT_MAX_RETRIES,
        temporary_settings,
    )

    with temporary_settings({PREFECT_API_REQUEST_TIMEOUT: 5.0, PREFECT_CLIENT_MAX_RETRIES: 0}):
        return resync_soft(number, engine=engine)


# ----------------------------------------------------------------------------- the tick
@dataclass
class Cursor:
    """Where the worklist tick is (a Prefect variable per grievance database)."""

    event: int  # the last audit event looked at
    sweep: int = 0  # the last waiting grievance (id) looked at
    runs: int = 0  # offset into the open case runs
    retry: list[str] = field(default_factory=list)  # numbers whose re-sync failed


def variable_name(engine: Engine) -> str:
    """`grievance-worklist-<digest of the database URL without its password>`."""
    from sqlalchemy.engine import make_url

    url = make_url(engine.db.url).set(password=None).render_as_string(hide_password=False)
    return f"grievance-worklist-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _load_cursor(client: SyncPrefectClient, name: str) -> Cursor | None:
    variable = client.read_variable_by_name(name)
    if variable is None or not isinstance(variable.value, dict):
        return None
    value = variable.value
    try:
        return Cursor(
            event=int(value["event"]),
            sweep=int(value.get("sweep", 0)),
            runs=int(value.get("runs", 0)),
            retry=[str(n) for n in value.get("retry", [])][:RETRY_MAX],
        )
    except (KeyError, TypeError, ValueError):
        return None


def _save_cursor(cursor: Cursor) -> dict[str, Any]:
    return {
        "event": cursor.event,
        "sweep": cursor.sweep,
        "runs": cursor.runs,
        "retry": cursor.retry[:RETRY_MAX],
    }


@dataclass
class SyncReport:
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {**self.counts, "errors": len(self.errors)}


def _waiting_condition() -> Any:
    g = Grievance
    return or_(
        col(g.state).in_(CASE_RUN_STATES),
        and_(
            col(g.state).in_([GState.HANDLING, GState.SUSPENDED]),
            col(g.pending_extension_days).is_not(None),
        ),
    )


def sync_worklist(engine: Engine, *, budget: int | None = None, sweep: int = SWEEP) -> SyncReport:
    """One tick: re-sync the grievances with audit events since the cursor (and those whose
    re-sync failed last time), then walk a page of waiting grievances (creating missing case
    runs, at most `budget`, default `GRIEVANCE_CASE_RUNS_BATCH`) and a page of open case
    runs (repairing any that drifted). Only the first run of a new database starts at its
    latest event: the walk creates the runs of the grievances already waiting."""
    budget = batch_size() if budget is None else budget
    report = SyncReport()
    e, g = GrievanceEvent, Grievance
    with get_client(sync_client=True) as client:
        name = variable_name(engine)
        with engine.db.read() as session:
            conn = session.connection()
            last = conn.execute(select(func.max(col(e.id)))).scalar() or 0
            cursor = _load_cursor(client, name)
            if cursor is None or cursor.event > last:
                cursor = Cursor(event=int(last))
            events = conn.execute(
                select(col(e.id), col(e.number), col(e.event))
                .where(col(e.id) > cursor.event)
                .order_by(col(e.id))
                .limit(EVENTS_PER_TICK)
            ).all()
            swept = conn.execute(
                select(col(g.id), col(g.number))
                .where(_waiting_condition(), col(g.id) > cursor.sweep)
                .order_by(col(g.id))
                .limit(sweep)
            ).all()
        deployment = _Deployment(client)
        deployment_id = deployment.get()
        page = (
            client.read_flow_runs(
                flow_run_filter=_runs_filter(OPEN_TYPES, deployment_id=deployment_id),
                sort=FlowRunSort.ID_DESC,
                offset=cursor.runs,
                limit=min(sweep, PAGE),
            )
            if deployment_id is not None
            else []
        )
        changed = list(
            dict.fromkeys(
                [
                    *cursor.retry,
                    *(
                        str(n)
                        for _, n, ev in events
                        if str(getattr(ev, "value", ev)) not in QUIET_EVENTS
                    ),
                ]
            )
        )
        page_numbers = [n for run in page if (n := _number_of(run)) is not None]
        numbers = list(dict.fromkeys([*changed, *(str(n) for _, n in swept), *page_numbers]))
        with engine.db.read() as session:
            snaps = snapshots(session, numbers)
        runs = open_case_runs(client, numbers)
        created = 0
        retry: list[str] = []
        done: set[str] = set()

        def one(number: str, may_create: bool) -> str:
            nonlocal created
            done.add(number)
            try:
                status = sync_one(
                    client,
                    number,
                    snaps.get(number),
                    runs.get(number, []),
                    deployment=deployment if may_create and created < budget else None,
                )
            except Exception as error:  # noqa: BLE001 - one grievance must not stop the tick
                report.errors.append(f"{number}: {error}")
                retry.append(number)
                return "error"
            created += status == "created"
            report.add(status)
            return status

        for number in changed:
            one(number, may_create=True)
        sweep_cursor = cursor.sweep
        stopped = False
        for gid, number in swept:
            status = "done" if number in done else one(str(number), may_create=True)
            if status == "deferred" and deployment.id is not None:
                stopped = True  # out of budget: start here next tick
                break
            sweep_cursor = int(gid)
        if not stopped and len(swept) < sweep:
            sweep_cursor = 0  # walked to the end: start again
        for number in page_numbers:
            if number not in done:
                one(number, may_create=False)
        new = Cursor(
            event=int(events[-1][0]) if events else cursor.event,
            sweep=sweep_cursor,
            runs=cursor.runs + len(page) if len(page) == min(sweep, PAGE) else 0,
            retry=list(dict.fromkeys(retry))[:RETRY_MAX],
        )
        report.cursor = _save_cursor(new)
        if deployment_id is not None:
            _prune(client, deployment_id, report)
        from prefect.client.schemas.actions import VariableCreate, VariableUpdate

        if client.read_variable_by_name(name) is None:
            client.create_variable(VariableCreate(name=name, value=report.cursor))
        else:
            client.update_variable(VariableUpdate(name=name, value=report.cursor))
    return report


DONE_TYPES = [StateType.COMPLETED, StateType.CANCELLED, StateType.CRASHED, StateType.FAILED]


def _prune(client: SyncPrefectClient, deployment_id: UUID, report: SyncReport) -> None:
    """Delete finished case runs that ended more than `keep_days()` ago (at most `PRUNE` a
    tick), so the Prefect database holds the waiting grievances, not their whole history
    (the audit log has it)."""
    ended = datetime.now(UTC) - timedelta(days=keep_days())
    old = client.read_flow_runs(
        flow_run_filter=_runs_filter(
            DONE_TYPES,
            deployment_id=deployment_id,
            end_time=FlowRunFilterEndTime(before_=ended),
        ),
        limit=PRUNE,
    )
    for run in old:
        client.delete_flow_run(run.id)
        report.add("deleted")


def artifact_key(party: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", f"worklist-{party}".lower()).strip("-")


def publish_worklists(engine: Engine, now: datetime) -> dict[str, int]:
    """Publish `worklist-<unit>` and `worklist-desk` table artifacts, each only when its
    content changed since its latest version. Returns the waiting count per party."""
    from prefect.artifacts import create_table_artifact

    tables = worklist_tables(engine, now)
    seen: dict[str | None, str] = {}
    with get_client(sync_client=True) as client:
        while True:  # the API gives at most 200 a page
            page = client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(like_="worklist-%")
                ),
                limit=200,
                offset=len(seen),
            )
            seen.update({a.key: a.description or "" for a in page})
            if len(page) < 200:
                break
    counts = {}
    published: list[str] = []
    for party, entries in tables.items():
        counts[party] = len(entries)
        shown = entries[:TABLE_ROWS]
        overdue = sum(1 for e in entries if e["超期 Overdue"])
        digest = hashlib.sha256(
            json.dumps([len(entries), shown], ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest()[:12]
        key = artifact_key(party)
        if seen.get(key, "").endswith(f"#{digest}"):
            continue
        who = "受理台 the desk" if party == "desk" else f"承办单位 unit {party}"
        more = f" (showing the {TABLE_ROWS} most urgent)" if len(entries) > TABLE_ROWS else ""
        create_table_artifact(
            key=key,
            table=shown or [{"工单编号 Number": "-", "待办 Waiting for": "无待办 nothing waits"}],
            description=(
                f"待办清单 Worklist of {who}: {len(entries)} waiting, {overdue} overdue{more} "
                f"#{digest}"
            ),
        )
        published.append(key)
    _prune_versions(published)
    return counts


def _prune_versions(keys: Sequence[str]) -> None:
    """Keep the newest `TABLE_VERSIONS` versions of each table just published (a busy
    bureau changes a unit's table many times a day; each version is a full table)."""
    with get_client(sync_client=True) as client:
        for key in keys:
            old = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                sort=ArtifactSort.CREATED_DESC,
                offset=TABLE_VERSIONS,
                limit=PAGE,
            )
            for artifact in old:
                client.delete_artifact(artifact.id)
