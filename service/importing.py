"""Bulk import of a day's 12328 work orders: the rows `service.work_orders` validated are
accepted one transaction per row (`cases.accept`), so a crash leaves nothing half-written and a
rerun imports the rest. A (channel, ref) already in the database is skipped, never imported
twice. The Prefect flow (`flows.importer`) runs the batches as tasks; `grievance import FILE`
(`cli.importing`) shows a progress bar.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from models import case_rows
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.work_orders import Problem, Ready, Row, validate
from workflow.actor import Actor
from workflow.errors import Duplicate, GrievanceError, InvalidInput
from workflow.privacy import mask_text

DEFAULT_ACTOR = "12328导入"
BATCH = 200
DIR_ENV = "GRIEVANCE_IMPORT_DIR"  # the folder the UI's imports read from (default ./imports)
PARALLEL_ENV = "GRIEVANCE_IMPORT_PARALLEL"  # batches written at once on PostgreSQL (default 4)


def parallel_batches() -> int:
    """How many batch tasks write at once: one on SQLite (it has one writer; more only queue
    on its lock, and under load a queued one gave up after the 30 s busy timeout and failed
    the import half-way), `GRIEVANCE_IMPORT_PARALLEL` (default 4) on PostgreSQL."""
    from sqlalchemy.engine import make_url

    from models.db import database_url

    if make_url(database_url()).get_backend_name() == "sqlite":
        return 1
    text = os.environ.get(PARALLEL_ENV, "4")
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise InvalidInput(f"{PARALLEL_ENV} must be a whole number from 1 to 64, not {text!r}")
    return int(text)


@dataclass
class ImportResult:
    """Imported rows (line, grievance number), rows already present (line, ref), bad rows.

    In a dry run nothing is written: `would_import` lists (line, ref) of the new rows.
    """

    imported: list[tuple[int, str]] = field(default_factory=list)
    skipped_existing: list[tuple[int, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    would_import: list[tuple[int, str]] = field(default_factory=list)

    def merge(self, other: ImportResult) -> None:
        self.imported += other.imported
        self.skipped_existing += other.skipped_existing
        self.problems += other.problems
        self.would_import += other.would_import
        self.problems.sort(key=lambda p: p.line)

    def summary(self) -> dict[str, Any]:
        return {
            "imported": len(self.imported),
            "skipped_existing": len(self.skipped_existing),
            "bad": len(self.problems),
            "would_import": len(self.would_import),
        }


# ----------------------------------------------------------------------------- importing
def import_ready(
    engine: Engine,
    ready: Sequence[Ready],
    actor: Actor,
    recorded_at: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Accept each validated row in its own transaction; existing references are skipped."""
    result = ImportResult()
    for item in ready:
        stamp = Stamp(actor=actor, at=item.at, recorded_at=recorded_at)
        try:
            case = uc.accept(engine, item.command, stamp)
        except Duplicate:
            result.skipped_existing.append((item.line, item.command.ref))
        except GrievanceError as error:
            result.problems.append(Problem(item.line, str(error)))
        else:
            result.imported.append((item.line, case.number))
        if progress is not None:
            progress(1)
    return result


def check_ready(engine: Engine, ready: Sequence[Ready]) -> ImportResult:
    """Dry run: which validated rows are new and which are already present (writes nothing)."""
    result = ImportResult()
    with engine.db.read() as session:
        for item in ready:
            existing = case_rows.number_by_ref(session, item.command.channel, item.command.ref)
            target = result.skipped_existing if existing else result.would_import
            target.append((item.line, item.command.ref))
    return result


def batches(items: Sequence[Ready], size: int) -> Iterator[Sequence[Ready]]:
    if size < 1:
        raise InvalidInput("batch size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def import_rows(
    engine: Engine,
    rows: Sequence[Row],
    actor: Actor,
    recorded_at: datetime,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate all rows, then accept the good ones batch by batch (one transaction per row).

    `progress(n)` is called as rows are done (bad rows count as done at once).
    """
    ready, problems = validate(rows, recorded_at)
    result = ImportResult(problems=problems)
    if progress is not None and problems:
        progress(len(problems))
    for chunk in batches(ready, batch):
        result.merge(import_ready(engine, chunk, actor, recorded_at, progress))
    return result


# ----------------------------------------------------------------------------- report
def report_markdown(name: str, result: ImportResult, warnings: Sequence[str] = ()) -> str:
    """The import report: counts, then bad rows with line and reason (personal data masked)."""
    lines = [
        f"# 批量导入 Import {name}",
        "",
        "| 项目 Item | 数量 Count |",
        "|---|---|",
        f"| 导入 Imported | {len(result.imported)} |",
        f"| 已存在 Already present | {len(result.skipped_existing)} |",
        f"| 错误行 Bad rows | {len(result.problems)} |",
        "",
    ]
    if result.problems:
        lines += ["## 错误行 Bad rows", "", "| 行 Line | 原因 Reason |", "|---|---|"]
        lines += [
            f"| {p.line} | {mask_text(p.reason).replace('|', '/')} |" for p in result.problems
        ]
        lines.append("")
    if warnings:
        lines += ["## 提示 Warnings", ""] + [f"- {mask_text(w)}" for w in warnings] + [""]
    return "\n".join(lines)


def import_dir() -> Path:
    """The folder a run started from the UI reads its file from: `$GRIEVANCE_IMPORT_DIR`, or
    `imports` in the serving process's working directory."""
    return Path(os.environ.get(DIR_ENV) or "imports").resolve()


def path_in_import_dir(raw: str) -> Path:
    """The file a UI import names (relative to the import folder, or absolute within it),
    symbolic links and `..` resolved; refused when it lies outside: the serving machine's
    other files are not the desk's to read."""
    folder = import_dir()
    if not raw.strip():
        raise InvalidInput(
            "name the file to import (a CSV or JSON Lines file in the import folder)"
        )
    path = (folder / raw.strip()).resolve()
    if not path.is_relative_to(folder):
        raise InvalidInput(
            f"the file must be in the import folder {folder} ({DIR_ENV}); put it there first"
        )
    return path
