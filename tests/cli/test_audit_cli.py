"""`grievance audit verify|anchor|seal`: the JSON contract, exit codes, no traceback on bad
data, and `sla check` still naming a tampered grievance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cli.test_cli import ACCEPT, Cli
from tests.conftest import database_url_for


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    for name in ("GRIEVANCE_ACTOR", "GRIEVANCE_ROLE", "GRIEVANCE_ACTOR_UNIT"):
        monkeypatch.delenv(name, raising=False)
    run = Cli(capsys)
    run("unit", "add", "ROAD", "--name", "市道路运输管理处")
    return run


def _sql(tmp_path: Path, *statements: str) -> None:
    engine = create_engine(database_url_for(tmp_path))
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def _two_cases(cli: Cli) -> tuple[str, str]:
    first = cli.json(*ACCEPT)["number"]
    cli("assign", first, "--unit", "ROAD", "--at", "2026-11-23T09:30")
    second = cli.json(*[a if a != "12328-0001" else "12328-0002" for a in ACCEPT])["number"]
    return first, second


def test_a_clean_database_verifies_with_exit_zero(cli: Cli) -> None:
    _two_cases(cli)
    assert cli.json("audit", "verify") == {"checked": 2, "ok": True, "findings": []}
    code, out, _ = cli("audit", "verify")
    assert code == 0 and "checked 2 grievance(s), 3 event(s): ok" in out


def test_the_tampering_of_the_issue_is_found(cli: Cli, tmp_path: Path) -> None:
    first, second = _two_cases(cli)
    _sql(
        tmp_path,
        f"UPDATE grievance SET state='reviewed', description='tampered' WHERE number='{first}'",
    )
    code, out, err = cli("audit", "verify", "--json", ok=False)
    assert code == 1 and err == "error: the audit check found 2 finding(s)\n"
    data = json.loads(out)
    assert data["checked"] == 2 and data["ok"] is False
    assert {(f["number"], f["kind"]) for f in data["findings"]} == {(first, "row")}
    assert set(data["findings"][0]) == {"number", "kind", "detail"}
    assert cli.json("audit", "verify", "--number", second)["ok"] is True
    code, out, _ = cli("audit", "verify", "--number", first, ok=False)
    assert code == 1 and f"{first} row: state: stored 'reviewed', replayed 'assigned'" in out


def test_a_rewritten_payload_is_a_finding_not_an_internal_error(cli: Cli, tmp_path: Path) -> None:
    first, _ = _two_cases(cli)
    cli("audit", "seal")
    if "postgresql" in database_url_for(tmp_path):
        drop = ["DROP TRIGGER grievance_event_append_only ON grievance_event"]
    else:
        drop = ["DROP TRIGGER grievance_event_no_update"]
    _sql(
        tmp_path,
        *drop,
        f"UPDATE grievance_event SET payload = '{{}}' WHERE number='{first}' AND seq = 1",
    )
    code, out, err = cli("audit", "verify", "--json", ok=False)
    assert code == 1 and "internal error" not in err and "Traceback" not in err
    kinds = {(f["number"], f["kind"]) for f in json.loads(out)["findings"]}
    assert (first, "event") in kinds
    code, out, err = cli("sla", "check", ok=False)  # the old check names it too
    assert code == 1 and "internal error" not in err and first in out


def test_anchor_prints_the_head_and_verify_accepts_it(cli: Cli) -> None:
    _two_cases(cli)
    anchored = cli.json("audit", "anchor")
    assert len(anchored["hash"]) == 64 and anchored["seal"] >= 1
    code, out, _ = cli("audit", "anchor")
    assert out.startswith("grievance-audit-anchor v1 seal ") and anchored["hash"] in out
    cli("assign", "20261123-0002", "--unit", "ROAD", "--at", "2026-11-30T09:30")
    assert cli.json("audit", "verify", "--anchor", anchored["hash"])["ok"] is True
    code, out, err = cli("audit", "verify", "--anchor", "0" * 63 + "1", ok=False)
    assert code == 1 and "anchor" in out
    code, _, err = cli("audit", "verify", "--anchor", "abc", ok=False)
    assert code != 0 and "not a SHA-256 hash" in err and "Traceback" not in err


def test_unit_staff_may_not_verify(cli: Cli) -> None:
    code, _, err = cli("audit", "verify", "--role", "handler", "--actor-unit", "ROAD", ok=False)
    assert code != 0 and "not for unit staff" in err
