"""The values the library returns and the inputs it validates (pydantic models)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["user", "assistant", "system"]
ROLES: tuple[Role, ...] = ("user", "assistant", "system")

T = TypeVar("T")


def reject_nul(value: str) -> str:
    """Refuse NUL characters, which PostgreSQL cannot store in text."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class Result(BaseModel):
    """Base of returned values: immutable, serializable with ``model_dump(mode="json")``."""

    model_config = ConfigDict(frozen=True)


class VideoReference(Result):
    """A video chunk an answer cites."""

    video_id: str
    video_title: str | None = None
    timestamp: float | None = None
    chunk_text: str | None = None
    similarity: float | None = None


class TokenUsage(Result):
    """The tokens a message used and what they cost (None when the model is unpriced)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    embedding_tokens: int = 0
    embedding_queries: int = 0
    embedding_model: str | None = None
    cost: Decimal | None = Decimal(0)

    @property
    def total_tokens(self) -> int:
        """Every chat and embedding token together."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.embedding_tokens
        )


class ChatMessage(Result):
    """A stored message with its references and usage."""

    id: UUID
    session_id: UUID
    seq: int
    role: Role
    content: str
    token_count: int
    model: str | None
    usage: TokenUsage
    response_time_ms: int | None
    metadata: dict[str, Any]
    video_references: list[VideoReference]
    created_at: datetime
    edited_at: datetime | None


class ChatSession(Result):
    """A chat session with its counters (and its messages when asked for)."""

    id: UUID
    student_id: str
    creator_id: str
    title: str | None
    context_video_ids: list[str]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime
    archived_at: datetime | None
    message_count: int
    total_tokens: int
    total_cost: Decimal
    unpriced_message_count: int
    messages: list[ChatMessage] | None = None

    @property
    def is_archived(self) -> bool:
        """Whether the session is archived (soft-deleted)."""
        return self.archived_at is not None


class ChatSessionListItem(Result):
    """A row of a session list: what a sidebar shows, without loading messages."""

    id: UUID
    student_id: str
    creator_id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime
    archived_at: datetime | None
    message_count: int
    preview: str | None
    video_count: int
    snippet: str | None = None


class Page(Result, Generic[T]):
    """One page of results and where it sits in the whole."""

    data: list[T]
    total: int
    page: int
    limit: int
    total_pages: int


class Revision(Result):
    """An earlier content of an edited message."""

    content: str
    replaced_at: datetime


# --- inputs -------------------------------------------------------------------------------


class Input(BaseModel):
    """Base of validated inputs: unknown fields and NUL characters are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class VideoReferenceIn(Input):
    """A video reference as callers pass it."""

    video_id: str = Field(min_length=1, max_length=128)
    video_title: str | None = Field(default=None, max_length=1000)
    timestamp: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    chunk_text: str | None = Field(default=None, max_length=100_000)
    similarity: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)

    _no_nul = field_validator("video_id", "video_title", "chunk_text")(
        lambda v: v if v is None else reject_nul(v)
    )
