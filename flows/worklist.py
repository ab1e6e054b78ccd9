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

**The database stays authoritative.** A resumed case run re-reads the grievance and applies
the input through the action's own form and use case; a stale form is refused and comes back
(`flows.case_runs`, forms and pause keys in `flows.case_forms`).

**Re-sync.** Any other path that acts leaves the case run behind; `flows.case_sync.resync`
brings it in line, and the action flows and the CLI call `resync_soft` after they commit. The
audit log itself is the "stale" mark: the `worklist` task of every `sla-watchdog` run
(`sync_worklist`, here) re-syncs the grievances with audit events since its cursor (kept in a
Prefect variable), creates the missing case runs lazily, at most `GRIEVANCE_CASE_RUNS_BATCH`
(default 25) per tick so the server never gets a burst (bulk imports are picked up this way),
and walks both the waiting grievances and the open case runs a page per tick to repair
whatever was missed. Finished case runs are deleted from Prefect
`GRIEVANCE_CASE_RUNS_KEEP_DAYS` (7) days after they ended (the audit log keeps the history),
so the Prefect database holds what waits, not everything.

**The worklist table.** The same task publishes one keyed table artifact per unit,
`worklist-<unit>`, and `worklist-desk`: every open grievance that waits for it, what may be
done, the next deadline, overdue first. A new version only when its content changed; the
newest 10 versions of each are kept.

`GRIEVANCE_CASE_RUNS=0` turns case runs off (no case deployment, no creation, no re-sync);
the tables stay. Costs measured by `bench/worklist.py` are in the README.
"""


# No `from __future__ import annotations`: pydantic builds the forms at runtime.

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    FlowRunFilterEndTime,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from sqlalchemy import and_, func, or_
from sqlmodel import col, select

from flows.case_runs import (
    batch_size,
    keep_days,
)
from flows.case_sync import (
    OPEN_TYPES,
    PAGE,
    Deployment,
    number_of,
    open_case_runs,
    runs_filter,
    sync_one,
)
from flows.sla_board import prune_versions
from models.tables import Grievance, GrievanceEvent
from service.engine import Engine
from service.worklist import (
    CASE_RUN_STATES,
    snapshots,
    worklist_tables,
)
from workflow.artifact_keys import worklist_key
from workflow.vocab import Event
from workflow.vocab import State as GState

PRUNE = 50  # finished case runs deleted per tick at most
SWEEP = 200  # waiting grievances and open case runs looked at per tick (each)
EVENTS_PER_TICK = 2000  # audit events read per tick
RETRY_MAX = 50
TABLE_ROWS = 200  # rows per worklist artifact (the most urgent)
TABLE_VERSIONS = 10  # versions kept per worklist artifact
QUIET_EVENTS = {Event.SLA_STEP.value, Event.RECALCULATE.value}  # change no wait


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
        deployment = Deployment(client)
        deployment_id = deployment.get()
        page = (
            client.read_flow_runs(
                flow_run_filter=runs_filter(OPEN_TYPES, deployment_id=deployment_id),
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
        page_numbers = [n for run in page if (n := number_of(run)) is not None]
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
        flow_run_filter=runs_filter(
            DONE_TYPES,
            deployment_id=deployment_id,
            end_time=FlowRunFilterEndTime(before_=ended),
        ),
        limit=PRUNE,
    )
    for run in old:
        client.delete_flow_run(run.id)
        report.add("deleted")


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
        key = worklist_key(party)
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
    prune_versions(published, keep=TABLE_VERSIONS)
    return counts
