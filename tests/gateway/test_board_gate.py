"""The SLA board through the gate: a unit's staff read their own unit's board (by key, its
versions by key, one version by id) and not another unit's nor the desk's; the desk reads
every board; nobody at a unit changes one. Against a stand-in Prefect server that holds the
boards as the watchdog run (no unit tag) published them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import Gate
from gateway.proxy import Upstream
from service import accounts
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.actor import Actor
from workflow.artifact_keys import WORKLIST_DESK, worklist_key
from workflow.sla_board import DESK, board_key
from workflow.timeutil import parse_instant
from workflow.vocab import Role

PASSWORD = "gate pass 123"
AUTH_STRING = "internal-secret"
T0 = parse_instant("2026-12-07T09:00")
WATCHDOG_RUN = "55555555-5555-5555-5555-555555555555"
CASE_RUN_UA = "33333333-3333-3333-3333-333333333333"
CASE_RUN_UB = "44444444-4444-4444-4444-444444444444"
RUNS = {WATCHDOG_RUN: [], CASE_RUN_UA: ["unit:UA"], CASE_RUN_UB: ["unit:UB"]}
TASK_OF_UA, TASK_OF_WATCHDOG, TASK_OF_NO_RUN = (
    f"77777777-0000-0000-0000-{n:012d}" for n in (1, 2, 3)
)
TASK_RUNS = {TASK_OF_UA: CASE_RUN_UA, TASK_OF_WATCHDOG: WATCHDOG_RUN, TASK_OF_NO_RUN: None}


def _artifact(n: int, key: str | None, run: str | None) -> dict[str, Any]:
    return {"id": f"aaaaaaaa-0000-0000-0000-{n:012d}", "key": key, "flow_run_id": run}


ARTIFACTS = [
    _artifact(1, board_key(DESK), WATCHDOG_RUN),
    _artifact(2, board_key("UA"), WATCHDOG_RUN),
    _artifact(3, board_key("UB"), WATCHDOG_RUN),
    _artifact(4, None, CASE_RUN_UA),  # an action's result, of a run of UA
    _artifact(5, None, CASE_RUN_UB),
    _artifact(6, "orphan", None),  # of no run at all
    _artifact(7, worklist_key("UA"), WATCHDOG_RUN),
    _artifact(8, worklist_key("UB"), WATCHDOG_RUN),
    _artifact(9, worklist_key(WORKLIST_DESK), WATCHDOG_RUN),
]
DESK_BOARD, UA_BOARD, UB_BOARD, UA_RESULT, UB_RESULT, ORPHAN = (a["id"] for a in ARTIFACTS[:6])
UA_LIST, UB_LIST, DESK_LIST = (a["id"] for a in ARTIFACTS[6:])


async def _prefect(request: Request) -> Response:
    """A stand-in Prefect server: runs and artifacts by id or key; lists echoed."""
    expected = "Basic " + base64.b64encode(AUTH_STRING.encode()).decode()
    if request.headers.get("authorization") != expected:
        return JSONResponse({"exception_message": "Unauthorized"}, status_code=401)
    path = request.url.path
    if request.method == "GET" and path.startswith("/api/flow_runs/"):
        run = path.removeprefix("/api/flow_runs/")
        if run in RUNS:
            return JSONResponse({"id": run, "tags": RUNS[run]})
        return JSONResponse({"detail": "Flow run not found"}, status_code=404)
    if request.method == "GET" and path.startswith("/api/task_runs/"):
        task = path.removeprefix("/api/task_runs/")
        if task in TASK_RUNS:
            return JSONResponse({"id": task, "flow_run_id": TASK_RUNS[task]})
        return JSONResponse({"detail": "Task run not found"}, status_code=404)
    if request.method == "GET" and path.startswith("/api/artifacts/"):
        wanted = path.removeprefix("/api/artifacts/")
        for artifact in ARTIFACTS:
            if wanted in (artifact["id"], f"{artifact['key']}/latest"):
                return JSONResponse(artifact)
        return JSONResponse({"detail": "Artifact not found"}, status_code=404)
    body = await request.body()
    asked = json.loads(body or b"{}")
    if path == "/api/artifacts/filter" and asked.get("sort") == "CREATED_DESC":  # the gate's own
        keys = asked["artifacts"]["key"]["any_"]
        return JSONResponse([a for a in ARTIFACTS if a["key"] in keys][: asked["limit"]])
    return JSONResponse({"method": request.method, "path": path, "body": body.decode()})


PREFECT = Starlette(routes=[Route("/{p:path}", _prefect, methods=["GET", "POST", "DELETE"])])


@pytest.fixture
def gate(engine: Engine) -> Iterator[TestClient]:
    stamp = Stamp(actor=Actor("ops", Role.DISPATCHER), at=T0, recorded_at=T0)
    for code in ("UA", "UB"):
        add_unit(engine, stamp, code=code, name=f"单位{code}")
    for name, role, unit in (
        ("zhang", "dispatcher", None),
        ("ua", "handler", "UA"),
        ("uasup", "supervisor", "UA"),
        ("ana", "analyst", None),
    ):
        accounts.add_user(engine, stamp, name=name, role=role, unit=unit, password=PASSWORD)
    made = Gate(
        engine,
        Upstream("http://prefect.internal", AUTH_STRING),
        b"k" * 32,
        transport=httpx.ASGITransport(app=PREFECT),
    )
    with TestClient(made.app(), base_url="http://127.0.0.1:4200") as client:
        yield client


def _login(client: TestClient, name: str) -> None:
    answer = client.post(
        "/login", data={"username": name, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def _sent(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return dict(json.loads(answer.json()["body"]))


@pytest.mark.parametrize("name", ["ua", "uasup"])
def test_unit_staff_read_their_own_board_and_no_other(gate: TestClient, name: str) -> None:
    _login(gate, name)
    assert gate.get("/api/artifacts/sla-board-ua/latest").json()["id"] == UA_BOARD
    assert gate.get(f"/api/artifacts/{UA_BOARD}").json()["key"] == "sla-board-ua"
    for other in ("sla-board-ub", "sla-board"):
        assert gate.get(f"/api/artifacts/{other}/latest").status_code == 404, other
    for other in (UB_BOARD, DESK_BOARD, UB_RESULT, ORPHAN):
        assert gate.get(f"/api/artifacts/{other}").status_code == 404, other
    assert gate.get(f"/api/artifacts/{UA_RESULT}").status_code == 200  # a run of UA's
    assert gate.delete(f"/api/artifacts/{UA_BOARD}").status_code == 403


def test_a_unit_lists_its_board_s_versions_by_key_and_nothing_more(gate: TestClient) -> None:
    _login(gate, "ua")
    for path in ("/api/artifacts/filter", "/api/artifacts/count", "/api/artifacts/latest/filter"):
        own = {"artifacts": {"key": {"any_": ["sla-board-ua"]}}, "limit": 5}
        assert _sent(gate.post(path, json=own)) == {
            "artifacts": {"key": {"any_": ["sla-board-ua"]}, "operator": "and_"},
            "limit": 5,
        }, path
        # an `or_` cannot widen it; a like_ beside any_ is dropped
        widened = {
            "artifacts": {
                "operator": "or_",
                "key": {"any_": ["sla-board-ua"], "like_": "sla-board%"},
                "type": {"any_": ["markdown"]},
            }
        }
        sent = _sent(gate.post(path, json=widened))
        assert sent["artifacts"]["operator"] == "and_"
        assert sent["artifacts"]["key"] == {"any_": ["sla-board-ua"]}
        # asking for another unit's board too: the list of UA's runs only (no board)
        for keys in (["sla-board-ua", "sla-board-ub"], ["sla-board"], []):
            mixed = {"artifacts": {"key": {"any_": keys}}}
            narrowed = _sent(gate.post(path, json=mixed))
            assert narrowed["flow_runs"] == {"tags": {"all_": ["unit:UA"]}}, (path, keys)
        like = {"artifacts": {"key": {"like_": "sla-board%"}}}
        assert _sent(gate.post(path, json=like))["flow_runs"] == {"tags": {"all_": ["unit:UA"]}}


@pytest.mark.parametrize("name", ["zhang", "ana"])
def test_the_desk_and_the_bureau_read_every_board(gate: TestClient, name: str) -> None:
    _login(gate, name)
    for key in ("sla-board", "sla-board-ua", "sla-board-ub"):
        assert gate.get(f"/api/artifacts/{key}/latest").json()["key"] == key
    assert gate.get(f"/api/artifacts/{UB_BOARD}").status_code == 200
    listed = {"artifacts": {"key": {"like_": "sla-board%"}}}
    assert _sent(gate.post("/api/artifacts/latest/filter", json=listed)) == listed


def test_unit_staff_read_their_own_worklist_table_and_no_other(gate: TestClient) -> None:
    _login(gate, "ua")
    assert gate.get("/api/artifacts/worklist-ua/latest").json()["id"] == UA_LIST
    assert gate.get(f"/api/artifacts/{UA_LIST}").status_code == 200
    for other in ("worklist-ub", "worklist-desk"):
        assert gate.get(f"/api/artifacts/{other}/latest").status_code == 404, other
    for other in (UB_LIST, DESK_LIST):
        assert gate.get(f"/api/artifacts/{other}").status_code == 404, other
    own = {"artifacts": {"key": {"any_": ["worklist-ua", "sla-board-ua"]}}}
    assert _sent(gate.post("/api/artifacts/filter", json=own))["artifacts"]["operator"] == "and_"


@pytest.mark.parametrize(
    ("name", "path", "where"),
    [
        ("ua", "/gate/board", f"/artifacts/artifact/{UA_BOARD}"),
        ("uasup", "/gate/worklist", f"/artifacts/artifact/{UA_LIST}"),
        ("ua", "/gate/worklist?unit=UA", f"/artifacts/artifact/{UA_LIST}"),
        ("zhang", "/gate/board", f"/artifacts/artifact/{DESK_BOARD}"),
        ("zhang", "/gate/worklist", f"/artifacts/artifact/{DESK_LIST}"),
        ("ana", "/gate/worklist?unit=UB", f"/artifacts/artifact/{UB_LIST}"),
        ("zhang", "/gate/board?unit=UB", f"/artifacts/artifact/{UB_BOARD}"),
        # no version yet: the key's page
        ("zhang", "/gate/board?unit=UC", "/artifacts/key/sla-board-uc"),
    ],
)
def test_the_short_addresses_lead_to_the_person_s_own_table(
    gate: TestClient, name: str, path: str, where: str
) -> None:
    _login(gate, name)
    answer = gate.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == where


def test_the_short_addresses_refuse_another_unit_bad_codes_and_no_session(
    gate: TestClient,
) -> None:
    answer = gate.get("/gate/board?unit=UA", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/gate/board%3Funit%3DUA"
    _login(gate, "ua")
    other = gate.get("/gate/worklist?unit=UB", follow_redirects=False)
    assert other.status_code == 403 and "UA" in other.json()["detail"]
    bad = gate.get("/gate/board?unit=%3Cscript%3E", follow_redirects=False)
    assert bad.status_code == 400


def _token(filter_: dict[str, Any]) -> str:
    """A page token as Prefect makes it: base64 of base64 of JSON with the filter."""
    inner = base64.b64encode(
        json.dumps({"filter": filter_, "count": 9, "page_size": 1, "offset": 1}).encode()
    )
    return base64.b64encode(inner).decode()


UA_EVENTS = {
    "resources_in_roles": [["prefect.tag.unit:UA", "tag"], ["prefect.tag.waiting:UA", "tag"]]
}


def test_unit_staff_events_are_narrowed_to_their_unit_s_run_tags(gate: TestClient) -> None:
    _login(gate, "ua")
    for path in ("/api/events/filter", "/api/events/count-by/event"):
        assert _sent(gate.post(path, json={"limit": 5}))["filter"] == {"related": [UA_EVENTS]}
        one = {"filter": {"related": {"role": ["tag"]}, "event": {"prefix": ["prefect"]}}}
        assert _sent(gate.post(path, json=one))["filter"] == {
            "related": [{"role": ["tag"]}, UA_EVENTS],
            "event": {"prefix": ["prefect"]},
        }
        listed = {"filter": {"related": [{"id": ["x"]}, {"role": ["tag"]}]}}
        assert _sent(gate.post(path, json=listed))["filter"]["related"][-1] == UA_EVENTS
        assert gate.post(path, content=b"[1]").status_code == 400
        assert gate.post(path, json={"filter": "all"}).status_code == 400
    own = _token({"related": [UA_EVENTS], "occurred": {}})
    assert gate.get(f"/api/events/filter/next?page-token={own}").status_code == 200
    ub = {"resources_in_roles": [["prefect.tag.unit:UB", "tag"], ["prefect.tag.waiting:UB", "tag"]]}
    for token in (_token({"related": [ub]}), _token({}), "garbage!", ""):
        answer = gate.get(f"/api/events/filter/next?page-token={token}")
        assert answer.status_code == 403, token
    assert gate.get("/api/events/filter/next").status_code == 403


def test_the_bureau_s_events_are_not_narrowed(gate: TestClient) -> None:
    _login(gate, "zhang")
    assert _sent(gate.post("/api/events/filter", json={"limit": 5})) == {"limit": 5}
    other = _token({})
    assert gate.get(f"/api/events/filter/next?page-token={other}").status_code == 200


def test_one_task_run_is_read_only_by_the_unit_of_its_run(gate: TestClient) -> None:
    _login(gate, "ua")
    assert gate.get(f"/api/task_runs/{TASK_OF_UA}").status_code == 200
    for other in (TASK_OF_WATCHDOG, TASK_OF_NO_RUN):
        assert gate.get(f"/api/task_runs/{other}").status_code == 404, other
    unknown = gate.get("/api/task_runs/77777777-0000-0000-0000-000000000009")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Task run not found"
    gate.post("/logout")
    _login(gate, "zhang")
    assert gate.get(f"/api/task_runs/{TASK_OF_WATCHDOG}").status_code == 200
