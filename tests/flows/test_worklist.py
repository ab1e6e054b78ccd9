"""The worklist: suspended case runs with the form that fits, resume through the use case,
refusals, re-sync from the other paths, lazy bounded creation, the tables, the off switch.

The case runs live on a Prefect test server; where the served runner would start a resumed
run, `drive` runs it in this process (the same engine call the runner's subprocess makes), so
no test waits on a runner's polling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound, Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import resume_flow_run
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_LOCAL_STORAGE_PATH,
    temporary_settings,
)
from prefect.testing.utilities import prefect_test_harness

from cli.main import main
from flows import actions, case_forms, case_runs, case_sync, scheduled, sla_watchdog, worklist
from service import cases as uc
from service import importing, work_orders
from service import worklist as waits
from service.engine import Engine
from service.reading import show
from tests.conftest import DESK, HANDLER, SUPERVISOR, Driver, database_url_for, stamp_as
from workflow.actor import Actor
from workflow.vocab import Role, State

SAMPLE = Path(__file__).parent.parent / "fixtures" / "12328-sample.csv"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    results = tmp_path_factory.mktemp("results")
    with (
        temporary_settings(
            {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None, PREFECT_LOCAL_STORAGE_PATH: results}
        ),
        prefect_test_harness(server_startup_timeout=120),
    ):
        case_runs.case_deployment().apply()  # what `grievance serve` registers
        yield


@pytest.fixture
def db(harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test's grievance database for the flows, and a Prefect server without the case
    runs of earlier tests (grievance numbers repeat from one test database to the next)."""
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    monkeypatch.delenv(case_runs.ENV_CASE_RUNS, raising=False)
    monkeypatch.delenv(case_runs.ENV_BATCH, raising=False)
    monkeypatch.delenv(case_runs.ENV_KEEP, raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    yield
    with get_client(sync_client=True) as client:
        while runs := client.read_flow_runs(limit=200):
            for run in runs:
                client.delete_flow_run(run.id)
        for variable in client.read_variables():
            client.delete_variable_by_name(variable.name)


def at(driver: Driver, minutes: int = 10) -> str:
    """An effective time after the grievances' last events (explicit, never the clock)."""
    driver.now += timedelta(minutes=minutes)
    return driver.now.isoformat()


def open_runs(number: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return case_sync.open_case_runs(client, [number]).get(number, [])


def the_run(number: str) -> FlowRun:
    (run,) = open_runs(number)
    return run


def all_case_runs() -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[waits.WORKLIST_TAG])),
            limit=200,
        )


def form(run: FlowRun) -> tuple[str, dict[str, Any], str]:
    """(pause key, the form's JSON schema, the markdown above it) of a suspended run."""
    assert run.state is not None and run.state.name == "Suspended", run.state
    key = run.state.state_details.pause_key
    assert key is not None
    with get_client(sync_client=True) as client:
        schema = json.loads(client.read_flow_run_input(run.id, f"suspended-{key}-schema"))
        description = json.loads(client.read_flow_run_input(run.id, f"suspended-{key}-description"))
    return key, schema, description


def actions_offered(schema: dict[str, Any]) -> list[str]:
    ref = schema["properties"]["action"]["$ref"].split("/")[-1]
    return list(schema["definitions"][ref]["enum"])


def drive(run_id: UUID) -> FlowRun:
    """Run a resumed case run in this process, as the served runner would, until it suspends
    again or ends; return it as the API has it."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        assert run.state is not None and run.state.is_scheduled(), run.state
    try:
        run_flow(case_runs.case_flow, flow_run=run, parameters=run.parameters, return_type="state")
    except Pause:
        pass
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def _actor(who: dict[str, Any]) -> Actor:
    return Actor(who.pop("actor"), Role(who.pop("role", "dispatcher")), who.pop("actor_unit", None))


def resume(run: FlowRun, **data: Any) -> FlowRun:
    """Resume a case run as the gate would: the input stamped with who acts (its actor, role
    and actor_unit, the account made on first use), then run it."""
    with Engine.opened() as engine:
        data["stamp"] = stamp_as(engine, _actor(data), f"flow_run:{run.id}")
    resume_flow_run(run.id, run_input=data)
    return drive(run.id)


def act(action: Any, who: dict[str, Any], **form: Any) -> Any:
    """An action flow run in-process with the identity stamp the gate would add."""
    with Engine.opened() as engine:
        stamp = stamp_as(engine, _actor(dict(who)), f"action:{actions.action_name(action)}")
    return action(form, stamp, return_state=True)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run `grievance ARGS`; (exit code, stderr)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def state_of(driver: Driver, number: str) -> tuple[str, int]:
    view = show(driver.engine, number, DESK)
    return view.case.state.value, view.version


# ------------------------------------------------------------------------------ the forms
def test_each_wait_has_its_form_and_only_actions_the_table_allows() -> None:
    expected = {
        "accepted": ["分办 assign", "并单 merge"],
        "returned": ["改派 reassign", "并单 merge"],
        "assigned": ["签收 sign", "退单 return"],
        "extension": ["批准延期 approve_extension", "驳回延期 reject_extension"],
        "closed": ["回访 revisit"],
        "dissatisfied": ["重办 redo", "复盘 review"],
        "unreachable": ["回访 revisit", "复盘 review"],
        "revisited": ["复盘 review"],
    }
    assert {
        name: [f"{e.zh} {e.value}" for e in w.events]
        for name, w in waits.WAITS.items()
        if w.case_run
    } == expected
    for model in case_forms.FORMS.values():
        schema = model.model_json_schema()
        titles = {p: spec.get("title", "") for p, spec in schema["properties"].items()}
        assert not {"actor", "role", "actor_unit", "stamp"} & set(titles)  # the stamp says who
        assert titles["action"] == "办理动作 Action"
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles.values()), titles
        assert "expect_version" not in titles and "number" not in titles
    assert case_forms.FORMS["closed"].model_json_schema()["required"] == ["satisfaction"]
    wait = waits.wait_of
    assert wait(State.HANDLING, False, None).case_run is False  # type: ignore[union-attr]
    assert wait(State.HANDLING, True, None).name == "extension"  # type: ignore[union-attr]
    assert wait(State.REVISITED, False, "dissatisfied").name == "dissatisfied"  # type: ignore[union-attr]
    assert wait(State.REVIEWED, False, "satisfied") is None


# --------------------------------------------------------------------- suspend and resume
def test_a_tick_suspends_one_case_run_per_waiting_grievance_with_the_form_that_fits(
    db: None, driver: Driver
) -> None:
    accepted = driver.to("accepted").number
    assigned = driver.to("assigned").number
    handling = driver.to("handling").number
    closed = driver.to("closed").number
    pending = driver.to("handling").number
    uc.request_extension(driver.engine, pending, driver.stamp(HANDLER), days=3, reason="等材料")
    reviewed = driver.to("reviewed").number
    report = worklist.sync_worklist(driver.engine)
    assert report.counts == {"created": 4} and report.errors == []
    expected = {
        accepted: (["分办 assign", "并单 merge"], "waiting:desk"),
        assigned: (["签收 sign", "退单 return"], "waiting:UA"),
        closed: (["回访 revisit"], "waiting:desk"),
        pending: (["批准延期 approve_extension", "驳回延期 reject_extension"], "waiting:UA"),
    }
    for number, (offered, waiting) in expected.items():
        run = the_run(number)
        assert run.name == f"case {number}"
        assert {f"grievance:{number}", "worklist", waiting} <= set(run.tags)
        key, schema, description = form(run)
        assert actions_offered(schema) == offered
        assert f"工单 {number}" in description and "138" not in description
    assert open_runs(handling) == [] and open_runs(reviewed) == []
    # the driver's grievances share one phone and plate: the accepted one's form names the
    # open ones (疑似重复) and offers the merge into the oldest
    description = form(the_run(accepted))[2]
    same = "同一电话 same phone + 同一车牌 same plate"
    assert f"**疑似重复 Possible repeat:** {assigned} (assigned; {same})" in description
    assert f"「并单 merge」并入 {assigned}" in description
    assert "疑似重复" not in form(the_run(assigned))[2]  # the unit's form: no merge offered
    again = worklist.sync_worklist(driver.engine)
    assert again.counts == {"in-sync": 4}  # the walk finds them all in place: nothing new


def test_resume_applies_the_input_through_the_use_case_and_the_next_form_follows(
    db: None, driver: Driver
) -> None:
    number = driver.to("accepted").number
    worklist.sync_worklist(driver.engine)
    ui = {"co_units": [], "into": ""}  # as the UI sends
    run = resume(
        the_run(number), action="分办 assign", unit="UA", actor="zhangmin", at=at(driver), **ui
    )
    assert state_of(driver, number) == ("assigned", 2)
    key, schema, _ = form(run)
    assert key.startswith("assigned-") and actions_offered(schema) == ["签收 sign", "退单 return"]
    assert "waiting:UA" in run.tags and "waiting:desk" not in run.tags
    view = show(driver.engine, number, DESK)
    assert view.events[-1].actor == "zhangmin" and view.events[-1].role == Role.DISPATCHER
    run = resume(
        run, action="签收 sign", actor="liqiang", role="handler", actor_unit="UA", at=at(driver)
    )
    assert state_of(driver, number) == ("handling", 3)
    assert run.state is not None and run.state.type is StateType.COMPLETED  # nothing waits now
    assert open_runs(number) == []


def test_refused_input_is_not_applied_and_the_form_comes_back_with_the_reason(
    db: None, driver: Driver
) -> None:
    number = driver.to("accepted").number
    worklist.sync_worklist(driver.engine)
    first, _, _ = form(the_run(number))
    run = resume(the_run(number), action="分办 assign", unit="ZZ", actor="zhangmin", at=at(driver))
    assert state_of(driver, number) == ("accepted", 1)  # nothing written
    key, schema, description = form(run)
    assert key != first and key.startswith("accepted-")  # the same form, a new suspension
    assert actions_offered(schema) == ["分办 assign", "并单 merge"]
    assert description.startswith("> **上次提交未办理 Your last input was refused:** ")
    assert f"grievance {number}: can't assign: unknown unit(s): ZZ" in description
    run = resume(run, action="分办 assign", actor="zhangmin", at=at(driver))  # the unit left out
    assert "assign: unit: Field required" in form(run)[2]
    run = resume(
        run, action="分办 assign", unit="UA", actor="qian.review", role="reviewer", at=at(driver)
    )
    assert "a reviewer may not assign" in form(run)[2]
    with pytest.raises(RuntimeError, match="Cannot resume"):  # the server checks the schema
        resume_flow_run(run.id, run_input={"action": "办结 close"})
    assert form(the_run(number))[0] == form(run)[0]  # still waiting on the same form
    run = resume(run, action="分办 assign", unit="UA", actor="zhangmin", at=at(driver))
    assert state_of(driver, number)[0] == "assigned"


def test_a_stale_form_is_refused_and_the_current_one_comes_back(db: None, driver: Driver) -> None:
    number = driver.to("accepted").number
    worklist.sync_worklist(driver.engine)
    stale = the_run(number)
    # another path acts without re-syncing (no Prefect reachable from there)
    uc.assign(driver.engine, number, driver.stamp(DESK), unit="UA")
    run = resume(
        stale,
        action="并单 merge",
        into="20261123-0009",
        reason="重复来电",
        actor="zhangmin",
        at=at(driver),
    )
    assert state_of(driver, number) == ("assigned", 2)
    key, schema, description = form(run)
    assert key.startswith("assigned-") and actions_offered(schema)[0] == "签收 sign"
    assert "this form was for 待分办 To be assigned (v1), but it is now assigned (v2)" in (
        description
    )


# ------------------------------------------------------------------------------ re-sync
def test_an_action_deployment_re_syncs_the_case_run(
    db: None, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = driver.to("accepted").number
    worklist.sync_worklist(driver.engine)
    before = the_run(number)
    who = {"actor": "zhangmin", "role": "dispatcher"}
    state = act(actions.assign, who, number=number, unit="UA", at=at(driver))
    assert state.is_completed()
    run = the_run(number)
    assert run.id == before.id  # the same run, suspended again in place
    key, schema, _ = form(run)
    assert key.startswith("assigned-") and "waiting:UA" in run.tags
    handler = {"actor": "liqiang", "role": "handler", "actor_unit": "UA"}
    state = act(actions.sign, handler, number=number, at=at(driver))
    assert state.is_completed() and open_runs(number) == []  # handling: the run completed
    with get_client(sync_client=True) as client:
        done = client.read_flow_run(run.id)
    assert done.state is not None and done.state.type is StateType.COMPLETED
    assert "deleted" not in worklist.sync_worklist(driver.engine).counts  # kept 7 days
    monkeypatch.setenv(case_runs.ENV_KEEP, "0")
    assert worklist.sync_worklist(driver.engine).counts["deleted"] == 1
    with get_client(sync_client=True) as client, pytest.raises(ObjectNotFound):
        client.read_flow_run(run.id)


def test_a_cli_action_re_syncs_the_case_run(
    db: None, driver: Driver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    number = driver.to("assigned").number
    worklist.sync_worklist(driver.engine)
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    args = ["--role", "handler", "--actor-unit", "UA", "--at", at(driver)]
    assert cli(capsys, "return", number, "--reason", "不属于本单位", *args) == (0, "")
    run = the_run(number)
    key, schema, _ = form(run)
    assert key.startswith("returned-") and actions_offered(schema)[0] == "改派 reassign"
    assert "waiting:desk" in run.tags and "waiting:UA" not in run.tags


def test_a_prefect_outage_never_fails_a_committed_action(
    db: None, driver: Driver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    number = driver.to("accepted").number
    worklist.sync_worklist(driver.engine)

    def down(*args: Any, **kwargs: Any) -> str:
        raise ConnectionError("Prefect is down")

    real = case_sync.resync
    monkeypatch.setattr(case_sync, "resync", down)
    who = {"actor": "zhangmin", "role": "dispatcher"}
    state = act(actions.assign, who, number=number, unit="UA", at=at(driver))
    assert state.is_completed() and state_of(driver, number) == ("assigned", 2)
    assert form(the_run(number))[0].startswith("accepted-")  # behind, until the next tick
    monkeypatch.setattr(case_sync, "resync", real)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens there
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        args = ["--role", "handler", "--actor-unit", "UA", "--at", at(driver)]
        code, err = cli(capsys, "sign", number, *args)
    assert code == 0 and "note: Prefect worklist not re-synced" in err
    assert state_of(driver, number) == ("handling", 3)  # committed all the same
    report = worklist.sync_worklist(driver.engine)  # the next tick reads the audit log
    assert report.counts.get("completed") == 1 and open_runs(number) == []


# ------------------------------------------------------------------ lazy, bounded creation
def test_case_runs_are_created_lazily_in_bounded_batches(db: None, driver: Driver) -> None:
    numbers = [driver.to("accepted").number for _ in range(5)]
    assert all_case_runs() == []  # accepting creates none
    created = []
    for _ in range(3):
        created.append(worklist.sync_worklist(driver.engine, budget=2).counts.get("created", 0))
    assert created == [2, 2, 1]
    assert all(len(open_runs(n)) == 1 for n in numbers)
    assert worklist.sync_worklist(driver.engine, budget=2).counts == {"in-sync": 5}
    # a bulk import adds no case run per row: the next ticks pick the new grievances up
    rows, problems = work_orders.parse(SAMPLE)
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    result = importing.import_rows(driver.engine, rows, Actor("12328导入", Role.DISPATCHER), now)
    assert len(result.imported) == 5 and len(all_case_runs()) == 5
    first = worklist.sync_worklist(driver.engine, budget=3)
    assert first.counts["created"] == 3 and first.counts.get("deferred", 0) == 2
    second = worklist.sync_worklist(driver.engine, budget=3)
    assert second.counts["created"] == 2
    assert len(all_case_runs()) == 10 and all(
        len(open_runs(number)) == 1 for _, number in result.imported
    )


def test_the_watchdog_publishes_the_worklists_and_creates_the_case_runs(
    db: None, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = driver.to("accepted").number
    assigned = driver.to("assigned").number
    handling = driver.to("handling").number
    now = driver.now + timedelta(minutes=5)
    summary = sla_watchdog.sla_watchdog(now=now)
    assert summary["worklist"]["case_runs"]["created"] == 2
    assert summary["worklist"]["waiting"] == 3
    assert len(open_runs(accepted)) == 1 and len(open_runs(assigned)) == 1
    tables = latest_tables()
    assert [r["工单编号 Number"] for r in tables["worklist-desk"]] == [accepted]
    # the driver's other grievances share its phone and plate: the desk's table names them
    assert tables["worklist-desk"][0]["疑似重复 Possible repeat"] == (
        f"{assigned}（在办 open）、{handling}（在办 open）"
    )
    assert [r["工单编号 Number"] for r in tables["worklist-ua"]] == [assigned, handling]
    row = tables["worklist-ua"][0]
    assert row["待办 Waiting for"] == "待签收 To be signed for by the unit"
    assert row["下一期限 Next deadline"].endswith("进展反馈 feedback")
    assert tables["worklist-ub"][0]["待办 Waiting for"] == "无待办 nothing waits"
    versions = artifact_versions()
    sla_watchdog.sla_watchdog(now=now)  # nothing changed: no new versions
    assert artifact_versions() == versions
    uc.sign(driver.engine, assigned, driver.stamp(HANDLER))
    uc.suspend(driver.engine, handling, driver.stamp(SUPERVISOR), reason="等待司机")
    summary = sla_watchdog.sla_watchdog(now=driver.now)
    assert summary["worklist"]["case_runs"]["completed"] == 1  # signed: handling now
    assert artifact_versions()["worklist-ua"] == versions["worklist-ua"] + 1
    assert artifact_versions()["worklist-desk"] == versions["worklist-desk"]
    monkeypatch.setattr(worklist, "TABLE_VERSIONS", 1)  # older versions are deleted
    uc.resume(driver.engine, handling, driver.stamp(HANDLER))
    sla_watchdog.sla_watchdog(now=driver.now)
    assert artifact_versions()["worklist-ua"] == 1


def test_the_sla_board_links_each_row_to_its_open_case_run(db: None, driver: Driver) -> None:
    """Published after the worklist, the board links a waiting grievance to the case run made
    in the same tick; a grievance the unit handles at its own pace has none and no link."""
    assigned = driver.to("assigned").number
    handling = driver.to("handling").number
    sla_watchdog.sla_watchdog(now=driver.now + timedelta(minutes=5))
    run = the_run(assigned)
    with get_client(sync_client=True) as client:
        (board,) = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(
                key=ArtifactCollectionFilterKey(any_=["sla-board-ua"])
            )
        )
    text = str(board.data)
    assert f"[{assigned}](/runs/flow-run/{run.id})" in text
    assert f"| {handling} |" in text and f"[{handling}]" not in text


def latest_tables() -> dict[str, list[dict[str, str]]]:
    with get_client(sync_client=True) as client:
        latest = client.read_latest_artifacts(limit=100)
    return {
        a.key: json.loads(str(a.data)) for a in latest if a.key and a.key.startswith("worklist-")
    }


def artifact_versions() -> dict[str, int]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="worklist-%")), limit=200
        )
    counts: dict[str, int] = {}
    for artifact in found:
        counts[str(artifact.key)] = counts.get(str(artifact.key), 0) + 1
    return counts


# ------------------------------------------------------------------------------ switched off
def test_case_runs_can_be_turned_off(
    db: None, driver: Driver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(case_runs.ENV_CASE_RUNS, "0")
    assert "case" not in [d.name for d in scheduled.deployments()]
    number = driver.to("accepted").number
    summary = sla_watchdog.sla_watchdog(now=driver.now + timedelta(minutes=5))
    assert "case_runs" not in summary["worklist"] and summary["worklist"]["waiting"] == 1
    assert all_case_runs() == []
    assert "worklist-desk" in latest_tables()  # the tables stay
    assert case_sync.resync_soft(number) == "off"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # never contacted
    assert cli(capsys, "assign", number, "--unit", "UA", "--at", at(driver)) == (0, "")
    monkeypatch.setenv(case_runs.ENV_CASE_RUNS, "1")
    assert "case" in [d.name for d in scheduled.deployments()]


def test_a_case_run_stuck_without_its_process_is_replaced(
    db: None, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.states import Running

    number = driver.to("accepted").number
    worklist.sync_worklist(driver.engine)
    stuck = the_run(number)
    with get_client(sync_client=True) as client:  # a process killed while it ran
        client.set_flow_run_state(stuck.id, Running(), force=True)
    assert case_sync.resync(number) == "active"  # a case flow at work re-reads for itself
    monkeypatch.setattr(case_sync, "STUCK", timedelta(0))  # instead of waiting 15 minutes
    assert case_sync.resync(number) == "deferred"  # crashed; the next tick makes a new one
    with get_client(sync_client=True) as client:
        crashed = client.read_flow_run(stuck.id)
    assert crashed.state is not None and crashed.state.type is StateType.CRASHED
    assert worklist.sync_worklist(driver.engine).counts == {"created": 1}
    assert the_run(number).id != stuck.id


def test_the_watchdog_issues_documents_a_crash_left_pending(db: None, driver: Driver) -> None:
    """The process that recorded the review died before issuing its documents: the next
    watchdog run (its `documents` task) issues them."""
    from service import documents

    number = driver.to("reviewed").number  # the use case queued the job, nobody issued it
    assert documents.stored(driver.engine, number) == []
    summary = sla_watchdog.sla_watchdog(now=driver.now + timedelta(minutes=10))
    assert summary["documents"] == {"issued": 1, "failed": 0}
    assert [d["format"] for d in documents.stored(driver.engine, number)] == ["html", "docx"]


def test_the_watchdog_seals_and_verifies_the_audit_chain(db: None, driver: Driver) -> None:
    """Its `audit` task: new events sealed, verified (everything on the first run), and what
    is found queued for the bureau's supervisors."""
    from sqlalchemy import text

    number = driver.to("assigned").number
    with driver.engine.db.transaction() as session:
        session.exec(text(f"UPDATE grievance SET urgent = true WHERE number = '{number}'"))  # type: ignore[call-overload]
    summary = sla_watchdog.sla_watchdog(now=driver.now + timedelta(minutes=10))
    audited = summary["audit"]
    assert audited["sealed"] == 2 and audited["checked"] == 1 and audited["findings"] == 1
    assert audited["notified"] >= 1
