"""Sessions counted per owner and archive state, kept by triggers: a list's total is one row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chronos_chat import session_counts

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_counts",
        sa.Column("creator_id", sa.String(128), nullable=False),
        sa.Column("student_id", sa.String(128), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("creator_id", "student_id", "archived", name="pk_session_counts"),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    session_counts.backfill(bind)
    session_counts.install(bind)


def downgrade() -> None:
    session_counts.uninstall(op.get_bind())
    op.drop_table("session_counts")
