"""chronos-chat: chat sessions, messages, exact costs and analytics for AI tutors.

from chronos_chat import ChatStore

async with ChatStore("sqlite:///chronos.db") as store:
    session = await store.get_or_create_session("student-1", "creator-1")
"""

from chronos_chat.analytics_models import (
    CitedMoment,
    ContentGap,
    CreatorAnalytics,
    Engagement,
    HourCount,
    SessionAnalytics,
    StudentActivity,
    TopicCount,
    UsageDay,
    VideoCount,
    VideoMoments,
)
from chronos_chat.cost_reports import CostSummary, ModelSpend
from chronos_chat.costs import (
    CostBreakdown,
    CostProjection,
    StudentCost,
    Suggestion,
    calculate_chat_cost,
    calculate_complete_cost,
    calculate_embedding_cost,
    calculate_student_cost,
    estimate_session_cost,
    format_cost,
    project_monthly_cost,
)
from chronos_chat.errors import (
    ChronosError,
    Conflict,
    DatabaseUnavailable,
    IdempotencyConflict,
    InvalidInput,
    MessageNotFound,
    NotFound,
    SessionNotFound,
    UnknownModel,
)
from chronos_chat.models import (
    ChatMessage,
    ChatSession,
    ChatSessionListItem,
    Page,
    Revision,
    TokenUsage,
    VideoReference,
)
from chronos_chat.pricing import PriceCatalog, load_catalog
from chronos_chat.store import ChatStore
from chronos_chat.suggestions import get_cost_optimization_suggestions, get_pricing_info
from chronos_chat.titles import AnthropicTitleGenerator, OfflineTitleGenerator, TitleGenerator

__version__ = "0.1.0"

__all__ = [
    "AnthropicTitleGenerator",
    "ChatMessage",
    "ChatSession",
    "ChatSessionListItem",
    "ChatStore",
    "ChronosError",
    "CitedMoment",
    "Conflict",
    "ContentGap",
    "CostBreakdown",
    "CostProjection",
    "CostSummary",
    "CreatorAnalytics",
    "DatabaseUnavailable",
    "Engagement",
    "HourCount",
    "IdempotencyConflict",
    "InvalidInput",
    "MessageNotFound",
    "ModelSpend",
    "NotFound",
    "OfflineTitleGenerator",
    "Page",
    "PriceCatalog",
    "Revision",
    "SessionAnalytics",
    "SessionNotFound",
    "StudentActivity",
    "StudentCost",
    "Suggestion",
    "TitleGenerator",
    "TokenUsage",
    "TopicCount",
    "UnknownModel",
    "UsageDay",
    "VideoCount",
    "VideoMoments",
    "VideoReference",
    "calculate_chat_cost",
    "calculate_complete_cost",
    "calculate_embedding_cost",
    "calculate_student_cost",
    "estimate_session_cost",
    "format_cost",
    "get_cost_optimization_suggestions",
    "get_pricing_info",
    "load_catalog",
    "project_monthly_cost",
]
