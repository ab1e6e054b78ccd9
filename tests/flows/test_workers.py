"""Several workers (issue #7): `prefect.yaml` is what `grievance serve` serves, and the
multi-machine shape works: `bench.workers` at a small size (a Prefect server on PostgreSQL,
a process work pool, `prefect deploy --all`, two workers, action runs and concurrent
watchdogs, then its checks that nothing was lost or done twice).

The bench needs a PostgreSQL server: `GRIEVANCE_TEST_PG_URL`, else the suite's own when
`GRIEVANCE_TEST_DATABASE_URL` names one, else `scripts/postgres url`. When none answers the
test is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy.engine import make_url

from bench import workers

ROOT = Path(__file__).resolve().parents[2]
PG_ENV = "GRIEVANCE_TEST_PG_URL"
REGENERATE = ".venv/bin/python -m bench.workers --write-prefect-yaml"


def test_prefect_yaml_is_generated_from_the_served_deployments() -> None:
    written = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert written == workers.prefect_yaml_text(), f"prefect.yaml is stale: run {REGENERATE}"


def test_prefect_yaml_deploys_what_serve_serves() -> None:
    from flows import scheduled

    data = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    in_yaml = {(d["name"], d["entrypoint"]) for d in data["deployments"]}
    served = {(d.name, d.entrypoint) for d in scheduled.deployments()}
    assert in_yaml == served, f"run {REGENERATE}"
    assert {d["work_pool"]["name"] for d in data["deployments"]} == {"grievance"}
    assert data["pull"] == [
        {
            "prefect.deployments.steps.set_working_directory": {
                "directory": "{{ $GRIEVANCE_CHECKOUT }}"
            }
        }
    ]
    schedules = {d["name"]: d.get("schedules") for d in data["deployments"]}
    assert schedules["sla-watchdog"] == [{"interval": 60}]
    assert schedules["monthly-bulletin"] == [{"cron": "0 9 1 * *", "timezone": "Asia/Shanghai"}]


def _postgres() -> str:
    """The PostgreSQL server for the bench, or skip (fail under CI=true)."""
    candidates = [os.environ.get(PG_ENV), os.environ.get("GRIEVANCE_TEST_DATABASE_URL")]
    named = [u for u in candidates if u and make_url(u).get_backend_name() == "postgresql"]
    url = named[0] if named else workers.default_pg_url()
    if workers.pg_reachable(url):
        return url
    message = f"needs PostgreSQL: none answers at {url} (set {PG_ENV}; scripts/postgres start)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


@pytest.mark.slow
def test_two_workers_do_every_action_once() -> None:
    url = _postgres()
    argv = ["--actions", "20", "--workers", "2", "--watchdogs", "2", "--pg", url]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.workers", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the bench stops its server and workers
        out, err = process.communicate(timeout=180)
        pytest.fail(f"the bench took more than 15 minutes:\n{out}\n{err[-4000:]}")
    assert process.returncode == 0, f"{out}\n{err[-4000:]}"
    assert "FAILED:" not in out and "  FAILED " not in out, out
    for check in (
        "ok     prefect deploy --all registered prefect.yaml",
        "ok     each conflicting pair: one Completed, one Failed",
        "ok     each completed action exactly once in the audit log",
        "ok     no SLA step recorded twice",
        "ok     no notification queued or sent twice",
        "ok     runs spread over all 2 workers",
    ):
        assert check in out, out
