"""Reliability under faults: processes killed at random points, a channel down for an hour,
the database gone during a sweep, and a long randomized run whose every audit log replays.

The full-size figures come from `python -m bench.crash` (100 rounds per kind) and
`python -m bench.audit` (10,000 operations); here they run at a reduced count in CI.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from sqlmodel import select

from bench import audit, crash
from cli.main import cli
from models.tables import GrievanceEvent, Notification
from service import delivery, watchdog
from service.engine import Engine
from service.units import set_unit_targets
from tests.conftest import DESK, TEST_DATABASE_ENV, Driver, database_url_for
from workflow.vocab import Event

MON_0900 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 Asia/Shanghai


def on_postgresql() -> bool:
    url = os.environ.get(TEST_DATABASE_ENV)
    return bool(url) and make_url(url).get_backend_name() == "postgresql"


# ----------------------------------------------------------------------------- 1. crashes
@pytest.mark.skipif(on_postgresql(), reason="the kills run on SQLite files; done in that run")
def test_processes_killed_at_random_points_lose_nothing_and_do_nothing_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench.crash at a reduced count: SIGKILL the watchdog, the delivery, an import and the
    issuing of documents."""
    argv = ["--runs", "2", "--grievances", "30", "--rows", "60", "--dir", str(tmp_path)]
    assert crash.main(argv) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| ") and "|---" not in line]
    kinds = [row.split("|")[1].strip() for row in table[1:]]
    assert kinds == ["watchdog", "delivery", "import", "documents"]
    assert all(row.split("|")[5].strip() == "0" for row in table[1:])  # no violations
    assert "VIOLATION" not in out


# ----------------------------------------------------------------------------- 3. faults
def _rows(engine: Engine) -> list[Notification]:
    with engine.db.read() as session:
        return list(session.exec(select(Notification)).all())


def _overdue_fleet(driver: Driver, count: int = 4) -> None:
    driver.units("UA", "UB")
    set_unit_targets(
        driver.engine,
        driver.stamp(DESK, 0),
        code="UA",
        notify=["json://127.0.0.1:9/hook"],
        supervisor_notify=["json://127.0.0.1:9/boss"],
    )
    for _ in range(count):
        driver.to("assigned")


def test_a_channel_down_for_an_hour_loses_nothing_and_sends_nothing_twice(
    driver: Driver,
) -> None:
    """The channel refuses everything for an hour; delivery runs every minute; afterwards
    every message has gone out exactly once and nothing is dead."""
    _overdue_fleet(driver)
    engine = driver.engine
    start = MON_0900 + timedelta(days=2)
    assert watchdog.sweep(engine, start).fired
    accepted: Counter[str] = Counter()
    refusals = 0

    def channel(now: datetime) -> delivery.Sender:
        def send(row: Notification) -> str | None:
            nonlocal refusals
            if now < start + timedelta(hours=1):
                refusals += 1
                return "HTTP 503 Service Unavailable"
            accepted[row.dedupe_key] += 1
            return None

        return send

    for minute in range(0, 3 * 60):
        now = start + timedelta(minutes=minute)
        delivery.deliver(engine, now, send=channel(now))
    wanted = [r for r in _rows(engine) if r.url is not None]
    assert refusals >= len(wanted) * 5  # tried again and again while it was down
    assert all(r.status == "sent" for r in wanted)
    assert sorted(accepted) == sorted(r.dedupe_key for r in wanted)
    assert max(accepted.values()) == 1
    assert max(r.attempts for r in wanted) <= engine.notify.max_attempts


def test_a_channel_down_for_a_day_leaves_listed_dead_letters_that_retry_delivers(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _overdue_fleet(driver, 2)
    engine = driver.engine
    start = MON_0900 + timedelta(days=2)
    watchdog.sweep(engine, start)
    for minute in range(0, 24 * 60, 5):
        delivery.deliver(engine, start + timedelta(minutes=minute), send=lambda _row: "down")
    dead = delivery.listing(engine, status="dead")  # with those that have no target at all
    tried = [r for r in dead if r["channel"]]
    assert tried and all(r["attempts"] == engine.notify.max_attempts for r in tried)
    dead_keys = sorted(r.dedupe_key for r in _rows(engine) if r.status == "dead" and r.url)
    assert delivery.listing(engine, status="pending") == []  # nothing silently dropped

    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", engine.db.url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["notifications", "list", "--status", "dead", "--json"])
    assert listed.exit_code == 0 and listed.output.count('"status": "dead"') == len(dead)
    later = start + timedelta(days=1, hours=1)
    retried = runner.invoke(cli, ["notifications", "retry", "--all", "--at", later.isoformat()])
    assert retried.exit_code == 0, retried.output
    sent: list[str] = []
    result = delivery.deliver(engine, later, send=lambda row: sent.append(row.dedupe_key))
    assert result.sent == len(tried) and sorted(sent) == dead_keys
    assert all(not r["channel"] for r in delivery.listing(engine, status="dead"))


def test_the_database_gone_during_a_sweep_fails_the_flow_visibly_and_the_next_run_catches_up(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, harness: None
) -> None:
    from flows import sla_watchdog

    number = driver.to("assigned").number
    now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # Wed 17:30: feedback overdue
    monkeypatch.setenv(
        "GRIEVANCE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/gone?connect_timeout=2"
    )
    state = sla_watchdog.sla_watchdog(now=now, return_state=True)
    assert state.is_failed()
    assert "127.0.0.1" in str(state.message) or "connect" in str(state.message).lower()

    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    later = now + timedelta(minutes=1)
    summary = sla_watchdog.sla_watchdog(now=later)
    assert summary["fired"] == 3  # warning, red card and 督办, all caught up
    with driver.engine.db.read() as session:
        steps = session.exec(
            select(GrievanceEvent.number).where(GrievanceEvent.event == Event.SLA_STEP)
        ).all()
    assert list(steps) == [number] * 3


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# ----------------------------------------------------------------------------- 6. audit
def test_a_randomized_run_replays_for_every_grievance_and_the_log_is_append_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench.audit at a reduced count (10,000 operations for the figures in docs/reliability.md)."""
    engine = Engine.open(database_url_for(tmp_path))
    url = engine.db.url
    engine.db.dispose()
    assert audit.main(["--ops", "700", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "mismatches: 0" in out and "refused operations that wrote something: 0" in out
    assert "MISMATCH" not in out
