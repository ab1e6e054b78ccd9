"""Prepared statements for the use cases' hot path: compiled once per dialect, sent straight
to the DBAPI cursor of the session's connection.

A use case sends five to eight small statements per call. Through `Connection.execute`
each one pays for an execution context, the compiled-cache lookup, parameter construction
and a result object: about four times what SQLite itself spends on the statement (profiled
in README "Performance"). A `Prepared` statement keeps everything SQLAlchemy decides once
(the SQL for this dialect, the order of its parameters, the types' bind and result
processors) and per call does only what must be done per call: convert the values, execute,
convert the row.

What stays SQLAlchemy's: the engine, its pool and transactions (the statement runs on the
session's connection, inside its transaction), the dialect's SQL and the column types'
conversions, the `before_cursor_execute` / `after_cursor_execute` events (fired when
someone listens: tracing and `bench.lifecycle`'s recorder see these statements as any
other), and error handling (a DBAPI error is handled by the connection as its own: wrapped in
`sqlalchemy.exc` classes such as IntegrityError, a lost connection invalidated).

Only plain statements qualify: named bound parameters, no expanding IN, no literal binds.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import Session

Processor = Callable[[Any], Any] | None
# A result row: a named tuple, columns by position or as attributes (`row.version`). Typed
# Any: which attributes it has depends on the statement.
Row = Any


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    binds: tuple[tuple[str, Processor], ...]  # each parameter in SQL order, its bind processor
    defaults: dict[str, Any]  # columns left out of an INSERT: their scalar defaults
    positional: bool  # qmark/format (a tuple) or named/pyformat (a dict)
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, its result processor)
    make_row: Callable[[Iterable[Any]], Row] | None  # a named tuple of the selected columns


def bound(table: Any, names: Iterable[str]) -> dict[Any, Any]:
    """{column: bindparam("v_<column>")} for a statement's VALUES or SET clause, each
    parameter of its column's type; `params` names the values the same way."""
    return {table.c[n]: bindparam(f"v_{n}", type_=table.c[n].type) for n in names}


def params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values by column name, as parameters of the statement `bound` built."""
    return {f"v_{name}": value for name, value in values.items()}


class Prepared:
    """One statement, compiled on first use per dialect; run with `.execute`/`.first`/..."""

    __slots__ = ("statement", "_by_dialect", "_last")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        # per dialect instance (one per engine): dropped with the engine
        self._by_dialect: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()
        self._last: tuple[Dialect, _Compiled] | None = None  # a process has one engine, mostly

    def _compiled(self, dialect: Dialect) -> _Compiled:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        compiled = self._by_dialect.get(dialect)
        if compiled is None:
            compiled = self._by_dialect[dialect] = _compile(self.statement, dialect)
        self._last = (dialect, compiled)
        return compiled

    def execute(self, session: Session | Connection, values: Mapping[str, Any]) -> int:
        """Run once; returns the number of rows the statement changed."""
        connection, heard = _connection(session)
        compiled = self._compiled(connection.dialect)
        cursor = _run(connection, heard, compiled.sql, _values(compiled, values), many=False)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def execute_many(
        self, session: Session | Connection, many: Iterable[Mapping[str, Any]]
    ) -> None:
        """Run once per set of values (DBAPI executemany)."""
        connection, heard = _connection(session)
        compiled = self._compiled(connection.dialect)
        converted = [_values(compiled, values) for values in many]
        if converted:
            _run(connection, heard, compiled.sql, converted, many=True).close()

    def rows(self, session: Session | Connection, values: Mapping[str, Any]) -> list[Row]:
        """A query's (or RETURNING's) rows, each column converted by its type."""
        compiled, fetched = self._fetch(session, values, all_rows=True)
        return [_row(compiled, raw) for raw in fetched]

    def first(self, session: Session | Connection, values: Mapping[str, Any]) -> Row | None:
        compiled, fetched = self._fetch(session, values, all_rows=False)
        return _row(compiled, fetched[0]) if fetched else None

    def _fetch(
        self, session: Session | Connection, values: Mapping[str, Any], *, all_rows: bool
    ) -> tuple[_Compiled, Sequence[Any]]:
        connection, heard = _connection(session)
        compiled = self._compiled(connection.dialect)
        cursor = _run(connection, heard, compiled.sql, _values(compiled, values), many=False)
        try:
            if all_rows:
                return compiled, cursor.fetchall()
            raw = cursor.fetchone()
            return compiled, () if raw is None else (raw,)
        finally:
            cursor.close()

    def scalar(self, session: Session | Connection, values: Mapping[str, Any]) -> Any:
        row = self.first(session, values)
        return None if row is None else row[0]


def _row(compiled: _Compiled, raw: Sequence[Any]) -> Row:
    if compiled.make_row is None:
        raise TypeError(f"not a query: {compiled.sql[:60]}")
    values = list(raw)
    for i, process in compiled.results:  # only the columns whose type converts
        if values[i] is not None:
            values[i] = process(values[i])
    return compiled.make_row(values)


# Session.info key: the unit of work's connection, and whether anyone listens to its
# statements (`listening`), both found once per unit of work (`models.db`)
CONNECTION = "grievance_connection"


def listening(connection: Connection) -> bool:
    """Does anyone listen to the connection's statements (a tracer, a recorder)?"""
    dispatch = connection.dispatch  # the engine's listeners and the connection's own
    return bool(dispatch.before_cursor_execute) or bool(dispatch.after_cursor_execute)


def _connection(session: Session | Connection) -> tuple[Connection, bool]:
    if isinstance(session, Connection):
        return session, listening(session)
    known: tuple[Connection, bool] | None = session.info.get(CONNECTION)
    if known is not None:
        return known
    connection = session.connection()
    return connection, listening(connection)


def _values(compiled: _Compiled, given: Mapping[str, Any]) -> Any:
    if compiled.defaults:
        given = {**compiled.defaults, **given}
    values = [given[name] if p is None else p(given[name]) for name, p in compiled.binds]
    if compiled.positional:
        return tuple(values)
    return {name: value for (name, _), value in zip(compiled.binds, values, strict=True)}


def driver_sql(connection: Connection, sql: str) -> None:
    """A statement without parameters or rows (BEGIN IMMEDIATE), sent as `_run` sends."""
    _run(connection, listening(connection), sql, (), many=False).close()


def _run(connection: Connection, heard: bool, sql: str, values: Any, *, many: bool) -> Any:
    cursor = connection.connection.cursor()
    try:
        if heard:  # someone listens (a tracer, the bench's recorder)
            dispatch = connection.dispatch
            dispatch.before_cursor_execute(connection, cursor, sql, values, None, many)
        if many:
            cursor.executemany(sql, values)
        else:
            cursor.execute(sql, values)
        if heard:
            dispatch.after_cursor_execute(connection, cursor, sql, values, None, many)
    except BaseException as error:
        # SQLAlchemy's own handling, as for any statement: the error wrapped in its class
        # (IntegrityError, OperationalError, ...), handle_error events, the cursor closed, a
        # lost connection invalidated; it raises
        connection._handle_dbapi_exception(error, sql, values, cursor, None)  # noqa: SLF001
        raise
    return cursor


def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a prepared statement cannot have expanding or literal parameters")
    defaults: dict[str, Any] = {}
    for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
        default = column.default if column in compiled.insert_prefetch else column.onupdate
        if not isinstance(default, ScalarElementColumnDefault):
            raise ValueError(f"{column}: only scalar column defaults can be prepared")
        defaults[column.key] = default.arg
    positional = bool(compiled.positional)
    names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.bind_names.values())
    binds = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in names
    )
    columns = list(getattr(statement, "exported_columns", ()))  # a query's, or RETURNING
    processors = (c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    results = tuple((i, p) for i, p in enumerate(processors) if p is not None)
    row_type: Any = namedtuple("Row", [c.key for c in columns]) if columns else None  # noqa: PYI024
    make_row = row_type._make if row_type is not None else None
    return _Compiled(compiled.string, binds, defaults, positional, results, make_row)
