"""What unit staff may see through the gate: a handler's or a unit supervisor's lists of flow
runs show only their unit's runs (tagged `unit:<code>`, which every action run of the unit and
every case run it leads carries), and a run of another unit cannot be read or resumed by id.

The lists are narrowed by adding the tag to the flow-run filter the UI sends with them
(`POST /api/flow_runs/filter`, `/count`, `/paginate`, `/history`, and the task-run and artifact
lists, whose filters take a flow-run filter too: an artifact or task run is then listed only
if its run is the unit's); logs are given for named runs of the unit only; a read of one run
(`/api/flow_runs/{id}` and what hangs under it: input, graph, labels) asks Prefect for the
run's tags first and answers 404 for another unit's; so does a read of one task run
(`/api/task_runs/{id}`), by the run it belongs to. Bureau roles (dispatchers, bureau
supervisors, reviewers, analysts, admins) see everything.

Artifacts made by no run of the unit: the SLA board (`workflow.sla_board`) is published by
the watchdog, whose run has no unit tag. A unit's own board (key `sla-board-<unit>`) is
listed when the list asks for that key alone (the UI's artifact page asks exactly that: its
latest version, `GET /api/artifacts/{key}/latest`, and its versions,
`POST /api/artifacts/filter` by key); any other list is narrowed by the run tag as above,
so another unit's board and the desk's never show. One artifact read by id or key is
answered only if it is the unit's own board or belongs to a run of the unit (404 else). The
unit's worklist table (`worklist-<unit>`, also the watchdog's) is read the same way.

Events (`POST /api/events/filter`, `/api/events/count-by/{what}`) are narrowed to the events
of the unit's runs: the gate adds a related-resource filter (Prefect ANDs the entries of
`related`) asking for the run's tag `unit:<code>` or `waiting:<code>`, which Prefect lists
among every flow-run event's related resources. The next page
(`GET /api/events/filter/next?page-token=…`) carries its filter in the token: it is
forwarded only if that filter holds the unit's entry (403 else)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import parse_qs

import httpx

from gateway.proxy import Upstream
from gateway.stamping import Refusal
from workflow.accounts import AccountRole, Identity
from workflow.artifact_keys import worklist_key
from workflow.sla_board import board_key

LISTS = re.compile(
    r"^/api/(?:ui/)?(?:flow_runs|task_runs|artifacts(?:/latest)?)/(?:filter|count|paginate|history)$"
)
LOGS = "/api/logs/filter"
ONE_RUN = re.compile(r"^/api/flow_runs/([0-9a-fA-F-]{36})(?:/.*)?$")
ONE_TASK_RUN = re.compile(r"^/api/task_runs/([0-9a-fA-F-]{36})(?:/.*)?$")
ARTIFACT_LISTS = re.compile(r"^/api/artifacts(?:/latest)?/(?:filter|count)$")
ONE_ARTIFACT = re.compile(r"^/api/artifacts/([^/]+)(/latest)?$")
EVENTS = re.compile(r"^/api/events/(?:filter|count-by/[^/]+)$")
EVENTS_NEXT = "/api/events/filter/next"


def unit_of(identity: Identity) -> str | None:
    """The unit whose runs alone this person sees (None: all)."""
    if identity.role in (AccountRole.HANDLER, AccountRole.SUPERVISOR):
        return identity.unit
    return None


def narrowed_list(raw: bytes, unit: str) -> bytes | Refusal:
    """A flow-run list request with `unit:<code>` added to the tags every run must carry."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return Refusal(400, "the request body is not JSON")
    if not isinstance(body, dict):
        return Refusal(400, "the request body is not an object")
    runs: dict[str, Any] = body.get("flow_runs") or {}
    tags: dict[str, Any] = runs.get("tags") or {}
    wanted = list(tags.get("all_") or [])
    tags["all_"] = [*wanted, f"unit:{unit}"]
    runs["tags"] = tags
    body["flow_runs"] = runs
    return json.dumps(body, ensure_ascii=False).encode()


def own_keys(unit: str) -> frozenset[str]:
    """The artifact keys a unit's staff read although no run of theirs made them: their
    unit's SLA board and worklist table (both made by the watchdog)."""
    return frozenset({board_key(unit), worklist_key(unit)})


def own_artifact_list(raw: bytes, unit: str) -> bytes | None:
    """An artifact list asking for the unit's own keys alone, forwarded with its artifact
    filter forced to AND (so no `or_` widens it); None for any other list."""
    try:
        body = json.loads(raw or b"{}")
        artifacts = body["artifacts"]
        wanted = artifacts["key"]["any_"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(wanted, list) or not wanted or not set(wanted) <= own_keys(unit):
        return None
    artifacts["key"] = {"any_": wanted}
    artifacts["operator"] = "and_"
    return json.dumps(body, ensure_ascii=False).encode()


async def artifact_visible(
    client: httpx.AsyncClient, upstream: Upstream, path: str, unit: str
) -> bool:
    """One artifact (`/api/artifacts/{id}` or `/api/artifacts/{key}/latest`): the unit's own
    board, or an artifact of a run of the unit."""
    answer = await client.get(f"{upstream.url}{path}", headers=upstream.headers())
    if not answer.is_success:
        return True  # Prefect's own answer (404...) follows
    found = answer.json()
    if not isinstance(found, dict):
        return False
    if found.get("key") in own_keys(unit):
        return True
    run_id = found.get("flow_run_id")
    return bool(run_id) and await run_visible(client, upstream, str(run_id), unit, strict=True)


async def task_run_visible(
    client: httpx.AsyncClient, upstream: Upstream, task_run_id: str, unit: str
) -> bool:
    """Is the task run one of a run of the unit? (Prefect's own 404 follows for none.)"""
    answer = await client.get(
        f"{upstream.url}/api/task_runs/{task_run_id}", headers=upstream.headers()
    )
    if not answer.is_success:
        return True
    found = answer.json()
    run_id = found.get("flow_run_id") if isinstance(found, dict) else None
    return bool(run_id) and await run_visible(client, upstream, str(run_id), unit, strict=True)


async def run_visible(
    client: httpx.AsyncClient, upstream: Upstream, run_id: str, unit: str, *, strict: bool = False
) -> bool:
    """Is the run the unit's? A run Prefect does not answer for: yes when the caller forwards
    the request (Prefect's 404 follows), no when `strict` (something else is at stake)."""
    answer = await client.get(f"{upstream.url}/api/flow_runs/{run_id}", headers=upstream.headers())
    if not answer.is_success:
        return not strict
    tags = answer.json().get("tags") or []
    return f"unit:{unit}" in tags or f"waiting:{unit}" in tags


async def _logs_of_visible_runs(
    client: httpx.AsyncClient, upstream: Upstream, raw: bytes, unit: str
) -> bytes | Refusal:
    try:
        body = json.loads(raw or b"{}")
        runs = body["logs"]["flow_run_id"]["any_"]
    except (ValueError, KeyError, TypeError):
        return Refusal(
            403, f"unit {unit} staff read the logs of their unit's runs, one run at a time"
        )
    if not isinstance(runs, list) or not runs or len(runs) > 20:
        return Refusal(
            403, f"unit {unit} staff read the logs of their unit's runs, one run at a time"
        )
    for run_id in runs:
        if not await run_visible(client, upstream, str(run_id), unit):
            return Refusal(404, "Flow run not found")
    return raw


def unit_events(unit: str) -> list[list[str]]:
    """The related resources one of which an event must have to be the unit's: its run's
    tags (`resources_in_roles` pairs of resource id and role)."""
    return [[f"prefect.tag.unit:{unit}", "tag"], [f"prefect.tag.waiting:{unit}", "tag"]]


def narrowed_events(raw: bytes, unit: str) -> bytes | Refusal:
    """An event list or count request with the unit's related-resource entry added."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return Refusal(400, "the request body is not JSON")
    if not isinstance(body, dict):
        return Refusal(400, "the request body is not an object")
    wanted = body.get("filter") or {}
    if not isinstance(wanted, dict):
        return Refusal(400, "the event filter is not an object")
    related = wanted.get("related")
    listed = [] if related is None else related if isinstance(related, list) else [related]
    wanted["related"] = [*listed, {"resources_in_roles": unit_events(unit)}]
    body["filter"] = wanted
    return json.dumps(body, ensure_ascii=False).encode()


def next_page_is_narrowed(query: str, unit: str) -> bool:
    """Does the page token of `/api/events/filter/next` hold the unit's entry? (Prefect's
    token: base64 of base64 of JSON with the filter, as `prefect.server.events.storage`.)"""
    tokens = parse_qs(query).get("page-token") or []
    if len(tokens) != 1:
        return False
    try:
        inner = base64.b64decode(tokens[0].encode()).decode()
        related = json.loads(base64.b64decode(inner))["filter"]["related"]
    except (ValueError, binascii.Error, KeyError, TypeError, UnicodeDecodeError):
        return False
    entries = related if isinstance(related, list) else [related]
    own = unit_events(unit)
    return any(isinstance(e, dict) and e.get("resources_in_roles") == own for e in entries)


async def narrow(
    client: httpx.AsyncClient,
    upstream: Upstream,
    identity: Identity,
    method: str,
    path: str,
    raw: bytes | None,
    query: str = "",
) -> bytes | None | Refusal:
    """The body to forward for unit staff (narrowed where it lists runs), or a refusal."""
    unit = unit_of(identity)
    if unit is None:
        return raw
    if method == "POST" and EVENTS.match(path):
        return narrowed_events(raw or b"", unit)
    if method == "GET" and path == EVENTS_NEXT:
        if next_page_is_narrowed(query, unit):
            return raw
        return Refusal(403, f"unit {unit} staff page through their unit's events only")
    if method == "POST" and ARTIFACT_LISTS.match(path):
        own = own_artifact_list(raw or b"", unit)
        return own if own is not None else narrowed_list(raw or b"", unit)
    if method == "POST" and LISTS.match(path):
        return narrowed_list(raw or b"", unit)
    if method == "POST" and path == LOGS:
        return await _logs_of_visible_runs(client, upstream, raw or b"", unit)
    one = ONE_RUN.match(path)
    if one and not await run_visible(client, upstream, one[1], unit):
        return Refusal(404, "Flow run not found")
    task = ONE_TASK_RUN.match(path)
    if task and not await task_run_visible(client, upstream, task[1], unit):
        return Refusal(404, "Task run not found")
    artifact = ONE_ARTIFACT.match(path)
    if artifact and not ARTIFACT_LISTS.match(path):
        if method != "GET":
            return Refusal(403, f"unit {unit} staff read artifacts; they do not change them")
        read = f"/api/artifacts/{artifact[1]}" + (artifact[2] or "")
        if not await artifact_visible(client, upstream, read, unit):
            return Refusal(404, "Artifact not found")
    return raw
