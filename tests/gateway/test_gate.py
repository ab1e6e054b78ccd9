"""The gate in front of Prefect: login, sessions, refusals, and what it forwards (against a
stand-in Prefect server that checks the password the gate must add)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import COOKIE, Gate
from gateway.proxy import Upstream
from service import accounts, security, stamps
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.actor import Actor
from workflow.stamps import digest_of, verify
from workflow.timeutil import parse_instant
from workflow.vocab import Role

PASSWORD = "gate pass 123"
AUTH_STRING = "internal-secret"
T0 = parse_instant("2026-12-07T09:00")


ACTION_DEPLOYMENT = "11111111-1111-1111-1111-111111111111"
OTHER_DEPLOYMENT = "22222222-2222-2222-2222-222222222222"
IMPORT_DEPLOYMENT = "55555555-5555-5555-5555-555555555555"
CASE_RUN_UA = "33333333-3333-3333-3333-333333333333"
CASE_RUN_UB = "44444444-4444-4444-4444-444444444444"
# what the stand-in answers for GET /api/deployments/{id} and /api/flow_runs/{id}
OBJECTS = {
    f"/api/deployments/{ACTION_DEPLOYMENT}": {"tags": ["grievance", "action", "action:assign"]},
    f"/api/deployments/{OTHER_DEPLOYMENT}": {"tags": ["grievance", "digest"]},
    f"/api/deployments/{IMPORT_DEPLOYMENT}": {"tags": ["grievance", "import"]},
    f"/api/flow_runs/{CASE_RUN_UA}": {"tags": ["worklist", "waiting:UA", "unit:UA"]},
    f"/api/flow_runs/{CASE_RUN_UB}": {"tags": ["worklist", "waiting:UB", "unit:UB"]},
}


async def _prefect(request: Request) -> Response:
    """A stand-in for the Prefect server: its Basic password checked, the request echoed."""
    expected = "Basic " + base64.b64encode(AUTH_STRING.encode()).decode()
    if request.headers.get("authorization") != expected:
        return JSONResponse({"exception_message": "Unauthorized"}, status_code=401)
    if request.method == "GET" and request.url.path in OBJECTS:
        return JSONResponse(OBJECTS[request.url.path])
    if request.url.path == "/ui-settings":
        return JSONResponse({"api_url": "http://127.0.0.1:9/api", "auth": "BASIC", "flags": []})
    if not request.url.path.startswith("/api"):
        return HTMLResponse("<html>Prefect UI</html>")
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": body.decode(),
        }
    )


PREFECT = Starlette(routes=[Route("/{p:path}", _prefect, methods=["GET", "POST", "DELETE"])])


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    stamp = Stamp(actor=Actor("ops", Role.DISPATCHER), at=T0, recorded_at=T0)
    add_unit(engine, stamp, code="ROAD", name="道路运输管理处")
    add_unit(engine, stamp, code="UA", name="单位A")
    for name, role, unit in (
        ("zhang", "dispatcher", None),
        ("li", "handler", "ROAD"),
        ("root", "admin", None),
        ("ua", "handler", "UA"),
        ("ana", "analyst", None),
    ):
        accounts.add_user(engine, stamp, name=name, role=role, unit=unit, password=PASSWORD)
    made = Gate(
        engine,
        Upstream("http://prefect.internal", AUTH_STRING),
        b"k" * 32,
        clock=clock,
        transport=httpx.ASGITransport(app=PREFECT),
    )
    with TestClient(made.app(), base_url="http://127.0.0.1:4200") as client:
        yield client


def _login(client: TestClient, name: str = "zhang", password: str = PASSWORD) -> httpx.Response:
    return client.post(
        "/login",
        data={"username": name, "password": password, "next": "/runs"},
        follow_redirects=False,
    )


def test_without_a_session_the_api_is_401_and_pages_go_to_login(
    gate: TestClient, engine: Engine
) -> None:
    answer = gate.post("/api/flow_runs/filter", json={})
    assert answer.status_code == 401 and answer.json()["login"] == "/login"
    page = gate.get("/runs?x=1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/runs%3Fx%3D1"
    assert [e.kind for e in security.listing(engine)][0] == "refused"


def test_the_login_page_speaks_chinese_and_english(gate: TestClient) -> None:
    page = gate.get("/login").text
    for text in ("登录", "Sign in", "账号", "Login name", "密码", "Password"):
        assert text in page


def test_login_sets_a_signed_httponly_lax_cookie_and_the_api_answers(gate: TestClient) -> None:
    answer = _login(gate)
    assert answer.status_code == 303 and answer.headers["location"] == "/runs"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    echoed = gate.post(
        "/api/flow_runs/filter?limit=5",
        json={"a": 1},
        headers={"Authorization": "Basic forged", "Prefect-Automation-Id": "x"},
    ).json()
    assert echoed["path"] == "/api/flow_runs/filter" and echoed["query"] == "limit=5"
    assert json.loads(echoed["body"]) == {"a": 1}
    # the gate put in the server's password; the caller's credentials and cookie stay out
    assert echoed["headers"]["authorization"].startswith("Basic ")
    assert "cookie" not in echoed["headers"]
    assert "prefect-automation-id" not in echoed["headers"]
    assert gate.get("/gate/whoami").json() == {
        "name": "zhang",
        "display_name": "zhang",
        "role": "dispatcher",
        "unit": None,
    }
    assert gate.get("/").text == "<html>Prefect UI</html>"


def test_a_wrong_password_is_refused_and_five_in_a_minute_throttle(
    gate: TestClient, clock: Clock
) -> None:
    for _ in range(5):
        refused = _login(gate, password="wrong password")
        assert refused.status_code == 401 and "账号或密码错误" in refused.text
        assert COOKIE not in refused.headers.get("set-cookie", "")
    throttled = _login(gate)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "60"
    clock.at = T0 + timedelta(seconds=61)
    assert _login(gate).status_code == 303


def test_logout_ends_the_session(gate: TestClient) -> None:
    _login(gate)
    kept = dict(gate.cookies)
    assert gate.post("/logout", follow_redirects=False).status_code == 303
    assert gate.post("/api/flows/filter", json={}).status_code == 401
    gate.cookies.update(kept)  # the old cookie, replayed
    assert gate.post("/api/flows/filter", json={}).status_code == 401


def test_a_session_ends_after_8_hours_idle_and_when_the_account_is_disabled(
    gate: TestClient, clock: Clock, engine: Engine
) -> None:
    _login(gate)
    clock.at = T0 + timedelta(hours=7, minutes=59)
    assert gate.post("/api/flows/filter", json={}).status_code == 200
    clock.at += timedelta(hours=7, minutes=59)  # still within 8 h of the last request
    assert gate.post("/api/flows/filter", json={}).status_code == 200
    clock.at += timedelta(hours=8, minutes=1)
    assert gate.post("/api/flows/filter", json={}).status_code == 401
    _login(gate)
    stamp = Stamp(actor=Actor("ops", Role.DISPATCHER), at=clock.at, recorded_at=clock.at)
    accounts.set_disabled(engine, stamp, "zhang", True)
    assert gate.post("/api/flows/filter", json={}).status_code == 401


def test_a_forged_or_altered_cookie_is_no_session(gate: TestClient) -> None:
    _login(gate)
    value = gate.cookies[COOKIE]
    gate.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert gate.post("/api/flows/filter", json={}).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/api/deployments/filter", True),
        ("POST", "/api/deployments/abc/create_flow_run", True),
        ("POST", "/api/flow_runs/abc/resume", True),
        ("POST", "/api/deployments/", False),
        ("PATCH", "/api/deployments/abc", False),
        ("DELETE", "/api/flow_runs/abc", False),
        ("POST", "/api/flow_runs/abc/set_state", False),
        ("POST", "/api/variables/", False),
        ("POST", "/api/variables/filter", True),
        ("POST", "/api/block_documents/", False),
        ("POST", "/api/automations/", False),
        ("POST", "/api/work_pools/", False),
    ],
)
def test_only_admins_change_the_system(
    gate: TestClient, method: str, path: str, allowed: bool
) -> None:
    _login(gate)
    answer = gate.request(method, path, json={})
    assert (answer.status_code != 403) is allowed
    if not allowed:
        gate.post("/logout")
        _login(gate, "root")
        assert gate.request(method, path, json={}).status_code in (200, 405)


def test_templated_input_and_cross_site_requests_are_refused(gate: TestClient) -> None:
    _login(gate)
    templated = {"run_input": {"note": {"__prefect_kind": "jinja", "template": "{{ x }}"}}}
    assert gate.post("/api/flow_runs/abc/resume", json=templated).status_code == 400
    cross = gate.post("/api/flow_runs/filter", json={}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    same = gate.post("/api/flow_runs/filter", json={}, headers={"Origin": "http://127.0.0.1:4200"})
    assert same.status_code == 200


def test_ui_settings_point_at_the_gate_and_ask_no_password(gate: TestClient) -> None:
    _login(gate)
    settings = gate.get("/ui-settings").json()
    assert settings["auth"] is None and settings["api_url"] == "http://127.0.0.1:4200/api"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "\\\\evil"])
def test_after_login_only_paths_on_this_site(gate: TestClient, target: str) -> None:
    answer = gate.post(
        "/login",
        data={"username": "zhang", "password": PASSWORD, "next": target},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_the_health_probe_needs_no_session(gate: TestClient) -> None:
    assert gate.get("/gate/health").json() == {"gate": "ok"}


def _sent(answer: httpx.Response) -> dict[str, Any]:
    """What the stand-in Prefect server received, as JSON."""
    assert answer.status_code == 200, answer.text
    return dict(json.loads(answer.json()["body"]))


def test_an_action_run_is_stamped_with_who_signed_in(gate: TestClient) -> None:
    _login(gate)
    path = f"/api/deployments/{ACTION_DEPLOYMENT}/create_flow_run"
    form = {"params": {"number": "20261207-0001", "unit": "UA"}, "stamp": "forged"}
    sent = _sent(gate.post(path, json={"parameters": form, "name": "x"}))
    claim = verify(sent["parameters"]["stamp"], stamps.key())
    assert (claim.name, claim.role, claim.unit, claim.target) == (
        "zhang",
        "dispatcher",
        None,
        "action:assign",
    )
    assert claim.digest == digest_of({"params": form["params"]})  # the parameters as sent
    assert sent["name"] == "x" and sent["parameters"]["params"] == form["params"]
    # the desk has no unit of its own: the unit it assigns to (the grievance has no lead yet)
    assert sent["tags"] == ["grievance:20261207-0001", "unit:UA"]
    # other deployments' runs are forwarded as they are
    other = _sent(gate.post(f"/api/deployments/{OTHER_DEPLOYMENT}/create_flow_run", json={}))
    assert other == {}


def test_an_action_run_is_tagged_at_creation_and_reserved_tags_are_dropped(
    gate: TestClient,
) -> None:
    _login(gate, "ua")
    path = f"/api/deployments/{ACTION_DEPLOYMENT}/create_flow_run"
    given = ["mine", "unit:UB", "waiting:UB", "worklist", "grievance:X", "action:close", "action"]
    form = {"params": {"number": "20261207-0001"}}
    sent = _sent(gate.post(path, json={"parameters": form, "tags": given}))
    assert sent["tags"] == ["mine", "grievance:20261207-0001", "unit:UA"]
    odd = {"params": {"number": "no such number!"}}
    assert _sent(gate.post(path, json={"parameters": odd}))["tags"] == ["unit:UA"]
    assert _sent(gate.post(path, json={"parameters": {}, "tags": "unit:UB"}))["tags"] == ["unit:UA"]


def test_a_desk_action_run_is_tagged_with_the_lead_unit_and_the_unit_it_names(
    gate: TestClient, engine: Engine
) -> None:
    """So the units' staff see its events from the first (the run adds them only as it runs);
    unit staff's runs get their own unit only: the tag tells nobody another unit's case."""
    from service import cases
    from tests.conftest import accept_command

    desk = Stamp(actor=Actor("zhang", Role.DISPATCHER), at=T0, recorded_at=T0)
    number = cases.accept(engine, accept_command(ref="TAG-1"), desk).number
    cases.assign(engine, number, desk, unit="ROAD")
    path = f"/api/deployments/{ACTION_DEPLOYMENT}/create_flow_run"
    _login(gate)
    moved = _sent(
        gate.post(path, json={"parameters": {"params": {"number": number, "unit": "UA"}}})
    )
    assert moved["tags"] == [f"grievance:{number}", "unit:ROAD", "unit:UA"]
    noted = _sent(gate.post(path, json={"parameters": {"params": {"number": number}}}))
    assert noted["tags"] == [f"grievance:{number}", "unit:ROAD"]
    odd = {"params": {"number": number, "unit": "no such code!"}}
    assert _sent(gate.post(path, json={"parameters": odd}))["tags"] == [
        f"grievance:{number}",
        "unit:ROAD",
    ]
    gate.post("/logout")
    _login(gate, "ua")  # another unit's handler, on ROAD's grievance: their own unit only
    tried = _sent(gate.post(path, json={"parameters": {"params": {"number": number}}}))
    assert tried["tags"] == [f"grievance:{number}", "unit:UA"]


def test_the_bulk_import_is_the_desk_s_and_acts_as_the_signed_in_dispatcher(
    gate: TestClient,
) -> None:
    path = f"/api/deployments/{IMPORT_DEPLOYMENT}/create_flow_run"
    form = {"path": "/data/12328-13812345678.csv", "actor": "someone else", "stamp": "forged"}
    for name in ("ua", "ana", "root"):  # a unit's handler, an analyst, an admin
        _login(gate, name)
        refused = gate.post(path, json={"parameters": dict(form)})
        assert refused.status_code == 403, (name, refused.text)
        gate.post("/logout")
    _login(gate, "zhang")
    sent = _sent(gate.post(path, json={"parameters": dict(form), "tags": ["worklist"]}))
    parameters = sent["parameters"]
    assert parameters["path"] == form["path"]  # a path is not personal data: as typed
    assert parameters["actor"] == "zhang" and sent["tags"] == []
    claim = verify(parameters["stamp"], stamps.key())
    assert (claim.name, claim.role, claim.target) == ("zhang", "dispatcher", "import")
    assert claim.digest == digest_of(parameters)


def test_accounts_that_do_not_act_cannot_start_actions(gate: TestClient) -> None:
    _login(gate, "ana")
    path = f"/api/deployments/{ACTION_DEPLOYMENT}/create_flow_run"
    answer = gate.post(path, json={"parameters": {"params": {}}})
    assert answer.status_code == 403 and "does not act" in answer.json()["detail"]


def test_a_case_run_input_is_stamped_and_only_its_unit_may_resume_it(gate: TestClient) -> None:
    _login(gate, "ua")
    resume = {"run_input": {"action": "签收 sign", "stamp": "forged"}}
    sent = _sent(gate.post(f"/api/flow_runs/{CASE_RUN_UA}/resume", json=resume))
    claim = verify(sent["run_input"]["stamp"], stamps.key())
    assert (claim.name, claim.target) == ("ua", f"flow_run:{CASE_RUN_UA}")
    refused = gate.post(f"/api/flow_runs/{CASE_RUN_UB}/resume", json=resume)
    assert refused.status_code == 403 and "does not wait for unit UA" in refused.json()["detail"]


def test_unit_staff_see_their_unit_s_runs_only(gate: TestClient) -> None:
    _login(gate, "ua")
    listed = _sent(
        gate.post(
            "/api/flow_runs/paginate",
            json={"flow_runs": {"tags": {"all_": ["worklist"]}}, "limit": 10},
        )
    )
    assert listed["flow_runs"]["tags"]["all_"] == ["worklist", "unit:UA"]
    assert _sent(gate.post("/api/flow_runs/count", json={}))["flow_runs"] == {
        "tags": {"all_": ["unit:UA"]}
    }
    assert gate.get(f"/api/flow_runs/{CASE_RUN_UA}").status_code == 200
    for path in (f"/api/flow_runs/{CASE_RUN_UB}", f"/api/flow_runs/{CASE_RUN_UB}/graph-v2"):
        assert gate.get(path).status_code == 404
    gate.post("/logout")
    _login(gate)  # the desk sees every unit's
    assert _sent(gate.post("/api/flow_runs/count", json={})) == {}
    assert gate.get(f"/api/flow_runs/{CASE_RUN_UB}").status_code == 200


def test_personal_numbers_in_a_form_reach_prefect_as_references(
    gate: TestClient, engine: Engine
) -> None:
    from service import personal_refs

    _login(gate)
    path = f"/api/deployments/{ACTION_DEPLOYMENT}/create_flow_run"
    form = {"params": {"phone": "13812345678", "note": "司机电话13912345678，车牌川B12345"}}
    sent = _sent(gate.post(path, json={"parameters": form}))
    text = json.dumps(sent, ensure_ascii=False)
    assert "13812345678" not in text and "13912345678" not in text and "川B12345" not in text
    params = {k: v for k, v in sent["parameters"].items() if k != "stamp"}
    claim = verify(sent["parameters"]["stamp"], stamps.key())
    assert claim.digest == digest_of(params)  # the stamp binds what Prefect stores
    assert personal_refs.resolve(engine, params) == form
    gate.post("/logout")
    _login(gate, "ua")
    resume = {"run_input": {"action": "回访 revisit", "note": "回电13812345678"}}
    resumed = _sent(gate.post(f"/api/flow_runs/{CASE_RUN_UA}/resume", json=resume))
    assert "13812345678" not in json.dumps(resumed) and "stamp" in resumed["run_input"]


def test_the_reveal_page_shows_a_number_to_the_desk_only_and_logs_it(
    gate: TestClient, engine: Engine
) -> None:
    from service import cases
    from tests.conftest import accept_command

    desk = Stamp(actor=Actor("zhang", Role.DISPATCHER), at=T0, recorded_at=T0)
    number = cases.accept(engine, accept_command(ref="RV-1"), desk).number
    assert gate.get("/gate/reveal", follow_redirects=False).status_code == 303  # no session
    _login(gate)
    assert "查看联系电话" in gate.get(f"/gate/reveal?number={number}").text
    shown = gate.post("/gate/reveal", data={"number": number, "why": "回访司机"})
    assert shown.status_code == 200 and "13812345678" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    for name in ("ana", "li"):
        gate.post("/logout")
        _login(gate, name)
        refused = gate.post("/gate/reveal", data={"number": number, "why": "看看"})
        assert refused.status_code == 403 and "13812345678" not in refused.text
    reveals = [e for e in security.listing(engine) if e.kind == "reveal"]
    assert [(e.account, e.detail["why"]) for e in reveals] == [("zhang", "回访司机")]


def test_unit_staff_see_artifacts_task_runs_and_logs_of_their_unit_s_runs_only(
    gate: TestClient,
) -> None:
    _login(gate, "ua")
    for path in ("/api/artifacts/filter", "/api/artifacts/latest/count", "/api/task_runs/count"):
        sent = _sent(gate.post(path, json={"artifacts": {"key": {"like_": "grievance"}}}))
        assert sent["flow_runs"] == {"tags": {"all_": ["unit:UA"]}}, path
    logs = {"logs": {"flow_run_id": {"any_": [CASE_RUN_UA]}}}
    assert _sent(gate.post("/api/logs/filter", json=logs)) == logs
    other = {"logs": {"flow_run_id": {"any_": [CASE_RUN_UA, CASE_RUN_UB]}}}
    assert gate.post("/api/logs/filter", json=other).status_code == 404
    assert gate.post("/api/logs/filter", json={"limit": 10}).status_code == 403


def test_a_polling_tab_without_a_session_is_logged_once_a_minute(
    gate: TestClient, engine: Engine, clock: Clock
) -> None:
    for _ in range(5):
        assert gate.post("/api/flow_runs/filter", json={}).status_code == 401
    clock.at = T0 + timedelta(seconds=61)
    assert gate.post("/api/flow_runs/filter", json={}).status_code == 401
    refused = [e for e in security.listing(engine) if e.kind == "refused"]
    assert len(refused) == 2
