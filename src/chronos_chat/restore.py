"""Restoring a session from its JSON export, with its ids, messages, references and usage."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from chronos_chat.errors import Conflict, InvalidInput
from chronos_chat.messages import NewMessage, create_message, validate_message
from chronos_chat.models import ChatSession
from chronos_chat.pricing import PriceCatalog
from chronos_chat.schema import chat_messages, chat_sessions
from chronos_chat.sessions import create_session, fetch_session_row, session_from_row
from chronos_chat.statements import in_batches

S, M = chat_sessions.c, chat_messages.c


def import_session(
    db: Connection, document: Mapping[str, Any], catalog: PriceCatalog, max_content_length: int
) -> ChatSession:
    """Restore an exported session with its ids, messages, references and usage.

    Raises InvalidInput for a malformed document, Conflict if the session already exists.
    """
    raw = document["session"]
    try:
        session_id = uuid.UUID(str(raw["id"]))
        created = datetime.fromisoformat(raw["created_at"])
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput("session", f"needs an id and created_at: {exc}") from None
    if db.execute(select(S.id).where(S.id == session_id)).first() is not None:
        raise Conflict(f"chat session {session_id} already exists")
    messages = [
        _imported_message(index, item, session_id, max_content_length)
        for index, item in enumerate(document["messages"])
    ]
    ids = [m.message_id for m in messages]
    if len(set(ids)) < len(ids):
        raise InvalidInput("messages", "two messages have the same id")
    taken: set[Any] = set()
    for batch in in_batches(ids):
        taken.update(db.execute(select(M.id).where(M.id.in_(batch))).scalars())
    if taken:
        first = next(i for i in ids if i in taken)
        raise Conflict(f"chat message {first} already exists (in another session)")
    try:
        return _restore(db, raw, session_id, created, messages, catalog)
    except IntegrityError as exc:  # the same ids imported at the same moment
        raise Conflict(f"chat session {session_id} or one of its messages already exists") from exc


def _restore(
    db: Connection,
    raw: Any,
    session_id: uuid.UUID,
    created: datetime,
    messages: list[NewMessage],
    catalog: PriceCatalog,
) -> ChatSession:
    create_session(
        db,
        student_id=raw.get("student_id"),
        creator_id=raw.get("creator_id"),
        title=raw.get("title"),
        context_video_ids=raw.get("context_video_ids") or (),
        metadata=raw.get("metadata"),
        created_at=created,
        session_id=session_id,
    )
    for message in messages:
        create_message(db, message, catalog)
    if raw.get("archived_at"):
        db.execute(
            update(chat_sessions)
            .where(S.id == session_id)
            .values(archived_at=datetime.fromisoformat(raw["archived_at"]))
        )
    return session_from_row(fetch_session_row(db, session_id))


def _imported_message(
    index: int, item: Any, session_id: uuid.UUID, max_content_length: int
) -> NewMessage:
    try:
        usage = item.get("usage") or {}
        return validate_message(
            session_id=session_id,
            role=item["role"],
            content=item["content"],
            model=item.get("model"),
            usage={k: v for k, v in usage.items() if k != "cost" and v is not None},
            video_references=item.get("video_references") or (),
            response_time_ms=item.get("response_time_ms"),
            metadata=item.get("metadata"),
            created_at=datetime.fromisoformat(item["created_at"]),
            max_content_length=max_content_length,
            message_id=uuid.UUID(str(item["id"])),
        )
    except InvalidInput as exc:
        raise InvalidInput(f"messages[{index}].{exc.field}", exc.reason) from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"messages[{index}]", f"malformed message: {exc}") from None
