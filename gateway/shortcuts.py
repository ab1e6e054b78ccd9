"""Short addresses on the gate for a person's own tables in the Prefect UI, to bookmark and to
link from the gate's pages: `/gate/board` (the SLA board, `workflow.sla_board`) and
`/gate/worklist` (the worklist table, `flows.worklist`). Each answers a redirect to the UI's
page of the latest version of the artifact key that is the person's (where the table or the
board is drawn; the UI's page of the key lists the versions only), or to the key's page when
there is none yet: their unit's for unit staff (the gate lets them read those keys,
`gateway.narrowing.own_keys`), the desk's for the bureau's roles, who may also ask for one
unit's with `?unit=CODE`."""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.narrowing import unit_of
from gateway.proxy import Upstream
from workflow.accounts import Identity
from workflow.artifact_keys import WORKLIST_DESK, worklist_key
from workflow.sla_board import DESK, board_key
from workflow.validation import UNIT_CODE_PATTERN


class Gate(Protocol):
    upstream: Upstream
    client: httpx.AsyncClient

    async def identity(self, request: Request) -> Identity | None: ...

    async def refuse(self, request: Request, who: str | None, why: str) -> None: ...


_UNIT = re.compile(UNIT_CODE_PATTERN)
_ID = re.compile(r"[0-9a-fA-F-]{36}")


async def _redirect(gate: Gate, request: Request, what: str) -> Response:
    identity = await gate.identity(request)
    if identity is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    asked = request.query_params.get("unit")
    own = unit_of(identity)
    if asked is not None and not _UNIT.fullmatch(asked):
        return JSONResponse({"detail": f"not a unit code: {asked!r}"}, status_code=400)
    if own is not None and asked not in (None, own):
        await gate.refuse(request, identity.name, f"another unit's {what}")
        return JSONResponse(
            {"detail": f"unit {own} staff see their own unit's {what} 仅可查看本单位"},
            status_code=403,
        )
    unit = own or asked
    if what == "board":
        key = board_key(unit if unit is not None else DESK)
    else:
        key = worklist_key(unit if unit is not None else WORKLIST_DESK)
    latest = await _latest_version(gate, key)
    where = f"/artifacts/artifact/{latest}" if latest else f"/artifacts/key/{key}"
    return RedirectResponse(where, status_code=303)


async def _latest_version(gate: Gate, key: str) -> str | None:
    """The id of the key's newest version (None: none yet, or the server did not answer)."""
    wanted = {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}
    try:
        answer = await gate.client.post(
            f"{gate.upstream.url}/api/artifacts/filter",
            json=wanted,
            headers=gate.upstream.headers(),
        )
    except httpx.HTTPError:
        return None
    found = answer.json() if answer.is_success else None
    if not isinstance(found, list) or not found or not isinstance(found[0], dict):
        return None
    latest = found[0].get("id")
    return str(latest) if _ID.fullmatch(str(latest)) else None


async def board(gate: Gate, request: Request) -> Response:
    """时限看板 The SLA board of the signed-in person's unit (or the desk's)."""
    return await _redirect(gate, request, "board")


async def worklist(gate: Gate, request: Request) -> Response:
    """待办清单 The worklist table of the signed-in person's unit (or the desk's)."""
    return await _redirect(gate, request, "worklist")
