"""Chat sessions: create, get-or-create, update, archive, delete (lists and search: ``session_lists``).

Functions take a connection (``db``) and never commit; the caller's transaction does.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Uuid,
    bindparam,
    delete,
    select,
    update,
)

from chronos_chat import dialects, driver, idempotency
from chronos_chat.errors import InvalidInput, SessionNotFound
from chronos_chat.models import ChatSession
from chronos_chat.money import from_nanos
from chronos_chat.schema import chat_messages, chat_sessions, student_names
from chronos_chat.statements import one_statement, quick
from chronos_chat.validation import (
    MAX_TITLE,
    check_aware,
    check_external_id,
    check_metadata,
    check_text,
    check_video_ids,
)

S = chat_sessions.c
M = chat_messages.c
DEFAULT_REUSE_WINDOW = timedelta(hours=24)


class Unset(enum.Enum):
    """Marks an argument the caller left out (so None can mean "clear it")."""

    UNSET = enum.auto()


UNSET = Unset.UNSET


def now_utc() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)


def session_from_row(row: Row[Any] | Mapping[str, Any]) -> ChatSession:
    """A ``ChatSession`` from a full ``chat_sessions`` row."""
    m = row._mapping if isinstance(row, Row) else row
    return ChatSession(
        id=m["id"],
        student_id=m["student_id"],
        creator_id=m["creator_id"],
        title=m["title"],
        context_video_ids=list(m["context_video_ids"]),
        metadata=dict(m["metadata"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_message_at=m["last_message_at"],
        archived_at=m["archived_at"],
        message_count=m["message_count"],
        total_tokens=m["total_tokens"],
        total_cost=from_nanos(m["total_cost_nanos"]),
        unpriced_message_count=m["unpriced_message_count"],
    )


def create_session(
    db: Connection,
    *,
    student_id: str,
    creator_id: str,
    title: str | None = None,
    context_video_ids: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
    session_id: uuid.UUID | None = None,
) -> ChatSession:
    """Insert a new session and return it (``session_id`` only when restoring an export)."""
    values = {
        "id": session_id or uuid.uuid4(),
        "student_id": check_external_id("student_id", student_id),
        "creator_id": check_external_id("creator_id", creator_id),
        "title": None if title is None else check_text("title", title, max_length=MAX_TITLE),
        "context_video_ids": check_video_ids("context_video_ids", context_video_ids),
        "metadata": check_metadata("metadata", metadata),
    }
    when = check_aware("created_at", created_at) or now_utc()
    values |= {"created_at": when, "updated_at": when, "last_message_at": when}
    row = db.execute(chat_sessions.insert().values(values).returning(chat_sessions)).one()
    return session_from_row(row)


_SESSION = select(chat_sessions).where(S.id == bindparam("session_id", type_=Uuid))
_SESSION_FOR_UPDATE = _SESSION.with_for_update()  # SQLite has one writer: it renders no lock


@quick
@one_statement
def fetch_session_row(
    db: Connection, session_id: uuid.UUID, *, for_update: bool = False
) -> Row[Any]:
    """The session's row; raises SessionNotFound. ``for_update`` locks it (PostgreSQL)."""
    query = _SESSION_FOR_UPDATE if for_update else _SESSION
    rows = driver.fetch(db, query, {"session_id": _as_uuid(session_id)})
    if not rows:
        raise SessionNotFound(session_id)
    return rows[0]


@quick
@one_statement
def get_session(db: Connection, session_id: uuid.UUID) -> ChatSession:
    """The session (archived or not); raises SessionNotFound."""
    return session_from_row(fetch_session_row(db, session_id))


def get_or_create_session(
    db: Connection,
    student_id: str,
    creator_id: str,
    context_video_ids: Iterable[str] = (),
    *,
    reuse_window: timedelta = DEFAULT_REUSE_WINDOW,
) -> tuple[ChatSession, bool]:
    """The pair's active session if its last activity is within the window, else a new one.

    Returns (session, created). New context videos are added to a reused session. The caller
    must run this in a write transaction: the pair is locked until it ends.
    """
    check_external_id("student_id", student_id)
    check_external_id("creator_id", creator_id)
    videos = check_video_ids("context_video_ids", context_video_ids)
    if reuse_window <= timedelta(0):
        raise InvalidInput("reuse_window", "must be positive")
    dialects.lock_pair(db, student_id, creator_id)
    now = now_utc()
    recent = (
        db.execute(
            select(chat_sessions)
            .where(
                S.student_id == student_id,
                S.creator_id == creator_id,
                S.archived_at.is_(None),
                S.last_message_at > now - reuse_window,
            )
            .order_by(S.last_message_at.desc(), S.pk.desc())
            .limit(1)
        )
    ).one_or_none()
    if recent is None:
        created = create_session(
            db, student_id=student_id, creator_id=creator_id, context_video_ids=videos
        )
        return created, True
    session = session_from_row(recent)
    merged = list(dict.fromkeys([*session.context_video_ids, *videos]))
    if merged != session.context_video_ids:
        session = update_session(db, session.id, context_video_ids=merged)
    return session, False


def update_session(
    db: Connection,
    session_id: uuid.UUID,
    *,
    title: str | Unset | None = UNSET,
    context_video_ids: Iterable[str] | Unset = UNSET,
    metadata: Mapping[str, Any] | Unset = UNSET,
) -> ChatSession:
    """Change the given fields (title None clears it); raises SessionNotFound."""
    values: dict[str, Any] = {}
    if not isinstance(title, Unset):
        values["title"] = (
            None if title is None else check_text("title", title, max_length=MAX_TITLE)
        )
    if not isinstance(context_video_ids, Unset):
        values["context_video_ids"] = check_video_ids("context_video_ids", context_video_ids)
    if not isinstance(metadata, Unset):
        values["metadata"] = check_metadata("metadata", metadata)
    return _update(db, session_id, values)


def _update(db: Connection, session_id: uuid.UUID, values: dict[str, Any]) -> ChatSession:
    values = {**values, "updated_at": now_utc()}
    query = update(chat_sessions).where(S.id == _as_uuid(session_id)).values(values)
    row = db.execute(query.returning(chat_sessions)).one_or_none()
    if row is None:
        raise SessionNotFound(session_id)
    return session_from_row(row)


def set_archived(db: Connection, session_id: uuid.UUID, archived: bool) -> ChatSession:
    """Archive (soft-delete) or restore a session; metadata is left as it is."""
    current = get_session(db, session_id)
    if current.is_archived == archived:
        return current
    return _update(db, session_id, {"archived_at": now_utc() if archived else None})


def delete_session(db: Connection, session_id: uuid.UUID) -> None:
    """Delete the session and, by cascade, its messages and references; raises SessionNotFound."""
    result = db.execute(delete(chat_sessions).where(S.id == _as_uuid(session_id)))
    if result.rowcount == 0:
        raise SessionNotFound(session_id)


def forget_student(db: Connection, student_id: str) -> int:
    """Delete all a student left: every session (archived too) with its messages, their name,
    and the stored responses of idempotent requests about them; how many sessions went."""
    check_external_id("student_id", student_id)
    ids = list(db.execute(select(S.id).where(S.student_id == student_id)).scalars())
    idempotency.forget(db, idempotency.caller_scope("student", student_id), ids)
    # As for one session, the row triggers take each session's messages out of the rollups.
    db.execute(delete(chat_sessions).where(S.student_id == student_id))
    set_student_name(db, student_id, None)
    return len(ids)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise SessionNotFound(value) from None


def set_student_name(db: Connection, student_id: str, name: str | None) -> None:
    """Record (or with None, forget) the display name of a student."""
    check_external_id("student_id", student_id)
    if name is None:
        db.execute(delete(student_names).where(student_names.c.student_id == student_id))
        return
    values = {"student_id": student_id, "name": check_text("name", name, max_length=200)}
    dialects.upsert(db, student_names, values)
