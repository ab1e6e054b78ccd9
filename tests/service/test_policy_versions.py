"""Policy versions never vanish: a grievance keeps the version it was accepted under after the
policy file has moved on, and a file that changes a used version without a new number is
refused before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from cli.main import main
from models import policy_rows
from service import calendars, watchdog
from service.engine import Engine
from service.reading import show
from service.timers import check_timers
from tests.conftest import DESK, Driver, database_url_for
from workflow.errors import InvalidInput
from workflow.notices import Overrides
from workflow.policies import BUILT_IN
from workflow.policy_versions import policy_sha256

SH = "+08:00"

POLICY = """
[[policy]]
name = "tianjin"
version = {version}
title = "天津"
[[policy.target]]
name = "assign"
limit = "{assign}"
starts_on = ["accept", "return"]
stops_on = ["assign", "reassign"]
warn_before = "25%"
warn_notify = ["desk"]
[[policy.target.ladder]]
name = "red_card"
notify = ["desk", "supervisor"]
[[policy.target]]
name = "close"
limit = "{close}"
starts_on = ["accept", "redo"]
stops_on = ["close"]
pauses = true
extends = true
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + SH).astimezone(UTC)


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "policies.toml"
    write(path, 1, "1h", "15wd")
    monkeypatch.setenv("GRIEVANCE_POLICY_FILE", str(path))
    monkeypatch.setenv("GRIEVANCE_POLICY", "tianjin")
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    return path


def write(path: Path, version: int, assign: str, close: str) -> None:
    path.write_text(POLICY.format(version=version, assign=assign, close=close), "utf-8")


def due(engine: Engine, number: str, target: str) -> datetime:
    return next(t.due_at for t in show(engine, number, DESK).timers if t.target == target)


def counts(engine: Engine) -> dict[str, int]:
    with engine.db.engine.connect() as connection:
        return {
            name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in SQLModel.metadata.tables
        }


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cases_of_an_old_version_still_show_replay_recompute_and_fire(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Driver(Engine.open())
    old = first.accept()  # Mon 2026-11-23 09:10 under tianjin@1: assign 1 h, close 15 wd
    assert old.policy == "tianjin@1"
    assert due(first.engine, old.number, "close") == at("2026-12-14T17:30")

    write(policy_file, 2, "2h", "10wd")  # the file moves on: version 1 is gone from it
    engine = Engine.open()
    later = Driver(engine, now=first.now, refs=10)
    new = later.accept()  # 09:20 under tianjin@2
    assert new.policy == "tianjin@2"
    assert engine.policies.latest("tianjin").version == 2
    view = show(engine, old.number, DESK, explain=True)
    assert view.case.policy == "tianjin@1" and view.explanations
    assert due(engine, old.number, "close") == at("2026-12-14T17:30")  # still 15 wd
    assert due(engine, new.number, "close") == at("2026-12-07T17:30")  # 10 wd
    assert check_timers(engine) == []

    fired = watchdog.sweep(engine, at("2026-11-23T10:30")).fired  # v1's 1 h ran out at 10:10
    assert {(f.number, f.step) for f in fired} == {
        (old.number, "warning"),
        (old.number, "red_card"),
    }

    holiday = Overrides.from_toml('[[holidays]]\ndate = "2026-11-25"\nname = "地方停工"\n')
    moved = calendars.load(engine, holiday, later.stamp(DESK), source="local.toml").moved
    assert {(m.number, m.target) for m in moved} >= {(old.number, "close"), (new.number, "close")}
    assert due(engine, old.number, "close") == at("2026-12-15T17:30")  # 15 wd, one more day
    assert due(engine, new.number, "close") == at("2026-12-08T17:30")
    assert check_timers(engine) == []

    # the CLI of a process that knows only version 2
    code, out, err = cli(capsys, "show", old.number, "--json")
    assert code == 0, err
    assert '"policy": "tianjin@1"' in out
    code, out, err = cli(capsys, "sla", "check")
    assert (code, err) == (0, "") and "all timers match" in out

    # no policy file at all: the stored definitions still serve the cases accepted under them
    monkeypatch.delenv("GRIEVANCE_POLICY_FILE")
    monkeypatch.delenv("GRIEVANCE_POLICY")
    bare = Engine.open()
    assert show(bare, old.number, DESK).case.policy == "tianjin@1"
    assert check_timers(bare) == []
    with pytest.raises(InvalidInput, match="unknown policy 'tianjin'"):
        bare.policies.latest("tianjin")  # nobody new gets a version the file no longer has


def test_a_changed_version_without_a_new_number_is_refused_and_writes_nothing(
    policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = Driver(Engine.open())
    case = driver.accept()
    before = counts(driver.engine)
    write(policy_file, 1, "3h", "15wd")  # same number, other content
    with pytest.raises(InvalidInput, match=r"policy tianjin@1 .*needs a new version number"):
        Engine.open()
    for args in (("show", case.number), ("sla", "check"), ("sla", "sweep", "--now", "2026-12-31")):
        code, out, err = cli(capsys, *args)
        assert code == 1 and out == ""
        assert err.startswith("error: policy tianjin@1 (custom) differs") and err.count("\n") == 1
    assert counts(driver.engine) == before
    write(policy_file, 2, "3h", "15wd")  # with a new number it is fine
    assert Driver(Engine.open(), now=driver.now, refs=10).accept().policy == "tianjin@2"


def test_a_version_stored_by_another_process_meanwhile_is_checked_at_first_use(
    policy_file: Path,
) -> None:
    """Both processes opened before the version was first used: the one whose file says
    something else refuses at its first use of it, and writes nothing."""
    mine = Driver(Engine.open())
    write(policy_file, 1, "3h", "15wd")
    theirs = Driver(Engine.open(), refs=10)
    case = mine.accept()  # stores tianjin@1 with 1 h
    before = counts(mine.engine)
    with pytest.raises(InvalidInput, match="tianjin@1 .*differs"):
        theirs.accept()
    with pytest.raises(InvalidInput, match="tianjin@1 .*differs"):
        show(theirs.engine, case.number, DESK)
    assert counts(mine.engine) == before


def test_built_in_policies_are_stored_when_first_used(driver: Driver) -> None:
    driver.accept()
    driver.accept(urgent=True)
    driver.accept()
    with driver.engine.db.read() as session:
        rows = {
            (r.name, r.version): (r.sha256, r.source) for r in policy_rows.policy_versions(session)
        }
    hashes = {(p.name, p.version): (policy_sha256(p), "built-in") for p in BUILT_IN}
    assert rows == {key: hashes[key] for key in (("2142", 1), ("urgent", 1))}


def test_a_database_from_before_the_table_stores_the_versions_its_cases_use(
    policy_file: Path,
) -> None:
    driver = Driver(Engine.open())
    case = driver.accept()
    with driver.engine.db.transaction() as session:
        session.execute(text("DELETE FROM policy_version"))  # as migration 0009 leaves it
    Engine.open()  # the configuration still defines tianjin@1: stored now
    write(policy_file, 2, "2h", "10wd")
    assert show(Engine.open(), case.number, DESK).case.policy == "tianjin@1"
