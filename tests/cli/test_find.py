"""`grievance find`: one exact number, reference, plate or phone; the shape of `list --json`,
masked; an empty list when nothing matches; unit staff find their unit's only. And the
duplicate hint of `grievance accept`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.acting import Stamp
from service.engine import Engine
from tests.cli.test_cli import ACCEPT, Cli
from tests.conftest import DESK, T0, database_url_for

HANDLER_ROAD = ("--role", "handler", "--actor-unit", "ROAD")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A database of the test's own with units ROAD and LAW (as in test_cli)."""
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    for name in ("GRIEVANCE_ACTOR", "GRIEVANCE_ROLE", "GRIEVANCE_ACTOR_UNIT"):
        monkeypatch.delenv(name, raising=False)
    run = Cli(capsys)
    run("unit", "add", "ROAD", "--name", "市道路运输管理处")
    run("unit", "add", "LAW", "--name", "执法支队")
    return run


def _accept(cli: Cli, ref: str, phone: str = "13812345678", plate: str = "川B12345") -> str:
    args = list(ACCEPT)
    args[args.index("--ref") + 1] = ref
    args[args.index("--phone") + 1] = phone
    args[args.index("--plate") + 1] = plate
    number: str = cli.json(*args)["number"]
    return number


@pytest.fixture
def three(cli: Cli) -> tuple[str, str, str]:
    """Two grievances of one driver (one for ROAD, one for LAW) and one of another driver."""
    a = _accept(cli, "12328-A")
    b = _accept(cli, "12328-B")
    c = _accept(cli, "12328-C", phone="13900001111", plate="京A99999")
    cli("assign", a, "--unit", "ROAD", "--at", "2026-11-23T10:00")
    cli("assign", b, "--unit", "LAW", "--at", "2026-11-23T10:00")
    return a, b, c


def test_find_prints_the_list_shape_masked(cli: Cli, three: tuple[str, str, str]) -> None:
    a, b, _ = three
    listed = {item["number"]: item for item in cli.json("list")}
    found = cli.json("find", "--phone", "138-1234-5678")  # normalised as at intake
    assert found == [listed[a], listed[b]]
    code, out, _ = cli("find", "--phone", "+86 13812345678", "--json")
    assert code == 0 and "13812345678" not in out and "12345678" not in out
    assert json.loads(out)[0]["complainant"]["phone"] == "138****5678"
    assert "川B12345" not in out
    assert cli.json("find", "--plate", "川b 12345") == [listed[a], listed[b]]
    assert cli.json("find", "--number", a) == [listed[a]]
    assert cli.json("find", "--ref", "12328-B") == [listed[b]]


def test_nothing_found_is_an_empty_list_and_exit_0(cli: Cli, three: tuple[str, str, str]) -> None:
    assert cli.json("find", "--phone", "13700000000") == []
    assert cli.json("find", "--number", "20991231-0001") == []
    code, out, _ = cli("find", "--ref", "no-such-ref")
    assert code == 0 and out.strip() == "no grievances found"


def test_unit_staff_find_their_units_grievances_only(
    cli: Cli, three: tuple[str, str, str], tmp_path: Path
) -> None:
    a, b, c = three
    road = cli.json("find", "--phone", "13812345678", *HANDLER_ROAD)
    assert [item["number"] for item in road] == [a]
    assert cli.json("find", "--number", b, *HANDLER_ROAD) == []
    assert cli.json("find", "--number", c, "--role", "supervisor", "--actor-unit", "LAW") == []
    # the acting account's unit holds, whatever the options claim
    from service import accounts

    engine = Engine.open(database_url_for(tmp_path))
    try:
        stamp = Stamp(actor=DESK, at=T0, recorded_at=T0)
        accounts.add_user(
            engine, stamp, name="zhang.law", role="handler", unit="LAW", password="tests password 1"
        )
    finally:
        engine.db.dispose()
    law = cli.json("find", "--plate", "川B12345", "--actor", "zhang.law", "--role", "dispatcher")
    assert [item["number"] for item in law] == [b]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("find",), "exactly one of"),
        (("find", "--number", "x", "--ref", "y"), "exactly one of"),
        (("find", "--phone", "12345"), "not a valid phone number"),
        (("find", "--plate", "ABC"), "not a valid plate number"),
        (("find", "--number", "2026/1"), "not a grievance number"),
        (("find", "--ref", "   "), "ref: give the channel's reference"),
    ],
)
def test_find_refuses_what_cannot_be_a_key(cli: Cli, args: tuple[str, ...], message: str) -> None:
    code, out, err = cli(*args, ok=False)
    assert code != 0 and message in err and "Traceback" not in err


def test_accept_names_the_open_grievances_of_the_same_phone_or_plate(cli: Cli) -> None:
    first = cli.json(*ACCEPT)
    assert first["duplicates"] == []
    args = list(ACCEPT)
    args[args.index("--ref") + 1] = "12328-0002"
    args[args.index("--phone") + 1] = "13900001111"  # another phone, the same plate
    second = cli.json(*args)
    assert second["duplicates"] == [
        {
            "number": first["number"],
            "state": "accepted",
            "lead_unit": None,
            "accepted_at": first["accepted_at"],
            "closed_at": None,
            "same": ["plate"],
            "merge_into": True,
        }
    ]
    args[args.index("--ref") + 1] = "12328-0003"
    code, out, _ = cli(*args)
    assert "疑似重复 possible repeat of" in out and first["number"] in out
    assert second["number"] in out and f"--into {first['number']}" in out
    assert "13900001111" not in out
