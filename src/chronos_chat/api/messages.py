"""Message routes: list, create (with Idempotency-Key), edit, delete."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from chronos_chat import idempotency
from chronos_chat.api.deps import Caller, Store, require, visible_message, visible_session
from chronos_chat.api.schemas import MessageCreate, Messages, MessageUpdate
from chronos_chat.models import ChatMessage
from chronos_chat.sessions import UNSET, now_utc
from chronos_chat.validation import MAX_COUNT

router = APIRouter(prefix="/api/chat", tags=["messages"])


@router.get("/sessions/{session_id}/messages", response_model=Messages)
async def list_messages(
    session_id: uuid.UUID,
    store: Store,
    caller: Caller,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="At most this many (default: all).")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_COUNT, description="Skip this many first.")] = 0,
    role: Annotated[
        str | None,
        Query(pattern="^(user|assistant|system)$", description="Only this role's messages."),
    ] = None,
) -> Messages:
    """The session's messages in order."""
    await visible_session(store, caller, session_id)
    return Messages(
        messages=await store.get_messages(session_id, limit=limit, offset=offset, role=role)
    )


@router.post("/sessions/{session_id}/messages", response_model=ChatMessage, status_code=201)
async def create_message(
    session_id: uuid.UUID,
    body: MessageCreate,
    store: Store,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    """Store a message. With ``Idempotency-Key`` a retry returns the first response."""
    if caller.role == "creator" or (caller.role == "student" and body.role != "user"):
        await visible_session(store, caller, session_id)  # another's session stays a 404
        require(False, "creators write no messages; students post user messages only")
    # Whose session it is, is checked inside the write itself (404 if not the caller's).
    student = caller.sub if caller.role == "student" else None
    if idempotency_key is None:
        return _json(201, await _create(store, session_id, body, student, None))
    scope = idempotency.caller_scope(caller.role, caller.sub)
    digest = hashlib.sha256(f"{session_id}\n{body.model_dump_json()}".encode()).hexdigest()
    replay = await store.database.write(
        idempotency.claim, scope, idempotency_key, digest, now_utc()
    )
    if replay is not None:
        return JSONResponse(
            replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        # The message and the key's stored response commit together.
        created = await _create(store, session_id, body, student, (scope, idempotency_key))
    except BaseException:
        await store.database.write(idempotency.release, scope, idempotency_key)
        raise
    return _json(201, created)


async def _create(
    store: Store,
    session_id: uuid.UUID,
    body: MessageCreate,
    student: str | None,
    request_key: tuple[str, str] | None,
) -> dict[str, object]:
    message = await store.create_message(
        session_id=session_id,
        role=body.role,
        content=body.content,
        token_count=body.token_count,
        model=body.model,
        video_references=body.video_references,
        usage=body.usage.model_dump(exclude_none=True) if body.usage else None,
        response_time_ms=body.response_time_ms,
        metadata=body.metadata,
        session_student_id=student,
        request_key=request_key,
    )
    return message.model_dump(mode="json")


def _json(status: int, body: object) -> JSONResponse:
    return JSONResponse(body, status_code=status)


@router.patch("/messages/{message_id}", response_model=ChatMessage)
async def update_message(
    message_id: uuid.UUID, body: MessageUpdate, store: Store, caller: Caller
) -> ChatMessage:
    """Edit a message (the service only); the previous content is kept as a revision."""
    await visible_message(store, caller, message_id)
    require(caller.role == "service", "only the service edits messages")
    given = body.model_fields_set
    return await store.update_message(
        message_id,
        content=body.content if "content" in given and body.content is not None else UNSET,
        metadata=body.metadata if "metadata" in given else UNSET,
    )


@router.delete("/messages/{message_id}", status_code=204)
async def delete_message(message_id: uuid.UUID, store: Store, caller: Caller) -> Response:
    """Delete a message (the service only); the session's counters stay exact."""
    await visible_message(store, caller, message_id)
    require(caller.role == "service", "only the service deletes messages")
    await store.delete_message(message_id)
    return Response(status_code=204)
