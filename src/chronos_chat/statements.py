"""Statements built once and reused with bound parameters.

Building a SQLAlchemy statement of a few joins and unions costs more than the database takes to
run it; a statement whose shape depends only on which filters or period parts are present is
built once per shape and executed with different parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
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
