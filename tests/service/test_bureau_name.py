"""The bureau's own name (GRIEVANCE_BUREAU_NAME) in every output the engine renders: both
documents in HTML, Markdown and Word, the three digests in HTML, Markdown and Excel, and the
notifications (time-limit steps, a dissatisfied revisit, a broken case); in Chinese and
English. Without it, nothing stands in its place."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from models.tables import Notification
from service import cases as uc
from service import digests, documents, outbox, watchdog
from service.engine import Engine
from service.units import set_unit_targets
from templates import ENV_BUREAU, bureau_name
from tests.conftest import DESK, Driver, database_url_for
from tests.service.test_delivery import MON_0900
from tests.service.test_digests import DAILY_AS_OF, MONTHLY_AS_OF, WEEKLY_AS_OF
from tests.service.test_digests import build as build_digests
from tests.service.test_documents import RENDERED_AT, no_fault_case, readable, reviewed_case
from workflow.errors import InvalidInput
from workflow.measures import month_of, week_of
from workflow.timeutil import parse_instant

BUREAU = "成都市交通运输局"
LANGS = ("zh", "en")


@pytest.fixture
def named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_BUREAU, f"  {BUREAU} ")  # surrounding spaces are not the name


@pytest.fixture(scope="module")
def two_cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Engine, str]]]:
    built: dict[str, tuple[Engine, str]] = {}
    for kind, make in (("review", reviewed_case), ("no_fault", no_fault_case)):
        engine = Engine.open(database_url_for(tmp_path_factory.mktemp(kind)))
        built[kind] = (engine, make(engine))
    yield built
    for engine, _ in built.values():
        engine.db.dispose()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", ["html", "md", "docx"])
@pytest.mark.parametrize("kind", ["review", "no_fault"])
def test_documents_carry_the_bureau_name(
    two_cases: dict[str, tuple[Engine, str]],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    fmt: str,
    lang: str,
) -> None:
    engine, number = two_cases[kind]

    def text() -> str:
        rendered = documents.render(
            engine, number, kind, fmt, DESK, RENDERED_AT, lang=lang, store=False
        )
        return readable(fmt, rendered.content)

    monkeypatch.delenv(ENV_BUREAU, raising=False)
    plain = text()
    assert BUREAU not in plain and "出具单位" not in plain and "issued by" not in plain
    monkeypatch.setenv(ENV_BUREAU, BUREAU)
    named = text()
    issued = f"出具单位：{BUREAU}" if lang == "zh" else f"issued by {BUREAU}"
    assert issued in named and named.count(BUREAU) == 1


@pytest.fixture(scope="module")
def digest_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = Engine.open(database_url_for(tmp_path_factory.mktemp("digests")))
    build_digests(engine)
    yield engine
    engine.db.dispose()


@pytest.mark.parametrize("lang", LANGS)
def test_every_digest_in_every_format_carries_the_bureau_name(
    digest_engine: Engine, named: None, lang: str
) -> None:
    engine = digest_engine
    found = [
        *digests.daily(engine, date(2026, 12, 1), parse_instant(DAILY_AS_OF)),
        digests.weekly(engine, week_of(date(2026, 11, 23)), parse_instant(WEEKLY_AS_OF)),
        digests.monthly(engine, month_of(date(2026, 11, 1)), parse_instant(MONTHLY_AS_OF)),
    ]
    assert {d.kind for d in found} == {"daily", "weekly", "monthly"}
    heading = BUREAU if lang == "zh" else f"{BUREAU}: "
    for digest in found:
        assert digest.title_in(lang).startswith(heading)
        assert BUREAU in digest.summary(lang)
        for fmt in ("html", "md"):
            content = digests.render_digest(digest, fmt, lang).decode("utf-8")
            first = next(line for line in content.splitlines() if line.startswith(("# ", "<h1>")))
            assert BUREAU in first, (digest.kind, fmt)
        book = load_workbook(io.BytesIO(digests.render_digest(digest, "xlsx", lang)))
        assert book.properties.title.startswith(heading)
        assert book.properties.creator == BUREAU
        assert all(sheet.oddHeader.center.text == BUREAU for sheet in book.worksheets)


def test_notifications_are_signed_with_the_bureau_name(
    driver: Driver, named: None, tmp_path: Path
) -> None:
    engine = driver.engine
    driver.units("UA", "UB")
    set_unit_targets(
        engine,
        driver.stamp(DESK, 0),
        code="UA",
        notify=["inbox://ua"],
        supervisor_notify=["inbox://sup"],
    )
    engine.notify = replace(engine.notify, leadership=("inbox://lead",))
    driver.to("assigned")
    watchdog.sweep(engine, MON_0900)  # the time-limit steps of an overdue grievance
    closed = driver.to("closed").number
    uc.revisit(engine, closed, driver.stamp(DESK), satisfaction="dissatisfied", note="没到账")
    with engine.db.transaction() as session:
        outbox.queue_broken(
            engine,
            session,
            number=closed,
            grievance_id=1,
            version=99,
            unit="UA",
            targets=["close"],
            error="policy not found",
            now=MON_0900,
            units=outbox.load_units(session),
        )
    with engine.db.read() as session:
        queued = list(session.exec(select(Notification)).all())
    assert {"sla_step", "revisit_dissatisfied", "sla_broken"} <= {n.kind for n in queued}
    for row in queued:
        assert row.body.rstrip().endswith(f"—— {BUREAU}"), (row.kind, row.body)


def test_without_a_name_nothing_stands_in_for_it_and_a_bad_name_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_BUREAU, "   ")
    assert bureau_name() is None
    monkeypatch.setenv(ENV_BUREAU, "成都市\n交通运输局")
    with pytest.raises(InvalidInput, match=ENV_BUREAU):
        bureau_name()
    monkeypatch.setenv(ENV_BUREAU, "局" * 101)
    with pytest.raises(InvalidInput, match="at most 100"):
        bureau_name()


def _png() -> bytes:
    """A 1x1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("kind", ["review", "no_fault"])
def test_the_seal_or_logo_is_in_html_and_word_documents(
    two_cases: dict[str, tuple[Engine, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
) -> None:
    engine, number = two_cases[kind]
    seal = tmp_path / "seal.png"
    seal.write_bytes(_png())

    def render(fmt: str) -> bytes:
        return documents.render(
            engine, number, kind, fmt, DESK, RENDERED_AT, lang="zh", store=False
        ).content

    monkeypatch.delenv("GRIEVANCE_BUREAU_LOGO", raising=False)
    plain_html, plain_docx = render("html").decode("utf-8"), render("docx")
    assert "<img" not in plain_html
    monkeypatch.setenv("GRIEVANCE_BUREAU_LOGO", str(seal))
    monkeypatch.setenv(ENV_BUREAU, BUREAU)
    html = render("html").decode("utf-8")
    uri = "data:image/png;base64," + base64.b64encode(seal.read_bytes()).decode("ascii")
    assert f'<img src="{uri}" alt="{BUREAU}"' in html
    with zipfile.ZipFile(io.BytesIO(render("docx"))) as word:
        media = [n for n in word.namelist() if n.startswith("word/media/")]
        assert len(media) == 1 and word.read(media[0]) == seal.read_bytes()
        assert "<w:drawing>" in word.read("word/document.xml").decode("utf-8")
    with zipfile.ZipFile(io.BytesIO(plain_docx)) as word:
        assert not [n for n in word.namelist() if n.startswith("word/media/")]
    seal.write_bytes(b"GIF89a not a seal")
    with pytest.raises(InvalidInput, match="not a PNG or JPEG"):
        render("html")
