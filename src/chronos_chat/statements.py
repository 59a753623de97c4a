"""Statements built once and reused with bound parameters.

Building a SQLAlchemy statement of a few joins and unions costs more than the database takes to
run it; a statement whose shape depends only on which filters or period parts are present is
built once per shape and executed with different parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
MAX_STATEMENTS = 1024
# Values bound in one IN list: far under SQLite's bound on a statement's parameters (32,766).
IN_BATCH = 500

_built: dict[Hashable, Any] = {}


def built_once(key: Hashable, build: Callable[[], T]) -> T:
    """The statement ``build`` makes for ``key``, made on first use (keys include the dialect)."""
    statement = _built.get(key)
    if statement is None:
        if len(_built) >= MAX_STATEMENTS:  # a bound on memory, never reached by real shapes
            _built.clear()
        statement = _built[key] = build()
    return statement


def in_batches(values: Sequence[T], size: int = IN_BATCH) -> Iterator[Sequence[T]]:
    """``values`` in slices small enough to bind as one IN list."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


ONE_STATEMENT = "chronos_one_statement"
QUICK = "chronos_quick"


def one_statement(read: F) -> F:
    """Mark ``read`` as sending exactly one statement, so it needs no transaction of its own.

    A statement sees one snapshot by itself; ``Database.read`` then runs it on PostgreSQL
    without BEGIN and ROLLBACK, one round trip instead of three (get_session 0.8 -> 0.6 ms).
    A test runs every marked read and fails if one sends a second statement.
    """
    return one_statement_when(_always)(read)


def one_statement_when(when: Callable[..., bool]) -> Callable[[F], F]:
    """``one_statement`` for the calls that pass ``when``: it gets the backend's name (sqlite,
    postgresql), then the call's arguments without the connection."""
    return _mark(ONE_STATEMENT, when)


def is_one_statement(dialect: str, read: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Whether calling ``read`` with these arguments on ``dialect`` sends one statement."""
    return _marked(read, ONE_STATEMENT, (dialect, *args), kwargs)


def quick(read: F) -> F:
    """Mark ``read`` as quick: a key lookup or one page of one index, whatever the data's size.

    ``Database.read`` runs a quick read on SQLite right on the event loop: handing it to a
    thread and back costs more than the read (0.15-0.35 ms against 0.05-0.3 ms on these
    machines), and a reader in WAL mode never waits for the writer. A test counts SQLite's
    steps for every marked read at two sizes of data and fails if one grows with the data.
    """
    return quick_when(_always)(read)


def quick_when(when: Callable[..., bool]) -> Callable[[F], F]:
    """``quick`` for the calls whose arguments (without the connection) pass ``when``."""
    return _mark(QUICK, when)


def is_quick(read: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Whether calling ``read`` with these arguments is quick, as marked."""
    return _marked(read, QUICK, args, kwargs)


def _mark(attribute: str, when: Callable[..., bool]) -> Callable[[F], F]:
    def mark(read: F) -> F:
        setattr(read, attribute, when)
        return read

    return mark


def _marked(read: Callable[..., Any], attribute: str, args: Any, kwargs: Any) -> bool:
    when = getattr(read, attribute, None)
    return when is not None and bool(when(*args, **kwargs))


def _always(*_: Any, **__: Any) -> bool:
    return True
