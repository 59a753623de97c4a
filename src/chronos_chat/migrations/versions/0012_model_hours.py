"""What each model's messages used and cost, per creator and hour.

A creator's cost summary (and the suggestions built on it) summed every message of the period:
over everything, 365 ms on SQLite and 112 ms on PostgreSQL for the biggest creator of the
1M-message workload, growing with the data. With this rollup it reads whole hours from here and
under an hour of raw rows at either end: 3 ms on both. It costs one more upsert per message
(ingest 99% on SQLite, 96% on PostgreSQL: ``python -m bench.rollup_cost --before 0011``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chronos_chat import rollups
from chronos_chat.migrations.rebuild import rollup_columns

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "rollup_model_hours"
KEYS = [
    ("creator_id", sa.String(128)),
    ("hour_at", sa.DateTime(timezone=True)),
    ("model", sa.String(200)),
]
COUNTERS = [
    "messages",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "embedding_tokens",
    "embedding_queries",
    "cost_nanos",
    "unpriced_messages",
]


def upgrade() -> None:
    bind = op.get_bind()
    rollups.uninstall(bind)
    op.create_table(
        NAME,
        *rollup_columns(KEYS, COUNTERS),
        sa.PrimaryKeyConstraint(
            *(k for k, _ in KEYS), name=f"pk_{NAME}", postgresql_include=COUNTERS
        ),
        sqlite_with_rowid=False,
    )
    rollups.backfill(bind, (rollups.MODEL_HOURS,), titles=False)
    rollups.install(bind, (*rollups.HOURLY, rollups.MODEL_HOURS), grouped=True)


def downgrade() -> None:
    bind = op.get_bind()
    rollups.uninstall(bind)
    op.drop_table(NAME)
    rollups.install(bind, rollups.HOURLY, grouped=True)
