"""Bulk import of 12328 work orders: parsing, validation, idempotency, crash, CLI, Prefect."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.importing import import_
from flows import importer
from models.audit_log import events_of
from service import cases as uc
from service import importing, work_orders
from service.engine import Engine
from service.reading import list_cases
from tests.conftest import DESK, database_url_for
from workflow.actor import Actor
from workflow.errors import InvalidInput
from workflow.vocab import Category, Channel, RequestType, Role

SAMPLE = Path(__file__).parent.parent / "fixtures" / "12328-sample.csv"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 16:00 Asia/Shanghai, after the sample's rows
ACTOR = Actor(importing.DEFAULT_ACTOR, Role.DISPATCHER)

HEADER = "工单编号,受理时间,诉求类型,诉求分类,诉求人,联系电话,车牌号,诉求内容"
GOOD = "W-{n},2026-11-23 09:{n:02d},投诉举报,运费纠纷/拖欠运费,王建国,13812345678,川B12345,拖欠运费"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def run(engine: Engine, path: Path, now: datetime = NOW, batch: int = 200) -> Any:
    rows, problems = work_orders.parse(path)
    result = importing.import_rows(engine, rows, ACTOR, now, batch=batch)
    result.problems = problems + result.problems
    return result


def cases(engine: Engine) -> list[Any]:
    return list_cases(engine, DESK, limit=1000)


def test_the_sample_csv_with_chinese_headers_imports_every_row(engine: Engine) -> None:
    parsed = work_orders.read(SAMPLE)
    assert parsed.format == "csv" and parsed.warnings == ["unknown column '坐席工号' ignored"]
    ticks: list[int] = []
    result = importing.import_rows(engine, parsed.rows, ACTOR, NOW, batch=2, progress=ticks.append)
    assert result.problems == [] and result.skipped_existing == []
    assert [line for line, _ in result.imported] == [2, 3, 4, 6, 7]  # row 4 spans two lines
    assert sum(ticks) == 5
    by_ref = {c.ref: c for c in cases(engine)}
    first = by_ref["12328-20261123-0001"]
    assert first.channel is Channel.HOTLINE_12328 and first.type is RequestType.COMPLAINT
    assert first.category is Category.FREIGHT_UNPAID and first.amount_fen == 350000
    assert first.respondent == "成都某某物流有限公司" and not first.urgent
    assert first.accepted_at == datetime(2026, 11, 23, 0, 42, tzinfo=UTC)  # 08:42 Shanghai
    third = by_ref["12328-20261123-0003"]
    assert third.urgent and third.phone == "0288765432" and "\n" in third.description
    assert third.accepted_at == datetime(2026, 11, 23, 1, 31, tzinfo=UTC)  # "2026/11/23 9:31"
    assert by_ref["12328-20261123-0004"].category is Category.CITY_ACCESS
    assert result.imported[0][1].startswith("20261123-")


def test_utf8_bom_and_gb18030_files_are_read(engine: Engine, tmp_path: Path) -> None:
    text = "\n".join([HEADER, GOOD.format(n=1), GOOD.format(n=2)]) + "\n"
    bom = write(tmp_path / "excel.csv", "\ufeff" + text)
    gbk = write(tmp_path / "gbk.csv", text.replace("W-", "G-"), "gb18030")
    assert len(run(engine, bom).imported) == 2
    result = run(engine, gbk)
    assert len(result.imported) == 2 and result.problems == []
    assert {c.ref for c in cases(engine)} == {"W-1", "W-2", "G-1", "G-2"}


def test_jsonl_with_english_keys(engine: Engine, tmp_path: Path) -> None:
    orders = [
        {
            "ref": "J-1",
            "channel": "hotline_12345",
            "type": "help",
            "category": "toll_etc",
            "name": "李师傅",
            "phone": 13900001111,
            "description": "ETC重复扣费",
            "amount": 12.5,
            "urgent": True,
            "accepted_at": "2026-11-23T09:30+08:00",
            "operator": "A017",
        },
        {
            "ref": "J-2",
            "type": "complaint",
            "category": "other",
            "name": "张伟",
            "phone": "13700002222",
            "description": "其他",
            "accepted_at": "2026-11-22T23:59:00Z",
        },
    ]
    path = write(tmp_path / "day.jsonl", "\n".join(json.dumps(o) for o in orders) + "\n\n")
    parsed = work_orders.read(path)
    assert parsed.format == "jsonl" and parsed.warnings == [
        "unknown key 'operator' ignored (first on line 1)"
    ]
    result = run(engine, path)
    assert [line for line, _ in result.imported] == [1, 2] and result.problems == []
    by_ref = {c.ref: c for c in cases(engine)}
    assert by_ref["J-1"].channel is Channel.HOTLINE_12345 and by_ref["J-1"].urgent
    assert by_ref["J-1"].amount_fen == 1250 and by_ref["J-1"].phone == "13900001111"
    assert by_ref["J-2"].channel is Channel.HOTLINE_12328  # the default
    assert by_ref["J-2"].accepted_at == datetime(2026, 11, 22, 23, 59, tzinfo=UTC)


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_import(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [
        HEADER + ",是否紧急",
        GOOD.format(n=1) + ",否",  # 2 good
        "W-2,2026-11-23 09:02,投诉举报,运费纠纷/拖欠运费,王建国,12345,川B12345,拖欠,否",  # 3
        "W-3,2026-11-23 09:03,投诉举报,偷油,王建国,13812345678,川B12345,拖欠,否",  # 4
        "W-4,2026-11-23 09:04,投诉举报,其他,王建国,13812345678,川B12345,,否",  # 5
        "W-5,2099-01-01 09:05,投诉举报,其他,王建国,13812345678,川B12345,拖欠,否",  # 6
        GOOD.format(n=1) + ",否",  # 7: the same ref as line 2
        GOOD.format(n=8) + ",也许",  # 8
        "W-9,昨天,投诉举报,其他,王建国,13812345678,,拖欠,否",  # 9
        GOOD.format(n=10) + ",是",  # 10 good
        "",
    ]
    path = write(tmp_path / "bad.csv", "\n".join(lines))
    result = run(engine, path)
    assert [line for line, _ in result.imported] == [2, 10]
    reasons = {p.line: p.reason for p in result.problems}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert reasons[3].startswith("phone: not a valid phone number")
    assert "category: unknown value '偷油'" in reasons[4]
    assert reasons[5] == "description: Field required"
    assert "in the future" in reasons[6]
    assert reasons[7] == "ref 'W-1' repeats line 2 of this file"
    assert "urgent" in reasons[8]
    assert reasons[9].startswith("accepted_at: not a time")


def test_running_twice_imports_nothing_new(engine: Engine) -> None:
    first = run(engine, SAMPLE)
    again = run(engine, SAMPLE)
    assert len(first.imported) == 5
    assert again.imported == [] and again.problems == []
    assert [ref for _, ref in again.skipped_existing][0] == "12328-20261123-0001"
    assert len(again.skipped_existing) == 5 and len(cases(engine)) == 5


def test_a_crash_midway_then_a_rerun_imports_every_row_once(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "day.csv", "\n".join([HEADER] + [GOOD.format(n=n) for n in range(8)]))
    real = uc.accept
    calls = 0

    def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(uc, "accept", flaky)
    with pytest.raises(RuntimeError, match="went away"):
        run(engine, path, batch=3)
    assert len(cases(engine)) == 4
    monkeypatch.setattr(uc, "accept", real)
    rerun = run(engine, path, batch=3)
    assert len(rerun.skipped_existing) == 4 and len(rerun.imported) == 4
    refs = sorted(c.ref for c in cases(engine))
    assert refs == sorted(f"W-{n}" for n in range(8))


def test_unreadable_and_incomplete_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        work_orders.read(tmp_path / "missing.csv")
    with pytest.raises(InvalidInput, match="empty"):
        work_orders.read(write(tmp_path / "empty.csv", "\n"))
    with pytest.raises(InvalidInput, match="binary"):
        work_orders.read(write(tmp_path / "x.csv", "a\x00b"))
    with pytest.raises(
        InvalidInput, match=r"missing required column\(s\): description \(诉求内容\)"
    ):
        work_orders.read(write(tmp_path / "few.csv", HEADER.rsplit(",", 1)[0] + "\n"))
    with pytest.raises(InvalidInput, match="JSON Lines"):
        work_orders.read(write(tmp_path / "a.json", '[{"ref": "1"}]'))
    with pytest.raises(InvalidInput, match="JSON Lines"):
        work_orders.read(write(tmp_path / "a.json", '[{"ref": "1"}]'))
    rows, problems = work_orders.parse(write(tmp_path / "x.jsonl", '{"ref": "1"}\n[1]\n{oops\n'))
    assert len(rows) == 1 and [p.line for p in problems] == [2, 3]


def test_the_cli_imports_reports_and_exits_1_on_bad_rows(engine: Engine, tmp_path: Path) -> None:
    env = {"GRIEVANCE_DATABASE_URL": database_url_for(tmp_path)}
    path = write(
        tmp_path / "day.csv",
        "\n".join([HEADER, GOOD.format(n=1), GOOD.format(n=2).replace("13812345678", "1")]),
    )
    runner = CliRunner()
    dry = runner.invoke(import_, [str(path), "--dry-run", "--json"], env=env)
    assert dry.exit_code == 1, dry.output
    data = json.loads(dry.stdout)
    assert data["would_import"] == 1 and data["imported"] == 0 and data["bad"] == 1
    assert cases(engine) == []
    first = runner.invoke(import_, [str(path)], env=env)
    assert first.exit_code == 1
    assert "line 3: phone: not a valid phone number" in first.stdout
    assert "imported 1, already present 0, bad 1 from day.csv" in first.stdout
    assert "importing day.csv" in first.stderr  # the progress bar's label
    sample = runner.invoke(import_, [str(SAMPLE), "--json"], env=env)
    assert sample.exit_code == 0, sample.output
    assert json.loads(sample.stdout)["imported"] == 5
    again = runner.invoke(import_, [str(SAMPLE)], env=env)
    assert again.exit_code == 0 and "imported 0, already present 5, bad 0" in again.stdout
    missing = runner.invoke(import_, [str(tmp_path / "nope.csv")], env=env)
    assert missing.exit_code == 1 and "error: cannot read" in missing.stderr


# ----------------------------------------------------------------------------- Prefect
@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


def test_the_flow_is_one_run_with_a_task_per_batch(
    harness: None, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import get_client
    from prefect.artifacts import Artifact
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    body = [GOOD.format(n=n) for n in range(5)] + [GOOD.format(n=9).replace("川B12345", "X")]
    path = write(tmp_path / "day.csv", "\n".join([HEADER, *body]))
    state = importer.import_work_orders(path=str(path), batch=2, now=NOW, return_state=True)
    summary = state.result()
    assert summary["imported"] == 5 and summary["bad"] == 1 and summary["batches"] == 3
    assert summary["problems"][0]["line"] == 7
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)
        # Task runs reach the server as events, recorded asynchronously: ask until all three
        # are there (a bound on the server's bookkeeping, not on the engine's behaviour).
        for _ in range(120):
            tasks = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            if len(tasks) >= 3:
                break
            time.sleep(0.25)
    assert flow_run.name == "import day.csv"
    assert len(tasks) == 3 and all(t.name.startswith("import-batch") for t in tasks)
    artifact = Artifact.get("import-2026-11-23")
    data = str(getattr(artifact, "data", ""))  # an ArtifactResponse (sync client)
    assert "| 7 |" in data and "plate" in data and "已存在 Already present | 0" in data
    again = importer.import_work_orders(path=str(path), batch=2, now=NOW)
    assert again["imported"] == 0 and again["skipped_existing"] == 5


def test_a_run_of_the_import_deployment_acts_as_its_stamp_and_needs_one(
    harness: None, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of the deployment (its parameters as the server stores them) acts as the
    dispatcher the gate stamped; without a stamp, or with a unit handler's, it is refused with
    its reason as the run's state and imports nothing."""
    from flows import action_runs
    from service import accounts, stamps
    from service.acting import Stamp
    from service.units import add_unit

    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    monkeypatch.setenv("GRIEVANCE_IMPORT_DIR", str(tmp_path))
    made = Stamp(actor=DESK, at=NOW, recorded_at=NOW)
    add_unit(engine, made, code="ROAD", name="道路运输管理处")
    accounts.add_user(
        engine, made, name="zhang", role="dispatcher", unit=None, password="import pass 2026"
    )
    accounts.add_user(
        engine, made, name="li", role="handler", unit="ROAD", password="import pass 2026"
    )
    path = write(tmp_path / "day.csv", "\n".join([HEADER, GOOD.format(n=1), GOOD.format(n=2)]))

    def as_deployment_run(parameters: dict[str, Any]) -> None:
        monkeypatch.setattr(action_runs, "deployment_parameters", lambda: dict(parameters))

    as_deployment_run({"path": str(path)})
    state = importer.import_work_orders(path=str(path), now=NOW, return_state=True)
    assert state.is_failed() and "needs the gate's identity stamp" in str(state.message)
    # a handler's stamp; a file outside the import folder; then the desk's, by its bare name
    for name, given, imported in (
        ("li", "day.csv", False),
        ("zhang", "/etc/passwd", False),
        ("zhang", "../" + tmp_path.name + "x/day.csv", False),
        ("zhang", "day.csv", True),
    ):
        identity = accounts.active_identity(engine, name)
        assert identity is not None
        parameters = {"path": given, "actor": name}
        token = stamps.issue(identity, stamps.IMPORT_TARGET, datetime.now(UTC), parameters)
        as_deployment_run({**parameters, "stamp": token})
        state = importer.import_work_orders(
            path=given, actor=name, now=NOW, stamp=token, return_state=True
        )
        assert state.is_completed() == imported, (name, given, state)
        if not imported:
            why = "does not import" if name == "li" else "must be in the import folder"
            assert why in str(state.message), state.message
            assert cases(engine) == []
    found = cases(engine)
    assert len(found) == 2
    with engine.db.read() as session:
        assert {e.actor for e in events_of(session, found[0].number)} == {"zhang"}
    # a stamp is spent by one run: the same stamp on another run is refused
    state = importer.import_work_orders(
        path=str(path), actor="zhang", now=NOW, stamp=token, return_state=True
    )
    assert state.is_failed()


def test_the_import_flow_is_served_as_a_deployment() -> None:
    from prefect.flows import load_flow_from_entrypoint

    deployment = importer.import_deployment()
    assert deployment.name == "import" and deployment.tags == ["grievance", "import"]
    assert deployment.entrypoint == "flows/importer.py:import_work_orders"
    assert load_flow_from_entrypoint(deployment.entrypoint).name == "批量导入 import"
    schema = deployment._parameter_openapi_schema.model_dump(exclude_unset=True)
    assert schema["required"] == ["path"] and not deployment.schedules
    # who imports (and the gate's stamp) are not in the form: the signed-in dispatcher's
    assert set(schema["properties"]) == {"path", "batch", "now"}


def test_batches_are_written_one_at_a_time_on_sqlite_and_a_few_at_once_on_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", "sqlite:////tmp/any.db")
    monkeypatch.setenv(importing.PARALLEL_ENV, "8")
    assert importing.parallel_batches() == 1  # one writer: more would only queue on its lock
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/g")
    assert importing.parallel_batches() == 8
    monkeypatch.delenv(importing.PARALLEL_ENV)
    assert importing.parallel_batches() == 4
    for bad in ("0", "x", "65"):
        monkeypatch.setenv(importing.PARALLEL_ENV, bad)
        with pytest.raises(InvalidInput, match="GRIEVANCE_IMPORT_PARALLEL"):
            importing.parallel_batches()
