"""Helpers the migrations share: SQLite cannot change a table's key in place."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op


def rollup_columns(keys: list[tuple[str, Any]], counters: list[str]) -> list[sa.Column[Any]]:
    """A rollup's columns: its keys, then its counters (big integers from 0)."""
    return [
        *(sa.Column(k, t, nullable=False) for k, t in keys),
        *(sa.Column(c, sa.BigInteger(), nullable=False, server_default="0") for c in counters),
    ]


def copy_table(
    name: str, columns: list[sa.Column[Any]], key: list[str], *, clustered: bool = True
) -> None:
    """SQLite: build ``name`` afresh with primary key ``key`` and move its rows over.

    ``clustered`` makes it a WITHOUT ROWID table (stored in key order). Triggers that name the
    table must be dropped first and made again after.
    """
    names = ", ".join(c.name for c in columns)
    op.create_table(
        f"{name}_new",
        *columns,
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
        sqlite_with_rowid=not clustered,
    )
    op.execute(f"INSERT INTO {name}_new ({names}) SELECT {names} FROM {name}")
    op.drop_table(name)
    op.rename_table(f"{name}_new", name)
