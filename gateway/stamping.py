"""Identity stamped at the door: the gate writes the signed-in person into every action run it
creates (`POST /api/deployments/{id}/create_flow_run` of a deployment tagged `action`: the
`stamp` parameter, binding the parameters as sent) and every case-run input it resumes
(`POST /api/flow_runs/{id}/resume` of a run tagged `worklist`: `run_input.stamp`, bound to that
run). Whatever `stamp` a caller sends is replaced. The phone, plate and ID numbers typed there
are replaced by references into the engine database first (`service.personal_refs`), so they
never reach Prefect's. Accounts that do not act on grievances
(analysts, admins) are refused there, and so are unit staff resuming another unit's case run.
A run of the bulk import is the desk's only: it is stamped the same way (target `import`),
with its `actor` parameter set to the signed-in dispatcher.

An action run is also tagged at its creation with the tags the gate and the worklist read
(`grievance:<number>`; `unit:<code>` of the unit staff who start it, or for the desk's runs
the grievance's lead unit and the unit the action names, as assign's), which the run would
add itself only once it runs: the person who started it sees it at once (the gate's
narrowing), and its first events carry the units' tags. Tags a caller sends in those
families (`unit:`, `waiting:`, `grievance:`, `action:`, `worklist`) are dropped: they are
the gate's and the engine's to set."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from gateway.proxy import Upstream
from service import personal_refs, stamps
from service.engine import Engine
from service.reading import lead_unit
from workflow.accounts import AccountRole, Identity
from workflow.validation import GRIEVANCE_NUMBER_PATTERN, is_unit_code

CREATE = re.compile(r"^/api/deployments/([0-9a-fA-F-]{36})/create_flow_run$")
RESUME = re.compile(r"^/api/flow_runs/([0-9a-fA-F-]{36})/resume$")
WORKLIST_TAG = "worklist"  # service.worklist.WORKLIST_TAG, the tag of every case run
IMPORT_TAG = "import"  # the tag of the bulk import's deployment (`flows.importer`)
_RESERVED_PREFIXES = ("unit:", "waiting:", "grievance:", "action:")
_RESERVED = frozenset({WORKLIST_TAG, "action"})
_NUMBER = re.compile(GRIEVANCE_NUMBER_PATTERN)


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str


def _body(raw: bytes) -> dict[str, Any] | Refusal:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return Refusal(400, "the request body is not JSON")
    return data if isinstance(data, dict) else Refusal(400, "the request body is not an object")


async def _read(client: httpx.AsyncClient, upstream: Upstream, path: str) -> dict[str, Any] | None:
    answer = await client.get(upstream.url + path, headers=upstream.headers())
    if not answer.is_success:
        return None
    data = answer.json()
    return data if isinstance(data, dict) else None


def _acting(identity: Identity) -> Refusal | None:
    if identity.actor is None:
        return Refusal(
            403,
            f"a {identity.role.value} account does not act on grievances "
            f"({identity.role.zh}账号不办理工单)",
        )
    return None


def _run_request(raw: bytes) -> tuple[dict[str, Any], dict[str, Any]] | Refusal:
    """A create-run request's body and its parameters, without any stamp the caller sent."""
    body = _body(raw)
    if isinstance(body, Refusal):
        return body
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        return Refusal(400, "parameters must be an object")
    parameters.pop("stamp", None)
    return body, parameters


def _stamp_import(identity: Identity, raw: bytes, at: datetime) -> bytes | Refusal:
    """A run of the bulk import (`flows.importer`): the desk's (dispatchers) only, acting as
    the signed-in person (its `actor` parameter set to them) with a stamp binding the
    parameters; the file path is forwarded as typed (no personal numbers in it)."""
    if refused := _acting(identity):
        return refused
    if identity.role is not AccountRole.DISPATCHER or identity.actor is None:
        return Refusal(403, "only the desk (dispatchers) imports work orders (仅受理台可批量导入)")
    sent = _run_request(raw)
    if isinstance(sent, Refusal):
        return sent
    body, parameters = sent
    parameters["actor"] = identity.actor.name
    parameters["stamp"] = stamps.issue(identity, stamps.IMPORT_TARGET, at, parameters)
    body["parameters"] = parameters
    body["tags"] = run_tags(body.get("tags"), identity, {})
    return json.dumps(body, ensure_ascii=False).encode()


def run_tags(
    given: Any, identity: Identity, parameters: dict[str, Any], lead: str | None = None
) -> list[str]:
    """The tags of a new action run: the caller's own, less the reserved ones, and the
    grievance's and the units': the acting unit's for unit staff; for the desk, the
    grievance's lead unit (`lead`) and the unit the action gives it (`unit`, as in assign),
    so that unit's staff see the run's events from the first one."""
    kept = [
        t
        for t in (given if isinstance(given, list) else [])
        if isinstance(t, str) and t not in _RESERVED and not t.startswith(_RESERVED_PREFIXES)
    ]
    number = _number(parameters)
    if number is not None:
        kept.append(f"grievance:{number}")
    if _unit_staff(identity):
        kept.append(f"unit:{identity.unit}")
    else:
        params = parameters.get("params")
        target = params.get("unit") if isinstance(params, dict) else None
        kept += [
            f"unit:{unit}"
            for unit in (lead, target)
            if isinstance(unit, str) and is_unit_code(unit)
        ]
    return list(dict.fromkeys(kept))


def _number(parameters: dict[str, Any]) -> str | None:
    """The grievance number an action run's parameters name, if well formed."""
    params = parameters.get("params")
    number = params.get("number") if isinstance(params, dict) else None
    return number if isinstance(number, str) and _NUMBER.fullmatch(number) else None


def _unit_staff(identity: Identity) -> bool:
    return bool(identity.unit) and identity.role in (AccountRole.HANDLER, AccountRole.SUPERVISOR)


async def stamp_request(
    engine: Engine,
    client: httpx.AsyncClient,
    upstream: Upstream,
    identity: Identity,
    path: str,
    raw: bytes,
    at: datetime,
) -> bytes | Refusal:
    """The body to forward: stamped where the request creates an action run or resumes a
    case run, unchanged elsewhere; or why it is refused."""
    if created := CREATE.match(path):
        deployment = await _read(client, upstream, f"/api/deployments/{created[1]}")
        tags = set(deployment.get("tags") or []) if deployment else set()
        if IMPORT_TAG in tags:
            return _stamp_import(identity, raw, at)
        if "action" not in tags:
            return raw
        action = next((t.split(":", 1)[1] for t in tags if t.startswith("action:")), None)
        if action is None:
            return Refusal(409, "this action deployment has no action:<event> tag: serve it anew")
        if refused := _acting(identity):
            return refused
        sent = _run_request(raw)
        if isinstance(sent, Refusal):
            return sent
        body, parameters = sent
        parameters = dict(
            await run_in_threadpool(personal_refs.protect, engine, parameters, at, identity.name)
        )
        parameters["stamp"] = stamps.issue(identity, f"action:{action}", at, parameters)
        body["parameters"] = parameters
        number = None if _unit_staff(identity) else _number(parameters)
        lead = None if number is None else await run_in_threadpool(lead_unit, engine, number)
        body["tags"] = run_tags(body.get("tags"), identity, parameters, lead)
        return json.dumps(body, ensure_ascii=False).encode()
    if resumed := RESUME.match(path):
        run = await _read(client, upstream, f"/api/flow_runs/{resumed[1]}")
        tags = set(run.get("tags") or []) if run else set()
        if WORKLIST_TAG not in tags:
            return raw
        if refused := _acting(identity):
            return refused
        unit = identity.unit if identity.role.value in ("handler", "supervisor") else None
        if unit is not None and f"waiting:{unit}" not in tags:
            # unit staff see their unit's case runs, but resume only those waiting for them
            return Refusal(403, f"this case run does not wait for unit {unit} (不是本单位待办)")
        resume = _body(raw)
        if isinstance(resume, Refusal):
            return resume
        run_input = resume.get("run_input")
        if isinstance(run_input, dict):
            run_input.pop("stamp", None)
            protected: dict[str, Any] = await run_in_threadpool(
                personal_refs.protect, engine, run_input, at, identity.name
            )
            protected["stamp"] = stamps.issue(identity, f"flow_run:{resumed[1]}", at)
            resume["run_input"] = protected
        return json.dumps(resume, ensure_ascii=False).encode()
    return raw
