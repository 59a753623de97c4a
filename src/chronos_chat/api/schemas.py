"""Request bodies: exactly the fields a client may set (unknown fields are refused, so ids,
owners, costs and archive times can never be written through a body)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chronos_chat.analytics_models import ContentGap, CreatorAnalytics, UsageDay
from chronos_chat.costs import CostProjection, Suggestion
from chronos_chat.models import ChatMessage, VideoReferenceIn
from chronos_chat.validation import MAX_COUNT

Text = Field(min_length=1, max_length=100_000)


class Body(BaseModel):
    """A request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class SessionCreate(Body):
    """A new session (or, with ``reuse_recent``, get-or-create)."""

    student_id: str = Field(min_length=1, max_length=128)
    creator_id: str = Field(min_length=1, max_length=128)
    title: str | None = Field(default=None, max_length=500)
    context_video_ids: list[str] = Field(default_factory=list, max_length=200)
    metadata: dict[str, Any] | None = None
    reuse_recent: bool = False


class SessionUpdate(Body):
    """Fields to change; a field left out is left as it is."""

    title: str | None = Field(default=None, max_length=500)
    context_video_ids: list[str] | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None


class Usage(Body):
    """Token usage in our names, or as the Anthropic and OpenAI SDKs report it."""

    input_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    output_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    cache_read_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    cache_write_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    cache_creation_input_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    cache_read_input_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    prompt_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    completion_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    embedding_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    embedding_queries: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    embedding_model: str | None = Field(default=None, max_length=200)


class MessageCreate(Body):
    """A message to store."""

    role: Literal["user", "assistant", "system"]
    content: str = Text
    token_count: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    model: str | None = Field(default=None, max_length=200)
    video_references: list[VideoReferenceIn] = Field(default_factory=list, max_length=50)
    usage: Usage | None = None
    response_time_ms: int | None = Field(default=None, ge=0, le=86_400_000)
    metadata: dict[str, Any] | None = None


class MessageUpdate(Body):
    """An edit of a message."""

    content: str | None = Field(default=None, min_length=1, max_length=100_000)
    metadata: dict[str, Any] | None = None


class Messages(BaseModel):
    """A session's messages, in the seed's shape."""

    messages: list[ChatMessage]


class Title(BaseModel):
    """A generated title."""

    title: str


class AnalyticsResponse(BaseModel):
    """Creator analytics, with the daily usage, the projection and content gaps when asked."""

    analytics: CreatorAnalytics
    usage: list[UsageDay] | None = None
    cost_projection: CostProjection | None = None
    optimization_suggestions: list[Suggestion] | None = None
    content_gaps: list[ContentGap] | None = None


class StudentForgotten(BaseModel):
    """What erasing a student removed."""

    student_id: str
    deleted_sessions: int


class Health(BaseModel):
    """Liveness or readiness."""

    status: str
