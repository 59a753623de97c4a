"""Request dependencies: the store, the caller, and the authorization rules in one place.

A student sees only sessions whose student_id is theirs; a creator only sessions and
analytics whose creator_id is theirs; the service sees everything. Another's session is
reported as not found, so its existence is not revealed.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chronos_chat.api.auth import Principal, authenticate
from chronos_chat.api.errors import Forbidden
from chronos_chat.errors import InvalidInput, MessageNotFound, SessionNotFound
from chronos_chat.models import ChatMessage, ChatSession
from chronos_chat.store import ChatStore


async def get_store(request: Request) -> ChatStore:
    """The application's store."""
    # async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a thread
    # hop per request for one attribute read.
    store: ChatStore = request.app.state.store
    return store


# The API docs show a bearer token scheme (and /docs an "Authorize" button); a missing or
# malformed header is ours to answer, as 401 in the API's error format.
_bearer = HTTPBearer(auto_error=False, description="A JWT: `chronos-chat token` prints one.")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller, counted against their rate limit; 401 without a valid token."""
    token = credentials.credentials if credentials is not None else None
    principal = authenticate(request.app.state.settings.jwt_secret, token)
    limiter = request.app.state.rate_limiter
    if limiter is not None:
        await limiter.hit(f"{principal.role}:{principal.sub}")
    return principal


Store = Annotated[ChatStore, Depends(get_store)]
Caller = Annotated[Principal, Depends(get_principal)]


def can_see(principal: Principal, session: ChatSession) -> bool:
    """Whether the caller may know this session exists."""
    if principal.role == "service":
        return True
    if principal.role == "creator":
        return session.creator_id == principal.creator_id
    return session.student_id == principal.sub


async def visible_session(
    store: ChatStore, principal: Principal, session_id: uuid.UUID
) -> ChatSession:
    """The session if the caller may see it; SessionNotFound otherwise (existence not revealed)."""
    session = await store.get_session(session_id)
    if not can_see(principal, session):
        raise SessionNotFound(session_id)
    return session


async def visible_message(
    store: ChatStore, principal: Principal, message_id: uuid.UUID
) -> ChatMessage:
    """The message if the caller may see its session; MessageNotFound otherwise."""
    message = await store.get_message(message_id)
    try:
        await visible_session(store, principal, message.session_id)
    except SessionNotFound:
        raise MessageNotFound(message_id) from None
    return message


def require(condition: bool, why: str) -> None:
    """403 unless ``condition``: the caller sees the data but may not do this."""
    if not condition:
        raise Forbidden(why)


def report_owner(caller: Principal, creator_id: str | None, what: str) -> str | None:
    """Whose report: a creator's own, whatever they ask for; the service's choice; no student's."""
    require(caller.role != "student", f"students have no {what}")
    if caller.role == "creator":
        require(creator_id in (None, caller.creator_id), f"creators see their own {what} only")
        return caller.creator_id
    return creator_id


def required_creator(creator_id: str | None) -> str:
    """The creator a report is about; InvalidInput when nobody was named."""
    if not creator_id:
        raise InvalidInput("creator_id", "is required")
    return creator_id
