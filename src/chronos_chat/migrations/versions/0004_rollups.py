"""Rollups: aggregates kept by triggers on every write, filled from the rows already stored.

The triggers are generated from ``chronos_chat.rollups``; changing a rollup later takes a
migration of its own (uninstall, alter, install, refill).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from chronos_chat import rollups

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
AT = sa.DateTime(timezone=True)
ROLLUPS: dict[str, tuple[list[tuple[str, Any]], list[str]]] = {
    "rollup_activity": (
        [("creator_id", ID), ("bucket_at", AT)],
        [
            "messages",
            "user_messages",
            "tokens",
            "cost_nanos",
            "unpriced_messages",
            "cited_messages",
        ],
    ),
    "rollup_student_quarters": (
        [("creator_id", ID), ("bucket_at", AT), ("student_id", ID)],
        ["messages"],
    ),
    "rollup_student_days": (
        [("creator_id", ID), ("student_id", ID), ("day_at", AT)],
        ["messages", "user_messages"],
    ),
    "rollup_videos": ([("creator_id", ID), ("video_id", ID), ("day_at", AT)], ["reference_count"]),
    "rollup_video_sessions": (
        [("creator_id", ID), ("video_id", ID), ("day_at", AT)],
        ["sessions"],
    ),
    "rollup_moments": (
        [("creator_id", ID), ("video_id", ID), ("day_at", AT), ("minute", sa.Integer())],
        ["reference_count"],
    ),
    "rollup_topics": (
        [
            ("creator_id", ID),
            ("day_at", AT),
            ("keyword", sa.String(100)),
            ("label", sa.String(100)),
        ],
        ["mentions"],
    ),
}
SESSION_FIGURES = ["creator_id", "created_at", "student_id", "message_count", "last_message_at"]


def upgrade() -> None:
    for name, (keys, counters) in ROLLUPS.items():
        op.create_table(
            name,
            *(sa.Column(key, type_, nullable=False) for key, type_ in keys),
            *(sa.Column(c, sa.BigInteger(), nullable=False, server_default="0") for c in counters),
            sa.PrimaryKeyConstraint(*(key for key, _ in keys), name=f"pk_{name}"),
        )
    op.create_table(
        "video_titles",
        sa.Column("creator_id", ID, nullable=False),
        sa.Column("video_id", ID, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("creator_id", "video_id", name="pk_video_titles"),
    )
    with op.batch_alter_table("chat_sessions") as batch:
        batch.drop_index("ix_chat_sessions_creator_created")
        batch.create_index("ix_chat_sessions_creator_created", SESSION_FIGURES)
    bind = op.get_bind()
    rollups.backfill(bind, rollups.DAILY)
    rollups.install(bind, rollups.DAILY, grouped=True)


def downgrade() -> None:
    rollups.uninstall(op.get_bind())
    with op.batch_alter_table("chat_sessions") as batch:
        batch.drop_index("ix_chat_sessions_creator_created")
        batch.create_index("ix_chat_sessions_creator_created", ["creator_id", "created_at"])
    for name in ["video_titles", *ROLLUPS]:
        op.drop_table(name)
