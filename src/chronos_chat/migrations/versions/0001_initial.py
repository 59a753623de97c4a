"""Sessions, messages, revisions, video references and full-text search.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)


def _counter(name: str, type_: sa.types.TypeEngine[int] | None = None) -> sa.Column[int]:
    return sa.Column(name, type_ or sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("pk", RowId, autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.String(128), nullable=False),
        sa.Column("student_id", sa.String(128), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("context_video_ids", Json, nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("preview", sa.String(100)),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("last_message_at", Time, nullable=False),
        sa.Column("archived_at", Time),
        _counter("message_count"),
        _counter("last_seq"),
        _counter("total_tokens", sa.BigInteger()),
        _counter("total_cost_nanos", sa.BigInteger()),
        _counter("unpriced_message_count"),
        sa.PrimaryKeyConstraint("pk", name="pk_chat_sessions"),
        sa.UniqueConstraint("id", name="uq_chat_sessions_id"),
    )
    op.create_index(
        "ix_chat_sessions_student_recent",
        "chat_sessions",
        ["student_id", "archived_at", "last_message_at", "pk"],
    )
    op.create_index(
        "ix_chat_sessions_pair_recent",
        "chat_sessions",
        ["student_id", "creator_id", "archived_at", "last_message_at"],
    )
    op.create_index(
        "ix_chat_sessions_creator_recent",
        "chat_sessions",
        ["creator_id", "archived_at", "last_message_at", "pk"],
    )
    op.create_index(
        "ix_chat_sessions_creator_created", "chat_sessions", ["creator_id", "created_at"]
    )

    op.create_table(
        "chat_messages",
        sa.Column("pk", RowId, autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.String(128), nullable=False),
        sa.Column("student_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        _counter("input_tokens", sa.BigInteger()),
        _counter("output_tokens", sa.BigInteger()),
        _counter("cache_read_tokens", sa.BigInteger()),
        _counter("cache_write_tokens", sa.BigInteger()),
        _counter("embedding_tokens", sa.BigInteger()),
        _counter("embedding_queries"),
        sa.Column("model", sa.String(200)),
        sa.Column("embedding_model", sa.String(200)),
        sa.Column("cost_nanos", sa.BigInteger()),
        sa.Column("response_time_ms", sa.Integer()),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("edited_at", Time),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["chat_sessions.id"],
            name="fk_chat_messages_session_id_chat_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_chat_messages"),
        sa.UniqueConstraint("id", name="uq_chat_messages_id"),
        sa.UniqueConstraint("session_id", "seq", name="uq_chat_messages_session_id_seq"),
        sa.UniqueConstraint(
            "session_id", "idempotency_key", name="uq_chat_messages_session_id_idempotency_key"
        ),
    )
    op.create_index(
        "ix_chat_messages_creator_created", "chat_messages", ["creator_id", "created_at"]
    )
    op.create_index(
        "ix_chat_messages_student_created", "chat_messages", ["student_id", "created_at"]
    )

    op.create_table(
        "message_revisions",
        sa.Column("pk", RowId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("replaced_at", Time, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_messages.id"],
            name="fk_message_revisions_message_id_chat_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_message_revisions"),
    )
    op.create_index("ix_message_revisions_message_id", "message_revisions", ["message_id"])

    op.create_table(
        "video_references",
        sa.Column("pk", RowId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.String(128), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.String(128), nullable=False),
        sa.Column("video_title", sa.Text()),
        sa.Column("timestamp_seconds", sa.Float()),
        sa.Column("chunk_text", sa.Text()),
        sa.Column("similarity", sa.Float()),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_messages.id"],
            name="fk_video_references_message_id_chat_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_video_references"),
    )
    op.create_index("ix_video_references_message_id", "video_references", ["message_id"])
    op.create_index(
        "ix_video_references_creator_created_video",
        "video_references",
        ["creator_id", "created_at", "video_id"],
    )
    op.create_index(
        "ix_video_references_session_video", "video_references", ["session_id", "video_id"]
    )
    _create_fulltext()


def _create_fulltext() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A stored vector: ranking reads it instead of re-parsing every matching message.
        op.execute(
            "ALTER TABLE chat_messages ADD COLUMN search_vector tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
        )
        op.execute(
            "CREATE INDEX ix_fts_chat_messages_content ON chat_messages USING gin (search_vector)"
        )
        op.execute(
            "CREATE INDEX ix_fts_chat_sessions_title ON chat_sessions "
            "USING gin (to_tsvector('english', coalesce(title, '')))"
        )
        return
    # External-content FTS5 tables index the rows in place; triggers keep them in step.
    for table, column in (("chat_messages", "content"), ("chat_sessions", "title")):
        fts = f"{table}_fts"
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', "
            f"content_rowid='pk', tokenize='porter unicode61')"
        )
        old = f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES('delete', old.pk, old.{column})"
        new = f"INSERT INTO {fts}(rowid, {column}) VALUES (new.pk, new.{column})"
        op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {new}; END")
        op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {old}; END")
        op.execute(
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN {old}; {new}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chat_messages_fts")
        op.execute("DROP TABLE IF EXISTS chat_sessions_fts")
    for table in ("video_references", "message_revisions", "chat_messages", "chat_sessions"):
        op.drop_table(table)
