"""Session routes: list, search, create, get-or-create, read, update, archive, delete, title."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from chronos_chat.api.deps import Caller, Store, require, visible_session
from chronos_chat.api.schemas import SessionCreate, SessionUpdate, Title
from chronos_chat.errors import InvalidInput
from chronos_chat.models import ChatSession, ChatSessionListItem, Page
from chronos_chat.session_lists import SortBy, SortOrder
from chronos_chat.sessions import UNSET

router = APIRouter(prefix="/api/chat", tags=["sessions"])
SessionId = Annotated[uuid.UUID, Query(description="The session (as in the seed's routes).")]
Hard = Annotated[bool, Query(description="Delete for good, with every message (the service only).")]


@router.get("/sessions", response_model=Page[ChatSessionListItem])
async def list_sessions(
    store: Store,
    caller: Caller,
    student_id: Annotated[
        str | None, Query(max_length=128, description="One student's sessions (a student: own).")
    ] = None,
    creator_id: Annotated[
        str | None, Query(max_length=128, description="One creator's sessions (a creator: own).")
    ] = None,
    search: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1000,
            description="Full-text search of titles and messages: only matching sessions, "
            "best first, each with a snippet (sort_by and sort_order are then ignored).",
        ),
    ] = None,
    from_date: Annotated[
        datetime | None, Query(description="Created at or after (with a time zone).")
    ] = None,
    to_date: Annotated[
        datetime | None, Query(description="Created at or before (with a time zone).")
    ] = None,
    has_title: Annotated[
        bool | None, Query(description="Only titled (true) or untitled (false) sessions.")
    ] = None,
    min_messages: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="At least this many messages.")
    ] = None,
    video_id: Annotated[
        list[str] | None,
        Query(description="Sessions about any of these videos (context or cited); repeatable."),
    ] = None,
    archived: Annotated[
        bool, Query(description="Archived sessions instead of active ones.")
    ] = False,
    page: Annotated[int, Query(ge=1, description="Page number, from 1.")] = 1,
    limit: Annotated[int, Query(ge=1, le=100, description="Sessions per page.")] = 20,
    sort_by: Annotated[SortBy, Query(description="The order of the list.")] = "last_message_at",
    sort_order: Annotated[
        SortOrder, Query(description="Ascending (asc) or descending (desc).")
    ] = "desc",
) -> Page[ChatSessionListItem]:
    """A page of the caller's sessions (a student's own, a creator's own, any for the service)."""
    if caller.role == "student":
        require(student_id in (None, caller.sub), "students list their own sessions only")
        student_id = caller.sub
    elif caller.role == "creator":
        require(creator_id in (None, caller.creator_id), "creators list their own sessions only")
        creator_id = caller.creator_id
    filters: dict[str, Any] = {
        "student_id": student_id,
        "creator_id": creator_id,
        "from_date": from_date,
        "to_date": to_date,
        "has_title": has_title,
        "min_messages": min_messages,
        "video_ids": video_id,
        "archived": archived,
        "page": page,
        "limit": limit,
    }
    if search is not None:
        return await store.search_sessions(search, **filters)
    return await store.list_sessions(**filters, sort_by=sort_by, sort_order=sort_order)


@router.post("/sessions", response_model=ChatSession, status_code=201)
async def create_session(
    body: SessionCreate, store: Store, caller: Caller, response: Response
) -> ChatSession:
    """Start a session (201), or with ``reuse_recent`` return the active one (200)."""
    require(caller.role != "creator", "creators cannot start sessions")
    require(
        caller.role == "service" or body.student_id == caller.sub,
        "students start their own sessions only",
    )
    if body.reuse_recent:
        session, created = await store.get_or_create_session_ex(
            body.student_id, body.creator_id, body.context_video_ids
        )
        response.status_code = 201 if created else 200
        return session
    return await store.create_session(
        student_id=body.student_id,
        creator_id=body.creator_id,
        title=body.title,
        context_video_ids=body.context_video_ids,
        metadata=body.metadata,
    )


async def _update(
    store: Store, caller: Caller, session_id: uuid.UUID, body: SessionUpdate
) -> ChatSession:
    await visible_session(store, caller, session_id)
    require(caller.role != "creator", "creators cannot change sessions")
    given = body.model_fields_set
    require(
        caller.role == "service" or given <= {"title"}, "students may only rename their sessions"
    )
    return await store.update_session(
        session_id,
        title=body.title if "title" in given else UNSET,
        context_video_ids=body.context_video_ids or [] if "context_video_ids" in given else UNSET,
        metadata=body.metadata or {} if "metadata" in given else UNSET,
    )


@router.patch("/sessions", response_model=ChatSession)
async def update_session_by_query(
    id: SessionId, body: SessionUpdate, store: Store, caller: Caller
) -> ChatSession:
    """Rename a session or change its videos or metadata (``?id=``, as the seed)."""
    return await _update(store, caller, id, body)


@router.patch("/sessions/{session_id}", response_model=ChatSession)
async def update_session(
    session_id: uuid.UUID, body: SessionUpdate, store: Store, caller: Caller
) -> ChatSession:
    """Rename a session or change its videos or metadata."""
    return await _update(store, caller, session_id, body)


async def _delete(store: Store, caller: Caller, session_id: uuid.UUID, hard: bool) -> Response:
    await visible_session(store, caller, session_id)
    require(caller.role != "creator", "creators cannot archive sessions")
    if hard:
        require(caller.role == "service", "only the service deletes permanently")
        await store.delete_session(session_id)
        return Response(status_code=204)
    archived = await store.archive_session(session_id)
    return Response(archived.model_dump_json(), media_type="application/json")


@router.delete("/sessions", response_model=ChatSession, responses={204: {"description": "Deleted"}})
async def delete_session_by_query(
    id: SessionId, store: Store, caller: Caller, hard: Hard = False
) -> Response:
    """Archive a session (``?id=``, as the seed); ``hard=true`` deletes it for good (service)."""
    return await _delete(store, caller, id, hard)


@router.delete(
    "/sessions/{session_id}",
    response_model=ChatSession,
    responses={204: {"description": "Deleted"}},
)
async def delete_session(
    session_id: uuid.UUID, store: Store, caller: Caller, hard: Hard = False
) -> Response:
    """Archive a session; ``hard=true`` deletes it and its messages for good (service)."""
    return await _delete(store, caller, session_id, hard)


@router.get("/sessions/{session_id}")
async def get_session(
    session_id: uuid.UUID,
    store: Store,
    caller: Caller,
    messages: Annotated[bool, Query(description="Include the messages.")] = False,
    analytics: Annotated[
        bool, Query(description="Include the session's analytics (not for students).")
    ] = False,
) -> dict[str, Any]:
    """A session; ``messages=true`` adds its messages, ``analytics=true`` its analytics."""
    session = await visible_session(store, caller, session_id)
    if messages:
        session = await store.get_session(session_id, include_messages=True)
    body: dict[str, Any] = session.model_dump(mode="json", exclude_none=not messages)
    if analytics:
        require(caller.role != "student", "students have no analytics")
        body["analytics"] = (await store.get_session_analytics(session_id)).model_dump(mode="json")
    return body


@router.post("/sessions/{session_id}/title", response_model=Title)
async def generate_title(session_id: uuid.UUID, store: Store, caller: Caller) -> Title:
    """Title the session from its first student message."""
    await visible_session(store, caller, session_id)
    require(caller.role != "creator", "creators cannot rename sessions")
    first = await store.get_messages(session_id, limit=1, role="user")
    if not first:
        raise InvalidInput("session_id", "the session has no student message to title it from")
    return Title(title=await store.generate_and_set_title(session_id, first[0].content))
