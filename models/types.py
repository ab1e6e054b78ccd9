"""Column types: UTC instants that keep their zone on SQLite, enums stored by value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; gives back aware UTC datetimes on every database.

    SQLite has no zone-aware type and drops the offset, so values are written as naive UTC and
    the zone is put back on read. PostgreSQL gets `timestamptz` and an aware value.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # On SQLite the two conversions above are chained with the dialect's own (a datetime to
    # and from its text form). Every statement that writes or reads a timer converts a dozen
    # instants, so SQLite gets each pair done in one step: the same text, written as the
    # dialect writes it ("2026-11-23 01:30:00.000000", tests/models/test_types.py), and read
    # with the standard parser.
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parent = super().result_processor(dialect, coltype)

        def from_text(value: Any) -> datetime | None:
            if value is None:
                return None
            if not isinstance(value, str) or parent is None:
                return parent(value) if parent is not None else value
            return _parse_utc(value)

        return from_text


# A grievance's rows are read again on each action, with the same instants in them (when it
# was accepted, each timer's start and deadline): parsed once, they are handed out again
# (datetimes are immutable, so sharing one is safe).
@lru_cache(maxsize=16384)
def _parse_utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: store aware instants only")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


class EnumValue(TypeDecorator[StrEnum]):
    """Stores a str enum's *value* ("handling"), not its member name ("HANDLING").

    Chosen deliberately: values are the codes the CLI and the audit payloads use, so a row
    reads the same in SQL as on the command line. A plain VARCHAR; no CHECK constraint, so
    adding a member needs no migration.
    """

    impl = String(32)
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum
        # members by value (a member is equal to its value): one dict lookup per row and
        # column instead of an enum call
        self._members: dict[str, StrEnum] = {member.value: member for member in enum}

    def _member(self, value: StrEnum | str) -> StrEnum:
        member = self._members.get(value)
        return member if member is not None else self.enum(value)  # raises for a bad value

    def process_bind_param(self, value: StrEnum | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self._member(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self._member(value)

    # the two above, without TypeDecorator's wrapper around them (String has no conversion of
    # its own on SQLite or PostgreSQL): a statement binds or reads several enums per row
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if self.impl_instance.bind_processor(dialect) is not None:
            return super().bind_processor(dialect)
        member = self._member

        def to_value(value: StrEnum | str | None) -> str | None:
            return None if value is None else member(value).value

        return to_value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if self.impl_instance.result_processor(dialect, coltype) is not None:
            return super().result_processor(dialect, coltype)
        member = self._member

        def to_member(value: str | None) -> StrEnum | None:
            return None if value is None else member(value)

        return to_member
