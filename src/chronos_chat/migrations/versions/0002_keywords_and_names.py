"""Keywords of user messages (for topics) and a small directory of student names.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_keywords",
        sa.Column("pk", RowId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keyword", sa.String(100), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_messages.id"],
            name="fk_message_keywords_message_id_chat_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_message_keywords"),
    )
    op.create_index("ix_message_keywords_message_id", "message_keywords", ["message_id"])
    op.create_index(
        "ix_message_keywords_creator_created_keyword",
        "message_keywords",
        ["creator_id", "created_at", "keyword"],
    )
    op.create_table(
        "student_names",
        sa.Column("student_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("student_id", name="pk_student_names"),
    )


def downgrade() -> None:
    op.drop_table("student_names")
    op.drop_table("message_keywords")
