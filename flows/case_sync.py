"""Re-sync: any other path that acts (an action deployment, the CLI, bulk import) leaves a
grievance's case run behind. `resync(number)` brings it in line: the same run is re-suspended
in place with the new form, completed when nothing waits any more (handling, reviewed,
merged), or, with `create=True`, created from the case deployment. The action flows and the
CLI call `resync_soft` after they commit (it never raises: a Prefect outage never fails or
undoes a committed action); the watchdog's tick (`flows.worklist.sync_worklist`) repairs
whatever was missed."""

# No `from __future__ import annotations`: pydantic builds the forms at runtime.

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Completed, Crashed

from flows.case_forms import parse_key
from flows.case_runs import (
    DEPLOYMENT,
    FLOW_NAME,
    PARKED,
    enabled,
    log,
    retag,
    suspend_from_outside,
)
from service.engine import Engine
from service.worklist import (
    WORKLIST_TAG,
    Snapshot,
    read,
)

PAGE = 200  # the most the Prefect API returns at once
OPEN_TYPES = [StateType.PAUSED, StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]


def runs_filter(
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


def number_of(run: FlowRun) -> str | None:
    for tag in run.tags:
        if tag.startswith("grievance:"):
            return tag.removeprefix("grievance:")
    return None


def open_case_runs(client: SyncPrefectClient, numbers: Sequence[str]) -> dict[str, list[FlowRun]]:
    """The case runs that are not finished (suspended, scheduled, running) per grievance."""
    found: dict[str, list[FlowRun]] = {}
    for start in range(0, len(numbers), 100):
        chunk = list(numbers[start : start + 100])
        flt = runs_filter(OPEN_TYPES, names=[f"case {n}" for n in chunk])
        offset = 0
        while True:  # the API gives at most 200 a page
            runs = client.read_flow_runs(flow_run_filter=flt, limit=PAGE, offset=offset)
            for run in runs:
                number = number_of(run)
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


class Deployment:
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
                log().warning("the case deployment is not served: no case run created")
        return self.id


def sync_one(
    client: SyncPrefectClient,
    number: str,
    snap: Snapshot | None,
    runs: Sequence[FlowRun],
    *,
    deployment: Deployment | None = None,
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
    parsed = parse_key(key)
    if parsed is not None and parsed[0] == snap.identity:
        return "retagged" if retag(client, run, snap) else "in-sync"
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
        deployment = Deployment(client) if create else None
        return sync_one(client, number, snap, runs, deployment=deployment)


def resync_soft(number: str, *, engine: Engine | None = None) -> str:
    """`resync` for the paths that just committed an action: never raises (the next
    watchdog tick re-syncs from the audit log); off with GRIEVANCE_CASE_RUNS=0."""
    if not enabled():
        return "off"
    try:
        done = resync(number, engine=engine)
    except Exception as error:  # noqa: BLE001 - a committed action must not fail here
        log().warning(
            "%s: case run not re-synced (%s); the watchdog's next tick will", number, error
        )
        return f"failed: {type(error).__name__}"
    log().debug("%s: case run %s", number, done)
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
