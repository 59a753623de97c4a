"""Writing messages: with references, usage, cost, keywords and session counters in one go;
editing and deleting them (reads are in ``message_reads``).

Functions take a connection (``db``) and never commit; the caller's transaction does.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Row,
    delete,
    func,
    select,
    update,
)

from chronos_chat import driver
from chronos_chat import message_statements as statements
from chronos_chat.costs import price_usage
from chronos_chat.errors import (
    IdempotencyConflict,
    MessageNotFound,
    SessionNotFound,
    UnknownModel,
)
from chronos_chat.message_reads import (
    fetch_message_row,
    get_message,
    message_from_row,
    with_references,
)
from chronos_chat.models import (
    ChatMessage,
    Revision,
    Role,
    VideoReference,
    VideoReferenceIn,
)
from chronos_chat.pricing import PriceCatalog
from chronos_chat.schema import (
    chat_messages,
    chat_sessions,
    message_keywords,
    message_revisions,
    video_references,
)
from chronos_chat.sessions import (
    UNSET,
    Unset,
    fetch_session_row,
    now_utc,
)
from chronos_chat.topics import extract_keywords
from chronos_chat.usage import Usage, normalize_usage
from chronos_chat.validation import (
    check_aware,
    check_count,
    check_metadata,
    check_references,
    check_role,
    check_text,
)

M = chat_messages.c
R = video_references.c
S = chat_sessions.c
DEFAULT_MAX_CONTENT = 100_000
PREVIEW_LENGTH = 100


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated message, ready to write."""

    session_id: uuid.UUID
    role: Role
    content: str
    model: str | None
    usage: Usage
    references: list[VideoReferenceIn]
    response_time_ms: int | None
    metadata: dict[str, Any]
    idempotency_key: str | None
    created_at: datetime | None
    message_id: uuid.UUID | None = None


def validate_message(
    *,
    session_id: uuid.UUID,
    role: str,
    content: str,
    token_count: int | None = None,
    model: str | None = None,
    video_references: Iterable[Mapping[str, Any] | VideoReferenceIn] = (),
    usage: Any = None,
    response_time_ms: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    created_at: datetime | None = None,
    max_content_length: int = DEFAULT_MAX_CONTENT,
    message_id: uuid.UUID | None = None,
) -> NewMessage:
    """Check every argument of a new message; raises InvalidInput naming the first bad one."""
    checked_role = check_role(role)
    check_text("content", content, max_length=max_content_length)
    check_count("token_count", token_count)
    if model is not None:
        check_text("model", model, max_length=200)
    if idempotency_key is not None:
        check_text("idempotency_key", idempotency_key, max_length=255)
    tokens = normalize_usage(usage)
    if usage is None and token_count:
        # The seed's single count: what a user sends is input, what the model writes is output.
        if checked_role == "assistant":
            tokens = Usage(output_tokens=token_count)
        else:
            tokens = Usage(input_tokens=token_count)
    return NewMessage(
        session_id=session_id,
        role=checked_role,
        content=content,
        model=model,
        usage=tokens,
        references=check_references(video_references),
        response_time_ms=check_count("response_time_ms", response_time_ms),
        metadata=check_metadata("metadata", metadata),
        idempotency_key=idempotency_key,
        created_at=check_aware("created_at", created_at),
        message_id=message_id,
    )


def message_cost_nanos(message: NewMessage, at: datetime, catalog: PriceCatalog) -> int | None:
    """What the message cost in nano-dollars; None when its model has no known price."""
    usage = message.usage
    if usage.total_tokens == 0 and usage.embedding_queries == 0:
        return 0
    try:
        breakdown = price_usage(usage, message.model, at=at, catalog=catalog)
    except UnknownModel:
        return None
    return breakdown.total_nanos


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose session a write must land in: a student's, a creator's (None: anyone's)."""

    student_id: str | None = None
    creator_id: str | None = None

    def owns(self, row: Any) -> bool:
        """Whether the session row belongs to this owner."""
        return self.student_id in (None, row.student_id) and self.creator_id in (
            None,
            row.creator_id,
        )


ANYONE = Owner()


def create_message(
    db: Connection, message: NewMessage, catalog: PriceCatalog, owner: Owner = ANYONE
) -> ChatMessage:
    """Write the message, its references and the session's counters; the caller commits.

    With an idempotency key already used in the session, returns the first message and writes
    nothing; raises IdempotencyConflict if that message differs. Raises SessionNotFound, also
    when the session is not ``owner``'s.
    """
    if message.idempotency_key is not None:
        # Lock first so a concurrent retry waits for this one and then finds its message.
        locked = db.execute(statements.LOCK_SESSION, {"b_session_id": message.session_id}).first()
        if locked is None or not owner.owns(locked):
            raise SessionNotFound(message.session_id)
        existing = _by_idempotency_key(db, message)
        if existing is not None:
            return existing
    created_at = (message.created_at or now_utc()).astimezone(UTC)
    cost = message_cost_nanos(message, created_at, catalog)
    bump = {
        "b_session_id": message.session_id,
        "b_tokens": message.usage.total_tokens,
        "b_cost": cost or 0,
        "b_unpriced": 1 if cost is None else 0,
        "b_at": created_at,
        "b_now": now_utc(),
        "b_preview": message.content[:PREVIEW_LENGTH] if message.role == "user" else None,
    }
    values = _message_values(message, message.message_id or uuid.uuid4(), cost, created_at)
    # In video and keyword order: concurrent writers then take the rollup rows' locks in one
    # order and cannot deadlock (positions keep the order the references were given in).
    references = sorted(_reference_rows(message), key=_by_video)
    keywords = sorted(_keywords(message), key=_by_keyword)
    bumped: Row[Any] | Bumped | None
    if db.dialect.name == "postgresql":
        bumped = _write_in_one_trip(db, bump, values, references, keywords)
    else:
        bumped = _write_through_driver(db, bump, values, references, keywords)
    if bumped is None or not owner.owns(bumped):
        # Someone else's session: raising rolls back everything written above.
        raise SessionNotFound(message.session_id)
    return _written_model(message, values | _from_session(bumped))


class Bumped(NamedTuple):
    """The session row as the counter bump returns it."""

    last_seq: int
    creator_id: str
    student_id: str


def _write_in_one_trip(
    db: Connection,
    bump: dict[str, Any],
    values: dict[str, Any],
    references: list[dict[str, Any]],
    keywords: list[dict[str, Any]],
) -> Row[Any] | None:
    params = bump | {f"m_{name}": values[name] for name in statements.MESSAGE_COLUMNS}
    for prefix, rows, columns in (
        ("r", references, statements.REFERENCE_COLUMNS),
        ("k", keywords, statements.KEYWORD_COLUMNS),
    ):
        params |= {f"{prefix}_{c}": [row[c] for row in rows] for c in columns}
    return db.execute(statements.one_trip(bool(references), bool(keywords)), params).first()


def _write_through_driver(
    db: Connection,
    bump: dict[str, Any],
    values: dict[str, Any],
    references: list[dict[str, Any]],
    keywords: list[dict[str, Any]],
) -> Bumped | None:
    """SQLite: bump the session, then insert the message and its rows through the driver."""
    bumped = next((Bumped(*row) for row in statements.SQLITE_BUMP_SESSION.run(db, bump)), None)
    if bumped is None:
        return None
    row = values | _from_session(bumped)
    driver.insert_many(db, chat_messages, [row])
    if references:
        driver.insert_many(db, video_references, [_owned_row(row) | r for r in references])
    if keywords:
        owned = _owned_row(row, session=False)
        driver.insert_many(db, message_keywords, [owned | k for k in keywords])
    return bumped


def keyword_rows(
    message_id: uuid.UUID, creator_id: str, at: datetime, content: str
) -> list[dict[str, Any]]:
    """The ``message_keywords`` rows of a user message: its topics, so topics is a GROUP BY."""
    owned = {"message_id": message_id, "creator_id": creator_id, "created_at": at}
    return [owned | topic for topic in _topics(content)]


def rewrite_keywords(
    db: Connection, stale: Sequence[Mapping[str, Any]], fresh: Sequence[Mapping[str, Any]]
) -> None:
    """Delete the keyword rows ``stale`` (with their pk) and insert ``fresh``, in the order of
    the rollup rows they move: by creator, UTC day, keyword, label and time, the order a new
    message takes them in. So on PostgreSQL an edit or a topic refresh, however many messages
    it rewrites, waits for a writer's rollup rows or makes it wait, but never deadlocks with it.
    """
    ops = [(_rollup_order(r), False, r) for r in stale]
    ops += [(_rollup_order(r), True, r) for r in fresh]
    ops.sort(key=lambda op: op[:2])  # at one key, the delete first
    for inserting, run in itertools.groupby(ops, key=lambda op: op[1]):
        rows = [op[2] for op in run]
        if inserting:
            db.execute(statements.INSERT_KEYWORDS, rows)
        else:
            db.execute(statements.DELETE_KEYWORD, [{"b_pk": r["pk"]} for r in rows])


def _rollup_order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    at = row["created_at"].astimezone(UTC)
    return row["creator_id"], at.date(), row["keyword"], row["label"], at


def _keywords(message: NewMessage) -> list[dict[str, Any]]:
    return _topics(message.content) if message.role == "user" else []


def _topics(content: str) -> list[dict[str, Any]]:
    return [{"keyword": k.key, "label": k.label} for k in extract_keywords(content)]


def _by_video(row: dict[str, Any]) -> tuple[str, float]:
    return row["video_id"], row["timestamp_seconds"] or 0.0


def _by_keyword(row: dict[str, Any]) -> tuple[str, str]:
    return row["keyword"], row["label"]


def best_similarity(similarities: Iterable[float | None]) -> float | None:
    """The best of a message's reference similarities (None when none is scored)."""
    return max((s for s in similarities if s is not None), default=None)


def _message_values(
    message: NewMessage, message_id: uuid.UUID, cost: int | None, at: datetime
) -> dict[str, Any]:
    """The message's columns, but for those it takes from its session (``_from_session``)."""
    usage = message.usage
    return {
        "id": message_id,
        "session_id": message.session_id,
        "role": message.role,
        "content": message.content,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "embedding_tokens": usage.embedding_tokens,
        "embedding_queries": usage.embedding_queries,
        "model": message.model,
        "embedding_model": usage.embedding_model,
        "cost_nanos": cost,
        "response_time_ms": message.response_time_ms,
        "metadata": message.metadata,
        "idempotency_key": message.idempotency_key,
        "created_at": at,
        "best_similarity": best_similarity(r.similarity for r in message.references),
    }


def _from_session(bumped: Row[Any] | Bumped) -> dict[str, Any]:
    return {
        "creator_id": bumped.creator_id,
        "student_id": bumped.student_id,
        "seq": bumped.last_seq,
    }


def _owned_row(values: dict[str, Any], *, session: bool = True) -> dict[str, Any]:
    """The columns a reference (or, without ``session``, a keyword) takes from its message."""
    owned = {
        "message_id": values["id"],
        "creator_id": values["creator_id"],
        "created_at": values["created_at"],
    }
    return owned | {"session_id": values["session_id"]} if session else owned


def _reference_rows(message: NewMessage) -> list[dict[str, Any]]:
    return [
        {
            "position": position,
            "video_id": ref.video_id,
            "video_title": ref.video_title,
            "timestamp_seconds": ref.timestamp,
            "chunk_text": ref.chunk_text,
            "similarity": ref.similarity,
        }
        for position, ref in enumerate(message.references)
    ]


def _written_model(message: NewMessage, values: dict[str, Any]) -> ChatMessage:
    # The values just written are the row: no need to read it back.
    references = [VideoReference(**ref.model_dump()) for ref in message.references]
    return message_from_row(SimpleNamespace(**values, edited_at=None), references)


def _by_idempotency_key(db: Connection, message: NewMessage) -> ChatMessage | None:
    row = (
        db.execute(
            select(chat_messages).where(
                M.session_id == message.session_id, M.idempotency_key == message.idempotency_key
            )
        )
    ).one_or_none()
    if row is None:
        return None
    if row.role != message.role or row.content != message.content:
        raise IdempotencyConflict(
            f"idempotency key {message.idempotency_key!r} was used for a different message"
        )
    return (with_references(db, [row]))[0]


# --- editing ------------------------------------------------------------------------------


def update_message(
    db: Connection,
    message_id: uuid.UUID,
    *,
    content: str | Unset = UNSET,
    metadata: Mapping[str, Any] | Unset | None = UNSET,
    max_content_length: int = DEFAULT_MAX_CONTENT,
) -> ChatMessage:
    """Edit a message: the old content is kept as a revision and ``edited_at`` is set."""
    row = fetch_message_row(db, message_id)
    if not isinstance(content, Unset):
        # The session's row first, as a new message or a delete takes it, then this message's
        # and the topics' rollup rows: writers to one session wait for each other, never
        # deadlock. Then the message as it stands once they are done (its revision is that).
        fetch_session_row(db, row.session_id, for_update=True)
        row = fetch_message_row(db, message_id)
    values: dict[str, Any] = {}
    if not isinstance(metadata, Unset):
        values["metadata"] = check_metadata("metadata", metadata)
    if not isinstance(content, Unset) and content != row.content:
        values["content"] = check_text("content", content, max_length=max_content_length)
        now = now_utc()
        values["edited_at"] = now
        db.execute(
            message_revisions.insert().values(
                message_id=row.id, content=row.content, replaced_at=now
            )
        )
    if not values:
        return get_message(db, row.id)
    db.execute(update(chat_messages).where(M.id == row.id).values(values))
    if "content" in values and row.role == "user":
        stale = [
            dict(r) for r in db.execute(statements.KEYWORDS_OF, {"b_message_id": row.id}).mappings()
        ]
        fresh = keyword_rows(row.id, row.creator_id, row.created_at, values["content"])
        rewrite_keywords(db, stale, fresh)
        _refresh_session_summary(db, row.session_id)
    return get_message(db, row.id)


def get_revisions(db: Connection, message_id: uuid.UUID) -> list[Revision]:
    """The message's earlier contents, oldest first."""
    row = fetch_message_row(db, message_id)
    query = (
        select(message_revisions.c.content, message_revisions.c.replaced_at)
        .where(message_revisions.c.message_id == row.id)
        .order_by(message_revisions.c.pk)
    )
    return [Revision(content=c, replaced_at=t) for c, t in db.execute(query).all()]


def delete_message(db: Connection, message_id: uuid.UUID) -> None:
    """Delete a message and its references; the session's counters stay exact."""
    row = fetch_message_row(db, message_id)
    fetch_session_row(db, row.session_id, for_update=True)
    if db.execute(delete(chat_messages).where(M.id == row.id)).rowcount == 0:
        # Deleted by another call while this one waited for the session: counted down once.
        raise MessageNotFound(message_id)
    tokens = Usage(
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.cache_write_tokens,
        row.embedding_tokens,
    ).total_tokens
    db.execute(
        update(chat_sessions)
        .where(S.id == row.session_id)
        .values(
            message_count=S.message_count - 1,
            total_tokens=S.total_tokens - tokens,
            total_cost_nanos=S.total_cost_nanos - (row.cost_nanos or 0),
            unpriced_message_count=S.unpriced_message_count - (1 if row.cost_nanos is None else 0),
            updated_at=now_utc(),
        )
    )
    _refresh_session_summary(db, row.session_id)


def _refresh_session_summary(db: Connection, session_id: uuid.UUID) -> None:
    """Recompute the preview and last activity from the remaining messages (one session)."""
    first_user = (
        select(func.substr(M.content, 1, PREVIEW_LENGTH))
        .where(M.session_id == session_id, M.role == "user")
        .order_by(M.seq)
        .limit(1)
        .scalar_subquery()
    )
    last = select(func.max(M.created_at)).where(M.session_id == session_id).scalar_subquery()
    db.execute(
        update(chat_sessions)
        .where(S.id == session_id)
        .values(preview=first_user, last_message_at=func.coalesce(last, S.created_at))
    )
