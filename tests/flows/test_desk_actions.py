"""The desk's additions to the action flows (issue 21): the 典型案例 action from the UI, and
the duplicate hint in the accept run's summary."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from flows import actions
from models import audit_log
from service import cases as uc
from tests.conftest import REVIEWER, Driver, database_url_for
from tests.flows.test_actions import DESK_WHO, REVIEWER_WHO, run
from workflow.vocab import Event


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with (
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=120),
    ):
        yield


@pytest.fixture
def db(harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))


def test_a_reviewer_marks_a_typical_case_from_the_ui(db: None, driver: Driver) -> None:
    number = driver.to("reviewed").number
    state, flow_run = run(actions.typical, number, REVIEWER_WHO, summary="拖欠运费，督促结清")
    assert state.is_completed(), state.message
    assert flow_run.name == f"typical {number}" and f"grievance:{number}" in flow_run.tags
    summary = state.result()
    assert summary["state"] == "reviewed" and summary["event"] == "typical"
    with driver.engine.db.read() as session:
        last = audit_log.events_of(session, number)[-1]
    assert last.event is Event.TYPICAL and last.payload == {"summary": "拖欠运费，督促结清"}
    # a dispatcher may not: the run fails with the one-line reason
    refused, _ = run(actions.typical, number, DESK_WHO, summary="x")
    assert refused.is_failed()
    assert refused.message == f"grievance {number}: a dispatcher may not typical (only reviewer)"


def test_the_accept_run_names_the_grievances_to_merge_into(db: None, driver: Driver) -> None:
    earlier = driver.to("accepted", phone="13900001111", plate="川A11111").number
    closed = driver.to("closed", phone="13700002222", plate="川A11111").number
    reviewed = driver.to("reviewed", phone="13600003333", plate="川A33333").number
    uc.mark_typical(driver.engine, reviewed, driver.stamp(REVIEWER), summary="s")
    fields = {
        "channel": "hotline_12328",
        "ref": "12328-dup-1",
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王师傅",
        "phone": "139-0000-1111",
        "plate": "川A11111",
        "description": "又来电反映运费未结",
        "at": (driver.now + timedelta(hours=1)).isoformat(),  # 30 days: from the effective time
    }
    state, _ = run(actions.accept, None, DESK_WHO, **fields)
    assert state.is_completed(), state.message
    result = state.result()
    found = {d["number"]: (d["same"], d["merge_into"]) for d in result["duplicates"]}
    assert found == {earlier: (["phone", "plate"], True), closed: (["plate"], False)}
    assert f"--into {earlier}" in result["duplicate_hint"]
    assert "13900001111" not in str(result)
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(
                key=ArtifactCollectionFilterKey(any_=[f"duplicates-{result['number']}"])
            )
        )[0]
    assert f"grievance merge {result['number']} --into {earlier} --reason 重复来电" in str(
        artifact.data
    )
    assert "13900001111" not in str(artifact.data)
    fields |= {"ref": "12328-other", "phone": "13500004444", "plate": "川A55555"}
    plain, _ = run(actions.accept, None, DESK_WHO, **fields)
    assert plain.result()["duplicates"] == [] and "duplicate_hint" not in plain.result()
