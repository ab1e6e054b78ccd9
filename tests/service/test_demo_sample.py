"""The demo's sample 12328 export: written once into the import folder, and imported whole."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.demo import show_sample_import
from service import importing, work_orders
from service.demo import SAMPLE_IMPORT, sample_work_orders
from service.engine import Engine
from workflow.actor import Actor
from workflow.vocab import Role

NOW = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai: the rows are of the night
DESK = Actor("受理员小张", Role.DISPATCHER)


def test_the_sample_imports_every_row_once(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / SAMPLE_IMPORT
    path.write_text(sample_work_orders(NOW), encoding="utf-8")
    parsed = work_orders.read(path)
    assert parsed.warnings == []
    first = importing.import_rows(engine, parsed.rows, DESK, NOW)
    assert first.problems == [] and len(first.imported) == 3
    again = importing.import_rows(engine, parsed.rows, DESK, NOW)
    assert again.imported == [] and len(again.skipped_existing) == 3
    assert "12328-DEMO-20261207-0001" in sample_work_orders(NOW)


def test_the_demo_writes_the_sample_into_the_import_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "imports"
    monkeypatch.setenv(importing.DIR_ENV, str(folder))
    show_sample_import(NOW)
    written = (folder / SAMPLE_IMPORT).read_text(encoding="utf-8")
    assert written == sample_work_orders(NOW)
    assert str(folder / SAMPLE_IMPORT) in capsys.readouterr().out
    (folder / SAMPLE_IMPORT).write_text("edited", encoding="utf-8")
    show_sample_import(NOW)  # a file already there is the bureau's: left alone
    assert (folder / SAMPLE_IMPORT).read_text(encoding="utf-8") == "edited"
