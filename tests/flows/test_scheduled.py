"""The watchdog as a Prefect flow: sweep and delivery as tasks, Prefect events per step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.testing.utilities import prefect_test_harness

from flows import scheduled
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
    summary = scheduled.sla_watchdog(now=now)
    assert summary["fired"] == 3 and summary["dead"] == 0  # dead letters are made at queueing
    assert sorted(sent_events(events)) == sorted(
        [
            ("grievance.sla.warning", f"grievance.{number}", "warning"),
            ("grievance.sla.breached", f"grievance.{number}", "red_card"),
            ("grievance.escalated", f"grievance.{number}", "supervision"),
        ]
    )
    again = scheduled.sla_watchdog(now=now)
    assert again["fired"] == 0


def test_the_served_deployment_runs_every_minute_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(scheduled.ENV_INTERVAL, raising=False)
    (deployment,) = scheduled.deployments()
    assert deployment.name == "sla-watchdog"
    (schedule,) = deployment.schedules
    assert schedule.schedule.interval == timedelta(minutes=1)
    monkeypatch.setenv(scheduled.ENV_INTERVAL, "300")
    (deployment,) = scheduled.deployments()
    assert deployment.schedules[0].schedule.interval == timedelta(minutes=5)
    monkeypatch.setenv(scheduled.ENV_INTERVAL, "soon")
    with pytest.raises(scheduled.InvalidInput, match="whole seconds"):
        scheduled.deployments()
