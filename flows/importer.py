"""Bulk import of a day's 12328 work orders (CSV or JSON Lines): parse, validate, accept.

Reading and validating happen once for the whole file; good rows are then accepted one
transaction per row (`usecases.accept`), so a crash leaves nothing half-written and a rerun
imports the rest. A (channel, ref) already in the database is skipped, never imported twice.
The Prefect flow `import_work_orders` is one flow run whose batches are tasks; the click
command `import_` (`grievance import FILE`) shows a progress bar on stderr.

Columns (English names or the Chinese headers of the 12328 export; see `COLUMNS`):
required ref, type, category, name, phone, description, accepted_at; optional channel
(default hotline_12328), plate, amount, urgent, respondent. Enum values may be codes
(`freight_unpaid`) or Chinese labels (`运费纠纷/拖欠运费`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

import click

from models import repo
from service import cases as uc
from service.engine import Engine
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.errors import Duplicate, GrievanceError, InvalidInput
from workflow.privacy import mask_text
from workflow.timeutil import iso, local, parse_instant
from workflow.vocab import Category, Channel, Event, RequestType, Role

DEFAULT_ACTOR = "12328导入"
BATCH = 200
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


MAX_FILE_BYTES = 50 * 1024 * 1024

# English name -> the Chinese headers that mean the same column (first one is the canonical)
COLUMNS: dict[str, tuple[str, ...]] = {
    "ref": ("工单编号", "渠道编号", "工单号"),
    "channel": ("来源渠道", "渠道"),
    "type": ("诉求类型",),
    "category": ("诉求分类",),
    "name": ("诉求人", "姓名", "来电人"),
    "phone": ("联系电话", "电话", "来电号码"),
    "plate": ("车牌号", "车牌号码"),
    "description": ("诉求内容",),
    "amount": ("涉及金额",),
    "urgent": ("是否紧急", "紧急"),
    "respondent": ("被反映对象", "被投诉对象"),
    "accepted_at": ("受理时间", "来电时间"),
}
REQUIRED = ("ref", "type", "category", "name", "phone", "description", "accepted_at")
_HEADER: dict[str, str] = {
    **{name: name for name in COLUMNS},
    **{zh: name for name, zhs in COLUMNS.items() for zh in zhs},
}
_TRUE = {"是", "true", "1", "yes", "y", "紧急"}
_FALSE = {"否", "false", "0", "no", "n", "不紧急", ""}
_ALIASES: dict[type[Enum], dict[str, str]] = {
    Channel: {"12328": "hotline_12328", "12345": "hotline_12345"},
    RequestType: {
        "投诉": "complaint",
        "举报": "complaint",
        "咨询": "enquiry",
        "建议": "suggestion",
    },
    Category: {"拖欠运费": "freight_unpaid", "运费纠纷": "freight_unpaid"},
}
_LOCAL_TIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?$"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One data row of the file: its (first) line number and raw values by English name."""

    line: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """A bad row: its line number and a one-line reason."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Parsed:
    """What `read` found: rows, unreadable rows, and warnings (unknown columns)."""

    rows: list[Row]
    problems: list[Problem]
    warnings: list[str]
    format: str  # "csv" or "jsonl"


@dataclass(frozen=True, slots=True)
class Ready:
    """A validated row: the accept command and its effective time (when 12328 received it)."""

    line: int
    command: Accept
    at: datetime


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


# ----------------------------------------------------------------------------- reading
def _decode(raw: bytes, path: Path) -> str:
    if b"\x00" in raw[:4096]:
        raise InvalidInput(f"{path.name}: not a text file (binary data); export CSV or JSONL")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{path.name}: cannot decode the file (neither UTF-8 nor GB18030); save it as UTF-8"
        ) from None


def _column(header: str) -> str | None:
    """The English name of a header ('诉求内容', ' Description ', '涉及金额（元）')."""
    text = re.sub(r"[（(][^)）]*[)）]", "", header.replace("\ufeff", "")).strip().strip("*")
    return _HEADER.get(text) or _HEADER.get(text.lower())


def _read_csv(text: str, name: str) -> Parsed:
    first = text.split("\n", 1)[0]
    dialect = "excel-tab" if "\t" in first and "," not in first else "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{name}: the file is empty") from None
    except csv.Error as error:
        raise InvalidInput(f"{name}: line 1: {error}") from None
    names: list[str | None] = [_column(h) for h in header]
    warnings = [
        f"unknown column {h.strip()!r} ignored"
        for h, n in zip(header, names, strict=True)
        if n is None and h.strip()
    ]
    seen: dict[str, str] = {}
    for h, n in zip(header, names, strict=True):
        if n is None:
            continue
        if n in seen:
            raise InvalidInput(f"{name}: columns {seen[n]!r} and {h!r} both mean {n}")
        seen[n] = h
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        wanted = ", ".join(f"{c} ({COLUMNS[c][0]})" for c in missing)
        raise InvalidInput(f"{name}: missing required column(s): {wanted}")
    rows: list[Row] = []
    problems: list[Problem] = []
    last = reader.line_num
    while True:
        start = last + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(start, f"unreadable CSV: {error}"))
            break
        last = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            problems.append(
                Problem(start, f"{len(values)} values for {len(header)} columns (a stray comma?)")
            )
            continue
        data = {n: v for n, v in zip(names, values, strict=False) if n is not None}
        rows.append(Row(start, data))
    return Parsed(rows, problems, warnings, "csv")


def _read_jsonl(text: str) -> Parsed:
    rows: list[Row] = []
    problems: list[Problem] = []
    unknown: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(Problem(number, f"not JSON: {error.msg} (column {error.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(number, "not a JSON object: one work order per line"))
            continue
        data: dict[str, Any] = {}
        for key, value in obj.items():
            column = _column(str(key))
            if column is None:
                unknown.setdefault(str(key), number)
            else:
                data[column] = value
        rows.append(Row(number, data))
    warnings = [f"unknown key {k!r} ignored (first on line {n})" for k, n in unknown.items()]
    return Parsed(rows, problems, warnings, "jsonl")


def read(path: str | Path) -> Parsed:
    """Read a CSV (UTF-8, UTF-8 with BOM or GB18030) or JSON Lines file into raw rows.

    An unreadable file, or a CSV without a required column, raises InvalidInput.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{file.name}: {size} bytes, more than {MAX_FILE_BYTES}: split it")
        raw = file.read_bytes()
    except IsADirectoryError:
        raise InvalidInput(f"cannot read {path}: it is a directory") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None
    text = _decode(raw, file)
    if not text.strip():
        raise InvalidInput(f"{file.name}: the file is empty")
    suffix = file.suffix.lower()
    is_jsonl = suffix in (".jsonl", ".ndjson", ".json") or (
        suffix not in (".csv", ".txt", ".tsv") and text.lstrip().startswith("{")
    )
    if is_jsonl and text.lstrip().startswith("["):
        raise InvalidInput(f"{file.name}: a JSON array; give JSON Lines (one object per line)")
    return _read_jsonl(text) if is_jsonl else _read_csv(text, file.name)


def parse(path: str | Path) -> tuple[list[Row], list[Problem]]:
    """The rows of the file and its unreadable rows (warnings: see `read`)."""
    parsed = read(path)
    return parsed.rows, parsed.problems


# ----------------------------------------------------------------------------- validating
def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _vocab(enum: type[Enum], field_name: str, value: str) -> str:
    lowered = value.strip().lower()
    for member in enum:
        if lowered == str(member.value) or value.strip() == getattr(member, "zh", None):
            return str(member.value)
    alias = _ALIASES.get(enum, {}).get(value.strip())
    if alias is not None:
        return alias
    codes = ", ".join(str(m.value) for m in enum)
    raise InvalidInput(f"{field_name}: unknown value {value!r} (use one of {codes} or its label)")


def _urgent(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = (_text(value) or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"urgent: {value!r} is not 是/否, true/false or 1/0")


def _amount(value: str) -> str:
    text = re.sub(r"[,，\s¥￥]|元$", "", value)
    try:
        Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"amount: not a number of yuan: {value!r}") from None
    return text


def accepted_at(value: str) -> datetime:
    """'2026-11-23 09:30', '2026/11/23 9:30', or ISO 8601 (no offset = Asia/Shanghai)."""
    match = _LOCAL_TIME.match(value.strip())
    if match:
        y, mo, d, h, mi, s = match.groups()
        value = f"{y}-{int(mo):02d}-{int(d):02d}T{int(h):02d}:{mi}:{s or '00'}"
    try:
        return parse_instant(value)
    except InvalidInput as error:
        raise InvalidInput(f"accepted_at: {error}") from None


def validate_row(row: Row, recorded_at: datetime) -> Ready:
    """The accept command and effective time of one row, or InvalidInput with the reason."""
    data: dict[str, Any] = {}
    for key, value in row.data.items():
        if key == "urgent":
            data[key] = _urgent(value)
            continue
        text = _text(value)
        if text is None:
            continue
        if key == "channel":
            text = _vocab(Channel, key, text)
        elif key == "type":
            text = _vocab(RequestType, key, text)
        elif key == "category":
            text = _vocab(Category, key, text)
        elif key == "amount":
            text = _amount(text)
        data[key] = text
    data.setdefault("channel", Channel.HOTLINE_12328.value)
    when_text = data.pop("accepted_at", None)
    command = parse_command(Event.ACCEPT, data)
    assert isinstance(command, Accept)
    if when_text is None:
        raise InvalidInput("accepted_at: missing (when the 12328 system received it)")
    at = accepted_at(when_text)
    if at > recorded_at:
        raise InvalidInput(
            f"accepted_at {iso(at)} is in the future (import time {iso(recorded_at)})"
        )
    return Ready(row.line, command, at)


def _reason(error: InvalidInput) -> str:
    return str(error).removeprefix("invalid accept input: ")


def validate(rows: Sequence[Row], recorded_at: datetime) -> tuple[list[Ready], list[Problem]]:
    """Validate every row; a (channel, ref) seen earlier in the file is a problem."""
    ready: list[Ready] = []
    problems: list[Problem] = []
    first: dict[tuple[str, str], int] = {}
    for row in rows:
        ref = _text(row.data.get("ref"))
        if ref is not None:
            try:
                channel = _vocab(Channel, "channel", _text(row.data.get("channel")) or "12328")
            except InvalidInput:
                channel = str(row.data.get("channel"))
            key = (channel, ref)
            if key in first:
                problems.append(
                    Problem(row.line, f"ref {ref!r} repeats line {first[key]} of this file")
                )
                continue
            first[key] = row.line
        try:
            ready.append(validate_row(row, recorded_at))
        except InvalidInput as error:
            problems.append(Problem(row.line, _reason(error)))
    return ready, problems


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
        stamp = uc.Stamp(actor=actor, at=item.at, recorded_at=recorded_at)
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
            existing = repo.number_by_ref(session, item.command.channel, item.command.ref)
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


# ----------------------------------------------------------------------------- Prefect
def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    return f"import {Path(str(flow_run.parameters.get('path', ''))).name}"


def _prefect() -> Any:
    """The Prefect flow, built on first use (Prefect is imported only where it is needed)."""
    from prefect import flow, get_run_logger, task
    from prefect.artifacts import create_markdown_artifact
    from prefect.cache_policies import NO_CACHE

    # a batch is idempotent (a work order already present is skipped): safe to run again
    @task(name="import-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
    def import_batch(ready: list[Ready], actor_name: str, recorded_at: datetime) -> ImportResult:
        engine = Engine.open()
        try:
            result = import_ready(engine, ready, Actor(actor_name, Role.DISPATCHER), recorded_at)
        finally:
            engine.db.dispose()
        get_run_logger().info(
            "lines %d-%d: imported %d, already present %d, refused %d",
            ready[0].line,
            ready[-1].line,
            len(result.imported),
            len(result.skipped_existing),
            len(result.problems),
        )
        return result

    def import_work_orders(
        path: str,
        actor: str = DEFAULT_ACTOR,
        batch: int = BATCH,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """批量导入 Import a day's 12328 work orders: one flow run, one task per batch."""
        recorded_at = now.astimezone(UTC) if now is not None else datetime.now(UTC)
        Actor(actor, Role.DISPATCHER)  # fail early on a bad actor name
        logger = get_run_logger()
        parsed = read(path)
        for warning in parsed.warnings:
            logger.warning("%s", warning)
        ready, problems = validate(parsed.rows, recorded_at)
        result = ImportResult(problems=parsed.problems + problems)
        chunks = list(batches(ready, batch))
        window = parallel_batches()
        pending: deque[Any] = deque()
        for chunk in chunks:  # at most `window` batches in flight, in file order
            if len(pending) >= window:
                result.merge(pending.popleft().result())
            pending.append(import_batch.submit(list(chunk), actor, recorded_at))
        while pending:
            result.merge(pending.popleft().result())
        result.problems.sort(key=lambda p: p.line)
        name = Path(path).name
        day = local(recorded_at).date().isoformat()
        create_markdown_artifact(
            markdown=report_markdown(name, result, parsed.warnings),
            key=f"import-{day}",
            description=f"批量导入 {name}",
        )
        logger.info(
            "%s: %d row(s): imported %d, already present %d, bad %d, in %d batch(es)",
            name,
            len(parsed.rows) + len(parsed.problems),
            len(result.imported),
            len(result.skipped_existing),
            len(result.problems),
            len(chunks),
        )
        return {
            "file": name,
            **result.summary(),
            "batches": len(chunks),
            "numbers": [number for _, number in result.imported],
            "problems": [{"line": p.line, "reason": mask_text(p.reason)} for p in result.problems],
        }

    # The served deployment's entrypoint is `flows/importer.py:import_work_orders` (the module's
    # `__getattr__` below builds the flow there too), not this function's local name.
    import_work_orders.__qualname__ = "import_work_orders"
    return flow(
        name="批量导入 import",
        flow_run_name=_flow_run_name,
        description="批量导入12328工单（CSV或JSON Lines）：逐行校验，按渠道编号去重，分批受理。",
    )(import_work_orders)


def import_deployment() -> Any:
    """The bulk import as a deployment (no schedule): Deployments → import → Run, with the
    path of a file on the machine that serves it. New grievances get their case runs from the
    watchdog's next ticks (in bounded batches), not one by one here."""
    return __getattr__("import_work_orders").to_deployment(
        name="import",
        tags=["grievance", "import"],
        description=(
            "批量导入12328工单：填写服务器上的文件路径（CSV或JSON Lines）。"
            " Import a day's 12328 work orders: the path of a CSV or JSON Lines file on the"
            " machine that serves the deployments."
        ),
    )


_FLOW: Any = None


def __getattr__(name: str) -> Any:
    """`importer.import_work_orders` builds the Prefect flow lazily on first access."""
    global _FLOW
    if name == "import_work_orders":
        if _FLOW is None:
            _FLOW = _prefect()
        return _FLOW
    raise AttributeError(name)


# ----------------------------------------------------------------------------- CLI
def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--actor", "actor_name", default=DEFAULT_ACTOR, show_default=True, help="Who imports."
)
@click.option("--json", "json_out", is_flag=True, help="Print machine-readable JSON.")
@click.option("--dry-run", is_flag=True, help="Validate only: write nothing.")
@click.option(
    "--batch", default=BATCH, show_default=True, type=click.IntRange(min=1), help="Rows per batch."
)
def import_(file: Path, actor_name: str, json_out: bool, dry_run: bool, batch: int) -> None:
    """Import a day's 12328 work orders (CSV or JSON Lines); rerunning imports nothing twice.

    Columns: ref 工单编号, type 诉求类型, category 诉求分类, name 诉求人, phone 联系电话,
    description 诉求内容, accepted_at 受理时间 (required); channel 来源渠道 (default
    hotline_12328), plate 车牌号, amount 涉及金额, urgent 是否紧急, respondent 被反映对象.
    Exit code 1 if any row is bad (the good rows are imported all the same).
    """
    recorded_at = datetime.now(UTC)
    try:
        actor = Actor(actor_name, Role.DISPATCHER)
        parsed = read(file)
        ready, problems = validate(parsed.rows, recorded_at)
        result = ImportResult(problems=parsed.problems + problems)
        engine = Engine.open()
        try:
            if dry_run:
                result.merge(check_ready(engine, ready))
            else:
                with click.progressbar(
                    length=len(ready), label=f"importing {file.name}", file=sys.stderr
                ) as bar:
                    for chunk in batches(ready, batch):
                        result.merge(import_ready(engine, chunk, actor, recorded_at, bar.update))
        finally:
            engine.db.dispose()
    except GrievanceError as error:
        _fail(str(error))
        return
    result.problems.sort(key=lambda p: p.line)
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    if json_out:
        data = {
            "file": file.name,
            "dry_run": dry_run,
            **result.summary(),
            "imported_rows": [{"line": n, "number": num} for n, num in result.imported],
            "existing_rows": [{"line": n, "ref": ref} for n, ref in result.skipped_existing],
            "bad_rows": [{"line": p.line, "reason": mask_text(p.reason)} for p in result.problems],
            "warnings": parsed.warnings,
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        lines = [f"line {p.line}: {mask_text(p.reason)}" for p in result.problems]
        if dry_run:
            lines.append(
                f"dry run {file.name}: would import {len(result.would_import)}, "
                f"already present {len(result.skipped_existing)}, bad {len(result.problems)}"
            )
        else:
            lines.append(
                f"imported {len(result.imported)}, already present "
                f"{len(result.skipped_existing)}, bad {len(result.problems)} from {file.name}"
            )
        click.echo("\n".join(lines))
    if result.problems:
        sys.exit(1)
