"""Personal data never leaves the engine unmasked: every rendered output is scanned.

One database is built with grievances whose fields and free text (description, respondent,
notes, reasons, findings, review texts, amendments) carry mobile numbers (plain, +86, 0086,
with spaces and dashes, full-width), landlines (028-…, (0816)…, +86 28 …), 18-digit ID numbers
and plates (川B12345, 川A·D12345, 渝C88888). Then every renderer runs and its output is
scanned: the documents in every format and language (Word by its XML text), the outbox
messages and the inbox files they are delivered to, the daily, weekly and monthly digests in
Markdown, HTML and Excel, the SLA board artifact, the action flows' artifacts and log lines,
the import report, and the command line's `show`, `show --explain`, `list`, `notifications
list` and `import` output, text and JSON. Every log record written meanwhile is scanned too.

Two scans: the planted numbers themselves (any 8 consecutive digits of a planted phone, 10 of
an ID number, the whole plate, separators ignored), and generic patterns (any mobile, ID
number, plate or landline), which catch what nobody planted.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlmodel import select

from cli.main import main
from flows import action_forms, action_runs, actions, sla_board
from models.tables import Document, Notification
from service import cases as uc
from service import delivery, digest_data, digests, documents, watchdog
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from tests.conftest import accept_command, database_url_for, stamp_as
from workflow.actor import Actor
from workflow.measures import month_of, week_of
from workflow.privacy import fold_width, mask_text
from workflow.vocab import Role

# ----------------------------------------------------------------------------- the secrets
MOBILES = {
    "13812345678": "13812345678",  # the phone field
    "13987654321": "+86 139-8765-4321",
    "13722223333": "0086 137 2222 3333",
    "15011112222": "15011112222",
    "13600001111": "１３６００００１１１１",  # full-width digits
    "13711112222": "13711112222",
    "18633334444": "186-3333-4444",
    "17755556666": "+8617755556666",
    "15899990000": "158 9999 0000",
    "13911112222": "139 1111 2222",  # in a unit's name
}
LANDLINES = {
    "02866778899": "028-66778899",
    "08162345671": "(0816)2345671",
    "02887654321": "+86 28 87654321",
    "01062223333": "010 6222 3333",
}
IDS = {
    "510104199001011234": "510104199001011234",
    "51010419900101123X": "51010419900101123X",
    "110101198507075678": "110101198507075678",
}
PLATES = {"川B12345": "川B12345", "川AD12345": "川A·D12345", "渝C88888": "渝C88888"}


def said(*keys: str) -> str:
    """Free text carrying the written forms of some secrets."""
    written = {**MOBILES, **LANDLINES, **IDS, **PLATES}
    return "，".join(f"联系方式{written[k]}" for k in keys)


# ----------------------------------------------------------------------------- the scanners
_SEPARATORS = re.compile(r"(?<=[0-9A-Z])[ \t\-().·•]{1,3}(?=[0-9A-Z])")
_PROVINCES = "京津沪渝冀豫云滇辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵黔粤青藏川宁琼使领"
GENERIC = {
    "mobile": re.compile(r"(?<![\d*])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"),
    "id number": re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),
    "plate": re.compile(rf"[{_PROVINCES}][A-Za-z][ ·\-]?[A-Za-z0-9]{{5,6}}"),
    "landline": re.compile(
        r"(?<![\d*])\(?0(?:10|2\d|[3-9]\d{2})\)?[ -]?[2-8]\d{2,3}[ -]?\d{4}(?!\d)"
    ),
}


def _windows(secret: str, size: int) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


NEEDLES = {
    **{w: f"phone {k}" for k in (*MOBILES, *LANDLINES) for w in _windows(k, 8)},
    **{w: f"id {k}" for k in IDS for w in _windows(k.upper(), 10)},
    **{k: f"plate {k}" for k in PLATES},
}


def leaks(text: str) -> list[str]:
    """Unmasked personal data in `text`: planted numbers and anything that looks like one."""
    folded = fold_width(text)
    joined = _SEPARATORS.sub("", folded.upper())
    found = sorted({f"{what} ({needle})" for needle, what in NEEDLES.items() if needle in joined})
    for name, pattern in GENERIC.items():
        found += [f"{name}: {m.group(0)}" for m in pattern.finditer(folded)]
    return found


def test_the_scanner_finds_every_planted_form_and_passes_masked_ones() -> None:
    for written in {**MOBILES, **LANDLINES, **IDS, **PLATES}.values():
        assert leaks(f"内容{written}。"), written
        assert not leaks(mask_text(f"内容{written}。")), (written, mask_text(written))
    assert leaks("号码１３８ １２３４ ５６７８") and leaks("车牌川b 54321")
    assert not leaks("订单号20261123-0001，金额3500元，2026-11-23T09:30:00+08:00")


# ----------------------------------------------------------------------------- the data
DESK = Actor("受理员小张", Role.DISPATCHER)
ROAD_HANDLER = Actor("李承办", Role.HANDLER, "ROAD")
ROAD_CHIEF = Actor("王科长", Role.SUPERVISOR, "ROAD")
BUREAU_CHIEF = Actor("局督办", Role.SUPERVISOR)
REVIEWER = Actor("复盘组老李", Role.REVIEWER)
FINDINGS = {
    "verification": "调取运单，" + said("18633334444"),
    "facts": "运费已结清，" + said("510104199001011234"),
    "basis": "《道路货物运输及站场管理规定》，" + said("01062223333"),
    "explanation": "已电话告知司机，" + said("15899990000"),
    "explained_at": "2026-11-24T15:00:00+08:00",
    "evidence": ["运单截图" + said("渝C88888"), "转账凭证" + said("13987654321")],
}


RESPONDENT = "顺达物流" + said("13711112222")  # twice: a repeat respondent in the bulletin


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def stamp(actor: Actor, when: str) -> Stamp:
    return Stamp(actor=actor, at=at(when), recorded_at=at(when))


@dataclass
class Outputs:
    """Everything rendered, by where it came from."""

    texts: dict[str, str] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        assert name not in self.texts, name
        self.texts[name] = text


class _Records(logging.Handler):
    """Every log record written while the data is built and rendered (like caplog)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


def run_cli(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        code = 0
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")


def docx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml").decode("utf-8")
    return xml + "\n" + "".join(re.findall(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>", xml))


def xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data))
    return "\n".join(
        str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
    )


def _build(engine: Engine) -> dict[str, str]:
    """The grievances: a full life with a redo, a no-fault close, an amended one left open and
    overdue, a merged duplicate. Returns their numbers by role."""
    early = stamp(DESK, "2026-11-23T08:00")
    add_unit(
        engine,
        early,
        code="ROAD",
        name="市道路运输管理处" + said("13911112222"),
        notify=["inbox://road"],
    )
    add_unit(engine, early, code="LAW", name="执法支队", supervisor_notify=["inbox://law"])
    description = (
        "货主拖欠运费3500元，"
        + said("13987654321", "13722223333", "02866778899", "510104199001011234")
        + "，车牌"
        + PLATES["川AD12345"]
        + "，"
        + said("13600001111")
    )
    full = uc.accept(
        engine,
        accept_command(
            ref="M-1",
            name="王建国",
            phone="13812345678",
            plate="川B12345",
            description=description,
            respondent=RESPONDENT,
        ),
        stamp(DESK, "2026-11-23T09:00"),
    ).number
    n = full
    uc.assign(engine, n, stamp(DESK, "2026-11-23T09:30"), unit="ROAD", co_units=["LAW"])
    uc.sign(engine, n, stamp(ROAD_HANDLER, "2026-11-23T10:00"), note="签收" + said("15011112222"))
    uc.feedback(engine, n, stamp(ROAD_HANDLER, "2026-11-23T11:00"), note=said("08162345671"))
    uc.request_extension(
        engine,
        n,
        stamp(ROAD_HANDLER, "2026-11-23T14:30"),
        days=2,
        reason=said("51010419900101123X"),
    )
    uc.approve_extension(engine, n, stamp(ROAD_CHIEF, "2026-11-23T15:00"), note=said("渝C88888"))
    uc.suspend(engine, n, stamp(ROAD_CHIEF, "2026-11-23T15:30"), reason=said("17755556666"))
    uc.resume(engine, n, stamp(ROAD_HANDLER, "2026-11-24T09:00"), note=said("02887654321"))
    uc.close(
        engine,
        n,
        stamp(ROAD_HANDLER, "2026-11-24T10:00"),
        result="resolved",
        note="运费已结清，" + said("18633334444"),
        recovered="3500",
    )
    uc.revisit(
        engine,
        n,
        stamp(DESK, "2026-11-24T11:00"),
        satisfaction="dissatisfied",
        note="司机不满意，" + said("15899990000", "110101198507075678"),
    )
    uc.redo(engine, n, stamp(BUREAU_CHIEF, "2026-11-24T14:30"), reason=said("13722223333"))
    uc.close(engine, n, stamp(ROAD_HANDLER, "2026-11-25T10:00"), result="resolved", note="再次办结")
    uc.revisit(engine, n, stamp(DESK, "2026-11-25T11:00"), satisfaction="satisfied")

    no_fault = uc.accept(
        engine,
        accept_command(
            ref="M-2",
            name="李四",
            phone="028-66778899",
            category="enforcement",
            description="对罚款有异议，" + said("13812345678", "川B12345"),
        ),
        stamp(DESK, "2026-11-23T09:10"),
    ).number
    uc.assign(engine, no_fault, stamp(DESK, "2026-11-23T09:40"), unit="ROAD")
    uc.sign(engine, no_fault, stamp(ROAD_HANDLER, "2026-11-23T10:10"))

    open_ = uc.accept(
        engine,
        accept_command(
            ref="M-3",
            phone="+86 137 1111 2222",
            plate="渝C88888",
            description="欠款",
            respondent=RESPONDENT,
        ),
        stamp(DESK, "2026-11-23T09:20"),
    ).number
    uc.amend(
        engine,
        open_,
        stamp(DESK, "2026-11-23T09:25"),
        reason="更正内容",
        description="更正：" + said("17755556666", "川B12345"),
    )
    uc.assign(engine, open_, stamp(DESK, "2026-11-23T09:50"), unit="ROAD", co_units=["LAW"])

    duplicate = uc.accept(
        engine,
        accept_command(
            ref="M-4", phone="13812345678", description="重复来电" + said("13812345678")
        ),
        stamp(DESK, "2026-11-23T09:55"),
    ).number
    uc.merge(engine, duplicate, stamp(DESK, "2026-11-23T10:05"), into=open_, reason="重复")
    return {"full": full, "no_fault": no_fault, "open": open_, "duplicate": duplicate}


class _Logger:
    """The run logger of a flow called outside a Prefect run: a plain logger."""

    def __getattr__(self, name: str) -> Any:
        return getattr(logging.getLogger("grievance.flows"), name)


def _action_flows(out: Outputs, monkeypatch: pytest.MonkeyPatch) -> None:
    """The action flows' own effects: log lines and markdown artifacts (the flows are called
    as plain functions, with Prefect's logger and artifact calls captured)."""
    artifacts: list[str] = []

    def artifact(**kwargs: Any) -> None:
        artifacts.append(f"{kwargs.get('description')}\n{kwargs['markdown']}")

    monkeypatch.setattr(action_runs, "create_markdown_artifact", artifact)
    monkeypatch.setattr(action_runs, "get_run_logger", lambda: _Logger())

    def stamped(actor: Actor, action: str) -> str:
        with Engine.opened() as engine:
            return stamp_as(engine, actor, f"action:{action}")

    chief = Actor("zhao.chief", Role.SUPERVISOR, "ROAD")
    closed = actions.close.fn(
        action_forms.CloseForm(
            number=out.numbers["no_fault"],
            result="no_fault",
            note="经核实无过错，" + said("13987654321"),
            at="2026-11-24T16:00:00+08:00",
            **FINDINGS,
        ),
        stamped(chief, "close"),
    )
    assert isinstance(closed, dict), closed
    reviewed = actions.review.fn(
        action_forms.ReviewForm(
            number=out.numbers["full"],
            root_cause="货主资金周转，" + said("13812345678"),
            actions="约谈货主，" + said("川AD12345"),
            lessons=said("510104199001011234"),
            responsibility="货主责任，" + said("02866778899"),
            at="2026-11-26T10:00:00+08:00",
        ),
        stamped(Actor("qian.review", Role.REVIEWER), "review"),
    )
    assert isinstance(reviewed, dict), reviewed
    # refused input: the run fails, and its log line quotes the (masked) bad value
    refused = actions.accept.fn(
        action_forms.AcceptForm(
            channel="hotline_12328",
            ref="M-9",
            type="complaint",
            category="freight_unpaid",
            name="王五",
            phone="13812345678",
            plate="川B12345",
            description="x",
        ),
        stamped(Actor("zhang.handler", Role.HANDLER, "ROAD"), "accept"),
    )
    assert not isinstance(refused, dict)
    for i, text in enumerate(artifacts):
        out.add(f"action artifact {i}", text)


def _documents(engine: Engine, out: Outputs) -> None:
    for kind, number in (("review", out.numbers["full"]), ("no_fault", out.numbers["no_fault"])):
        for lang in ("zh", "en"):
            for fmt in documents.FORMATS:
                rendered = documents.render(
                    engine, number, kind, fmt, DESK, at("2026-11-27T09:00"), lang=lang
                )
                text = (
                    docx_text(rendered.content)
                    if fmt == "docx"
                    else rendered.content.decode("utf-8")
                )
                out.add(f"document {kind} {lang} {fmt}", text)
    with engine.db.read() as session:
        issued = session.exec(select(Document)).all()
        # the review and the no-fault close issued theirs (HTML and Word) after their commits
        assert {(doc.kind, doc.format) for doc in issued} >= {
            ("review", "html"),
            ("review", "docx"),
            ("no_fault", "html"),
            ("no_fault", "docx"),
        }
        for doc in issued:
            content = doc.content
            text = docx_text(content) if doc.format == "docx" else content.decode("utf-8")
            out.texts[f"stored document {doc.id} {doc.kind} {doc.format}"] = text


def _notifications(engine: Engine, out: Outputs, inbox: Path) -> None:
    for when in ("2026-11-26T11:00", "2026-11-27T09:00", "2026-11-30T09:00", "2026-12-01T09:00"):
        watchdog.sweep(engine, at(when))
        delivery.deliver(engine, at(when))
    with engine.db.read() as session:
        rows = session.exec(select(Notification)).all()
    assert len(rows) >= 5, "the scenario should queue notifications"
    assert any(row.kind == "revisit_dissatisfied" for row in rows)
    for row in rows:
        out.add(f"notification {row.id} {row.kind} {row.step}", f"{row.title}\n{row.body}")
    files = sorted(inbox.glob("*.jsonl"))
    assert files, "the inbox channel should have received messages"
    for path in files:
        out.add(f"inbox {path.name}", path.read_text(encoding="utf-8"))


def _digests(engine: Engine, out: Outputs) -> None:
    made = [
        *digests.daily(engine, date(2026, 11, 30), at("2026-11-30T08:30")),
        digests.weekly(engine, week_of(date(2026, 11, 23)), at("2026-11-30T09:00")),
        digests.monthly(engine, month_of(date(2026, 11, 1)), at("2026-12-01T09:00")),
    ]
    assert {d.kind for d in made} == {"daily", "weekly", "monthly"}
    bulletin = digests.render_digest(made[-1], "md", "zh").decode("utf-8")
    assert "顺达物流" in bulletin and "137****2222" in bulletin  # the repeat respondent
    for digest in made:
        for fmt in digest_data.FORMATS:
            for lang in ("zh", "en"):
                data = digests.render_digest(digest, fmt, lang)
                text = xlsx_text(data) if fmt == "xlsx" else data.decode("utf-8")
                out.add(f"digest {digest.kind} {digest.unit or ''} {fmt} {lang}", text)


MARKS = {"| 🟥", "| 🟨", "| 🟩"}


def _sla_board(engine: Engine, out: Outputs, monkeypatch: pytest.MonkeyPatch) -> None:
    boards: list[Any] = []
    monkeypatch.setattr(sla_board, "create_markdown_artifact", lambda **kw: boards.append(kw))
    monkeypatch.setattr(sla_board, "prune_versions", lambda keys: None)
    monkeypatch.setattr(sla_board, "latest_descriptions", dict)
    for language in ("zh", "en"):
        monkeypatch.setenv("GRIEVANCE_LANGUAGE", language)
        sla_board.publish_boards(engine, at("2026-11-30T09:00"), links={})
    rows = [line for b in boards for line in b["markdown"].splitlines() if line[:3] in MARKS]
    assert rows, "the SLA board should list the running timers"
    out.add("sla board", json.dumps(boards, ensure_ascii=False, default=str))


def _cli(out: Outputs, tmp: Path) -> None:
    numbers = out.numbers
    commands: list[tuple[str, ...]] = [("list",), ("notifications", "list", "--limit", "1000")]
    for number in numbers.values():
        commands += [("show", number), ("show", number, "--explain")]
    commands += [("unit", "list")]
    for args in commands:
        for extra in ((), ("--json",)):
            code, stdout, stderr = run_cli(*args, *extra, "--at", "2026-11-30T09:00")
            assert code == 0, (args, stderr)
            out.add("cli " + " ".join((*args, *extra)), stdout + stderr)
    bad = tmp / "import.csv"
    bad.write_text(
        "ref,type,category,name,phone,description,accepted_at,plate\n"
        "I-1,complaint,freight_unpaid,王五,13812345678x,欠款,2026-11-23 09:00,川B12345\n"
        "I-2,complaint,freight_unpaid,赵六,13987654321,欠款"
        + said("13600001111")
        + ",2026-11-23 09:00,川B1234567\n",
        encoding="utf-8",
    )
    for extra in ((), ("--json",)):
        code, stdout, stderr = run_cli("import", str(bad), "--dry-run", *extra)
        assert code == 1, stderr
        out.add("cli import " + " ".join(extra), stdout + stderr)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outputs]:
    tmp = tmp_path_factory.mktemp("masking")
    inbox = tmp / "inbox"
    records = _Records()
    root = logging.getLogger()
    old_level = root.level
    quiet = logging.getLogger("sqlalchemy")  # SQL echo is a debugging switch, not a log line
    old_quiet = quiet.level
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp))
        patch.setenv("GRIEVANCE_INBOX_DIR", str(inbox))
        patch.setenv("GRIEVANCE_NOTIFY_DESK", "inbox://desk")
        patch.setenv("GRIEVANCE_NOTIFY_SUPERVISOR", "inbox://bureau")
        patch.setenv("GRIEVANCE_NOTIFY_LEADERSHIP", "inbox://leaders")
        patch.setenv("GRIEVANCE_CASE_RUNS", "0")  # no Prefect server: no case runs to re-sync
        patch.delenv("PREFECT_API_URL", raising=False)
        for name in ("GRIEVANCE_ACTOR", "GRIEVANCE_ROLE", "GRIEVANCE_ACTOR_UNIT"):
            patch.delenv(name, raising=False)
        root.addHandler(records)
        root.setLevel(logging.DEBUG)
        quiet.setLevel(logging.WARNING)
        engine = Engine.open()
        try:
            out = Outputs()
            out.numbers = _build(engine)
            _action_flows(out, patch)
            _documents(engine, out)
            _notifications(engine, out, inbox)
            _digests(engine, out)
            _sla_board(engine, out, patch)
            _cli(out, tmp)
            out.logs = list(records.lines)
            yield out
        finally:
            engine.db.dispose()
            root.removeHandler(records)
            root.setLevel(old_level)
            quiet.setLevel(old_quiet)


def _scan(outputs: Outputs, prefix: str) -> None:
    chosen = {name: text for name, text in outputs.texts.items() if name.startswith(prefix)}
    assert chosen, f"nothing rendered under {prefix!r}"
    found = {name: leaks(text) for name, text in chosen.items()}
    assert not {name: items for name, items in found.items() if items}


@pytest.mark.parametrize(
    "prefix",
    [
        "document",
        "stored document",
        "notification",
        "inbox",
        "digest daily",
        "digest weekly",
        "digest monthly",
        "action artifact",
        "cli show",
        "cli list",
        "cli notifications",
        "cli import",
    ],
)
def test_no_rendered_output_shows_personal_data(outputs: Outputs, prefix: str) -> None:
    _scan(outputs, prefix)


def test_the_sla_board_shows_no_personal_data(outputs: Outputs) -> None:
    _scan(outputs, "sla board")


def test_no_log_line_shows_personal_data(outputs: Outputs) -> None:
    assert any("can't accept" in line or "may not accept" in line for line in outputs.logs)
    assert not {line: leaks(line) for line in outputs.logs if leaks(line)}


def test_the_outputs_do_show_the_masked_forms(outputs: Outputs) -> None:
    """The scan passes because the data is there, masked, not because it is missing."""
    everything = "\n".join(outputs.texts.values())
    for masked in ("138****5678", "139****4321", "028-****8899", "川B***45", "510104********1234"):
        assert masked in everything.replace("\\*", "*"), masked
    review = outputs.texts["document review zh html"]
    assert "177****6666" in review or "137****3333" in review


def test_caplog_sees_no_personal_data_from_a_refused_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused form logs its one-line reason; a near-miss phone or plate in it is masked."""
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    monkeypatch.setenv("GRIEVANCE_CASE_RUNS", "0")
    monkeypatch.setattr(action_runs, "get_run_logger", lambda: _Logger())
    caplog.set_level(logging.DEBUG, logger="grievance")
    with Engine.opened() as engine:
        stamp = stamp_as(engine, Actor("zhangmin", Role.DISPATCHER), "action:accept")
    for phone, plate in (("13812345678x", "川B12345"), ("13812345678", "川B12345678")):
        state = actions.accept.fn(
            action_forms.AcceptForm.model_construct(
                channel="hotline_12328",
                ref="R-1",
                type="complaint",
                category="freight_unpaid",
                name="王五",
                phone=phone,
                plate=plate,
                description="欠款",
                at=None,
                expect_version=None,
                urgent=False,
                amount=None,
                respondent=None,
            ),
            stamp,
        )
        assert not isinstance(state, dict)
    lines = [record.getMessage() for record in caplog.records]
    assert any("not a valid phone number" in line for line in lines), lines
    assert any("not a valid plate number" in line for line in lines), lines
    assert not {line: leaks(line) for line in lines if leaks(line)}
