"""get-or-create finds the pair's recent session through the student's index; drop the pair's.

``ix_chat_sessions_pair_recent`` (student, creator, archived_at, last_message_at) served one
query: the pair's latest active session within the reuse window. The student's index of active
sessions by recency serves it as well: the student's sessions active within the window are few,
and each is checked for the creator (4-11 us on SQLite, 0.3-0.7 ms on PostgreSQL, for the
busiest student at 1M messages). Every message moved the session's entry in this index too:
without it a message with three references writes 34.9 WAL frames on SQLite instead of 35.8.
Messages per second moved less than the noise of six alternating runs on either backend.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_chat_sessions_pair_recent"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="chat_sessions")


def downgrade() -> None:
    op.create_index(
        INDEX, "chat_sessions", ["student_id", "creator_id", "archived_at", "last_message_at"]
    )
