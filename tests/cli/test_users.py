"""`grievance user add|list|disable|enable|passwd`: the contract of the issue, passwords from
standard input only, one-line errors that write nothing."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from service import accounts, security
from service.engine import Engine
from tests.conftest import database_url_for
from tests.conftest import run_cli as run
from workflow.timeutil import parse_instant


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    database = database_url_for(tmp_path)
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database)
    monkeypatch.setenv("GRIEVANCE_ACTOR", "运维")
    assert run(capsys, "unit", "add", "ROAD", "--name", "市道路运输管理处")[0] == 0
    return database


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_add_with_password_from_stdin_then_log_in(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "secret pass 12\n")
    added = _json(
        capsys,
        "user",
        "add",
        "li",
        "--role",
        "handler",
        "--unit",
        "ROAD",
        "--display-name",
        "李承办",
        "--password-stdin",
    )
    assert added == {
        "name": "li",
        "display_name": "李承办",
        "role": "handler",
        "unit": "ROAD",
        "disabled": False,
        "created_at": added["created_at"],
        "created_by": "运维",
        "disabled_at": None,
        "last_login_at": None,
    }
    engine = Engine.open(url)
    try:
        at = parse_instant("2026-12-07T09:00")
        assert accounts.authenticate(engine, "li", "secret pass 12", at).unit == "ROAD"
    finally:
        engine.db.dispose()


def test_add_without_stdin_prints_a_generated_password_once(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "user", "add", "zhang", "--role", "dispatcher")
    assert code == 0 and "shown once" in out
    password = out.rsplit(": ", 1)[1].strip()
    assert len(password) >= 20
    listed = _json(capsys, "user", "list")
    assert [(u["name"], u["role"], u["unit"]) for u in listed] == [("zhang", "dispatcher", None)]
    assert password not in json.dumps(listed)


def test_disable_enable_and_passwd(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "user", "add", "wang", "--role", "supervisor", "--unit", "ROAD")[0] == 0
    assert _json(capsys, "user", "disable", "wang")["disabled"] is True
    code, out, _ = run(capsys, "user", "disable", "wang")
    assert code == 0 and "unchanged" in out
    assert _json(capsys, "user", "enable", "wang")["disabled"] is False
    _stdin(monkeypatch, "brand new pass 3")
    assert run(capsys, "user", "passwd", "wang", "--password-stdin")[0] == 0
    generated = _json(capsys, "user", "passwd", "wang")["password"]
    assert len(generated) >= 20


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "x1", "--role", "handler"), "", "belongs to a unit"),
        (("user", "add", "x1", "--role", "handler", "--unit", "NOPE"), "", "unknown unit"),
        (("user", "add", "x1", "--role", "admin", "--password-stdin"), "", "no password"),
        (("user", "add", "x1", "--role", "admin", "--password-stdin"), "short\n", "10-256"),
        (("user", "add", "A B", "--role", "admin"), "", "login name"),
        (("user", "disable", "nobody"), "", "no account"),
        (("user", "passwd", "nobody", "--password-stdin"), "long enough 1", "no account"),
    ],
)
def test_errors_are_one_line_and_write_nothing(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    _stdin(monkeypatch, stdin)
    code, out, err = run(capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert _json(capsys, "user", "list") == []


def test_an_unknown_role_is_a_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "user", "add", "x1", "--role", "boss")
    assert code == 2 and "boss" in err


def test_the_cli_acts_with_the_role_and_unit_of_an_account_of_that_name(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "user", "add", "li", "--role", "handler", "--unit", "ROAD")[0] == 0
    accepted = _json(
        capsys,
        "accept",
        "--channel",
        "hotline_12328",
        "--ref",
        "R-9",
        "--type",
        "complaint",
        "--category",
        "freight_unpaid",
        "--name",
        "王建国",
        "--phone",
        "13812345678",
        "--description",
        "欠运费",
        "--at",
        "2026-11-23T09:00",
    )
    number = accepted["number"]
    assert run(capsys, "assign", number, "--unit", "ROAD", "--at", "2026-11-23T09:10")[0] == 0
    monkeypatch.setenv("GRIEVANCE_ACTOR", "li")
    # no role given: the account's (handler of ROAD) holds
    assert run(capsys, "sign", number, "--at", "2026-11-23T09:20")[0] == 0
    shown = _json(capsys, "show", number)
    assert shown["events"][-1]["actor"] == "li" and shown["events"][-1]["role"] == "handler"
    code, _, err = run(capsys, "feedback", number, "--note", "x", "--role", "supervisor")
    assert code == 1 and "li has an account as handler@ROAD" in err
    assert run(capsys, "user", "disable", "li")[0] == 0
    code, _, err = run(capsys, "feedback", number, "--note", "x")
    assert code == 1 and "disabled" in err


def test_reveal_shows_the_number_to_the_desk_and_logs_it(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    accepted = _json(
        capsys,
        "accept",
        "--channel",
        "hotline_12328",
        "--ref",
        "R-7",
        "--type",
        "complaint",
        "--category",
        "freight_unpaid",
        "--name",
        "王建国",
        "--phone",
        "13812345678",
        "--description",
        "欠运费",
        "--at",
        "2026-11-23T09:00",
    )
    shown = _json(capsys, "reveal", accepted["number"], "--why", "回访司机")
    assert shown == {
        "number": accepted["number"],
        "name": "王建国",
        "phone": "13812345678",
        "plate": None,
    }
    code, _, err = run(capsys, "reveal", accepted["number"], "--why", "复盘", "--role", "reviewer")
    assert code == 1 and "may not see" in err
    # `show` lists who saw the number, masked like the rest (a number typed into the reason)
    assert run(capsys, "reveal", accepted["number"], "--why", "回拨13812345678")[0] == 0
    seen = _json(capsys, "show", accepted["number"])["disclosures"]
    assert [(d["kind"], d["role"], d["unit"]) for d in seen] == [("reveal", "dispatcher", None)] * 2
    assert seen[0]["why"] == "回访司机" and "13812345678" not in json.dumps(
        seen, ensure_ascii=False
    )
    assert "13812345678" not in json.dumps(_json(capsys, "show", accepted["number"]))
    code, out, _ = run(capsys, "show", accepted["number"])
    assert code == 0 and out.count("查看号码 reveal") == 2 and "13812345678" not in out
    logged = [e.as_dict() for e in security.listing(Engine.open(url))]  # nor in the log itself
    assert len(logged) == 2 and "13812345678" not in json.dumps(logged, ensure_ascii=False)
