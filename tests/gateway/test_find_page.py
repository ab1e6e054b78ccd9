"""The gate's search page `/gate/find`: signed-in staff only, masked results linking to the
case run, unit staff their unit's grievances only, the value never echoed or put in a URL."""

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
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from tests.conftest import accept_command
from workflow.actor import Actor
from workflow.timeutil import parse_instant
from workflow.vocab import Role

PASSWORD = "gate pass 123"
AUTH = "internal-secret"
T0 = parse_instant("2026-12-07T09:00")
CASE_RUN = "33333333-3333-3333-3333-333333333333"
ACTION_RUN = "55555555-5555-5555-5555-555555555555"
OLD_RUN = "66666666-6666-6666-6666-666666666666"
NEW_RUN = "77777777-7777-7777-7777-777777777777"
ORIGIN = {"origin": "http://127.0.0.1:4200"}


class Prefect:
    """A stand-in Prefect server: the runs of grievance N1 (its case run and a newer action
    run) and of N2 (two action runs), filtered by tags as Prefect does; it records the run
    filters it was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        self.down = False

    async def endpoint(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(AUTH.encode()).decode()
        if request.headers.get("authorization") != expected or self.down:
            return JSONResponse({"detail": "no"}, status_code=401 if not self.down else 503)
        asked = json.loads(await request.body())
        self.asked.append(asked)
        tags = asked["flow_runs"]["tags"]
        runs = [
            {"id": ACTION_RUN, "created": "2026-12-07T01:00:00Z", "tags": ["grievance:N1"]},
            {
                "id": CASE_RUN,
                "created": "2026-12-07T00:30:00Z",
                "tags": ["grievance:N1", "worklist", "unit:ROAD"],
            },
            {"id": OLD_RUN, "created": "2026-12-06T01:00:00Z", "tags": ["grievance:N2"]},
            {"id": NEW_RUN, "created": "2026-12-07T02:00:00Z", "tags": ["grievance:N2"]},
        ]
        return JSONResponse(
            [
                run
                for run in runs
                if set(tags.get("all_") or []) <= set(run["tags"])
                and set(tags.get("any_") or []) & set(run["tags"])
            ]
        )


@pytest.fixture
def prefect() -> Prefect:
    return Prefect()


@pytest.fixture
def numbers(engine: Engine) -> tuple[str, str, str]:
    desk = Stamp(actor=Actor("ops", Role.DISPATCHER), at=T0, recorded_at=T0)
    add_unit(engine, desk, code="ROAD", name="道路运输管理处")
    add_unit(engine, desk, code="LAW", name="执法支队")
    for name, role, unit in (("zhang", "dispatcher", None), ("li", "handler", "ROAD")):
        accounts.add_user(engine, desk, name=name, role=role, unit=unit, password=PASSWORD)
    accounts.add_user(engine, desk, name="ana", role="analyst", unit=None, password=PASSWORD)
    a = uc.accept(engine, accept_command(ref="F-1"), desk).number
    b = uc.accept(engine, accept_command(ref="F-2"), desk).number
    c = uc.accept(engine, accept_command(ref="F-3", phone="13900001111"), desk).number
    uc.assign(engine, a, desk, unit="ROAD")
    uc.assign(engine, b, desk, unit="LAW")
    return a, b, c


@pytest.fixture
def gate(engine: Engine, prefect: Prefect, numbers: tuple[str, str, str]) -> Iterator[TestClient]:
    app = Starlette(routes=[Route("/{p:path}", prefect.endpoint, methods=["GET", "POST"])])
    made = Gate(
        engine,
        Upstream("http://prefect.internal", AUTH),
        b"k" * 32,
        clock=lambda: T0,
        transport=httpx.ASGITransport(app=app),
    )
    with TestClient(made.app(), base_url="http://127.0.0.1:4200") as client:
        yield client


def _login(client: TestClient, name: str) -> None:
    answer = client.post(
        "/login", data={"username": name, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303


def _find(client: TestClient, key: str, value: str) -> httpx.Response:
    return client.post("/gate/find", data={"key": key, "value": value}, headers=ORIGIN)


def test_signed_in_staff_only(gate: TestClient) -> None:
    page = gate.get("/gate/find", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/gate/find"
    posted = gate.post(
        "/gate/find", data={"key": "phone", "value": "13812345678"}, follow_redirects=False
    )
    assert posted.status_code == 303
    _login(gate, "ana")  # an analyst does not act on grievances
    refused = _find(gate, "phone", "13812345678")
    assert refused.status_code == 403 and "F-1" not in refused.text
    gate.post("/logout", headers=ORIGIN)
    _login(gate, "zhang")
    assert "查找工单" in gate.get("/gate/find").text
    cross = gate.post(
        "/gate/find",
        data={"key": "phone", "value": "13812345678"},
        headers={"origin": "http://evil.example"},
    )
    assert cross.status_code == 403


def test_the_desk_finds_by_phone_masked_with_links_to_the_case_run(
    gate: TestClient, prefect: Prefect, numbers: tuple[str, str, str]
) -> None:
    a, b, c = numbers
    _login(gate, "zhang")
    found = _find(gate, "phone", "138-1234-5678")
    assert found.status_code == 200 and found.headers["cache-control"] == "no-store"
    page = found.text
    assert a in page and b in page and c not in page and "找到 2 件" in page
    assert "13812345678" not in page and "138****5678" in page and "川B12345" not in page
    assert prefect.asked[-1]["flow_runs"]["tags"]["any_"] == [f"grievance:{a}", f"grievance:{b}"]
    nothing = _find(gate, "plate", "京A00000")
    assert "未找到" in nothing.text
    bad = _find(gate, "phone", "12345")
    assert bad.status_code == 400 and "not a valid phone number" in bad.text


def test_links_prefer_the_case_run_and_survive_prefect_being_down(
    gate: TestClient, prefect: Prefect, engine: Engine
) -> None:
    desk = Stamp(actor=Actor("ops", Role.DISPATCHER), at=T0, recorded_at=T0)
    uc.accept(engine, accept_command(ref="N1-ref", phone="13700000000"), desk)
    _login(gate, "zhang")
    # the stand-in's runs are tagged grievance:N1; find by a reference whose number is not N1
    assert "/runs/flow-run/" not in _find(gate, "ref", "N1-ref").text
    from gateway import search

    links = search.find_page(
        rows=[
            {
                "number": "N1",
                "state": "s",
                "channel": "c",
                "category": "k",
                "complainant": "王*",
                "lead_unit": "-",
                "accepted_at": "t",
            }
        ],
        links={"N1": f"/runs/flow-run/{CASE_RUN}"},
    )
    assert f'<a href="/runs/flow-run/{CASE_RUN}">N1</a>' in links
    prefect.down = True
    found = _find(gate, "ref", "F-1")
    assert (
        found.status_code == 200
        and "未附链接" in found.text
        and "/runs/flow-run/" not in found.text
    )


@pytest.mark.anyio
async def test_run_links_choose_the_worklist_run_over_a_newer_action_run(prefect: Prefect) -> None:
    from gateway import search

    app = Starlette(routes=[Route("/{p:path}", prefect.endpoint, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        links = await search.run_links(client, Upstream("http://p", AUTH), ["N1", "N2"])
    # N1: its case run, though an action run is newer; N2 (no case run): its newest run
    assert links == {"N1": f"/runs/flow-run/{CASE_RUN}", "N2": f"/runs/flow-run/{NEW_RUN}"}
    # one question for the case runs of all, one for the runs of those without
    assert [a["flow_runs"]["tags"] for a in prefect.asked] == [
        {"all_": ["worklist"], "any_": ["grievance:N1", "grievance:N2"]},
        {"any_": ["grievance:N2"]},
    ]
    prefect.asked.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        assert await search.run_links(client, Upstream("http://p", AUTH), ["N3"]) == {}


def test_unit_staff_find_their_units_grievances_only(
    gate: TestClient, numbers: tuple[str, str, str]
) -> None:
    a, b, _ = numbers
    _login(gate, "li")
    page = _find(gate, "phone", "13812345678").text
    assert a in page and b not in page and "找到 1 件" in page
    assert "未找到" in _find(gate, "number", b).text
