"""Evidence attachments in the documents: the 无责说明's evidence list and the 复盘报告 list
the files attached (name masked, type, size, short hash, when, who), compared with golden
files under tests/golden/documents/attachments/ (regenerate with UPDATE_GOLDEN=1 and read the
diff). A grievance without attachments renders exactly as before (tests/service/
test_documents.py's golden files are unchanged)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service import attachments as att
from service import documents
from service.engine import Engine
from tests.conftest import database_url_for
from tests.service.test_documents import (
    FORMATS,
    KINDS,
    LANGS,
    LAW_CHIEF,
    LAW_HANDLER,
    PHONE,
    REVIEWER,
    UPDATE,
    everything,
    no_fault_case,
    readable,
    render,
    reviewed_case,
    stamp,
)
from workflow.attachments import AttachmentRules

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "documents" / "attachments"
WAYBILL = b"%PDF-1.7\n" + b"waybill 0001\n" * 90 + b"%%EOF\n"
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40
TICKET = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 12


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Engine, str]]]:
    """The golden review and no-fault cases, with files attached."""
    built, engines = {}, []
    for kind in KINDS:
        folder = tmp_path_factory.mktemp(kind)
        engine = Engine.open(database_url_for(folder))
        engines.append(engine)
        config = att.AttachmentConfig(folder / "store", AttachmentRules())
        if kind == "review":
            number = reviewed_case(engine)
            # the reviewer adds the waybill the driver sent after the review
            att.attach(
                engine,
                number,
                stamp(REVIEWER, "2026-12-02T16:00"),
                data=WAYBILL,
                name="运单 13812345678.pdf",
                note="司机补充提供",
                config=config,
            )
        else:
            number = no_fault_case(engine)
            # the weighing ticket and a photo of the scale, after the close
            for data, name, when in (
                (TICKET, "称重单.png", "2026-11-26T09:00"),
                (PHOTO, "检测站地磅.jpg", "2026-11-26T09:05"),
            ):
                att.attach(
                    engine, number, stamp(LAW_HANDLER, when), data=data, name=name, config=config
                )
        built[kind] = (engine, number)
    yield built
    for engine in engines:
        engine.db.dispose()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_documents_with_attachments_match_their_golden_files(
    cases: dict[str, tuple[Engine, str]], kind: str, fmt: str, lang: str
) -> None:
    engine, number = cases[kind]
    content = render(engine, number, kind, fmt, lang)
    text = readable(fmt, content)
    golden = GOLDEN / (f"{kind}.{lang}.{fmt}" if fmt != "docx" else f"{kind}.{lang}.docx.txt")
    if UPDATE or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{golden.name} was missing and has been written: review it")
    assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs"
    assert PHONE.search(everything(fmt, content)) is None  # the phone in a file name masked


@pytest.mark.parametrize("kind", KINDS)
def test_every_attachment_is_listed(cases: dict[str, tuple[Engine, str]], kind: str) -> None:
    engine, number = cases[kind]
    listed = att.list_attachments(engine, number, LAW_CHIEF if kind == "no_fault" else REVIEWER)
    assert listed
    for fmt in FORMATS:
        for lang in LANGS:
            text = readable(fmt, render(engine, number, kind, fmt, lang)).replace("\\", "")
            for item in listed:
                assert item.short in text and item.kind in text and item.size_text in text


def test_the_statement_issued_at_the_close_is_as_of_the_close(
    engine: Engine, tmp_path: Path
) -> None:
    """The 无责说明 the close issues is as of the close: a file attached later is not in it,
    and is listed when the statement is rendered again."""
    config = att.AttachmentConfig(tmp_path / "store", AttachmentRules())
    number = no_fault_case(engine)  # the close queued its statement
    att.attach(
        engine,
        number,
        stamp(LAW_HANDLER, "2026-11-26T09:00"),
        data=TICKET,
        name="称重单.png",
        config=config,
    )
    [issued] = documents.issue(engine, stamp(LAW_CHIEF, "2026-11-26T09:01").recorded_at)
    html = next(d for d in issued.documents if d.fmt == "html").content.decode("utf-8")
    assert "称重单.png" not in html and "电子证据附件" not in html
    assert "称重单.png" in readable("md", render(engine, number, "no_fault", "md"))
