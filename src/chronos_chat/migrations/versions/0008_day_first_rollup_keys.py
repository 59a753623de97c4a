"""Student rollups keyed by day before student.

A rolling month read every day the creator ever had from this rollup (keyed by student first,
then day) to keep the month's share: 21,068 rows of the biggest creator's students at 1M
messages for 2,416 in the month. With the day after the creator, a period reads only its own
days (SQLite: students of a month 7.0 -> 4.8 ms). Everything (no lower bound) reads the same
rows; grouping them by student then sorts instead of streaming (about 20 -> 20-30 ms for the
biggest creator). Topics stay keyword first: summed by (keyword, label) while read in key
order, they are faster that way for every period (``rollup_reads.combined`` with ``keys``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from chronos_chat import rollups
from chronos_chat.migrations.rebuild import copy_table, rollup_columns

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
AT = sa.DateTime(timezone=True)
# Each table: its columns, counters, and its key before and after this revision.
TABLES: dict[str, tuple[list[tuple[str, Any]], list[str], list[str], list[str]]] = {
    "rollup_student_days": (
        [("creator_id", ID), ("student_id", ID), ("day_at", AT)],
        ["messages", "user_messages"],
        ["creator_id", "student_id", "day_at"],
        ["creator_id", "day_at", "student_id"],
    ),
}


def upgrade() -> None:
    _rekey(day_first=True)


def downgrade() -> None:
    _rekey(day_first=False)


def _rekey(*, day_first: bool) -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:  # the triggers name these tables: off while they are rebuilt
        rollups.uninstall(bind)
    for name, (keys, counters, before, after) in TABLES.items():
        key = after if day_first else before
        if sqlite:
            copy_table(name, rollup_columns(keys, counters), key)
        else:
            op.execute(
                f"ALTER TABLE {name} DROP CONSTRAINT pk_{name}, ADD CONSTRAINT pk_{name} "
                f"PRIMARY KEY ({', '.join(key)}) INCLUDE ({', '.join(counters)})"
            )
    if sqlite:
        rollups.install(bind, rollups.DAILY, grouped=True)
