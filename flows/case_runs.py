"""The case flow: one flow run of the `case` deployment (flow "工单 case", run
`case <number>`) per grievance on which the desk or a unit must act now, *suspended* (no
process) with the form that fits what it waits for (see `flows.worklist` for the whole
picture).

**The database stays authoritative.** On every resume Prefect re-runs `case_flow` from the
top: it re-reads the grievance, finds the pause key it was resumed from (kept in the run's
`empirical_policy.pause_keys`), calls `suspend_flow_run` with that same key (the server
refuses a second suspension with a used key, so the call returns the submitted input) and
applies it through the action's own form and use case (`flows.action_forms.BY_EVENT`,
`flows.action_runs.run_action`). A form made for another wait or another party than the
stored grievance's is stale and refused; so is whatever the use case refuses. A refusal is
logged as a warning and the form comes back, with the reason on top of it.
`suspend_from_outside` does what `suspend_flow_run` does, from outside a run, without a
process (used by the re-sync of `flows.case_sync`)."""

# No `from __future__ import annotations`: pydantic builds the forms at runtime.

import logging
import os
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import MissingContextError, PrefectHTTPStatusError
from prefect.flow_runs import suspend_flow_run
from prefect.input.run_input import keyset_from_paused_state
from prefect.runtime import flow_run
from prefect.states import Running, Scheduled, Suspended
from pydantic import ValidationError

from flows import action_forms, action_runs
from flows.case_forms import FORMS, CaseInput, form_of, latest_key, next_key, parse_key, wait_of_key
from service.engine import Engine
from service.worklist import (
    WORKLIST_TAG,
    Snapshot,
    read,
)

FLOW_NAME = "工单 case"
DEPLOYMENT = "case"
ENV_CASE_RUNS = "GRIEVANCE_CASE_RUNS"
ENV_BATCH = "GRIEVANCE_CASE_RUNS_BATCH"
DEFAULT_BATCH = 25
ENV_KEEP = "GRIEVANCE_CASE_RUNS_KEEP_DAYS"

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


def log() -> Any:
    try:
        return get_run_logger()
    except MissingContextError:
        return _logger


# ----------------------------------------------------------------------------- applying
def apply(number: str, key: str, data: CaseInput, current: Snapshot | None) -> str | None:
    """Apply a submitted form through the action's form and use case: None when done, else
    the one-line reason it was refused (nothing written).

    A form is stale when the grievance no longer waits for what the form was made for
    (another path acted: another state, another party): refused. Within the same wait the
    version may have moved (an SLA warning, an amendment) without making the form wrong; the
    use case still checks role, unit and guards against the stored grievance."""
    parsed = parse_key(key)
    if parsed is None:
        return f"unknown form key {key!r}"
    if current is None:
        return f"grievance {number} does not exist"
    if parsed[0] != current.identity:
        now = current.wait.title if current.wait else "nothing"
        return (
            f"grievance {number}: this form was for {wait_of_key(key).title} (v{parsed[1]}), "
            f"but it is now {current.state.value} (v{current.version}), waiting for: {now}; "
            "use the new form"
        )
    event = data.event()
    spec = action_forms.BY_EVENT[event]
    payload = {k: v for k, v in data.payload().items() if k in spec.form.model_fields}
    payload["number"] = number
    try:
        form = spec.form.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()
        )
        return f"{event.value}: {problems}"
    result = action_runs.run_action(
        event,
        form,
        action_runs.on_existing(spec.usecase),
        token=data.stamp,
        target=f"flow_run:{flow_run.id}",
        use=key,
        tag_run=False,
    )
    if isinstance(result, dict):
        return None
    return result.message or f"{event.value} refused"


# ----------------------------------------------------------------------------- the flow
def _case_run_name() -> str:
    return f"case {flow_run.parameters.get('number', '')}".strip()


def _managed(tag: str) -> bool:
    return tag == WORKLIST_TAG or tag.startswith(("grievance:", "unit:", "waiting:"))


def retag(client: SyncPrefectClient, run: FlowRun, snap: Snapshot) -> bool:
    """Exactly the worklist tags (a reassignment moves the run to the new unit's list)."""
    tags = list(dict.fromkeys([*snap.tags(), *(t for t in run.tags if not _managed(t))]))
    if sorted(tags) == sorted(run.tags):
        return False
    client.update_flow_run(run.id, tags=tags)
    return True


def _read_snapshot(number: str) -> Snapshot | None:
    with Engine.opened() as engine:
        return read(engine, number)


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
                retag(client, run, snap)
            keys = set(run.empirical_policy.pause_keys or set())
        latest = latest_key(keys)
        if latest is not None and latest not in tried:
            # Re-run after a resume: the used key makes suspend_flow_run return the input.
            tried.add(latest)
            parsed = parse_key(latest)
            fits = snap is not None and parsed is not None and parsed[0] == snap.identity
            form = form_of(snap) if fits and snap is not None else FORMS[wait_of_key(latest).name]
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
        key = next_key(snap, keys)
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
    """Suspend `run` (no process) waiting for the form of `snap`: tag it for the party it now
    waits for, save the form's schema and description under a new pause key, force Running,
    propose Suspended with that key (what `suspend_flow_run` does inside a run). Returns the
    key. The tags come first because Prefect's events carry the run's tags as they are when
    the state changes: retagged after, a run moved from the desk to a unit would show the
    unit none of its new state's events (a stale key's input is refused by the run anyway)."""
    run = client.read_flow_run(run.id)  # the pause keys as they are now
    used = set(run.empirical_policy.pause_keys or set())
    retag(client, run, snap)
    for _ in range(3):
        key = next_key(snap, used)
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
            return key
        used.add(key)  # suspended with this key meanwhile: take the next one
    raise RuntimeError(f"case run {run.id} not suspended after 3 attempts")
