"""The 12328 work orders of a day's export (CSV or JSON Lines): the header mapping, reading with
line numbers, and per-row validation into `Accept` commands. The same mapping serves the file
importer (`service.importing`) and the partner API (`service.partner_intake`): a work
order imported from a file and one pushed over HTTP become the same grievance.

Columns (English names or the Chinese headers of the 12328 export; see `COLUMNS`):
required ref, type, category, name, phone, description, accepted_at; optional channel
(default hotline_12328), plate, amount, urgent, respondent. Enum values may be codes
(`freight_unpaid`) or Chinese labels (`运费纠纷/拖欠运费`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workflow.commands import Accept
from workflow.errors import InvalidInput
from workflow.timeutil import iso, parse_instant
from workflow.vocab import Category, Channel, RequestType

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
    "accepted_at": ("受理时间", "来电时间", "received_at"),
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


class OrderInvalid(InvalidInput):
    """A work order with bad fields: every field's reason at once (`fields`, by English name),
    as the partner API answers them (422) and the importer lists them per line."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        text = "; ".join(f"{name}: {reason}" for name, reason in fields.items())
        super().__init__(f"invalid accept input: {text}")


_NORMALISE = {"channel": Channel, "type": RequestType, "category": Category}


def check_order(
    values: Mapping[str, Any], recorded_at: datetime, *, channel: str | None = None
) -> Ready:
    """One work order (raw values by English name) as the accept command and its effective
    time, or `OrderInvalid` naming each bad field. The one mapping of 12328 fields: the file
    importer and the partner API both come here. `channel` (the partner's) replaces the
    order's own; without either it is hotline_12328."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for key, value in values.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            errors[key] = "must be a string, a number or true/false"
            continue
        try:
            if key == "urgent":
                data[key] = _urgent(value)
                continue
            text = _text(value)
            if text is None:
                continue
            if key in _NORMALISE:
                text = _vocab(_NORMALISE[key], key, text)
            elif key == "amount":
                text = _amount(text)
            data[key] = text
        except InvalidInput as error:
            errors[key] = str(error).removeprefix(f"{key}: ")
    if channel is not None:
        data["channel"] = channel
    data.setdefault("channel", Channel.HOTLINE_12328.value)
    when_text = data.pop("accepted_at", None)
    command: Accept | None = None
    try:
        command = Accept.model_validate({k: v for k, v in data.items() if k not in errors})
    except ValidationError as error:
        for item in error.errors():
            where = str(item["loc"][0]) if item["loc"] else "input"
            if where not in errors:
                errors[where] = str(item["msg"]).removeprefix("Value error, ")
    at: datetime | None = None
    if when_text is None:
        errors.setdefault("accepted_at", "missing (when the 12328 system received it)")
    elif "accepted_at" not in errors:
        try:
            at = accepted_at(when_text)
        except InvalidInput as error:
            errors["accepted_at"] = str(error).removeprefix("accepted_at: ")
        else:
            if at > recorded_at:
                errors["accepted_at"] = (
                    f"{iso(at)} is in the future (recorded at {iso(recorded_at)})"
                )
    if errors or command is None or at is None:
        raise OrderInvalid(errors or {"input": "not a work order"})
    return Ready(0, command, at)


def validate_row(row: Row, recorded_at: datetime) -> Ready:
    """The accept command and effective time of one row, or InvalidInput with the reason."""
    ready = check_order(row.data, recorded_at)
    return Ready(row.line, ready.command, ready.at)


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
