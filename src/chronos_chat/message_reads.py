"""Reading messages: in order, one by one, by role, as LLM-ready history, by full-text search."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Row,
    Select,
    String,
    Uuid,
    bindparam,
    func,
    select,
    text,
)

from chronos_chat import dialects, driver
from chronos_chat.errors import InvalidInput, MessageNotFound
from chronos_chat.models import (
    ChatMessage,
    ChatSession,
    TokenUsage,
    VideoReference,
    VideoReferenceIn,
)
from chronos_chat.money import from_nanos
from chronos_chat.schema import chat_messages, video_references
from chronos_chat.sessions import fetch_session_row, session_from_row
from chronos_chat.statements import built_once
from chronos_chat.validation import check_count, check_external_id, check_role, check_text

M = chat_messages.c
R = video_references.c


def _reference_model(ref: VideoReferenceIn | Row[Any]) -> VideoReference:
    if isinstance(ref, VideoReferenceIn):
        return VideoReference(**ref.model_dump())
    return VideoReference(
        video_id=ref.video_id,
        video_title=ref.video_title,
        timestamp=ref.timestamp_seconds,
        chunk_text=ref.chunk_text,
        similarity=ref.similarity,
    )


def message_from_row(row: Any, references: list[VideoReference]) -> ChatMessage:
    """A ``ChatMessage`` from a ``chat_messages`` row (or the values just written) and its references."""
    cost = row.cost_nanos
    usage = TokenUsage(
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        embedding_tokens=row.embedding_tokens,
        embedding_queries=row.embedding_queries,
        embedding_model=row.embedding_model,
        cost=None if cost is None else from_nanos(cost),
    )
    return ChatMessage(
        id=row.id,
        session_id=row.session_id,
        seq=row.seq,
        role=row.role,
        content=row.content,
        token_count=usage.total_tokens,
        model=row.model,
        usage=usage,
        response_time_ms=row.response_time_ms,
        metadata=dict(row.metadata),
        video_references=references,
        created_at=row.created_at,
        edited_at=row.edited_at,
    )


_REFERENCE_COLUMNS = (
    R.message_id,
    R.video_id,
    R.video_title,
    R.timestamp_seconds,
    R.chunk_text,
    R.similarity,
)


def with_references(db: Connection, rows: Sequence[Row[Any]]) -> list[ChatMessage]:
    """Messages from rows, their references fetched in one query."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    query: Select[Any] = select(*_REFERENCE_COLUMNS).order_by(R.message_id, R.position)
    # One session's references by its index; a scattered set by message id.
    sessions = {row.session_id for row in rows}
    if len(sessions) == 1 and len(rows) > 100:
        query = query.where(R.session_id == next(iter(sessions)))
    else:
        query = query.where(R.message_id.in_(ids))
    by_message: dict[uuid.UUID, list[VideoReference]] = defaultdict(list)
    for ref in db.execute(query).all():
        by_message[ref.message_id].append(_reference_model(ref))
    return [message_from_row(row, by_message.get(row.id, [])) for row in rows]


def get_messages(
    db: Connection,
    session_id: uuid.UUID,
    *,
    limit: int | None = None,
    offset: int = 0,
    role: str | None = None,
) -> list[ChatMessage]:
    """The session's messages in order (all when ``limit`` is None); raises SessionNotFound."""
    fetch_session_row(db, session_id)
    check_count("offset", offset)
    if limit is not None and (check_count("limit", limit) == 0):
        raise InvalidInput("limit", "must be at least 1")
    if role is not None:
        check_role(role)
    shape = (role is not None, limit is not None, offset > 0)
    query = built_once(("messages", *shape), lambda: _messages_query(*shape))
    values = {"session_id": session_id, "role": role, "limit": limit, "offset": offset}
    return with_references(db, driver.fetch(db, query, values))


def _messages_query(by_role: bool, limited: bool, offset: bool) -> Select[Any]:
    query = select(chat_messages).where(M.session_id == bindparam("session_id", type_=Uuid))
    if by_role:
        query = query.where(M.role == bindparam("role", type_=String))
    query = query.order_by(M.seq)
    if limited:
        query = query.limit(bindparam("limit", type_=Integer))
    if offset:
        query = query.offset(bindparam("offset", type_=Integer))
    return query


def get_session_with_messages(db: Connection, session_id: uuid.UUID) -> ChatSession:
    """The session with all its messages, from one snapshot; raises SessionNotFound."""
    session = session_from_row(fetch_session_row(db, session_id))
    return session.model_copy(update={"messages": get_messages(db, session.id)})


def get_messages_with_video_refs(db: Connection, session_id: uuid.UUID) -> list[ChatMessage]:
    """The session's messages that cite at least one video, in order."""
    fetch_session_row(db, session_id)
    cites = select(R.pk).where(R.message_id == M.id).exists()
    query = select(chat_messages).where(M.session_id == session_id, cites).order_by(M.seq)
    return with_references(db, db.execute(query).all())


_MESSAGE = select(chat_messages).where(M.id == bindparam("message_id", type_=Uuid))


def fetch_message_row(db: Connection, message_id: uuid.UUID | str) -> Row[Any]:
    """The message's row; raises MessageNotFound."""
    try:
        mid = message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(str(message_id))
    except ValueError:
        raise MessageNotFound(message_id) from None
    rows = driver.fetch(db, _MESSAGE, {"message_id": mid})
    if not rows:
        raise MessageNotFound(message_id)
    return rows[0]


def get_message(db: Connection, message_id: uuid.UUID) -> ChatMessage:
    """One message with its references; raises MessageNotFound."""
    return (with_references(db, [fetch_message_row(db, message_id)]))[0]


def count_messages_by_role(db: Connection, session_id: uuid.UUID) -> dict[str, int]:
    """How many user, assistant and system messages the session holds."""
    fetch_session_row(db, session_id)
    query = select(M.role, func.count()).where(M.session_id == session_id).group_by(M.role)
    counts = {"user": 0, "assistant": 0, "system": 0}
    counts.update({role: n for role, n in db.execute(query).all()})
    return counts


_HISTORY = (
    select(M.role, M.content)
    .where(M.session_id == bindparam("session_id", type_=Uuid))
    .order_by(M.seq.desc())
)
_LAST = _HISTORY.limit(bindparam("limit", type_=Integer))


def get_conversation_history(
    db: Connection, session_id: uuid.UUID, limit: int | None = None
) -> list[dict[str, str]]:
    """The last ``limit`` messages (all if None), oldest first, as LLM-ready role/content dicts."""
    fetch_session_row(db, session_id)
    if limit is not None and not check_count("limit", limit):
        raise InvalidInput("limit", "must be at least 1")
    query = _HISTORY if limit is None else _LAST
    rows = driver.fetch(db, query, {"session_id": session_id, "limit": limit})
    return [{"role": role, "content": content} for role, content in reversed(rows)]


def search_messages(
    db: Connection,
    query: str,
    *,
    session_id: uuid.UUID | None = None,
    creator_id: str | None = None,
    student_id: str | None = None,
    limit: int = 20,
) -> list[ChatMessage]:
    """Messages matching ``query`` by full-text search, best first."""
    check_text("query", query, max_length=1000)
    if isinstance(limit, bool) or not 1 <= limit <= 100:
        raise InvalidInput("limit", "must be from 1 to 100")
    matches = text(dialects.message_match_sql(db)).bindparams(q=dialects.fts_query(db, query))
    mm = matches.columns(pk=Integer, score=Float).subquery("mm")
    statement = select(chat_messages).join(mm, mm.c.pk == M.pk)
    if session_id is not None:
        statement = statement.where(M.session_id == session_id)
    if creator_id is not None:
        statement = statement.where(M.creator_id == check_external_id("creator_id", creator_id))
    if student_id is not None:
        statement = statement.where(M.student_id == check_external_id("student_id", student_id))
    rows = db.execute(statement.order_by(mm.c.score, M.pk).limit(limit)).all()
    return with_references(db, rows)
