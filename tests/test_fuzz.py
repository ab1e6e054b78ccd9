"""Bad input: a Hypothesis fuzz of every command line command and every action form, the input
limits, SQL metacharacters, and template injection and HTML made inert.

The fuzz builds one small database (units, a grievance in every state, notifications, a dead
letter), then for each example restores a fresh copy of it, runs one command (or one action
flow) with generated values — random Unicode, control characters, NUL, lone surrogates, very
long strings, SQL metacharacters, Jinja `{{ }}`/`{% %}`, HTML `<script>`, numbers out of
range, impossible dates — and checks:

- no traceback: exit code 0, 1 or 2 only, and no "Traceback" in the output;
- a failure says so in one line starting with `error:` (the import's per-row report aside);
- nothing is written on failure: every table's rows are what they were.

Examples per command: `GRIEVANCE_FUZZ_EXAMPLES` (default 10, derandomized so CI sees the same
inputs every time). Set it higher for a long local run, which then also randomizes:

    GRIEVANCE_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest -q tests/test_fuzz.py
"""

from __future__ import annotations

import hashlib
import io
import json
import operator
import os
import re
import sqlite3
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlmodel import select

import templates
from cli.main import cli, main
from flows import action_runs, actions
from models.tables import Notification
from service import cases as uc
from service import digests, documents, stamps, watchdog
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from tests.conftest import accept_command, account_for
from workflow.accounts import AccountRole, Identity
from workflow.actor import Actor
from workflow.attachments import FILE_NAME_MAX
from workflow.commands import COMMANDS, Close, NoFaultFindings, parse_command
from workflow.errors import InvalidInput
from workflow.measures import month_of, week_of
from workflow.validation import (
    DESCRIPTION_MAX,
    NAME_MAX,
    NOTE_MAX,
    REASON_MAX,
    REF_MAX,
    RESPONDENT_MAX,
)
from workflow.vocab import Event, Role

EXAMPLES = int(os.environ.get("GRIEVANCE_FUZZ_EXAMPLES") or 10)
LONG_RUN = bool(os.environ.get("GRIEVANCE_FUZZ_EXAMPLES"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not LONG_RUN,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 Asia/Shanghai

DESK = Actor("受理员", Role.DISPATCHER)
HA = Actor("承办A", Role.HANDLER, "UA")
SA = Actor("主管A", Role.SUPERVISOR, "UA")
BUREAU = Actor("局主管", Role.SUPERVISOR)
REVIEWER = Actor("复盘", Role.REVIEWER)
FINDINGS: dict[str, Any] = {
    "verification": "调取运单",
    "facts": "运费已结清",
    "basis": "《道路货物运输及站场管理规定》",
    "explanation": "已告知司机",
    "explained_at": "2026-11-23T16:00:00+08:00",
    "evidence": ["运单"],
}


# ----------------------------------------------------------------------------- the database
@dataclass
class Template:
    """The fuzz's starting database: a file to copy, its grievances by state, its contents."""

    path: Path
    numbers: dict[str, str]
    rows: str  # digest of every table's rows

    copies: int = 0

    def fresh(self, folder: Path) -> Path:
        """A new copy of the template in `folder` (SQLite's backup API: WAL included), under
        a name of its own (a connection left open elsewhere never sees another copy)."""
        for old in folder.glob("fuzz-*.db*"):
            old.unlink()
        self.copies += 1
        target = folder / f"fuzz-{self.copies}.db"
        source, copy = sqlite3.connect(self.path), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        return target


# What a run writes before it acts, by design: the identity stamp it used, or the refusal of
# one in the security log. Not the grievances' data, so not in the "nothing written" digest.
STAMP_TABLES = ("security_event", "used_stamp")


def table_digest(path: Path) -> str:
    """A digest of every row of every table (the stamps' aside): equal digests, nothing
    written."""
    digest = hashlib.sha256()
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in sorted(set(tables) - set(STAMP_TABLES)):
            digest.update(table.encode())
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                digest.update(repr(row).encode())
    finally:
        db.close()
    return digest.hexdigest()


def _stamp(minutes: int, actor: Actor) -> Stamp:
    at = T0 + timedelta(minutes=minutes)
    return Stamp(actor=actor, at=at, recorded_at=at)


def build(engine: Engine) -> dict[str, str]:
    """A grievance in every state (lead unit UA, co-handling UC), with notifications."""
    first = _stamp(-60, DESK)
    add_unit(engine, first, code="UA", name="单位A", notify=["inbox://ua"])
    add_unit(engine, first, code="UB", name="单位B", notify=["inbox://ub"])
    add_unit(engine, first, code="UC", name="单位C")
    clock = iter(range(0, 100_000, 5))
    numbers: dict[str, str] = {}

    def step(actor: Actor) -> Stamp:
        return _stamp(next(clock), actor)

    def new(name: str, upto: str) -> str:
        n = uc.accept(engine, accept_command(ref=f"F-{name}"), step(DESK)).number
        numbers[name] = n
        path = [
            ("assigned", lambda: uc.assign(engine, n, step(DESK), unit="UA", co_units=["UC"])),
            ("handling", lambda: uc.sign(engine, n, step(HA))),
            ("closed", lambda: uc.close(engine, n, step(HA), result="resolved", note="办结")),
            ("revisited", lambda: uc.revisit(engine, n, step(DESK), satisfaction="satisfied")),
            ("reviewed", lambda: uc.review(engine, n, step(REVIEWER), root_cause="r", actions="a")),
        ]
        for state, run in path:
            if upto == "accepted":
                break
            run()
            if state == upto:
                break
        return n

    for state in ("accepted", "assigned", "handling", "closed", "revisited", "reviewed"):
        new(state, state)
    n = new("returned", "assigned")
    uc.return_to_desk(engine, n, step(HA), reason="不属本单位")
    n = new("pending", "handling")
    uc.request_extension(engine, n, step(HA), days=2, reason="等待材料")
    n = new("suspended", "handling")
    uc.suspend(engine, n, step(SA), reason="等待司机")
    n = new("dissatisfied", "closed")
    uc.revisit(engine, n, step(DESK), satisfaction="dissatisfied", note="不满意")
    n = new("no_fault", "handling")
    uc.close(engine, n, step(SA), result="no_fault", note="无责", findings=FINDINGS)
    n = new("merged", "accepted")
    uc.merge(engine, n, step(DESK), into=numbers["accepted"], reason="重复")
    watchdog.sweep(engine, T0 + timedelta(days=3))
    return numbers


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    folder = tmp_path_factory.mktemp("fuzz-template")
    path = folder / "template.db"
    engine = Engine.open(f"sqlite:///{path}")
    try:
        numbers = build(engine)
        for who in WHO_STAMPED.values():  # the accounts the form fuzz acts as
            account_for(engine, who)
        with engine.db.read() as session:
            assert session.exec(select(Notification)).first() is not None
    finally:
        engine.db.dispose()
    return Template(path, numbers, table_digest(path))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-work")


# ----------------------------------------------------------------------------- strategies
SPECIAL = [
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\x00",
    "a\x00b",
    "\x07",
    "\x1b[2J",
    "\x7f",
    "\x85",
    "\u202e",
    "\ufeff",
    "\u200b",
    "\ud800",
    "x\udcff",
    "'",
    '"',
    ";",
    "--",
    "%",
    "_",
    "\\",
    "'; DROP TABLE grievance; --",
    '" OR "1"="1',
    "%' OR '1'='1' --",
    "{{ 7*7 }}",
    "{% for i in range(9) %}x{% endfor %}",
    "{{ config }}{# #}",
    "{%",
    "}}",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "&amp;&#0;",
    "../../etc/passwd",
    "-1",
    "0",
    "1e309",
    "NaN",
    "-inf",
    "99999999999999999999999999",
    "2026-02-30",
    "2026-13-01T00:00",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00",
    "2026-11-23T25:00",
    "2026-11-23T09:00+25:00",
    "09:30",
    "--help",
    "-h",
    "-",
    "UA",
    "U_A",
    "20261123-0001",
    "13812345678",
    "+86 138-1234-5678",
    "川B12345",
    "货",
]
LONG = st.builds(
    operator.mul,
    st.sampled_from(["x", "货", "'", "{{", "\x00", "1", " "]),
    st.sampled_from([49, 50, 51, 64, 65, 100, 101, 500, 501, 2000, 2001, 5000, 100_000]),
)
NASTY = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=30),
    st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=6)), max_size=5).map("".join),
    LONG,
)
TIMES = [
    "2026-11-23T09:00",
    "2026-11-24T10:00+08:00",
    "2026-11-30T09:00",
    "2027-01-01",
    "2026-11-23",
    "2026-W48",
    "2026-11",
    "2099-12-31T23:59",
    "2000-01-01T00:00",
]
UNITS = ["UA", "UB", "UC", "UX", "U_A", "new-unit_1"]
URLS = [
    "inbox://desk",
    "dingtalk://TOKEN",
    "wecombot://KEY",
    "json://localhost:1/x",
    "mailto://u:p@example.com?to=a@example.com",
    "not a url",
    "http://",
]
VALUES: dict[str, list[str]] = {
    "code": UNITS,
    "unit": UNITS,
    "co_units": UNITS,
    "add_co_units": UNITS,
    "remove_co_units": UNITS,
    "actor_unit": UNITS,
    "phone": [
        "13812345678",
        "028-87654321",
        "12345",
        "+86 138 1234 5678",
        "１３８１２３４５６７８",
    ],
    "plate": ["川B12345", "川AD12345", "ABC123", "川B1234567"],
    "amount": ["3500", "0", "0.01", "100000000", "100000000.01", "12.345", "-1", "1e3"],
    "recovered": ["3500", "0", "-5", "1e309"],
    "notify": URLS,
    "supervisor_notify": URLS,
    "role_name": ["dispatcher", "handler", "supervisor", "reviewer", "system"],
    "policy_name": ["2142", "2252", "urgent", "nope"],
    "evidence": ["运单", "x" * 501],
}
TIME_PARAMS = {"at_text", "now_text", "explained_at", "accepted_at", "closed_at", "period_text"}
INTEGERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2, 30, 31, 10_000, 10_001, 2**31, 2**63, 2**64]),
)


@dataclass(frozen=True)
class InFile:
    """An input file the command reads: its name in the work folder and its bytes."""

    name: str
    content: bytes


SAFE_NAME = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
).filter(lambda name: name not in (".", "..") and not name.startswith("-"))
OUT_PATHS = st.one_of(
    st.sampled_from(["out.html", "sub/dir/out.md", "out", ".", "a\x00b", "ok.xlsx"]), SAFE_NAME
)


def _csv_row(values: Sequence[str]) -> bytes:
    header = "ref,type,category,name,phone,description,accepted_at,plate,amount,respondent\n"
    row = ",".join('"' + v.replace('"', '""') + '"' for v in values)
    return (header + row + "\n").encode("utf-8", "surrogatepass")


def _mostly(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A good value three times in four, else a nasty one."""
    return st.one_of(good, good, good, NASTY)


CSV_ROWS = st.builds(
    _csv_row,
    st.tuples(
        _mostly(st.just("I-1")),
        _mostly(st.just("complaint")),
        _mostly(st.just("freight_unpaid")),
        _mostly(st.just("王五")),
        _mostly(st.sampled_from(VALUES["phone"])),
        _mostly(st.sampled_from(["欠运费", "O'Brien; DROP TABLE x; --", "{{ 7*7 }}<b>"])),
        _mostly(st.sampled_from(["2026-11-23 09:30", "2026/11/23 9:30", "2026-11-23T09:30"])),
        _mostly(st.sampled_from(VALUES["plate"])),
        _mostly(st.sampled_from(VALUES["amount"])),
        _mostly(st.sampled_from(["某物流公司", "%_'\""])),
    ),
)
IMPORT_FILES = st.one_of(
    CSV_ROWS,
    CSV_ROWS,
    CSV_ROWS,
    st.binary(max_size=300),
    NASTY.map(lambda t: t.encode("utf-8", "surrogatepass")),
    NASTY.map(lambda t: ('{"ref": ' + json.dumps(t) + "}\n").encode()),
).map(lambda content: InFile("orders.csv", content))
CALENDAR_FILES = st.one_of(
    st.builds(
        lambda day, name, key: (f'[[{key}]]\ndate = "{day}"\nname = {json.dumps(name)}\n').encode(
            "utf-8", "surrogatepass"
        ),
        st.one_of(st.sampled_from(["2026-12-25", "2027-01-01", "2026-11-24"]), NASTY),
        NASTY,
        st.sampled_from(["holidays", "workdays", "other"]),
    ),
    st.binary(max_size=200),
    NASTY.map(lambda t: t.encode("utf-8", "surrogatepass")),
).map(lambda content: InFile("calendar.toml", content))
ANY_FILE = st.binary(max_size=200).map(lambda content: InFile("some.file", content))


GOOD_TEXT = st.sampled_from(
    [
        "已联系货主，约定本周五前结清",
        "不属于本单位管辖",
        "货主拖欠运费3500元",
        "O'Brien; DROP TABLE grievance; --",
        '100% "_" \\ ;',
        "{{ 7*7 }}<script>alert(1)</script>",
        "第一行\n第二行\t缩进",
        "x" * 500,
    ]
)
GOOD_INTEGERS = {
    "expect_version": st.integers(0, 40),
    "days": st.integers(1, 30),
    "limit": st.integers(1, 1000),
    "offset": st.integers(0, 20),
    "batch": st.integers(1, 500),
    "ids": st.integers(1, 60),
}
GOOD_AT = ["2026-12-01T10:00", "2026-12-01T10:00+08:00", "2099-01-01T09:00"]


def _some(names: Sequence[str]) -> st.SearchStrategy[set[str]]:
    """Which parameters get nasty values: none half of the time, else one or two."""
    if not names:
        return st.just(set())
    return st.one_of(st.just(set()), st.sets(st.sampled_from(names), min_size=1, max_size=2))


# lifecycle command -> (the states it takes, the roles that may do it): most examples then
# get past the state and permission checks into the guards and the write
FITS: dict[str, tuple[list[str], list[str]]] = {
    "assign": (["accepted"], ["dispatcher"]),
    "reassign": (["returned"], ["dispatcher"]),
    "sign": (["assigned"], ["handler", "supervisor"]),
    "return": (["assigned", "handling"], ["handler", "supervisor"]),
    "feedback": (["handling", "suspended"], ["handler", "supervisor"]),
    "extend": (["handling"], ["handler", "supervisor"]),
    "approve-extension": (["pending"], ["supervisor"]),
    "reject-extension": (["pending"], ["supervisor"]),
    "suspend": (["handling"], ["supervisor"]),
    "resume": (["suspended"], ["handler", "supervisor"]),
    "close": (["handling", "pending"], ["handler", "supervisor"]),
    "revisit": (["closed"], ["dispatcher"]),
    "redo": (["dissatisfied"], ["dispatcher"]),
    "review": (["revisited"], ["reviewer"]),
    "merge": (["accepted", "assigned", "returned"], ["dispatcher"]),
    "amend": (["accepted", "handling", "closed"], ["dispatcher"]),
    "document": (["reviewed", "no_fault"], ["dispatcher", "reviewer"]),
    "show": (["reviewed", "handling"], ["dispatcher", "handler"]),
}


def _value_strategy(
    param: click.Parameter, template: Template, path: tuple[str, ...], good: bool
) -> Any:
    """A sensible value for one parameter (good) or a nasty one."""
    name = param.name or ""
    if name == "file" and path == ("import",):
        return IMPORT_FILES if good else st.one_of(st.just("missing.csv"), NASTY)
    if name in ("file", "calendar_file"):
        return CALENDAR_FILES if good else st.one_of(st.just("missing.toml"), NASTY)
    if name == "check_file":
        return ANY_FILE if good else st.one_of(st.just("missing.md"), NASTY)
    if name == "out":
        return OUT_PATHS
    if not good:
        if isinstance(param.type, click.types.IntParamType):
            return st.one_of(INTEGERS.map(str), NASTY)
        return NASTY
    fits = FITS.get(path[0])
    if name == "number" and fits:  # mostly a grievance in a state the command takes
        right = st.sampled_from([template.numbers[state] for state in fits[0]])
        return st.one_of(right, right, st.sampled_from(sorted(template.numbers.values())))
    if name in ("number", "into"):
        return st.sampled_from(sorted(template.numbers.values()))
    if name == "role_name" and fits:  # mostly a role that may do it
        right = st.sampled_from(fits[1])
        return st.one_of(right, right, st.sampled_from(list(param.type.choices)))  # type: ignore[attr-defined]
    if name == "actor_unit":
        return st.sampled_from(["UA", "UA", "UA", "UB", "UC"])
    if isinstance(param.type, click.Choice):
        return st.sampled_from(list(param.type.choices))
    if isinstance(param.type, click.types.IntParamType):
        lo = getattr(param.type, "min", None) or 1
        return GOOD_INTEGERS.get(name, st.integers(lo, lo + 20)).map(str)
    if name == "at_text":
        return st.sampled_from(GOOD_AT)
    if name in TIME_PARAMS or name == "start":
        return st.sampled_from(TIMES)
    if name in VALUES:
        return st.sampled_from(VALUES[name])
    if name == "actor_name":
        return st.sampled_from(["张敏", "O'Brien", "<b>李</b>"])
    return GOOD_TEXT


WHO = ("role_name", "actor_unit")


def _argv(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    command: click.Command,
    path: tuple[str, ...],
    template: Template,
) -> list[str | InFile]:
    """Arguments for `command`: every required one and some optional ones, all sensible but
    for zero to two nasty ones (so most examples get past the parser into the use case)."""
    names = [param.name or "" for param in command.params]
    nasty = draw(_some(names))
    args: list[str | InFile] = list(path)
    for param in command.params:
        if isinstance(param, click.Argument):
            count = draw(st.integers(0, 2)) if param.nargs == -1 else 1
            if param.name in nasty and draw(st.integers(0, 4)) == 0:
                count = 0  # a missing argument: a usage error
            good = param.name not in nasty
            args += [draw(_value_strategy(param, template, path, good)) for _ in range(count)]
    fits = path[0] in FITS
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        if param.required or param.name in nasty or (fits and param.name in WHO):
            pass  # always given
        elif param.name == "expect_version":
            if draw(st.integers(0, 3)):
                continue  # a version given is mostly stale: now and then
        elif not draw(st.booleans()):
            continue
        if param.is_flag:
            args.append(param.opts[0])
            continue
        count = draw(st.integers(1, 3)) if param.multiple else 1
        good = param.name not in nasty
        for _ in range(count):
            args += [param.opts[0], draw(_value_strategy(param, template, path, good))]
    return args


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command of the `grievance` tree, but the ones that serve Prefect forever."""
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, (*path, name))
        elif path not in (("serve",), ("demo",)):
            found.append((path, command))

    walk(cli, ())
    return found


COMMAND_PATHS = [path for path, _ in _commands()]


def test_the_fuzz_covers_every_command() -> None:
    names = {" ".join(path) for path in COMMAND_PATHS}
    for expected in ("accept", "assign", "close", "show", "list", "document", "import"):
        assert expected in names
    assert {"report daily", "report monthly", "notifications retry", "calendar load"} <= names
    assert len(names) >= 35


# ----------------------------------------------------------------------------- running
@dataclass
class Ran:
    code: int
    out: str
    err: str


def run_cli(args: Sequence[str], env: dict[str, str | None]) -> Ran:
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        code: int = 0
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    decode = operator.methodcaller("decode", "utf-8", "replace")
    return Ran(code, decode(out.getvalue()), decode(err.getvalue()))


def _env(db: Path, folder: Path) -> dict[str, str | None]:
    return {
        "GRIEVANCE_DATABASE_URL": f"sqlite:///{db}",
        "GRIEVANCE_INBOX_DIR": str(folder / "inbox"),
        "GRIEVANCE_REPORT_DIR": str(folder / "reports"),
        "GRIEVANCE_CASE_RUNS": "0",
        "PREFECT_API_URL": None,
        "GRIEVANCE_ACTOR": None,
        "GRIEVANCE_ROLE": None,
        "GRIEVANCE_ACTOR_UNIT": None,
        "GRIEVANCE_DEBUG": None,
    }


STATS = os.environ.get("GRIEVANCE_FUZZ_STATS")  # a file to append each outcome to


def record(what: str, code: int, detail: str) -> None:
    """One outcome, for the mix of outcomes a run had (only with GRIEVANCE_FUZZ_STATS)."""
    event(f"{code} {detail[:40]}")
    if STATS:
        with open(STATS, "a", encoding="utf-8") as handle:
            handle.write(json.dumps([what, code, detail[:80]], ensure_ascii=False) + "\n")


def check_outcome(ran: Ran, path: tuple[str, ...], written: bool) -> None:
    """No traceback, a known exit code, one `error:` line on failure, nothing written then."""
    record(" ".join(path), ran.code, (ran.err.strip().splitlines() or ["ok"])[-1])
    where = f"{' '.join(path)}: exit {ran.code}\nstdout: {ran.out[:400]!r}\nstderr: {ran.err!r}"
    assert ran.code in (0, 1, 2), where
    assert "Traceback" not in ran.out + ran.err, where
    if ran.code == 0:
        return
    bad_rows = path == ("import",) and re.search(r"^line \d+: |\"bad_rows\"", ran.out, re.M)
    lines = [line for line in ran.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if not bad_rows:
        assert len(errors) == 1 and lines[-1] == errors[0], where
        others = [line for line in lines if line != errors[0]]
        assert all(line.startswith(("warning:", "importing ")) for line in others), where
        assert not written, "a failed command wrote to the database\n" + where
    else:  # rows refused one by one: any row written is reported as imported
        assert not written or re.search(r'imported [1-9]|"imported": [1-9]', ran.out), where


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_fuzz_command_line(path: tuple[str, ...], template: Template, workdir: Path) -> None:
    command = dict(_commands())[path]

    @FUZZ
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        argv = _argv(data.draw, command, path, template)
        folder = workdir / "example"
        if folder.exists():
            for item in sorted(folder.rglob("*"), reverse=True):
                item.unlink() if item.is_file() or item.is_symlink() else item.rmdir()
        folder.mkdir(exist_ok=True)
        db = template.fresh(workdir)
        args: list[str] = []
        for arg in argv:
            if isinstance(arg, InFile):
                (folder / arg.name).write_bytes(arg.content)
                args.append(arg.name)
            else:
                args.append(arg)
        cwd = Path.cwd()
        os.chdir(folder)
        try:
            ran = run_cli(args, _env(db, folder))
        finally:
            os.chdir(cwd)
        check_outcome(ran, path, written=table_digest(db) != template.rows)

    fuzz()


# ----------------------------------------------------------------------------- action forms
FORMS: dict[str, tuple[Any, type[BaseModel]]] = {
    actions.action_name(flow): (flow, flow.fn.__annotations__["params"])
    for flow in actions.ACTION_FLOWS
}
FIELD_VALUES: dict[str, Any] = {
    "unit": st.sampled_from(UNITS),
    "co_units": st.lists(st.sampled_from(UNITS), max_size=3),
    "add_co_units": st.lists(st.sampled_from(UNITS), max_size=3),
    "remove_co_units": st.lists(st.sampled_from(UNITS), max_size=3),
    "days": st.integers(1, 30),
    "expect_version": st.one_of(st.none(), st.integers(0, 40)),
    "at": st.one_of(
        st.sampled_from(GOOD_AT),
        st.sampled_from(GOOD_AT),
        st.none(),
        st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    ),
    "explained_at": st.one_of(st.sampled_from(TIMES), st.datetimes()),
    "evidence": st.lists(GOOD_TEXT, min_size=1, max_size=3),
    "urgent": st.booleans(),
    "phone": st.sampled_from(VALUES["phone"]),
    "plate": st.sampled_from(VALUES["plate"]),
    "amount": st.sampled_from(VALUES["amount"]),
    "recovered": st.sampled_from(VALUES["recovered"]),
}
WRONG_TYPES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


# who acts through a form: the signed-in account its identity stamp names
WHO_STAMPED = {
    "fz-desk": Actor("fz-desk", Role.DISPATCHER),
    "fz-ha": Actor("fz-ha", Role.HANDLER, "UA"),
    "fz-hb": Actor("fz-hb", Role.HANDLER, "UB"),
    "fz-hc": Actor("fz-hc", Role.HANDLER, "UC"),
    "fz-sa": Actor("fz-sa", Role.SUPERVISOR, "UA"),
    "fz-bs": Actor("fz-bs", Role.SUPERVISOR),
    "fz-rv": Actor("fz-rv", Role.REVIEWER),
}
FORM_COMMAND = {"request_extension": "extend", "approve_extension": "approve-extension"}
FORM_COMMAND["reject_extension"] = "reject-extension"


def _form_data(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    model: type[BaseModel],
    template: Template,
    action: str,
) -> dict[str, Any]:
    """Form data as the UI would send it: sensible values (mostly a grievance in a state the
    action takes and a role that may do it) but for zero to two nasty ones (wrong types
    included), optional fields left out at random, now and then an unknown one."""
    fields = model.model_fields
    nasty = draw(_some(sorted(fields)))
    fits = FITS.get(FORM_COMMAND.get(action, action))
    data: dict[str, Any] = {}
    for name, info in fields.items():
        if name in nasty:
            data[name] = draw(st.one_of(NASTY, WRONG_TYPES))
            continue
        if not info.is_required() and draw(st.booleans()):
            continue
        if name == "number" and fits:
            right = st.sampled_from([template.numbers[state] for state in fits[0]])
            sensible = st.one_of(right, right, st.sampled_from(sorted(template.numbers.values())))
        elif name in ("number", "into"):
            sensible = st.sampled_from(sorted(template.numbers.values()))
        elif name in FIELD_VALUES:
            sensible = FIELD_VALUES[name]
        else:
            members = getattr(info.annotation, "__members__", None)
            sensible = (
                st.sampled_from([m.value for m in members.values()]) if members else GOOD_TEXT
            )
        data[name] = draw(sensible)
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.text(min_size=1, max_size=8))] = draw(NASTY)  # an unknown field
    return data


class _Logger:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@pytest.mark.parametrize("action", sorted(FORMS))
def test_fuzz_action_forms(action: str, template: Template, workdir: Path) -> None:
    """Each form either refuses the data (a ValidationError) or, valid, runs its flow, whose
    use case applies it or refuses it: a Failed state with a one-line message, nothing
    written. Nothing else may escape."""
    flow, model = FORMS[action]

    @FUZZ
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        raw = _form_data(data.draw, model, template, action)
        fits = FITS.get(FORM_COMMAND.get(action, action))
        fitting = [n for n, a in WHO_STAMPED.items() if fits and a.role.value in fits[1]]
        who = data.draw(
            st.one_of(
                st.sampled_from(fitting or sorted(WHO_STAMPED)),
                st.sampled_from(sorted(WHO_STAMPED)),
            )
        )
        stamp = stamps.issue(  # the accounts are in the template: no database needed here
            Identity(who, who, AccountRole(WHO_STAMPED[who].role.value), WHO_STAMPED[who].unit),
            f"action:{action}",
            datetime.now(UTC),
        )
        try:
            params = model.model_validate(raw)
        except ValidationError as error:
            assert error.errors(), raw
            record(f"form {action}", 2, "form refused: " + str(error.errors()[0]["loc"]))
            return
        db = template.fresh(workdir)
        env = {"GRIEVANCE_DATABASE_URL": f"sqlite:///{db}", "GRIEVANCE_CASE_RUNS": "0"}
        with (
            mock.patch.dict(os.environ, env),
            mock.patch.object(action_runs, "get_run_logger", _Logger),
            mock.patch.object(action_runs, "create_markdown_artifact", lambda **_: None),
        ):
            result = flow.fn(params, stamp)
        if isinstance(result, dict):
            assert result["number"], result
            record(f"form {action}", 0, "applied")
            return
        record(f"form {action}", 1, result.message or "")
        assert result.is_failed(), result
        assert result.message and "\n" not in result.message, result.message
        assert table_digest(db) == template.rows, f"{action} wrote on failure: {result.message}"

    fuzz()


# ----------------------------------------------------------------------------- input limits
FREE_TEXT = {
    # (event, field): the limit; every other field of the command holds a good value
    (Event.ACCEPT, "description"): DESCRIPTION_MAX,
    (Event.ACCEPT, "name"): NAME_MAX,
    (Event.ACCEPT, "ref"): REF_MAX,
    (Event.ACCEPT, "respondent"): RESPONDENT_MAX,
    (Event.FEEDBACK, "note"): NOTE_MAX,
    (Event.SIGN, "note"): NOTE_MAX,
    (Event.RETURN, "reason"): REASON_MAX,
    (Event.REASSIGN, "reason"): REASON_MAX,
    (Event.REQUEST_EXTENSION, "reason"): REASON_MAX,
    (Event.REJECT_EXTENSION, "reason"): REASON_MAX,
    (Event.SUSPEND, "reason"): REASON_MAX,
    (Event.RESUME, "note"): NOTE_MAX,
    (Event.APPROVE_EXTENSION, "note"): NOTE_MAX,
    (Event.CLOSE, "note"): NOTE_MAX,
    (Event.REVISIT, "note"): NOTE_MAX,
    (Event.REDO, "reason"): REASON_MAX,
    (Event.REVIEW, "root_cause"): DESCRIPTION_MAX,
    (Event.REVIEW, "actions"): DESCRIPTION_MAX,
    (Event.REVIEW, "lessons"): DESCRIPTION_MAX,
    (Event.REVIEW, "responsibility"): REASON_MAX,
    (Event.MERGE, "reason"): REASON_MAX,
    (Event.AMEND, "reason"): REASON_MAX,
    (Event.AMEND, "description"): DESCRIPTION_MAX,
    (Event.AMEND, "respondent"): RESPONDENT_MAX,
    (Event.TYPICAL, "summary"): REASON_MAX,
    (Event.ATTACH, "name"): FILE_NAME_MAX,
    (Event.ATTACH, "note"): NOTE_MAX,
}
GOOD: dict[Event, dict[str, Any]] = {
    Event.ACCEPT: {
        "channel": "hotline_12328",
        "ref": "R-1",
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王师傅",
        "phone": "13812345678",
        "description": "欠运费",
    },
    Event.ASSIGN: {"unit": "UA"},
    Event.SIGN: {},
    Event.RETURN: {"reason": "r"},
    Event.REASSIGN: {"unit": "UA", "reason": "r"},
    Event.FEEDBACK: {"note": "n"},
    Event.REQUEST_EXTENSION: {"days": 2, "reason": "r"},
    Event.APPROVE_EXTENSION: {},
    Event.REJECT_EXTENSION: {"reason": "r"},
    Event.SUSPEND: {"reason": "r"},
    Event.RESUME: {},
    Event.CLOSE: {"result": "resolved", "note": "n"},
    Event.REVISIT: {"satisfaction": "satisfied"},
    Event.REDO: {"reason": "r"},
    Event.REVIEW: {"root_cause": "r", "actions": "a"},
    Event.MERGE: {"into": "20261123-0001", "reason": "r"},
    Event.AMEND: {"reason": "r", "description": "d"},
    Event.TYPICAL: {"summary": "s"},
    Event.ATTACH: {
        "sha256": "ab" * 32,
        "media_type": "application/pdf",
        "size": 9,
        "name": "a.pdf",
    },
}


def test_every_free_text_field_has_a_limit() -> None:
    """Each str field a person fills in is listed above with its limit."""
    for kind, cls in COMMANDS.items():
        if kind in (Event.RECALCULATE, Event.SLA_STEP):  # the engine's own records
            continue
        for name, info in cls.model_fields.items():
            text = "str" in str(info.annotation) and name not in (
                "into",
                "unit",
                "co_units",
                "add_co_units",
                "remove_co_units",
                "sha256",  # 64 hex digits, by its pattern
            )
            if text and name not in ("phone", "plate"):
                assert (kind, name) in FREE_TEXT, (kind, name)


@pytest.mark.parametrize(("event", "field"), sorted(FREE_TEXT), ids=lambda v: str(v))
def test_over_long_text_is_refused_naming_the_field(event: Event, field: str) -> None:
    limit = FREE_TEXT[(event, field)]
    parse_command(event, {**GOOD[event], field: "货" * limit})  # the limit itself is fine
    with pytest.raises(InvalidInput) as refused:
        parse_command(event, {**GOOD[event], field: "货" * (limit + 1)})
    message = str(refused.value)
    assert f"{field}:" in message and f"at most {limit}" in message and "\n" not in message


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x9b"])
@pytest.mark.parametrize(("event", "field"), sorted(FREE_TEXT)[::4], ids=lambda v: str(v))
def test_control_characters_are_refused_naming_the_field(
    event: Event, field: str, char: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_command(event, {**GOOD[event], field: f"前{char}后"})
    assert f"{field}: contains control characters or binary data" in str(refused.value)


def test_line_breaks_and_tabs_are_text() -> None:
    command = parse_command(Event.FEEDBACK, {"note": "第一行\r\n第二行\r第三行\n\t缩进"})
    assert command.payload()["note"] == "第一行\n第二行\n第三行\n\t缩进"


def test_findings_and_evidence_are_limited_too() -> None:
    data = {**GOOD[Event.CLOSE], "result": "no_fault", "findings": dict(FINDINGS)}
    assert isinstance(parse_command(Event.CLOSE, data), Close)
    for field, value in (
        ("facts", "x" * (NOTE_MAX + 1)),
        ("basis", "a\x00b"),
        ("evidence", ["x" * (REASON_MAX + 1)]),
        ("evidence", ["e"] * 21),
        ("explained_at", "0202-11-23T10:00"),
    ):
        bad = {**data, "findings": {**FINDINGS, field: value}}
        with pytest.raises(InvalidInput, match=f"findings.{field}"):
            parse_command(Event.CLOSE, bad)
    assert set(NoFaultFindings.model_fields) == set(FINDINGS)


def test_the_cli_names_the_field_of_binary_input(tmp_path: Path) -> None:
    env = _env(tmp_path / "t.db", tmp_path)
    ran = run_cli(["unit", "add", "UA", "--name", "单位\x00A"], env)
    assert ran.code == 1 and ran.err.startswith("error: --name: contains a NUL") and not ran.out
    ran = run_cli(["unit", "add", "UA", "--name", "单位\x1bA"], env)
    assert ran.code == 1 and "unit name" in ran.err and "control characters" in ran.err
    ran = run_cli(["show", "x\udcffy"], env)
    assert ran.code == 1 and "argument 2" in ran.err


# ----------------------------------------------------------------------------- SQL, HTML, Jinja
SQLISH = "O'Brien\"; DROP TABLE grievance; -- 100% _x_ \\ ' OR '1'='1"


def test_sql_metacharacters_are_stored_and_shown_verbatim(tmp_path: Path) -> None:
    env = _env(tmp_path / "t.db", tmp_path)
    assert run_cli(["unit", "add", "UA", "--name", SQLISH[:100]], env).code == 0
    ran = run_cli(
        [
            "accept",
            "--channel",
            "hotline_12328",
            "--ref",
            "R-'%_;--",
            "--type",
            "complaint",
            "--category",
            "freight_unpaid",
            "--name",
            "O'Brien;--",
            "--phone",
            "13812345678",
            "--description",
            SQLISH,
            "--respondent",
            "%'_\";--",
            "--json",
        ],
        env,
    )
    assert ran.code == 0, ran.err
    number = json.loads(ran.out)["number"]
    shown = json.loads(run_cli(["show", number, "--json"], env).out)
    assert shown["description"] == SQLISH and shown["ref"] == "R-'%_;--"
    assert shown["events"][0]["payload"]["respondent"] == "%'_\";--"
    listed = json.loads(run_cli(["list", "--json"], env).out)
    assert [c["description"] for c in listed] == [SQLISH]
    units = json.loads(run_cli(["unit", "list", "--json"], env).out)
    assert units[0]["name"] == SQLISH[:100]
    # a LIKE wildcard in a filter matches nothing it should not
    assert json.loads(run_cli(["list", "--unit", "U_", "--json"], env).out) == []


INJECTION = "{{ 7*7 }}<script>alert(1)</script>{% if true %}ZAP{% endif %}[x](javascript:1)"


@pytest.fixture
def injected(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """A reviewed grievance whose every free text is template and HTML injection, a
    dissatisfied revisit (a notification) and an overdue open one (SLA notifications)."""
    engine = Engine.open(f"sqlite:///{tmp_path / 'inject.db'}")
    try:
        first = _stamp(-60, DESK)
        add_unit(engine, first, code="UA", name="单位A" + INJECTION[:80], notify=["inbox://a"])
        n = uc.accept(
            engine,
            accept_command(ref="J-1", description=INJECTION, respondent=INJECTION[:100]),
            _stamp(0, DESK),
        ).number
        m = uc.accept(
            engine,
            accept_command(ref="J-2", description=INJECTION, respondent=INJECTION[:100]),
            _stamp(1, DESK),
        ).number
        uc.assign(engine, m, _stamp(2, DESK), unit="UA")
        uc.assign(engine, n, _stamp(5, DESK), unit="UA")
        uc.sign(engine, n, _stamp(10, HA), note=INJECTION)
        uc.feedback(engine, n, _stamp(20, HA), note=INJECTION)
        uc.close(engine, n, _stamp(30, HA), result="resolved", note=INJECTION)
        uc.revisit(engine, n, _stamp(40, DESK), satisfaction="dissatisfied", note=INJECTION)
        uc.redo(engine, n, _stamp(50, DESK), reason=INJECTION)
        uc.close(engine, n, _stamp(60, HA), result="resolved", note=INJECTION)
        uc.revisit(engine, n, _stamp(70, DESK), satisfaction="satisfied")
        uc.review(
            engine,
            n,
            _stamp(80, REVIEWER),
            root_cause=INJECTION,
            actions=INJECTION,
            lessons=INJECTION,
            responsibility=INJECTION,
        )
        watchdog.sweep(engine, T0 + timedelta(days=6))
        yield engine, n
    finally:
        engine.db.dispose()


def _inert(text: str, where: str, markdown: bool) -> None:
    """No sign of `INJECTION` evaluated: 49 before the script tag, ZAP without its `{% if %}`
    tag, a live script tag, or (in Markdown) a link that is not escaped."""
    assert not re.search(r"49\s*(?:<|&lt;|\\<)script", text), f"{where}: Jinja was evaluated"
    assert not re.search(r"(?<!%\})ZAP", text), f"{where}: a Jinja tag was evaluated"
    assert not re.search(r"(?<!\\)<script", text), f"{where}: a live script tag"
    if markdown:
        assert not re.search(r"(?<!\\)\]\(javascript:", text), f"{where}: a live link"


def test_template_injection_and_html_are_inert_in_documents(injected: tuple[Engine, str]) -> None:
    engine, number = injected
    for lang in ("zh", "en"):
        html = documents.render(engine, number, "review", "html", DESK, T0, lang=lang, store=False)
        text = html.content.decode()
        _inert(text, f"html {lang}", markdown=False)
        assert "{{ 7*7 }}&lt;script&gt;alert(1)&lt;/script&gt;" in text
        md = documents.render(engine, number, "review", "md", DESK, T0, lang=lang, store=False)
        text = md.content.decode()
        _inert(text, f"md {lang}", markdown=True)
        assert r"{{ 7\*7 }}\<script\>alert(1)\</script\>" in text
        docx = documents.render(engine, number, "review", "docx", DESK, T0, lang=lang, store=False)
        with zipfile.ZipFile(io.BytesIO(docx.content)) as archive:
            xml = archive.read("word/document.xml").decode()
        _inert(xml, f"docx {lang}", markdown=False)
        assert "{{ 7*7 }}&lt;script&gt;alert(1)&lt;/script&gt;" in xml


def test_template_injection_and_html_are_inert_in_notifications(
    injected: tuple[Engine, str],
) -> None:
    engine, _ = injected
    with engine.db.read() as session:
        rows = session.exec(select(Notification)).all()
    kinds = {row.kind for row in rows}
    assert {"revisit_dissatisfied", "sla_step"} <= kinds
    for row in rows:
        _inert(row.title + row.body, f"notification {row.kind}", markdown=True)
    bodies = "\n".join(row.body for row in rows)
    assert "{{ 7*7 }}&lt;script&gt;" in bodies  # the driver's words, shown as typed


def test_template_injection_and_html_are_inert_in_digests(injected: tuple[Engine, str]) -> None:
    engine, _ = injected
    as_of = T0 + timedelta(days=8)
    made = [
        *digests.daily(engine, date(2026, 12, 1), as_of),
        digests.weekly(engine, week_of(date(2026, 11, 23)), as_of),
        digests.monthly(engine, month_of(date(2026, 11, 1)), as_of),
    ]
    assert {d.kind for d in made} == {"daily", "weekly", "monthly"}
    for digest in made:
        for fmt in ("md", "html"):
            text = digests.render_digest(digest, fmt).decode()
            _inert(text, f"{digest.kind} {fmt}", markdown=fmt == "md")
            assert "{{ 7*7 }}" in text and "&lt;script&gt;" in text, (digest.kind, fmt)


def test_a_message_template_never_renders_user_text_as_a_template() -> None:
    """The Jinja environment renders templates from files only; user text is data."""
    title, body = templates.render_message(
        "notify/revisit_dissatisfied.md",
        "zh",
        number="N-1",
        category="运费",
        unit="{{ 7*7 }}",
        result="—",
        note="{% for i in range(3) %}x{% endfor %}<b>",
        revisited_at=T0,
        cycle=1,
    )
    assert "49" not in body and "xxx" not in body and "<b>" not in body
    assert "{% for i in range(3) %}x{% endfor %}&lt;b&gt;" in body
