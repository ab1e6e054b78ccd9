"""The watchdog as a Prefect flow: sweep and delivery as tasks, Prefect events per step."""

from __future__ import annotations

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
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        boards = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sla-board"]))
        )
    assert boards and all(b.type == "table" for b in boards)
    import json

    rows = [json.loads(str(b.data)) for b in boards]
    assert [
        {"承办单位 Unit": "UA 单位UA", "已超期 Overdue": 1}.items() <= r[0].items() for r in rows
    ]
    assert any(r[0]["已超期 Overdue"] == 1 for r in rows)


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
