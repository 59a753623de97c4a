"""PostgreSQL: rollup keys that carry their counters, so reads are index-only scans.

A creator's rollup rows are written day by day among everyone else's, so on PostgreSQL they lie
scattered over the heap: reading a month of a big creator's students visited 2,000 heap pages
for 2,400 rows. With the counters in the primary key's index (INCLUDE), a read of settled
buckets never leaves the index (biggest creator's month 24-26 -> 18 ms at 1M messages). The
price: counter updates are no longer HOT (the index holds the counters), so each adds an index
entry that vacuum and bottom-up deletion clear later; ingest measured the same within noise.
SQLite needs nothing: its rollups are WITHOUT ROWID tables, stored in key order (0005).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS: dict[str, tuple[list[str], list[str]]] = {
    "rollup_activity": (
        ["creator_id", "bucket_at"],
        [
            "messages",
            "user_messages",
            "tokens",
            "cost_nanos",
            "unpriced_messages",
            "cited_messages",
        ],
    ),
    "rollup_student_quarters": (["creator_id", "bucket_at", "student_id"], ["messages"]),
    "rollup_student_days": (["creator_id", "student_id", "day_at"], ["messages", "user_messages"]),
    "rollup_videos": (["creator_id", "video_id", "day_at"], ["reference_count"]),
    "rollup_video_sessions": (["creator_id", "video_id", "day_at"], ["sessions"]),
    "rollup_moments": (["creator_id", "video_id", "minute", "day_at"], ["reference_count"]),
    "rollup_topics": (["creator_id", "keyword", "label", "day_at"], ["mentions"]),
}


def upgrade() -> None:
    _rekey(covering=True)


def downgrade() -> None:
    _rekey(covering=False)


def _rekey(*, covering: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, (key, counters) in KEYS.items():
        include = f" INCLUDE ({', '.join(counters)})" if covering else ""
        op.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, "
            f"ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(key)}){include}"
        )
