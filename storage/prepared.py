"""Statements run for every message, compiled once and run on the driver's cursor.

SQLAlchemy's execution of a compiled, cached Core statement still costs two to three times
the statement itself on SQLite (a sampling profile of the replay put 54% of the bot's time in
SQLAlchemy's Python, 18% in the database). A :class:`Prepared` statement keeps what
SQLAlchemy compiled (the SQL, the parameter order, the column types' converters) and runs it
on the DBAPI cursor of the session's connection, in the session's transaction: the same SQL,
the same values on both sides, the same commit.

Listeners of ``before_cursor_execute`` on the engine still see every statement (tests and
the benchmarks count statements with them), writes still count for
:meth:`storage.db.Database.commits`, and driver errors are raised as SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault
from sqlmodel import Session

from storage.db import note_written

Params = Mapping[str, Any]
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # bind names in the order of the driver's placeholders; None: the driver takes a dict
    order: tuple[str, ...] | None
    # the statement's own bound values (literals written into it), by bind name
    constants: Mapping[str, Any]
    # columns left out of an INSERT or UPDATE whose default is made in Python, by bind name
    defaults: tuple[tuple[str, Callable[[], Any]], ...]
    to_driver: Mapping[str, Callable[[Any], Any]]
    from_driver: tuple[Callable[[Any], Any] | None, ...]

    def parameters(self, params: Params) -> Sequence[Any] | dict[str, Any]:
        values = params
        if self.constants or self.defaults:
            made = {name: default() for name, default in self.defaults}
            values = {**self.constants, **made, **params}
        convert = self.to_driver
        if self.order is not None:
            return tuple(
                convert[name](values[name]) if name in convert else values[name]
                for name in self.order
            )
        return {
            name: convert[name](value) if name in convert else value
            for name, value in values.items()
        }

    def row(self, raw: Sequence[Any]) -> Row:
        return tuple(
            value if convert is None or value is None else convert(value)
            for convert, value in zip(self.from_driver, raw, strict=True)
        )


class Prepared:
    """A Core statement, compiled once per dialect and set of parameter names."""

    __slots__ = ("_compiled", "_statement", "_table")

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        table = getattr(statement, "table", None) if isinstance(statement, UpdateBase) else None
        self._table: str | None = getattr(table, "name", None)

    def rows(self, session: Session, params: Params) -> list[Row]:
        """Run in ``session``'s transaction; the rows it returns (none for plain DML)."""
        if self._table is not None:
            note_written(session, self._table)
        return self.rows_on(session.connection(), params)

    def rows_on(self, connection: Connection, params: Params) -> list[Row]:
        """Run on ``connection`` (a read outside any session)."""
        compiled = self._for(connection.dialect, params)
        return _run(connection, compiled, [compiled.parameters(params)], many=False)

    def first(self, session: Session, params: Params) -> Row | None:
        rows = self.rows(session, params)
        return rows[0] if rows else None

    def scalar(self, session: Session, params: Params) -> Any:
        """The first column of the first row, None when there is no row."""
        rows = self.rows(session, params)
        return rows[0][0] if rows else None

    def many(self, session: Session, rows: Sequence[Params]) -> None:
        """Run once per parameter set (rows with the same names), returning nothing."""
        if not rows:
            return
        connection = session.connection()
        compiled = self._for(connection.dialect, rows[0])
        if self._table is not None:
            note_written(session, self._table)
        _run(connection, compiled, [compiled.parameters(r) for r in rows], many=True)

    def _for(self, dialect: Dialect, params: Params) -> _Compiled:
        key = (dialect.name, tuple(params))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _compile(self._statement, dialect, key[1])
        return compiled


def _compile(statement: Executable, dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    # These need work SQLAlchemy does at each execution (expanding an IN list, rendering
    # literals, renaming binds): such statements stay on `session.execute`, refused here.
    if (
        compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.escaped_bind_names
        or compiled.schema_translate_map
    ):
        raise ValueError(f"statement needs SQLAlchemy's execution: {compiled.string}")
    constants = {
        name: bind.effective_value
        for bind, name in compiled.bind_names.items()
        if not bind.required and name not in names
    }
    defaults = tuple(
        [(column.key, _made(column.default)) for column in compiled.insert_prefetch]
        + [(column.key, _made(column.onupdate)) for column in compiled.update_prefetch]
    )
    from_driver = tuple(
        column.type._cached_result_processor(dialect, None) for column in compiled._result_columns
    )
    return _Compiled(
        sql=compiled.string,
        order=tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None,
        constants=constants,
        defaults=defaults,
        # a sequence of processors is for a tuple-valued bind: refused above (post-compile)
        to_driver={
            name: convert
            for name, convert in compiled._bind_processors.items()
            if callable(convert)
        },
        from_driver=from_driver,
    )


def _made(default: Any) -> Callable[[], Any]:
    """A column's Python-side default (or on-update value) as a function of nothing."""
    if isinstance(default, ScalarElementColumnDefault):
        value = default.arg
        return lambda: value
    if isinstance(default, CallableColumnDefault):
        # SQLAlchemy calls it with its execution context; the tables' defaults take none
        make: Callable[[Any], Any] = default.arg
        return lambda: make(None)
    raise ValueError(f"a default made by SQLAlchemy's execution: {default!r}")


def _run(
    connection: Connection, compiled: _Compiled, parameters: list[Any], *, many: bool
) -> list[Row]:
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    sent: Any = parameters if many else parameters[0]
    # the test SQLAlchemy's own execution makes before calling the listeners
    if connection._has_events or connection.engine._has_events:
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, cursor, compiled.sql, sent, None, many)
    try:
        if many:
            cursor.executemany(compiled.sql, sent)
            return []
        cursor.execute(compiled.sql, sent)
        raw = cursor.fetchall() if cursor.description is not None else []
    except connection.dialect.loaded_dbapi.Error as err:
        if connection.dialect.is_disconnect(err, dbapi_connection, cursor):
            connection.invalidate(err)
        raise exc.DBAPIError.instance(
            compiled.sql,
            sent,
            err,
            connection.dialect.loaded_dbapi.Error,
            dialect=connection.dialect,
        ) from err
    finally:
        cursor.close()
    return [compiled.row(r) for r in raw]
