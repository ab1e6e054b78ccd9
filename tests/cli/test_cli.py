"""The `grievance` command line: JSON contracts, global options, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from tests.conftest import database_url_for

ACCEPT = [
    "accept",
    "--channel",
    "hotline_12328",
    "--ref",
    "12328-0001",
    "--type",
    "complaint",
    "--category",
    "freight_unpaid",
    "--name",
    "王建国",
    "--phone",
    "13812345678",
    "--plate",
    "川B12345",
    "--description",
    "货主拖欠运费3500元，电话13912345678",
    "--amount",
    "3500",
    "--at",
    "2026-11-23T09:00",
]


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str, ok: bool = True) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out, err = self.capsys.readouterr()
        if ok:
            assert code == 0, err
        return code, out, err

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json")[1])


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    for name in ("GRIEVANCE_ACTOR", "GRIEVANCE_ROLE", "GRIEVANCE_ACTOR_UNIT"):
        monkeypatch.delenv(name, raising=False)
    run = Cli(capsys)
    run("unit", "add", "ROAD", "--name", "市道路运输管理处")
    run("unit", "add", "LAW", "--name", "执法支队")
    return run


def test_accept_and_show_json_contract(cli: Cli) -> None:
    accepted = cli.json(*ACCEPT)
    assert accepted["number"] == "20261123-0001" and accepted["state"] == "accepted"
    shown = cli.json("show", accepted["number"])
    for key in ("number", "state", "lead_unit", "first_handler_unit", "events"):
        assert key in shown
    event = shown["events"][0]
    assert {k: event[k] for k in ("event", "from_state", "to_state", "at")} == {
        "event": "accept",
        "from_state": "new",
        "to_state": "accepted",
        "at": "2026-11-23T09:00:00+08:00",
    }


def test_personal_data_is_masked_in_output(cli: Cli) -> None:
    number = cli.json(*ACCEPT)["number"]
    for args in (("show", number), ("show", number, "--json"), ("list",), ("list", "--json")):
        out = cli(*args)[1]
        for secret in ("13812345678", "13912345678", "川B12345", "王建国"):
            assert secret not in out, (args, secret)
    assert "138****5678" in cli("show", number)[1]


def test_full_lifecycle_through_the_cli(cli: Cli) -> None:
    n = cli.json(*ACCEPT)["number"]
    handler = ("--role", "handler", "--actor-unit", "ROAD", "--actor", "李承办")
    steps = [
        ("assign", n, "--unit", "ROAD", "--co-unit", "LAW", "--at", "2026-11-23T09:30"),
        ("sign", n, *handler, "--at", "2026-11-23T10:00"),
        ("feedback", n, "--note", "已联系货主", *handler, "--at", "2026-11-23T15:00"),
        (
            "extend",
            n,
            "--days",
            "2",
            "--reason",
            "需调取运单",
            *handler,
            "--at",
            "2026-11-24T09:00",
        ),
        (
            "approve-extension",
            n,
            "--role",
            "supervisor",
            "--actor-unit",
            "ROAD",
            "--at",
            "2026-11-24T10:00",
        ),
        (
            "suspend",
            n,
            "--reason",
            "等待司机补充材料",
            "--role",
            "supervisor",
            "--at",
            "2026-11-24T11:00",
        ),
        ("resume", n, *handler, "--at", "2026-11-25T09:00"),
        (
            "close",
            n,
            "--result",
            "resolved",
            "--note",
            "已追回运费",
            "--recovered",
            "3500",
            *handler,
            "--at",
            "2026-11-26T16:00",
        ),
        ("revisit", n, "--satisfaction", "dissatisfied", "--at", "2026-11-27T10:00"),
        ("redo", n, "--reason", "司机认为未足额支付", "--at", "2026-11-27T10:05"),
        (
            "close",
            n,
            "--result",
            "resolved",
            "--note",
            "补足差额",
            *handler,
            "--at",
            "2026-11-30T16:00",
        ),
        ("revisit", n, "--satisfaction", "satisfied", "--at", "2026-12-01T10:00"),
        (
            "review",
            n,
            "--root-cause",
            "货主资金周转困难",
            "--actions",
            "约谈货主",
            "--lessons",
            "建立运费支付提醒",
            "--role",
            "reviewer",
            "--at",
            "2026-12-02T10:00",
        ),
    ]
    for step in steps:
        cli(*step)
    shown = cli.json("show", n)
    assert shown["state"] == "reviewed" and shown["cycle"] == 2
    assert shown["lead_unit"] == "ROAD" and shown["first_handler_unit"] == "ROAD"
    assert shown["co_units"] == ["LAW"] and shown["extension_days"] == 2
    assert len(shown["events"]) == len(steps) + 1


def test_global_options_work_before_the_subcommand(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = cli.json(*ACCEPT)["number"]
    cli("--at", "2026-11-23T09:10", "assign", n, "--unit", "ROAD")
    cli("--role", "handler", "--actor-unit", "ROAD", "--json", "sign", n)
    monkeypatch.setenv("GRIEVANCE_ROLE", "handler")
    monkeypatch.setenv("GRIEVANCE_ACTOR_UNIT", "ROAD")
    monkeypatch.setenv("GRIEVANCE_ACTOR", "环境变量用户")
    cli("feedback", n, "--note", "进展")
    last = cli.json("show", n)["events"][-1]
    assert (last["actor"], last["role"], last["actor_unit"]) == ("环境变量用户", "handler", "ROAD")


def test_list_filters(cli: Cli) -> None:
    n = cli.json(*ACCEPT)["number"]
    cli(*[a if a != "12328-0001" else "12328-0002" for a in ACCEPT])
    cli("assign", n, "--unit", "ROAD", "--at", "2026-11-23T10:00")
    assert [c["number"] for c in cli.json("list", "--state", "assigned")] == [n]
    assert [c["number"] for c in cli.json("list", "--unit", "ROAD")] == [n]
    assert len(cli.json("list")) == 2
    assert cli.json("list", "--role", "handler", "--actor-unit", "LAW") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "20990101-0001"), "does not exist"),
        (("assign", "20990101-0001", "--unit", "ROAD"), "does not exist"),
        (("sign", "{n}"), "can't sign when accepted; allowed now: amend, assign, attach, merge"),
        (("assign", "{n}", "--unit", "ROAD", "--role", "reviewer"), "a reviewer may not assign"),
        (("sign", "{n}", "--role", "handler"), "--actor-unit"),
        (("assign", "{n}", "--unit", "NOPE"), "unknown unit"),
        (("close", "{n}", "--result", "resolved", "--note", "x"), "can't close when accepted"),
        (("assign", "{n}", "--unit", "ROAD", "--at", "yesterday"), "not a time"),
        # an empty value given on purpose is refused, not read as now / the OS user
        (("assign", "{n}", "--unit", "ROAD", "--at", ""), "--at is empty"),
        (("--at", "", "assign", "{n}", "--unit", "ROAD"), "--at is empty"),
        (("assign", "{n}", "--unit", "ROAD", "--actor", ""), "--actor is empty"),
        (("--actor", " ", "assign", "{n}", "--unit", "ROAD"), "--actor is empty"),
        (("sign", "{n}", "--role", "handler", "--actor-unit", ""), "--actor-unit is empty"),
        (("sla", "sweep", "--now", ""), "--now is empty"),
        (("assign", "{n}", "--unit", "ROAD", "--at", "2026-11-22T09:00"), "before its last event"),
        (("assign", "{n}", "--unit", "ROAD", "--expect-version", "7"), "version 1, not 7"),
        (("unit", "add", "ROAD", "--name", "again"), "already exists"),
        # the worklists, boards and digests call the grievance desk "desk"
        (("unit", "add", "Desk", "--name", "受理台"), "reserved for the grievance desk"),
        (("list", "--limit", "0"), "limit"),
        (("accept", "--channel", "fax"), "Invalid value for '--channel'"),
        (("frobnicate",), "No such command"),
    ],
)
def test_errors_are_one_line_and_non_zero(cli: Cli, args: tuple[str, ...], message: str) -> None:
    n = cli.json(*ACCEPT)["number"]
    before = cli.json("show", n)
    code, out, err = cli(*(a.format(n=n) for a in args), ok=False)
    assert code != 0
    assert message in err and err.startswith("error: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert cli.json("show", n) == before


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--phone", "123", "not a valid phone number"),
        ("--description", "", "must not be empty"),
        ("--description", "长" * 2001, "at most 2000"),
        ("--category", "parking", "Invalid value for '--category'"),
        ("--amount", "abc", "amount"),
        ("--at", "11:00", "not a time"),
        ("--plate", "XYZ", "not a valid plate"),
    ],
)
def test_bad_accept_input_writes_nothing(cli: Cli, flag: str, value: str, message: str) -> None:
    args = list(ACCEPT)
    args[args.index(flag) + 1] = value
    code, _, err = cli(*args, ok=False)
    assert code != 0 and message in err and err.count("\n") == 1
    assert cli.json("list") == []


def test_duplicate_reference_is_refused(cli: Cli) -> None:
    first = cli.json(*ACCEPT)["number"]
    code, _, err = cli(*ACCEPT, ok=False)
    assert code == 1 and f"already grievance {first}" in err


def test_diagram_check(cli: Cli, tmp_path: Path) -> None:
    stale = tmp_path / "stale.md"
    stale.write_text("no diagram here", encoding="utf-8")
    code, _, err = cli("diagram", "--check", str(stale), ok=False)
    assert code == 1 and "does not carry" in err
    assert "stateDiagram-v2" in cli("diagram")[1]


def test_console_script_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "grievance"
    env = {"GRIEVANCE_DATABASE_URL": database_url_for(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(script), "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_merge_needs_a_reason_shown_in_the_audit_log_and_refuses_a_closed_target(
    cli: Cli,
) -> None:
    kept = cli.json(*ACCEPT)["number"]
    again = [a if a != "12328-0001" else "12328-0002" for a in ACCEPT]
    duplicate = cli.json(*again)["number"]
    code, _, err = cli("merge", duplicate, "--into", kept, ok=False)
    assert code != 0 and "--reason" in err
    cli("merge", duplicate, "--into", kept, "--reason", "同一运单再次来电，电话13912345678")
    shown = cli("show", duplicate)[1]
    assert f"merge              accepted -> merged {kept}: 同一运单再次来电，电话139****5678" in (
        shown
    )
    event = cli.json("show", duplicate)["events"][-1]
    assert event["payload"] == {"into": kept, "reason": "同一运单再次来电，电话139****5678"}
    # a closed grievance takes no duplicates: that driver would never hear back
    third = cli.json(*[a if a != "12328-0001" else "12328-0003" for a in ACCEPT])["number"]
    cli("assign", kept, "--unit", "ROAD", "--at", "2026-11-23T09:10")
    cli("sign", kept, "--role", "handler", "--actor-unit", "ROAD", "--at", "2026-11-23T09:20")
    close = [
        "--result",
        "resolved",
        "--note",
        "已结清",
        "--role",
        "handler",
        "--actor-unit",
        "ROAD",
    ]
    cli("close", kept, *close, "--at", "2026-11-23T09:30")
    code, _, err = cli("merge", third, "--into", kept, "--reason", "重复", ok=False)
    assert code != 0 and f"grievance {kept} is closed; merge into an open one" in err
    assert cli.json("show", third)["state"] == "accepted"


def test_reassign_keeps_the_co_units_unless_the_desk_removes_them(cli: Cli) -> None:
    cli("unit", "add", "HWY", "--name", "市公路事业发展中心")
    n = cli.json(*ACCEPT)["number"]
    cli("assign", n, "--unit", "HWY", "--co-unit", "LAW", "--at", "2026-11-23T09:10")
    cli("return", n, "--reason", "不属本单位", "--role", "handler", "--actor-unit", "HWY")
    cli("reassign", n, "--unit", "ROAD", "--reason", "改由道路运输处主办")
    shown = cli.json("show", n)
    assert shown["lead_unit"] == "ROAD" and shown["co_units"] == ["LAW"]  # kept
    payload = shown["events"][-1]["payload"]
    assert (payload["co_units_before"], payload["co_units"]) == (["LAW"], ["LAW"])
    cli("return", n, "--reason", "退回", "--role", "handler", "--actor-unit", "ROAD")
    cli(
        "reassign", n, "--unit", "ROAD", "--reason", "协办调整",
        "--remove-co-unit", "LAW", "--co-unit", "HWY",
    )  # fmt: skip
    shown = cli.json("show", n)
    assert shown["co_units"] == ["HWY"]
    assert "reassign           returned -> assigned co LAW -> HWY" in cli("show", n)[1]
    payload = shown["events"][-1]["payload"]
    assert (payload["remove_co_units"], payload["add_co_units"]) == (["LAW"], ["HWY"])
    assert (payload["co_units_before"], payload["co_units"]) == (["LAW"], ["HWY"])
