"""SQLite's hottest statements, run through the driver: a new message's, every BEGIN, and the
reads behind a page of sessions or messages and a session or message by id (``fetch``).

SQLAlchemy's execution machinery (execution context, parameter processing, result objects)
costs more than SQLite takes to run a message's statements: writing a message this way is
about 1.2x faster, and a list's page about 1.5x (docs/benchmarks.md). The SQL, the order of its
parameters and the conversion of each value (UUIDs, UTC timestamps, JSON) both ways are still
SQLAlchemy's, so a row written here is stored exactly as one written through SQLAlchemy, a row
read comes back as SQLAlchemy would return it, and a driver error is raised as SQLAlchemy's.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, Table, bindparam, insert
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.result import result_tuple
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

# Every store's SQLite engine uses pysqlite with its default (qmark) parameters.
DIALECT = SQLiteDialect_pysqlite()


class DriverStatement:
    """A statement compiled for SQLite once, with the converter of each of its parameters."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=DIALECT))
        if compiled.post_compile_params:
            raise ValueError("an expanding parameter is rewritten per call: not a driver statement")
        self.sql = str(compiled)
        self._compiled = compiled
        self._names = compiled.positiontup or []
        self._converters: list[Callable[[Any], Any] | None] = [
            compiled.binds[name].type.dialect_impl(DIALECT).bind_processor(DIALECT)
            for name in self._names
        ]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The driver's parameters for ``values`` (keyed by bind name), converted."""
        named = self._compiled.construct_params(dict(values))
        assert named is not None  # only None when asked not to build them
        return tuple(
            named[name] if convert is None else convert(named[name])
            for name, convert in zip(self._names, self._converters, strict=True)
        )

    def run(self, db: Connection, values: Mapping[str, Any]) -> list[Any]:
        """Execute with ``values`` in ``db``'s transaction; the rows it returns, as tuples."""
        return execute(db, self.sql, self.parameters(values))


def execute(db: Connection, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
    """Run ``sql`` on ``db``'s SQLite connection, as it is; the rows it returns, as tuples.

    A driver error is raised as SQLAlchemy would raise it, so callers tell busy from broken the
    same way whichever path a statement took.
    """
    driver = db.connection.driver_connection
    assert driver is not None  # a Connection in use always holds its driver connection
    try:
        rows: list[Any] = driver.execute(sql, parameters).fetchall()
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error, dialect=DIALECT) from error
    return rows


@functools.cache
def insert_rows(table: Table, columns: tuple[str, ...], count: int) -> DriverStatement:
    """One INSERT of ``count`` rows of ``columns`` (bind ``<column>_<row>``)."""
    rows = [
        {c: bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns} for i in range(count)
    ]
    return DriverStatement(insert(table).values(rows))


def insert_many(db: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) in one statement."""
    columns = tuple(rows[0])
    statement = insert_rows(table, columns, len(rows))
    statement.run(db, {f"{c}_{i}": row[c] for i, row in enumerate(rows) for c in columns})


class DriverQuery(DriverStatement):
    """A SELECT compiled for SQLite once, with the converter of each of its columns."""

    def __init__(self, statement: Select[Any]) -> None:
        super().__init__(statement)
        columns = statement.selected_columns
        self._row = result_tuple(list(columns.keys()))
        self._columns = [
            (i, processor)
            for i, column in enumerate(columns)
            if (processor := column.type.dialect_impl(DIALECT).result_processor(DIALECT, None))
        ]

    def rows(self, db: Connection, values: Mapping[str, Any]) -> list[Row[Any]]:
        """The rows for ``values``, converted, as SQLAlchemy's ``Row`` objects."""
        rows = []
        for raw in self.run(db, values):
            row = list(raw)
            for i, convert in self._columns:
                row[i] = convert(row[i])
            rows.append(self._row(row))
        return rows


@functools.lru_cache(maxsize=1024)
def _query(statement: Select[Any]) -> DriverQuery | None:
    try:
        return DriverQuery(statement)
    except ValueError:
        return None


def fetch(db: Connection, statement: Select[Any], values: Mapping[str, Any]) -> list[Row[Any]]:
    """``db.execute(statement, values).all()``: on SQLite through the driver, unless a
    parameter expands. ``statement`` is one built once: its compiled form is kept."""
    query = _query(statement) if db.dialect.name == "sqlite" else None
    if query is None:
        return list(db.execute(statement, values).all())
    if not db.in_transaction():
        db.begin()  # as SQLAlchemy's execute would: a read's later statements share its snapshot
    return query.rows(db, values)
