"""The action flows: run names, tags, the use-case effect, Failed states, deployment forms."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import FailedRun
from prefect.flow_engine import run_flow
from prefect.logging.loggers import flow_run_logger
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import State
from prefect.testing.utilities import prefect_test_harness

from flows import actions
from service import cases as uc
from service.engine import Engine
from service.reading import show
from tests.conftest import DESK, HANDLER, SUPERVISOR, Driver, database_url_for, stamp_as
from workflow.actor import Actor
from workflow.vocab import Role

# who acts: the signed-in account the identity stamp names (see `run`)
DESK_WHO = {"actor": "zhangmin", "role": "dispatcher"}
HANDLER_WHO = {"actor": "liqiang", "role": "handler", "actor_unit": "UA"}
SUPERVISOR_WHO = {"actor": "zhao.chief", "role": "supervisor", "actor_unit": "UA"}
REVIEWER_WHO = {"actor": "qian.review", "role": "reviewer"}
FINDINGS = {
    "verification": "调取运单、通话记录",
    "facts": "运费已于11月20日结清",
    "basis": "《道路货物运输及站场管理规定》",
    "explanation": "已电话告知司机核查结果",
    "explained_at": "2026-11-23T10:00:00+08:00",
    "evidence": ["运单截图"],
}


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


def stamp_for(action: Any, who: dict[str, Any]) -> str:
    """The identity stamp the gate would add for `who` (an account made on first use)."""
    actor = Actor(who["actor"], Role(who["role"]), who.get("actor_unit"))
    with Engine.opened() as engine:
        return stamp_as(engine, actor, f"action:{actions.action_name(action)}")


def run(
    action: Any, number: str | None, who: dict[str, Any], **fields: Any
) -> tuple[State, FlowRun]:
    """Run one action flow with a form built from plain data, like the UI's, stamped with the
    identity of `who` (its actor/role/actor_unit; anything else goes into the form); return
    its final state and its flow run as the API has it."""
    context = {k: v for k, v in who.items() if k not in ("actor", "role", "actor_unit")}
    data = {**fields, **context} if number is None else {"number": number, **fields, **context}
    stamp = stamp_for(action, who)
    state = action(data, stamp, return_state=True)  # a dict, as the UI sends it
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
    return state, flow_run


@dataclass
class Case:
    """A grievance prepared for one action: its number and whatever the action needs."""

    number: str
    other: str | None = None


def _accepted(d: Driver) -> Case:
    return Case(d.to("accepted").number)


def _assigned(d: Driver) -> Case:
    return Case(d.to("assigned").number)


def _handling(d: Driver) -> Case:
    return Case(d.to("handling").number)


def _returned(d: Driver) -> Case:
    n = d.to("assigned").number
    uc.return_to_desk(d.engine, n, d.stamp(HANDLER), reason="不属于本单位")
    return Case(n)


def _pending(d: Driver) -> Case:
    n = d.to("handling").number
    uc.request_extension(d.engine, n, d.stamp(HANDLER), days=5, reason="等待材料")
    return Case(n)


def _suspended(d: Driver) -> Case:
    n = d.to("handling").number
    uc.suspend(d.engine, n, d.stamp(SUPERVISOR), reason="等待司机补充材料")
    return Case(n)


def _closed(d: Driver) -> Case:
    return Case(d.to("closed").number)


def _dissatisfied(d: Driver) -> Case:
    n = d.to("closed").number
    uc.revisit(d.engine, n, d.stamp(DESK), satisfaction="dissatisfied")
    return Case(n)


def _revisited(d: Driver) -> Case:
    return Case(d.to("revisited").number)


def _duplicate(d: Driver) -> Case:
    keep = d.to("accepted").number
    return Case(d.to("accepted").number, other=keep)


@dataclass(frozen=True)
class Action:
    flow: Any
    prepare: Callable[[Driver], Case]
    who: dict[str, Any]
    fields: Callable[[Case], dict[str, Any]]
    state: str
    unit: str | None  # the unit tag expected
    check: Callable[[Any], bool] = lambda case: True


ACTIONS = {
    "assign": Action(
        actions.assign,
        _accepted,
        DESK_WHO,
        lambda c: {"unit": "UA"},
        "assigned",
        "UA",
        lambda case: case.lead_unit == "UA",
    ),
    "sign": Action(actions.sign, _assigned, HANDLER_WHO, lambda c: {}, "handling", "UA"),
    "return": Action(
        actions.return_to_desk,
        _assigned,
        HANDLER_WHO,
        lambda c: {"reason": "不属于本单位"},
        "returned",
        "UA",
        lambda case: case.return_count == 1,
    ),
    "reassign": Action(
        actions.reassign,
        _returned,
        DESK_WHO,
        lambda c: {"unit": "UB", "reason": "属UB管辖", "add_co_units": ["UA"]},
        "assigned",
        "UB",
        lambda case: case.lead_unit == "UB" and case.co_units == ("UA",),
    ),
    "feedback": Action(
        actions.feedback,
        _handling,
        HANDLER_WHO,
        lambda c: {"note": "已联系货主"},
        "handling",
        "UA",
        lambda case: case.feedback_count == 1,
    ),
    "request_extension": Action(
        actions.request_extension,
        _handling,
        HANDLER_WHO,
        lambda c: {"days": 5, "reason": "等待材料"},
        "handling",
        "UA",
        lambda case: case.pending_extension_days == 5,
    ),
    "approve_extension": Action(
        actions.approve_extension,
        _pending,
        SUPERVISOR_WHO,
        lambda c: {},
        "handling",
        "UA",
        lambda case: case.extensions_granted == 1 and case.pending_extension_days is None,
    ),
    "reject_extension": Action(
        actions.reject_extension,
        _pending,
        SUPERVISOR_WHO,
        lambda c: {"reason": "理由不足"},
        "handling",
        "UA",
        lambda case: case.extensions_granted == 0 and case.pending_extension_days is None,
    ),
    "suspend": Action(
        actions.suspend,
        _handling,
        SUPERVISOR_WHO,
        lambda c: {"reason": "等待司机"},
        "suspended",
        "UA",
    ),
    "resume": Action(actions.resume, _suspended, HANDLER_WHO, lambda c: {}, "handling", "UA"),
    "close": Action(
        actions.close,
        _handling,
        HANDLER_WHO,
        lambda c: {"result": "resolved", "note": "已结清", "recovered": "3500"},
        "closed",
        "UA",
        lambda case: case.result == "resolved" and case.recovered_fen == 350000,
    ),
    "close no_fault": Action(
        actions.close,
        _handling,
        SUPERVISOR_WHO,
        lambda c: {"result": "no_fault", "note": "经核查无责", **FINDINGS},
        "closed",
        "UA",
        lambda case: case.result == "no_fault",
    ),
    "revisit": Action(
        actions.revisit,
        _closed,
        DESK_WHO,
        lambda c: {"satisfaction": "satisfied"},
        "revisited",
        "UA",
        lambda case: case.satisfaction == "satisfied",
    ),
    "redo": Action(
        actions.redo,
        _dissatisfied,
        DESK_WHO,
        lambda c: {"reason": "司机不满意"},
        "handling",
        "UA",
        lambda case: case.cycle == 2,
    ),
    "review": Action(
        actions.review,
        _revisited,
        REVIEWER_WHO,
        lambda c: {"root_cause": "合同无付款期限", "actions": "约谈货主"},
        "reviewed",
        "UA",
    ),
    "merge": Action(
        actions.merge,
        _duplicate,
        DESK_WHO,
        lambda c: {"into": c.other, "reason": "同一运单重复来电"},
        "merged",
        None,
        lambda case: case.merged_into is not None,
    ),
}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_action_flow_names_tags_and_applies_its_use_case(
    name: str, db: None, driver: Driver
) -> None:
    action = ACTIONS[name]
    prepared = action.prepare(driver)
    at = (driver.now + timedelta(minutes=5)).isoformat()
    state, flow_run = run(
        action.flow, prepared.number, action.who, at=at, **action.fields(prepared)
    )
    assert state.is_completed(), state.message
    code = actions.action_name(action.flow)
    assert flow_run.name == f"{code} {prepared.number}"
    assert f"grievance:{prepared.number}" in flow_run.tags
    if action.unit:
        assert f"unit:{action.unit}" in flow_run.tags
    summary = state.result()
    assert summary["number"] == prepared.number and summary["state"] == action.state
    view = show(driver.engine, prepared.number, DESK)
    assert view.case.state == action.state and view.version == summary["version"]
    assert view.events[-1].at.isoformat().startswith(at[:16])  # the effective time given
    assert action.check(view.case)


def test_accept_registers_and_renames_its_run_to_the_new_number(db: None, driver: Driver) -> None:
    fields = {
        "channel": "hotline_12328",
        "ref": "12328-20261123-0042",
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王师傅",
        "phone": "138 1234 5678",
        "description": "货主拖欠运费3500元已两个月",
        "amount": "3500",
    }
    state, flow_run = run(actions.accept, None, DESK_WHO, **fields)  # at: the clock
    assert state.is_completed(), state.message
    number = state.result()["number"]
    assert flow_run.name == f"accept {number}"
    assert f"grievance:{number}" in flow_run.tags
    assert not [t for t in flow_run.tags if t.startswith("unit:")]  # the desk has no unit
    view = show(driver.engine, number, DESK)
    assert view.case.state == "accepted" and view.case.phone == "13812345678"
    again, _ = run(actions.accept, None, DESK_WHO, **fields)
    assert again.is_failed()
    assert (
        again.message
        == f"hotline_12328 reference 12328-20261123-0042 is already grievance {number}"
    )


def _failure(driver: Driver, case: str) -> tuple[Any, str, dict[str, Any], dict[str, Any], str]:
    """(flow, number, who, fields, the exact one-line message) for one kind of bad input."""
    if case == "unknown unit":
        n = driver.to("accepted").number
        message = (
            f"grievance {n}: can't assign: unknown unit(s): ZZ (add one with `grievance unit add`)"
        )
        return actions.assign, n, DESK_WHO, {"unit": "ZZ"}, message
    if case == "another unit":
        n = driver.to("assigned").number
        who = {"actor": "sun", "role": "handler", "actor_unit": "UB"}
        return actions.sign, n, who, {}, f"grievance {n} does not concern unit UB"
    if case == "illegal move":
        n = driver.to("accepted").number
        message = (
            f"grievance {n}: can't close when accepted; allowed now: amend, assign, attach, merge"
        )
        return actions.close, n, DESK_WHO, {"result": "resolved", "note": "x"}, message
    if case == "role":
        n = driver.to("accepted").number
        message = f"grievance {n}: a reviewer may not assign (only dispatcher)"
        return actions.assign, n, REVIEWER_WHO, {"unit": "UA"}, message
    if case == "stale version":
        n = driver.to("assigned").number
        message = (
            f"grievance {n} is at version 2, not 1: someone else acted on it; "
            "look at it again and retry"
        )
        return actions.sign, n, {**HANDLER_WHO, "expect_version": 1}, {}, message
    if case == "findings missing":
        n = driver.to("handling").number
        fields = {"result": "no_fault", "note": "无责", "facts": "已结清"}
        message = (
            "invalid close input: findings.verification: Field required; findings.basis: Field "
            "required; findings.explanation: Field required; findings.explained_at: Field "
            "required; findings.evidence: Field required"
        )
        return actions.close, n, SUPERVISOR_WHO, fields, message
    assert case == "not found"
    return actions.sign, "20991231-9999", HANDLER_WHO, {}, "grievance 20991231-9999 does not exist"


FAILURES = [
    "unknown unit",
    "another unit",
    "illegal move",
    "role",
    "stale version",
    "findings missing",
    "not found",
]


@pytest.mark.parametrize("case", FAILURES)
def test_bad_input_fails_the_run_with_the_one_line_reason(
    case: str, db: None, driver: Driver
) -> None:
    action, number, who, fields, message = _failure(driver, case)
    driver.units("UA", "UB")
    before = None if case == "not found" else show(driver.engine, number, DESK).version
    state, flow_run = run(action, number, who, **fields)
    assert state.is_failed()
    assert state.message == message
    assert "Traceback" not in (state.message or "") and "\n" not in (state.message or "")
    assert flow_run.state is not None and flow_run.state.message == message
    assert flow_run.name == f"{actions.action_name(action)} {number}"
    assert f"grievance:{number}" in flow_run.tags
    if before is not None:
        assert show(driver.engine, number, DESK).version == before  # nothing changed


def test_a_form_the_model_refuses_fails_before_the_use_case(db: None, driver: Driver) -> None:
    n = driver.to("assigned").number
    state, flow_run = run(actions.sign, n, {**DESK_WHO, "expect_version": -1})
    assert state.is_failed() and "Validation of flow parameters failed" in (state.message or "")
    assert show(driver.engine, n, DESK).case.state == "assigned"


def test_the_action_deployments_carry_bilingual_forms() -> None:
    deployments = actions.action_deployments()
    names = [d.name for d in deployments]
    assert names == [
        "accept",
        "assign",
        "sign",
        "return",
        "reassign",
        "feedback",
        "request_extension",
        "approve_extension",
        "reject_extension",
        "suspend",
        "resume",
        "close",
        "revisit",
        "redo",
        "review",
        "merge",
        "typical",
    ]
    for deployment in deployments:
        # what the server stores as the deployment's parameter schema (the UI's form)
        schema = deployment._parameter_openapi_schema.model_dump(exclude_unset=True)
        assert deployment.entrypoint.startswith("flows/actions.py:")
        text = json.dumps(schema, ensure_ascii=False)
        assert deployment.tags == ["grievance", "action", f"action:{deployment.name}"]
        assert not deployment.schedules
        assert "生效时间 Effective time" in text
        # no form asks who acts, and the identity stamp is not a form field
        for field in ("姓名 Your name", "角色 Role", "所属单位", '"stamp"', '"actor"'):
            assert field not in text
        assert (deployment.name == "accept") != ("工单编号 Grievance number" in text)
        (form,) = [d for k, d in schema["definitions"].items() if k.endswith("Form")]
        for field, spec in form["properties"].items():
            assert spec.get("title") and spec.get("description") and spec.get("examples"), field
        assert "HumanRole" not in schema["definitions"]
    by_name = {
        d.name: d._parameter_openapi_schema.model_dump(exclude_unset=True) for d in deployments
    }
    assert "主办单位 Lead unit" in json.dumps(by_name["assign"], ensure_ascii=False)
    close = by_name["close"]["definitions"]
    assert close["CloseResult"]["enum"][-1] == "no_fault"  # a dropdown
    assert "Satisfaction" in by_name["revisit"]["definitions"]
    assert "Category" in by_name["accept"]["definitions"]


def test_a_review_publishes_its_report_as_an_artifact_keyed_by_the_number(
    db: None, driver: Driver
) -> None:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    case = _revisited(driver)
    state, _ = run(
        actions.review,
        case.number,
        REVIEWER_WHO,
        root_cause="合同无付款期限",
        actions="约谈货主",
    )
    assert state.is_completed()
    key = f"review-{case.number}"
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )  # every version of the key (earlier tests may have reviewed the same number)
    assert found and all("复盘报告" in str(a.data) for a in found)
    assert all("13812345678" not in str(a.data) for a in found)


def test_a_form_cannot_say_who_acts(db: None, driver: Driver) -> None:
    """Who acts comes from the identity stamp only: a form that names an actor is refused
    before anything runs, and a run without a stamp acts for nobody."""
    case = driver.accept()
    driver.units("UA")
    forged = {"number": case.number, "unit": "UA", "actor": "someone-else", "role": "supervisor"}
    with pytest.raises(Exception, match="actor"):
        actions.assign(forged, stamp_for(actions.assign, DESK_WHO))
    state = actions.assign({"number": case.number, "unit": "UA"}, return_state=True)
    assert state.is_failed() and "no identity stamp" in str(state.message)
    assert show(driver.engine, case.number, DESK).case.state.value == "accepted"


def test_a_stamp_is_good_for_one_run_and_its_account_must_be_enabled(
    db: None, driver: Driver
) -> None:
    """A stamp copied from one run (they are visible in its parameters) acts for no other,
    and a disabled account's stamp acts for nobody: the runs fail and write nothing."""
    from service import accounts
    from service.acting import Stamp

    driver.units("UA")
    first, second, third = driver.accept(), driver.accept(), driver.accept()
    stamp = stamp_for(actions.assign, DESK_WHO)
    state = actions.assign({"number": first.number, "unit": "UA"}, stamp, return_state=True)
    assert state.is_completed()
    replayed = actions.assign({"number": second.number, "unit": "UA"}, stamp, return_state=True)
    assert replayed.is_failed() and "already used by another run" in str(replayed.message)
    assert show(driver.engine, second.number, DESK).case.state.value == "accepted"
    fresh = stamp_for(actions.assign, DESK_WHO)
    ops = Stamp(actor=DESK, at=driver.now, recorded_at=driver.now)
    accounts.set_disabled(driver.engine, ops, DESK_WHO["actor"], True)
    refused = actions.assign({"number": third.number, "unit": "UA"}, fresh, return_state=True)
    assert refused.is_failed() and "disabled" in str(refused.message)
    assert show(driver.engine, third.number, DESK).case.state.value == "accepted"
    accounts.set_disabled(driver.engine, ops, DESK_WHO["actor"], False)


class _Kept(logging.Handler):
    """Keeps the records a logger handles (Prefect's loggers may not propagate to caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_refused_deployed_run_logs_the_reason_and_no_traceback(db: None, driver: Driver) -> None:
    """As a served deployment runs it (`prefect.engine`: `run_flow` with the run's logger as
    its error logger): the refusal ends the run Failed with the one-line reason, and the run's
    logs hold that reason, not Prefect's "Engine execution exited with unexpected exception"
    and its traceback (the engine re-raises the Failed state it was handed)."""
    n = driver.to("accepted").number
    data = {"number": n, "result": "resolved", "note": "x"}
    stamp = stamp_for(actions.close, DESK_WHO)  # a close before assignment: refused
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(
            actions.close, parameters={"params": data, "stamp": stamp}
        )
    kept = _Kept()
    runs = logging.getLogger("prefect.flow_runs")
    runs.addHandler(kept)
    try:
        with pytest.raises(FailedRun):  # Prefect's own: the engine's caller sees a failure
            run_flow(actions.close, flow_run=flow_run, error_logger=flow_run_logger(flow_run))
    finally:
        runs.removeHandler(kept)
    reason = f"grievance {n}: can't close when accepted; allowed now: amend, assign, attach, merge"
    with get_client(sync_client=True) as client:
        final = client.read_flow_run(flow_run.id).state
    assert final is not None and final.is_failed() and final.message == reason
    lines = [(r.levelno, r.getMessage()) for r in kept.records]
    assert (logging.WARNING, f"close {n}: {reason}") in lines
    assert not [r for r in kept.records if r.exc_info], lines
    assert not [m for _, m in lines if "unexpected exception" in m], lines
