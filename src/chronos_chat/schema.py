"""The tables, as SQLAlchemy Core. Alembic migrations are the source of truth; a test
fails when these and the migrations drift.

Hot tables carry ``creator_id`` so analytics filter without joins and the data can be
partitioned by creator. Counters on ``chat_sessions`` are kept on write, so lists never
count rows. Money is integer nano-dollars.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Computed,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from chronos_chat.dialects import UTCDateTime, minutes_between

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY (a rowid alias, stable across VACUUM,
# which the FTS5 external-content tables rely on).
RowId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
ExternalId = String(128)

chat_sessions = Table(
    "chat_sessions",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("creator_id", ExternalId, nullable=False),
    Column("student_id", ExternalId, nullable=False),
    Column("title", Text),
    Column("context_video_ids", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("preview", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_message_at", UTCDateTime, nullable=False),
    Column("archived_at", UTCDateTime),
    Column("message_count", Integer, nullable=False, server_default="0"),
    Column("last_seq", Integer, nullable=False, server_default="0"),
    Column("total_tokens", BigInteger, nullable=False, server_default="0"),
    Column("total_cost_nanos", BigInteger, nullable=False, server_default="0"),
    Column("unpriced_message_count", Integer, nullable=False, server_default="0"),
    # From creation to the last message, kept by the database (virtual on SQLite, stored on
    # PostgreSQL): read from the index below, a period's durations are not computed per row.
    Column(
        "duration_minutes",
        Float,
        Computed(minutes_between(literal_column("created_at"), literal_column("last_message_at"))),
    ),
    # Lists read a student's or a creator's active (or archived) sessions by recency, a deep
    # page from the index alone (pk last); one index per state keeps it narrow (migration 0013).
    *(
        Index(
            f"ix_chat_sessions_{owner}_{state}",
            f"{owner}_id",
            "last_message_at",
            "pk",
            sqlite_where=text(where),
            postgresql_where=text(where),
        )
        for owner in ("student", "creator")
        for state, where in (
            ("active", "archived_at IS NULL"),
            ("archived", "archived_at IS NOT NULL"),
        )
    ),
    # Session figures of a period read this index alone (durations, counts, students).
    Index(
        "ix_chat_sessions_creator_created",
        "creator_id",
        "created_at",
        "student_id",
        "message_count",
        "duration_minutes",
    ),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column(
        "session_id",
        Uuid,
        ForeignKey("chat_sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("creator_id", ExternalId, nullable=False),
    Column("student_id", ExternalId, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("input_tokens", BigInteger, nullable=False, server_default="0"),
    Column("output_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cache_read_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cache_write_tokens", BigInteger, nullable=False, server_default="0"),
    Column("embedding_tokens", BigInteger, nullable=False, server_default="0"),
    Column("embedding_queries", Integer, nullable=False, server_default="0"),
    Column("model", String(200)),
    Column("embedding_model", String(200)),
    # NULL means "unpriced": the message used a model the catalog does not know.
    Column("cost_nanos", BigInteger),
    Column("response_time_ms", Integer),
    Column("metadata", Json, nullable=False),
    Column("idempotency_key", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("edited_at", UTCDateTime),
    # The best similarity among the message's references (NULL without any), written with
    # them: content gaps read one column of each answer instead of its references.
    Column("best_similarity", Float),
    UniqueConstraint("session_id", "seq"),
    UniqueConstraint("session_id", "idempotency_key"),
    Index("ix_chat_messages_creator_created", "creator_id", "created_at"),
    Index("ix_chat_messages_student_created", "student_id", "created_at"),
)

message_revisions = Table(
    "message_revisions",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        Uuid,
        ForeignKey("chat_messages.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("content", Text, nullable=False),
    Column("replaced_at", UTCDateTime, nullable=False),
)

video_references = Table(
    "video_references",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        Uuid,
        ForeignKey("chat_messages.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("session_id", Uuid, nullable=False),
    Column("creator_id", ExternalId, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("position", Integer, nullable=False),
    Column("video_id", ExternalId, nullable=False),
    Column("video_title", Text),
    Column("timestamp_seconds", Float),
    Column("chunk_text", Text),
    Column("similarity", Float),
    Index("ix_video_references_creator_created_video", "creator_id", "created_at", "video_id"),
    Index("ix_video_references_session_video", "session_id", "video_id"),
)

message_keywords = Table(
    "message_keywords",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        Uuid,
        ForeignKey("chat_messages.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("creator_id", ExternalId, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("keyword", String(100), nullable=False),  # the grouping key: "react hook"
    Column("label", String(100), nullable=False),  # as a person reads it: "React hooks"
    Index("ix_message_keywords_creator_created_keyword", "creator_id", "created_at", "keyword"),
)

student_names = Table(
    "student_names",
    metadata,
    Column("student_id", ExternalId, primary_key=True),
    Column("name", String(200), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(200), primary_key=True),  # who asked: a key is theirs alone
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),  # NULL while the first request is in flight
    Column("response", Json),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),  # purging expired keys
)

# --- rollups: aggregates kept by triggers (see rollups.py), so analytics read few rows ------
# Quarter-hour buckets serve figures by local hour or day (every zone offset in use today is a
# whole number of quarter hours); UTC-day buckets serve the wide dimensions (students, videos,
# topics), and UTC-hour buckets (below) the partial days at a period's ends. Students are keyed by day first, so a period reads only its own days; videos, cited
# moments and topics by what their readers group by, so each is summed while read in key order.
# Counters go down on delete and rows at zero stay: readers ignore them. On SQLite they are
# WITHOUT ROWID tables: the rows are the key, so range reads and upserts touch one B-tree.


def _rollup(name: str, keys: list[Column[Any]], counters: list[str]) -> Table:
    counts = [Column(c, BigInteger, nullable=False, server_default="0") for c in counters]
    # On PostgreSQL the key carries the counters too, so reads are index-only scans instead
    # of visits to rows scattered over the heap (see migration 0007 for the trade).
    key = PrimaryKeyConstraint(*(k.name for k in keys), postgresql_include=counters)
    return Table(name, metadata, *keys, *counts, key, sqlite_with_rowid=False)


def _key(name: str, type_: TypeEngine[Any] = ExternalId) -> Column[Any]:
    return Column(name, type_, nullable=False)


rollup_activity = _rollup(
    "rollup_activity",
    [_key("creator_id"), _key("bucket_at", UTCDateTime())],
    ["messages", "user_messages", "tokens", "cost_nanos", "unpriced_messages", "cited_messages"],
)
rollup_student_quarters = _rollup(
    "rollup_student_quarters",
    [_key("creator_id"), _key("bucket_at", UTCDateTime()), _key("student_id")],
    ["messages", "user_messages"],
)
rollup_student_days = _rollup(
    "rollup_student_days",
    [_key("creator_id"), _key("day_at", UTCDateTime()), _key("student_id")],
    ["messages", "user_messages"],
)
rollup_videos = _rollup(
    "rollup_videos",
    [_key("creator_id"), _key("video_id"), _key("day_at", UTCDateTime())],
    ["reference_count"],
)
# Keyed by the day the citing session was created: each (session, video) pair counts once.
rollup_video_sessions = _rollup(
    "rollup_video_sessions",
    [_key("creator_id"), _key("video_id"), _key("day_at", UTCDateTime())],
    ["sessions"],
)
rollup_moments = _rollup(
    "rollup_moments",
    [
        _key("creator_id"),
        _key("video_id"),
        _key("minute", Integer()),
        _key("day_at", UTCDateTime()),
    ],
    ["reference_count"],
)
rollup_topics = _rollup(
    "rollup_topics",
    [
        _key("creator_id"),
        _key("keyword", String(100)),
        _key("label", String(100)),
        _key("day_at", UTCDateTime()),
    ],
    ["mentions"],
)
# Per-hour twins of the wide daily rollups, for the partial days at a period's ends (hour first:
# a partial day is one range). Videos and their cited minutes share one (minute -1: no timestamp).
rollup_video_hours = _rollup(
    "rollup_video_hours",
    [
        _key("creator_id"),
        _key("hour_at", UTCDateTime()),
        _key("video_id"),
        _key("minute", Integer()),
    ],
    ["reference_count"],
)
rollup_video_session_hours = _rollup(
    "rollup_video_session_hours",
    [_key("creator_id"), _key("hour_at", UTCDateTime()), _key("video_id")],
    ["sessions"],
)
rollup_topic_hours = _rollup(
    "rollup_topic_hours",
    [
        _key("creator_id"),
        _key("hour_at", UTCDateTime()),
        _key("keyword", String(100)),
        _key("label", String(100)),
    ],
    ["mentions"],
)
# What each model's messages used and cost, per creator and UTC hour ("" for no model), so a
# creator's cost summary over everything reads thousands of rows instead of every message.
TOKEN_COLUMNS = (  # a message's usage, as chat_messages keeps it
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "embedding_tokens",
    "embedding_queries",
)
MODEL_COUNTERS = ("messages", *TOKEN_COLUMNS, "cost_nanos", "unpriced_messages")
rollup_model_hours = _rollup(
    "rollup_model_hours",
    [_key("creator_id"), _key("hour_at", UTCDateTime()), _key("model", String(200))],
    list(MODEL_COUNTERS),
)
# Sessions per owner ("" on the side that is any), active and archived: a list's total in one
# row (kept by the triggers of session_counts.py).
session_counts = Table(
    "session_counts",
    metadata,
    Column("creator_id", ExternalId, primary_key=True),
    Column("student_id", ExternalId, primary_key=True),
    Column("archived", Boolean, primary_key=True),
    Column("sessions", BigInteger, nullable=False, server_default="0"),
    sqlite_with_rowid=False,
)
# A directory, like student_names: the title a video was last cited with.
video_titles = Table(
    "video_titles",
    metadata,
    Column("creator_id", ExternalId, primary_key=True),
    Column("video_id", ExternalId, primary_key=True),
    Column("title", Text, nullable=False),
    sqlite_with_rowid=False,
)
