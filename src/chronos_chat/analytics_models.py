"""The values analytics return (pydantic models); what each period counts is stated in
``chronos_chat.analytics``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from chronos_chat.models import Result


class VideoCount(Result):
    """A video and how often answers cited it."""

    video_id: str
    video_title: str | None
    reference_count: int
    unique_sessions: int = 0


class CitedMoment(Result):
    """A minute of a video and how often answers cited it."""

    minute: int
    reference_count: int


class VideoMoments(Result):
    """The most cited minutes of one of the most referenced videos."""

    video_id: str
    moments: list[CitedMoment]


class StudentActivity(Result):
    """A student's activity with one creator."""

    student_id: str
    student_name: str | None
    session_count: int
    message_count: int


class TopicCount(Result):
    """A topic and how many student messages mention it."""

    keyword: str
    count: int


class HourCount(Result):
    """An hour of the day (in the asked time zone) and its messages."""

    hour: int
    message_count: int


class Engagement(Result):
    """How students come back and use the tutor."""

    returning_students: int
    sessions_per_student: float
    messages_per_student: float
    median_session_duration_minutes: float
    messages_per_video: float


class SessionAnalytics(Result):
    """One session's figures."""

    session_id: uuid.UUID
    duration_minutes: float
    message_count: int
    user_messages: int
    assistant_messages: int
    total_tokens: int
    total_cost: Decimal
    videos_referenced: int
    avg_response_time_ms: float | None
    most_referenced_videos: list[VideoCount]


class CreatorAnalytics(Result):
    """A creator's figures over a period."""

    creator_id: str
    period: str
    since: datetime | None
    until: datetime
    timezone: str
    total_sessions: int
    total_messages: int
    total_students: int
    total_tokens: int
    total_cost: Decimal
    unpriced_messages: int
    avg_messages_per_session: float
    avg_session_duration_minutes: float
    most_active_students: list[StudentActivity]
    most_referenced_videos: list[VideoCount]
    most_cited_moments: list[VideoMoments]
    common_topics: list[TopicCount]
    peak_usage_hours: list[HourCount]
    engagement: Engagement


class UsageDay(Result):
    """One local day of a creator's usage."""

    date: date
    sessions_created: int
    messages_sent: int
    tokens_used: int
    cost_usd: Decimal
    unique_students: int
    avg_session_duration_minutes: float


class ContentGap(Result):
    """A topic students asked about that the course's videos did not answer well."""

    keyword: str
    count: int
    examples: list[str]
