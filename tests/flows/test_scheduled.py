"""The watchdog as a Prefect flow: sweep and delivery as tasks, Prefect events per step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.utilities import prefect_test_harness

from flows import digests, scheduled, sla_watchdog
from service import delivery
from service.engine import Engine
from tests.conftest import Driver, database_url_for


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[EventsWorker]:
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    yield worker
    worker.drain()


def sent_events(worker: EventsWorker) -> list[tuple[str, str, str]]:
    worker.drain()
    client = worker._client
    assert isinstance(client, AssertingEventsClient)
    return [
        (e.event, e.resource.id, str(e.payload["step"]))
        for e in client.events
        if e.event.startswith("grievance.")
    ]


def test_the_watchdog_flow_fires_steps_and_emits_events(
    harness: None,
    events: EventsWorker,
    driver: Driver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    number = driver.to("assigned").number
    now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # 17:30 Asia/Shanghai, Wed
    summary = sla_watchdog.sla_watchdog(now=now)
    assert summary["fired"] == 3 and summary["dead"] == 0  # dead letters are made at queueing
    assert sorted(sent_events(events)) == sorted(
        [
            ("grievance.sla.warning", f"grievance.{number}", "warning"),
            ("grievance.sla.breached", f"grievance.{number}", "red_card"),
            ("grievance.escalated", f"grievance.{number}", "supervision"),
        ]
    )
    again = sla_watchdog.sla_watchdog(now=now)
    assert again["fired"] == 0
    check_the_boards(number)
    sla_watchdog.sla_watchdog(now=now + timedelta(hours=1))  # 18:30: business time stands still
    assert board_versions() == {"sla-board": 1, "sla-board-ua": 1, "sla-board-ub": 1}
    sla_watchdog.sla_watchdog(now=now + timedelta(hours=16))  # Thursday 09:30: it moved on
    assert board_versions() == {"sla-board": 2, "sla-board-ua": 2, "sla-board-ub": 1}
    through_the_gate(driver.engine, number)


def through_the_gate(engine: Engine, number: str) -> None:
    """A handler of UA signed in at the gate in front of this real Prefect server reads UA's
    board (latest, its versions, one version by id) and neither UB's nor the desk's."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactCollectionFilter,
        ArtifactCollectionFilterKey,
    )
    from prefect.settings import PREFECT_API_URL
    from starlette.testclient import TestClient

    from gateway.app import Gate
    from gateway.proxy import Upstream
    from service import accounts
    from service.acting import Stamp
    from workflow.actor import Actor
    from workflow.vocab import Role

    at = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
    stamp = Stamp(actor=Actor("ops", Role.DISPATCHER), at=at, recorded_at=at)
    for name, role, unit in (("ua", "handler", "UA"), ("zhang", "dispatcher", None)):
        accounts.add_user(engine, stamp, name=name, role=role, unit=unit, password="pass 12345")
    upstream = Upstream(str(PREFECT_API_URL.value()).removesuffix("/api"))
    gate = Gate(engine, upstream, b"k" * 32, clock=lambda: at)
    with TestClient(gate.app(), base_url="http://127.0.0.1:4200") as client:
        login = {"username": "ua", "password": "pass 12345"}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        own = client.get("/api/artifacts/sla-board-ua/latest")
        assert own.status_code == 200 and number in own.json()["data"]
        for other in ("sla-board-ub", "sla-board"):
            assert client.get(f"/api/artifacts/{other}/latest").status_code == 404, other
        versions = client.post(
            "/api/artifacts/filter", json={"artifacts": {"key": {"any_": ["sla-board-ua"]}}}
        )
        assert [a["key"] for a in versions.json()] == ["sla-board-ua"] * 2
        for version in versions.json():  # one version by id
            assert client.get(f"/api/artifacts/{version['id']}").json()["key"] == "sla-board-ua"
        # /gate/board: the newest version's page (where the board is drawn)
        newest = max(versions.json(), key=lambda a: a["created"])["id"]
        shortcut = client.get("/gate/board", follow_redirects=False)
        assert shortcut.headers["location"] == f"/artifacts/artifact/{newest}"
        with get_client(sync_client=True) as prefect:
            (ub,) = prefect.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(any_=["sla-board-ub"])
                )
            )
        assert client.get(f"/api/artifacts/{ub.latest_id}").status_code == 404
        for keys in (["sla-board-ub"], ["sla-board"], ["sla-board-ua", "sla-board"]):
            listed = client.post(
                "/api/artifacts/filter", json={"artifacts": {"key": {"any_": keys}}}
            )
            assert listed.status_code == 200 and listed.json() == [], keys
        everything = client.post("/api/artifacts/latest/filter", json={"limit": 50})
        assert [a["key"] for a in everything.json() if a["key"]] == []  # no run of UA's here
        client.post("/logout")
        login = {"username": "zhang", "password": "pass 12345"}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        for key in ("sla-board", "sla-board-ua", "sla-board-ub"):
            assert client.get(f"/api/artifacts/{key}/latest").status_code == 200, key
        assert client.get(f"/api/artifacts/{ub.latest_id}").status_code == 200


def board_versions() -> dict[str, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="sla-board%"))
        )
    counts: dict[str, int] = {}
    for artifact in found:
        counts[str(artifact.key)] = counts.get(str(artifact.key), 0) + 1
    return counts


def check_the_boards(number: str) -> None:
    """The boards the watchdog runs published (in Markdown; a run that changed nothing adds
    no version): the desk's
    and unit UA's list the grievance, UB's is empty; and the gate's filters, sent to the
    real server, give UA's staff their own board and no other."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from gateway import narrowing

    keys = ["sla-board", "sla-board-ua", "sla-board-ub"]
    with get_client(sync_client=True) as client:
        boards = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
        assert {b.key for b in boards} == set(keys) and all(b.type == "markdown" for b in boards)
        assert len(boards) == len(keys)  # the second run changed nothing: no new versions
        assert all(b.flow_run_id is not None for b in boards)  # the watchdog run's
        latest = {b.key: str(b.data) for b in boards}  # newest last: same content each run
        assert f"| 🟥 红牌 | {number} | UA 单位UA | 进展反馈 |" in latest["sla-board-ua"]
        assert number in latest["sla-board"] and "无运行中的时限" in latest["sla-board-ub"]
        api = client._client  # the HTTP calls the gate forwards for a handler of UA
        for path in ("/artifacts/filter", "/artifacts/latest/filter"):
            wanted = {"artifacts": {"key": {"any_": ["sla-board-ua"]}}}
            own = narrowing.own_artifact_list(json.dumps(wanted).encode(), "UA")
            assert own is not None
            found = api.post(path, content=own, headers={"content-type": "application/json"})
            assert {a["key"] for a in found.json()} == {"sla-board-ua"}, path
            every = {"artifacts": {"key": {"like_": "sla-board%"}}}
            narrowed = narrowing.narrowed_list(json.dumps(every).encode(), "UA")
            assert isinstance(narrowed, bytes)
            found = api.post(path, content=narrowed, headers={"content-type": "application/json"})
            assert found.json() == [], path  # the watchdog run is no run of UA's


def test_the_served_deployment_runs_every_minute_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(scheduled.ENV_INTERVAL, raising=False)
    deployment = next(d for d in scheduled.deployments() if d.name == "sla-watchdog")
    (schedule,) = deployment.schedules
    assert schedule.schedule.interval == timedelta(minutes=1)
    monkeypatch.setenv(scheduled.ENV_INTERVAL, "300")
    deployment = next(d for d in scheduled.deployments() if d.name == "sla-watchdog")
    assert deployment.schedules[0].schedule.interval == timedelta(minutes=5)
    monkeypatch.setenv(scheduled.ENV_INTERVAL, "soon")
    with pytest.raises(scheduled.InvalidInput, match="whole seconds"):
        scheduled.deployments()


def test_the_digest_flows_publish_artifacts_and_skip_rest_days(
    harness: None,
    driver: Driver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    monkeypatch.setenv(digests.ENV_REPORT_DIR, str(tmp_path / "reports"))
    driver.to("assigned")  # unit UA has open work
    sunday = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # 08:00 Asia/Shanghai
    assert digests.daily_reminder(now=sunday)["reminders"] == 0
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert digests.daily_reminder(now=monday)["reminders"] == 1
    again = digests.daily_reminder(now=monday)  # a rerun queues nothing twice
    assert again["reminders"] == 1
    engine = Engine.open(database_url_for(tmp_path))
    (reminder,) = delivery.listing(engine)
    engine.db.dispose()
    assert reminder["kind"] == "daily_reminder" and reminder["unit"] == "UA"
    assert reminder["grievance"] is None and reminder["status"] == "dead"  # UA has no target
    assert reminder["not_before"] == "2026-11-30T08:30:00+08:00"  # held until the opening
    assert "2026" in digests.weekly_summary(now=monday)
    assert "2026年11月" in digests.monthly_bulletin(now=monday, month="2026-11")
    files = sorted(p.name for p in (tmp_path / "reports").rglob("*") if p.is_file())
    assert "daily-2026-11-30-UA.zh.html" in files and "monthly-2026-11.zh.xlsx" in files
    keys = ["daily-reminder-ua", "weekly-summary", "monthly-bulletin"]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    assert {a.key for a in found} == set(keys)
    assert all(a.type == "markdown" and a.data and "138" not in str(a.data) for a in found)


def test_every_digest_has_a_schedule_in_the_bureaus_zone() -> None:
    names = {d.name: d for d in scheduled.deployments(timedelta(minutes=1))}
    scheduled_names = {"sla-watchdog", "daily-reminder", "weekly-summary", "monthly-bulletin"}
    assert scheduled_names < set(names) and {"assign", "close", "merge"} < set(names)
    assert all(not d.schedules for n, d in names.items() if n not in scheduled_names)
    cron = {
        n: d.schedules[0].schedule
        for n, d in names.items()
        if n in scheduled_names and n != "sla-watchdog"
    }
    assert {n: (c.cron, c.timezone) for n, c in cron.items()} == {
        "daily-reminder": ("0 8 * * *", "Asia/Shanghai"),
        "weekly-summary": ("30 8 * * 1", "Asia/Shanghai"),
        "monthly-bulletin": ("0 9 1 * *", "Asia/Shanghai"),
    }


def test_serve_registers_case_and_import_and_every_entrypoint_loads(
    harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.delenv("GRIEVANCE_CASE_RUNS", raising=False)
    for deployment in scheduled.deployments(timedelta(minutes=1)):
        deployment.apply()  # what `prefect.serve` registers before it polls
    with get_client(sync_client=True) as client:
        served = client.read_deployments()
        flows = {d.name: client.read_flow(d.flow_id).name for d in served}
    assert {"case", "import", "assign", "sla-watchdog", "monthly-bulletin"} <= set(flows)
    assert flows["case"] == "工单 case" and flows["import"] == "批量导入 import"
    for deployment in served:  # what the served runner loads to start a run
        assert deployment.entrypoint, deployment.name
        loaded = load_flow_from_entrypoint(deployment.entrypoint)
        assert loaded.name == flows[deployment.name], deployment.entrypoint
    entrypoints = {d.name: d.entrypoint for d in served}
    assert entrypoints["case"] == "flows/case_runs.py:case_flow"
    assert entrypoints["import"] == "flows/importer.py:import_work_orders"


def test_the_runner_polls_every_half_second_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(scheduled.ENV_POLL, raising=False)
    assert scheduled.runner_poll() == 0.5
    monkeypatch.setenv(scheduled.ENV_POLL, "10")
    assert scheduled.runner_poll() == 10.0
    for bad in ("soon", "0", "600"):
        monkeypatch.setenv(scheduled.ENV_POLL, bad)
        with pytest.raises(scheduled.InvalidInput, match=scheduled.ENV_POLL):
            scheduled.runner_poll()
