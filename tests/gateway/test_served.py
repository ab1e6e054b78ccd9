"""End to end: a real `grievance serve` (the gate, the Prefect server behind it, the served
deployments) with accounts made by the command line, used over HTTP and from a real headless
Chromium: only signed-in people get through, an action acts as the account that started it,
and another unit's handler does not see it."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.gateway.served import (
    PASSWORDS,
    Served,
    browser,
    listening_ports,
    process_tree,
    start,
    stop,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

ACCEPT = {
    "channel": "hotline_12328",
    "type": "complaint",
    "category": "freight_unpaid",
    "name": "王建国",
    "phone": "13755556666",  # not the forms' examples (their schemas are in Prefect)
    "description": "货主拖欠运费3500元，回电13922223333",
    "plate": "川A77777",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # the watchdog suspends the case runs every 10 s (the browser test waits for one)
    running = start(tmp_path_factory.mktemp("served"), {"GRIEVANCE_WATCHDOG_INTERVAL": "10"})
    try:
        yield running
    finally:
        stop(running)


def _deployment(client: httpx.Client, flow: str, name: str) -> str:
    answer = client.get(f"/api/deployments/name/{quote(flow)}/{name}")
    assert answer.status_code == 200, answer.text[:300]
    return str(answer.json()["id"])


def _finished(client: httpx.Client, run_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/flow_runs/{run_id}").json()
        if run["state"] and run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED"):
            return dict(run)
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def _accept(client: httpx.Client, ref: str, **extra: Any) -> httpx.Response:
    deployment = _deployment(client, "受理 accept", "accept")
    params = {**ACCEPT, "ref": ref, **extra}
    return client.post(
        f"/api/deployments/{deployment}/create_flow_run", json={"parameters": {"params": params}}
    )


def _grievances(served: Served) -> list[dict[str, Any]]:
    done = served.cli("list", "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_every_port_of_the_serve_process_tree_refuses_unauthenticated_requests(
    served: Served,
) -> None:
    ports = listening_ports(process_tree(served.process.pid))
    gate = int(served.url.rsplit(":", 1)[1])
    assert gate in ports and len(ports) >= 2, ports  # the gate and the Prefect server behind it
    answered = set()
    for port in sorted(ports):
        base = f"http://127.0.0.1:{port}"
        for method, path in (
            ("POST", "/api/flow_runs/filter"),
            ("POST", "/api/deployments/filter"),
            ("GET", "/api/flow_runs/00000000-0000-0000-0000-000000000000"),
        ):
            try:
                answer = httpx.request(method, base + path, json={}, timeout=10)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # Prefect's runner control channel (a token per run, not HTTP): it hangs up
                # (closes or resets the connection) on anything but its own handshake
                continue
            assert answer.status_code == 401, (port, path, answer.status_code)
            answered.add(port)
        try:
            forged = httpx.post(
                f"{base}/api/flow_runs/filter", json={}, auth=("admin", "guess"), timeout=10
            )
            assert forged.status_code == 401
        except (httpx.RemoteProtocolError, httpx.ReadError):
            pass
    assert gate in answered and len(answered) >= 2  # the gate and the Prefect server: 401


def test_an_action_acts_as_the_account_that_started_it_and_others_do_not_see_it(
    served: Served,
) -> None:
    desk = served.session("desk")
    created = _accept(desk, "E2E-1")
    assert created.status_code == 201, created.text[:300]
    run = _finished(desk, created.json()["id"])
    assert run["state"]["type"] == "COMPLETED", run["state"]
    number = run["name"].split(" ", 1)[1]
    shown = json.loads(served.cli("show", number, "--json").stdout)
    assert (shown["events"][0]["actor"], shown["events"][0]["role"]) == ("desk", "dispatcher")
    assert "stamp" in run["parameters"] and "actor" not in run["parameters"]["params"]
    # the numbers never reached Prefect's database; the engine's has them, shown on request
    prefect_files = sorted((served.home / "prefect").glob("prefect.db*"))
    assert prefect_files
    for path in prefect_files:
        stored = path.read_bytes()
        for secret in ("13755556666", "13922223333", "川A77777"):
            assert secret.encode() not in stored, (path.name, secret)
    revealed = served.cli("reveal", number, "--why", "回访司机", "--json", "--actor", "desk")
    assert revealed.returncode == 0, revealed.stderr
    assert json.loads(revealed.stdout)["phone"] == "13755556666"
    law = served.session("law")
    assert law.get(f"/api/flow_runs/{run['id']}").status_code == 404
    listed = law.post("/api/flow_runs/filter", json={}).json()
    assert run["id"] not in {r["id"] for r in listed}
    assert run["id"] in {r["id"] for r in desk.post("/api/flow_runs/filter", json={}).json()}


def _events_of(client: httpx.Client, run_ids: set[str]) -> list[dict[str, Any]]:
    """The events (of today, Prefect's default window) whose resource is one of the runs."""
    wanted = {f"prefect.flow-run.{run_id}" for run_id in run_ids}
    filter_ = {"resource": {"id": sorted(wanted)}}  # the unit's entry is added by the gate
    answer = client.post("/api/events/filter", json={"filter": filter_, "limit": 50})
    assert answer.status_code == 200, answer.text[:300]
    page = answer.json()
    return [e for e in page["events"] if e["resource"]["prefect.resource.id"] in wanted]


def _suspended_case_run(
    client: httpx.Client, number: str, waiting: str, timeout: float = 150
) -> str:
    """The case run of `number` once it is suspended waiting for `waiting` (a run made while
    the grievance waited for the desk is suspended again for the unit, by the watchdog)."""
    flt = {"flow_runs": {"name": {"any_": [f"case {number}"]}}}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in client.post("/api/flow_runs/filter", json=flt).json():
            if run["state"]["type"] == "PAUSED" and f"waiting:{waiting}" in run["tags"]:
                return str(run["id"])
        time.sleep(1)
    raise AssertionError(f"no suspended case run for {number} in {timeout} s")


def test_unit_staff_see_the_events_of_their_unit_s_runs_only(served: Served) -> None:
    """Events are narrowed by the run tags Prefect lists in them: a case run is tagged for
    the party it waits for before each suspension (so a run that waited for the desk and now
    waits for ROAD shows ROAD its new state's events), and an action run is tagged at its
    creation (the gate: the unit staff's own unit, or for the desk's runs the grievance's
    lead unit and the unit the action names)."""
    desk = served.session("desk")
    accepted = _finished(desk, _accept(desk, "E2E-EV").json()["id"])
    number = accepted["name"].split(" ", 1)[1]
    # the case run is made while the grievance waits for the desk (CI once met this by
    # chance: the run then showed ROAD none of its events), then the desk assigns
    _suspended_case_run(desk, number, "desk")
    deployment = _deployment(desk, "分办 assign", "assign")
    started = desk.post(
        f"/api/deployments/{deployment}/create_flow_run",
        json={"parameters": {"params": {"number": number, "unit": "ROAD"}}},
    )
    assert started.status_code == 201, started.text[:300]
    assert _finished(desk, started.json()["id"])["state"]["type"] == "COMPLETED"
    assert "unit:ROAD" in started.json()["tags"]  # tagged at creation, by the gate
    case = _suspended_case_run(desk, number, "ROAD")  # for ROAD's sign, by the watchdog
    runs = {accepted["id"], started.json()["id"], case}
    road = served.session("road")
    deadline = time.monotonic() + 120  # Prefect's event persister writes them in batches
    while time.monotonic() < deadline:
        seen = {e["resource"]["prefect.resource.id"] for e in _events_of(desk, runs)}
        shown = {e["resource"]["prefect.resource.id"] for e in _events_of(road, runs)}
        if len(seen) == 3 and len(shown) == 2:
            break
        time.sleep(1)
    assert seen == {f"prefect.flow-run.{run}" for run in runs}
    # ROAD's case run and the desk's assign to ROAD; never the desk's accept (no unit then)
    assert shown == {f"prefect.flow-run.{run}" for run in (case, started.json()["id"])}
    law = served.session("law")
    assert _events_of(law, runs) == []
    counted = law.post("/api/events/count-by/event", json={"filter": {}})
    assert counted.status_code == 200, counted.text[:300]
    # a page of the desk's query handed to another unit's handler: refused
    page = desk.post("/api/events/filter", json={"limit": 1}).json()
    assert page["next_page"], page
    token = page["next_page"].split("page-token=", 1)[1]
    refused = law.get(f"/api/events/filter/next?page-token={token}")
    assert refused.status_code == 403, refused.text[:300]
    own = road.post("/api/events/filter", json={"limit": 1}).json()
    if own.get("next_page"):  # its own next page passes
        token = own["next_page"].split("page-token=", 1)[1]
        assert road.get(f"/api/events/filter/next?page-token={token}").status_code == 200
    # ROAD's handler signs: the gate tags the run with ROAD at its creation, so the handler
    # reads it at once and its events, from the first, are ROAD's
    sign = _deployment(road, "签收 sign", "sign")
    signed = road.post(
        f"/api/deployments/{sign}/create_flow_run",
        json={"parameters": {"params": {"number": number}}, "tags": ["unit:LAW"]},
    )
    assert signed.status_code == 201, signed.text[:300]
    assert {"unit:ROAD", f"grievance:{number}"} <= set(signed.json()["tags"])
    assert "unit:LAW" not in signed.json()["tags"]
    assert road.get(f"/api/flow_runs/{signed.json()['id']}").status_code == 200
    assert law.get(f"/api/flow_runs/{signed.json()['id']}").status_code == 404
    assert _finished(road, signed.json()["id"])["state"]["type"] == "COMPLETED"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kinds = {e["event"] for e in _events_of(road, {signed.json()["id"]})}
        if {"prefect.flow-run.Pending", "prefect.flow-run.Completed"} <= kinds:
            break
        time.sleep(1)
    assert {"prefect.flow-run.Pending", "prefect.flow-run.Completed"} <= kinds, kinds
    assert _events_of(law, {signed.json()["id"]}) == []


def test_the_bulk_import_from_the_ui_acts_as_the_signed_in_dispatcher(served: Served) -> None:
    orders = served.home / "imports" / "orders-e2e.csv"
    orders.parent.mkdir(exist_ok=True)
    orders.write_text(
        "ref,type,category,name,phone,description,accepted_at\n"
        "E2E-IMP-1,complaint,freight_unpaid,王五,13700001111,欠运费,2026-12-07 09:00\n",
        encoding="utf-8",
    )
    desk = served.session("desk")
    deployment = _deployment(desk, "批量导入 import", "import")
    road = served.session("road")
    body = {"parameters": {"path": orders.name, "actor": "someone else"}}  # in the folder
    refused = road.post(f"/api/deployments/{deployment}/create_flow_run", json=body)
    assert refused.status_code == 403, refused.text[:300]
    created = desk.post(f"/api/deployments/{deployment}/create_flow_run", json=body)
    assert created.status_code == 201, created.text[:300]
    run = _finished(desk, created.json()["id"])
    assert run["state"]["type"] == "COMPLETED", run["state"]
    (imported,) = [g for g in _grievances(served) if g.get("ref") == "E2E-IMP-1"]
    # the serving machine's other files are not the desk's to read
    outside = {"parameters": {"path": str(served.log)}}
    created = desk.post(f"/api/deployments/{deployment}/create_flow_run", json=outside)
    run = _finished(desk, created.json()["id"])
    assert run["state"]["type"] == "FAILED", run["state"]
    assert "must be in the import folder" in run["state"]["message"]
    shown = json.loads(served.cli("show", imported["number"], "--json").stdout)
    assert shown["events"][0]["actor"] == "desk"


def test_a_forged_actor_a_non_acting_account_and_no_session_write_nothing(
    served: Served,
) -> None:
    before = len(_grievances(served))
    desk = served.session("desk")
    forged = _accept(desk, "E2E-2", actor="someone-else", role="supervisor")
    if forged.status_code == 201:  # refused by the form when it runs, if not at creation
        assert _finished(desk, forged.json()["id"])["state"]["type"] == "FAILED"
    else:
        assert forged.status_code in (400, 409, 422), forged.text[:300]
    deployment = _deployment(desk, "受理 accept", "accept")
    anonymous = httpx.post(
        f"{served.url}/api/deployments/{deployment}/create_flow_run",
        json={"parameters": {"params": {**ACCEPT, "ref": "E2E-3"}}},
    )
    assert anonymous.status_code == 401
    assert len(_grievances(served)) == before


def _sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.evaluate(
        f"document.getElementById('username').value = {json.dumps(name)};"
        f"document.getElementById('password').value = {json.dumps(password)};"
        "document.querySelector('form').submit(); true"
    )
    page.wait_for(
        "document.readyState === 'complete' && location.pathname !== '/login'"
        " || document.querySelector('.error')"
    )


def test_in_a_real_browser(served: Served, chromium: str, tmp_path: Path) -> None:
    page = browser(chromium, tmp_path / "profile-desk")
    try:
        page.goto(f"{served.url}/runs")
        assert page.evaluate("location.pathname") == "/login"  # redirected: no session
        assert "登录" in page.evaluate("document.body.innerText")
        _sign_in(page, served.url, "desk", "wrong password")
        assert "账号或密码错误" in page.evaluate("document.body.innerText")
        _sign_in(page, served.url, "desk", PASSWORDS["desk"])
        assert page.evaluate("location.pathname") != "/login"  # into the Prefect UI
        page.wait_for("document.body.innerText.length > 50", timeout=90)
        # the accept as the run form sends it, from the signed-in page (its cookie)
        deployment = page.evaluate(
            "fetch('/api/deployments/name/' + encodeURIComponent('受理 accept') + '/accept')"
            ".then(r => r.json()).then(d => d.id)"
        )
        body = json.dumps({"parameters": {"params": {**ACCEPT, "ref": "E2E-B1"}}})
        run_id = page.evaluate(
            f"fetch('/api/deployments/{deployment}/create_flow_run', {{method: 'POST',"
            f" headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}})"
            ".then(r => r.json()).then(r => r.id)"
        )
        page.wait_for(
            f"fetch('/api/flow_runs/{run_id}').then(r => r.json())"
            ".then(r => r.state && r.state.type === 'COMPLETED')",
            timeout=180,
        )
        page.goto(f"{served.url}/runs/flow-run/{run_id}")
        page.wait_for("document.body.innerText.includes('accept 2')", timeout=90)
        shot = page.send("Page.captureScreenshot", {"format": "png"})["data"]
        (tmp_path / "run.png").write_bytes(base64.b64decode(shot))
    finally:
        page.close()
    other = browser(chromium, tmp_path / "profile-law")
    try:
        _sign_in(other, served.url, "law", PASSWORDS["law"])
        status = other.evaluate(f"fetch('/api/flow_runs/{run_id}').then(r => r.status)")
        assert status == 404
        listed = other.evaluate(
            "fetch('/api/flow_runs/filter', {method: 'POST', headers: {'Content-Type':"
            " 'application/json'}, body: '{}'}).then(r => r.json()).then(l => l.map(r => r.id))"
        )
        assert run_id not in listed
    finally:
        other.close()


def _case_run(page: Any, number: str, timeout: float = 150) -> dict[str, Any]:
    """The case run of `number` once the watchdog suspended it, read from the page."""
    body = json.dumps({"flow_runs": {"name": {"any_": [f"case {number}"]}}})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = page.evaluate(
            "fetch('/api/flow_runs/filter', {method: 'POST', headers: {'Content-Type':"
            f" 'application/json'}}, body: {json.dumps(body)}}}).then(r => r.json())"
            ".then(l => JSON.stringify(l))"
        )
        for run in json.loads(runs):
            details = (run.get("state") or {}).get("state_details") or {}
            if run["state"]["type"] == "PAUSED" and details.get("pause_key"):
                return dict(run)
        time.sleep(1)
    raise AssertionError(f"no suspended case run for {number} in {timeout} s")


def _until(page: Any, promise: str, timeout: float = 180) -> None:
    """Until the page's `promise` (a fetch...) resolves to true (`wait_for` takes a plain
    condition: a promise in it is true at once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(promise) is True:
            return
        time.sleep(0.25)
    raise AssertionError(f"not so after {timeout} s: {promise}")


def _open_resume_form(page: Any, url: str, run_id: str, field: str) -> str:
    """The run's page, its Resume button clicked: the text of the form that opens, once it
    shows `field` (the description above the form renders before the form's fields do)."""
    page.goto(f"{url}/runs/flow-run/{run_id}")
    clicked = (
        "Array.from(document.querySelectorAll('button'))"
        ".filter(b => b.innerText.trim() === 'Resume').map(b => (b.click(), 1)).length > 0"
    )
    page.wait_for(clicked, timeout=90)
    dialog = "Array.from(document.querySelectorAll('[role=dialog], .p-modal')).pop()"
    shown = f"{dialog} && {dialog}.innerText"
    try:
        page.wait_for(f"{shown}.includes({json.dumps(field)})", timeout=60)
    except Exception as error:
        raise AssertionError(f"{field!r} not in the form: {page.evaluate(shown)}") from error
    return str(page.evaluate(f"{dialog}.innerText"))


def test_in_a_real_browser_the_desk_resumes_a_case_run_and_sees_the_next_form(
    served: Served, chromium: str, tmp_path: Path
) -> None:
    page = browser(chromium, tmp_path / "profile-desk-case")
    try:
        _sign_in(page, served.url, "desk", PASSWORDS["desk"])
        deployment = page.evaluate(
            "fetch('/api/deployments/name/' + encodeURIComponent('受理 accept') + '/accept')"
            ".then(r => r.json()).then(d => d.id)"
        )
        body = json.dumps({"parameters": {"params": {**ACCEPT, "ref": "E2E-CASE-1"}}})
        created = page.evaluate(
            f"fetch('/api/deployments/{deployment}/create_flow_run', {{method: 'POST',"
            f" headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}})"
            ".then(r => r.json()).then(r => r.id)"
        )
        _until(
            page,
            f"fetch('/api/flow_runs/{created}').then(r => r.json())"
            ".then(r => r.state && r.state.type === 'COMPLETED')",
        )
        name = page.evaluate(
            f"fetch('/api/flow_runs/{created}').then(r => r.json()).then(r => r.name)"
        )
        number = str(name).split(" ", 1)[1]
        case = _case_run(page, number)
        first_key = case["state"]["state_details"]["pause_key"]
        form = _open_resume_form(page, served.url, case["id"], "负责办理的单位代码")
        assert "分办 assign" in form and "负责办理的单位代码" in form, form[:500]
        # the unit typed into the form's unit field (a text area), as a person does; Submit
        typed = page.evaluate(
            "(() => { const field = Array.from(document.querySelectorAll("
            "  '.schema-form-property')).filter(p =>"
            "  p.innerText.includes('负责办理的单位代码')).pop().querySelector('textarea');"
            " const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype,"
            "  'value').set; set.call(field, 'ROAD');"
            " field.dispatchEvent(new Event('input', {bubbles: true}));"
            " field.dispatchEvent(new Event('change', {bubbles: true})); return field.value })()"
        )
        assert typed == "ROAD"
        submitted = page.evaluate(
            "Array.from(document.querySelectorAll('[role=dialog] button, .p-modal button'))"
            ".filter(b => b.innerText.trim() === 'Submit').map(b => (b.click(), 1)).length"
        )
        assert submitted == 1
        try:
            _until(
                page,
                f"fetch('/api/flow_runs/{case['id']}').then(r => r.json()).then(r =>"
                " r.state.type === 'PAUSED' && r.state.state_details.pause_key"
                f" && r.state.state_details.pause_key !== {json.dumps(first_key)})",
            )
        except AssertionError as error:  # what the run, the page and the server say
            run = page.evaluate(
                f"fetch('/api/flow_runs/{case['id']}').then(r => r.json())"
                ".then(r => JSON.stringify(r.state))"
            )
            shown = page.evaluate("document.body.innerText.slice(0, 1500)")
            tail = served.log.read_text(errors="replace")[-4000:]
            raise AssertionError(
                f"{error}\nrun state: {run}\npage: {shown}\nserve.log: {tail}"
            ) from error
        shown = json.loads(served.cli("show", number, "--json").stdout)
        assert (shown["state"], shown["lead_unit"]) == ("assigned", "ROAD"), shown
        assert shown["events"][-1]["actor"] == "desk"
        form = _open_resume_form(page, served.url, case["id"], "理由，记入办理记录")  # the unit's
        assert "待签收 To be signed for by the unit" in form, form[:500]
        assert "可办理 Actions: 签收 sign、退单 return" in form, form[:500]
        shot = page.send("Page.captureScreenshot", {"format": "png"})["data"]
        (tmp_path / "next-form.png").write_bytes(base64.b64decode(shot))
    finally:
        page.close()
