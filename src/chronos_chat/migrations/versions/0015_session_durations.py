"""Each session's duration as a generated column, in the index that period figures read.

A period's session figures (durations summed, their median, per-day averages) computed
``julianday(last_message_at) - julianday(created_at)`` for every session they read: SQLite
parses both texts per row, twice per report. Read from the index, the biggest creator's
session figures over everything at 1M messages took 29.6 ms of CPU instead of 40.5 (totals
17.1 instead of 21.1, the median 12.5 instead of 19.4). Writes touch no more pages: a message
already moved the session's entry in this index (its count and last activity).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chronos_chat.dialects import minutes_between

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_chat_sessions_creator_created"
KEY = ["creator_id", "created_at", "student_id", "message_count"]


def upgrade() -> None:
    duration = minutes_between(
        sa.literal_column("created_at"), sa.literal_column("last_message_at")
    )
    # Stored on PostgreSQL (before 18 it has no virtual columns); virtual on SQLite, which
    # adds no stored column to a table that has rows.
    stored = True if op.get_bind().dialect.name == "postgresql" else None
    computed = sa.Computed(duration, persisted=stored)
    # Not a batch operation: on SQLite that would copy the table and lose its triggers.
    op.add_column("chat_sessions", sa.Column("duration_minutes", sa.Float(), computed))
    op.drop_index(INDEX, table_name="chat_sessions")
    op.create_index(INDEX, "chat_sessions", [*KEY, "duration_minutes"])
    if stored:
        # PostgreSQL rewrote the table: its statistics and visibility map start empty. ANALYZE
        # runs in a transaction; until VACUUM (or autovacuum) runs, index-only scans of this
        # index still visit the table (docs/scaling.md).
        op.execute("ANALYZE chat_sessions")


def downgrade() -> None:
    op.drop_index(INDEX, table_name="chat_sessions")
    op.create_index(INDEX, "chat_sessions", [*KEY, "last_message_at"])
    op.execute("ALTER TABLE chat_sessions DROP COLUMN duration_minutes")
