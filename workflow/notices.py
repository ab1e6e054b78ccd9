"""Calendar data an operator loads from TOML files: overrides and State Council notices.

A file with a `[notice]` table is the State Council's holiday notice for one year (国务院办公厅
关于…年部分节假日安排的通知): it declares that year complete. A file without one is an override:
single days on top of whatever else the calendar knows. Pure: parsing and validation only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from workflow.errors import InvalidInput

__all__ = ["Notice", "Overrides", "parse_calendar", "read_calendar"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NOTICE_KEYS = ("year", "document", "published")


def _frozen_days(mapping: Mapping[date, str]) -> Mapping[date, str]:
    for key in mapping:
        if isinstance(key, datetime) or not isinstance(key, date):
            raise ValueError(f"calendar keys must be dates, got {key!r}")
    return MappingProxyType(dict(sorted(mapping.items())))


def _refuse_both(holidays: Mapping[date, str], workdays: Mapping[date, str], what: str) -> None:
    both = sorted(set(holidays) & set(workdays))
    if both:
        listed = ", ".join(d.isoformat() for d in both)
        raise InvalidInput(f"{what} list {listed} both as holiday and as workday")


@dataclass(frozen=True)
class Overrides:
    """Operator-supplied holidays and make-up workdays; they win over every other source."""

    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _refuse_both(self.holidays, self.workdays, "overrides")
        object.__setattr__(self, "holidays", _frozen_days(self.holidays))
        object.__setattr__(self, "workdays", _frozen_days(self.workdays))

    @classmethod
    def from_toml(cls, text: str) -> Overrides:
        """Parse `[[holidays]]` / `[[workdays]]` tables, each with `date` and optional `name`."""
        parsed = parse_calendar(text)
        if isinstance(parsed, Notice):
            raise InvalidInput(
                f"this is the notice for {parsed.year} ([notice] table), not an override file"
            )
        return parsed

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Overrides:
        parsed = read_calendar(path)
        if isinstance(parsed, Notice):
            raise InvalidInput(
                f"{os.fspath(path)}: this is the notice for {parsed.year} ([notice] table), "
                "not an override file"
            )
        return parsed

    def without_year(self, year: int) -> Overrides:
        """These overrides less the days of `year` (a loaded notice replaces them)."""
        return Overrides(
            holidays={d: n for d, n in self.holidays.items() if d.year != year},
            workdays={d: n for d, n in self.workdays.items() if d.year != year},
        )

    def days_in(self, year: int) -> list[date]:
        return sorted(d for d in (*self.holidays, *self.workdays) if d.year == year)


@dataclass(frozen=True)
class Notice:
    """The State Council's holiday notice for one year, as data.

    Its holidays are that year's rest days besides ordinary weekends, its workdays the
    make-up workdays (调休上班); every other date of the year is a workday from Monday to Friday
    and a rest day at the weekend. The law-minimum days of the year are replaced, not added.
    """

    year: int
    document: str  # 文号, e.g. 国办发明电〔2026〕N号
    published: date
    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise InvalidInput(f"notice: `year` must be a whole number, got {self.year!r}")
        if not 1950 <= self.year <= 2100:
            raise InvalidInput(f"notice: year {self.year} is outside 1950-2100")
        if not isinstance(self.document, str) or not self.document.strip():
            raise InvalidInput('notice: `document` (文号) is missing, e.g. "国办发明电〔2026〕7号"')
        if len(self.document) > 200:
            raise InvalidInput("notice: `document` is longer than 200 characters")
        object.__setattr__(self, "document", self.document.strip())
        if isinstance(self.published, datetime) or not isinstance(self.published, date):
            raise InvalidInput(f"notice: `published` must be a date, got {self.published!r}")
        _refuse_both(self.holidays, self.workdays, f"the notice for {self.year}")
        outside = sorted(d for d in (*self.holidays, *self.workdays) if d.year != self.year)
        if outside:
            listed = ", ".join(d.isoformat() for d in outside)
            raise InvalidInput(
                f"the notice for {self.year} lists dates outside {self.year}: {listed}"
            )
        object.__setattr__(self, "holidays", _frozen_days(self.holidays))
        object.__setattr__(self, "workdays", _frozen_days(self.workdays))

    def as_data(self) -> dict[str, Any]:
        """The canonical content (what `digest` hashes and the database stores)."""
        return {
            "year": self.year,
            "document": self.document,
            "published": self.published.isoformat(),
            "holidays": [[d.isoformat(), n] for d, n in self.holidays.items()],
            "workdays": [[d.isoformat(), n] for d, n in self.workdays.items()],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Notice:
        return cls(
            year=int(data["year"]),
            document=str(data["document"]),
            published=date.fromisoformat(data["published"]),
            holidays={date.fromisoformat(d): n for d, n in data["holidays"]},
            workdays={date.fromisoformat(d): n for d, n in data["workdays"]},
        )

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON content: two files with the same days, document and
        date have the same digest, whatever their order, comments or spacing."""
        text = json.dumps(self.as_data(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_calendar(text: str) -> Overrides | Notice:
    """A calendar file's content: a `Notice` when it has a `[notice]` table, else `Overrides`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"calendar file is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"holidays", "workdays", "notice"})
    if unknown:
        raise InvalidInput(
            f"calendar file: unknown key(s) {', '.join(unknown)} "
            "(expected [notice], [[holidays]] and [[workdays]])"
        )
    holidays = _parse_entries(data, "holidays")
    workdays = _parse_entries(data, "workdays")
    if "notice" not in data:
        return Overrides(holidays=holidays, workdays=workdays)
    head = data["notice"]
    if not isinstance(head, dict):
        raise InvalidInput("calendar file: `notice` must be a table: [notice]")
    extra = sorted(set(head) - set(_NOTICE_KEYS))
    if extra:
        raise InvalidInput(f"calendar file, [notice]: unknown key(s) {', '.join(extra)}")
    missing = [key for key in _NOTICE_KEYS if key not in head]
    if missing:
        raise InvalidInput(
            f"calendar file, [notice]: {', '.join(missing)} missing "
            '(year = 2027, document = "国办发明电〔2026〕N号", published = 2026-11-04)'
        )
    return Notice(
        year=head["year"],
        document=head["document"],
        published=_parse_date(head["published"], "calendar file, [notice] `published`"),
        holidays=holidays,
        workdays=workdays,
    )


def read_calendar(path: str | os.PathLike[str]) -> Overrides | Notice:
    """`parse_calendar` of a file; every error names the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"calendar file not found: {os.fspath(path)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"can't read calendar file {os.fspath(path)}: {exc}") from None
    try:
        return parse_calendar(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{os.fspath(path)}: {exc}") from None


def _parse_entries(data: Mapping[str, Any], key: str) -> dict[date, str]:
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise InvalidInput(f"calendar file: `{key}` must be written as [[{key}]] tables")
    result: dict[date, str] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"calendar file, [[{key}]] entry {number}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: expected a table with `date` and `name`")
        extra = sorted(set(entry) - {"date", "name"})
        if extra:
            raise InvalidInput(f"{where}: unknown key(s) {', '.join(extra)}")
        if "date" not in entry:
            raise InvalidInput(f'{where}: `date` is missing (e.g. date = "2027-01-01")')
        day = _parse_date(entry["date"], where)
        name = entry.get("name", "")
        if not isinstance(name, str):
            raise InvalidInput(f'{where}: `name` must be text, e.g. name = "元旦"')
        if len(name.strip()) > 50:
            raise InvalidInput(f"{where}: `name` is longer than 50 characters")
        if day in result:
            raise InvalidInput(f"{where}: {day.isoformat()} is listed twice in [[{key}]]")
        result[day] = name.strip()
    return result


def _parse_date(raw: object, where: str) -> date:
    if isinstance(raw, datetime):
        raise InvalidInput(f"{where}: `date` must be a date without a time, got {raw.isoformat()}")
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _ISO_DATE.match(raw.strip()):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise InvalidInput(f"{where}: `date` must be a date such as 2027-01-01, got {raw!r}")
