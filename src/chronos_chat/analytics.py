"""Analytics computed by the database, in a fixed number of queries per call.

What a period holds, for every figure of a call:
- message figures count the messages created in [since, until);
- session figures count the sessions created in [since, until), archived ones included (they
  happened); a session's duration is from its creation to its last message, and sessions
  without messages are left out of durations;
- video figures count the references of answers created in [since, until); a video's
  ``unique_sessions`` are the period's sessions (created in it) whose answers cited the video,
  and its title is the one it was last cited with (a directory, like student names);
- topics count the keywords of students' (user) messages created in [since, until).
A deleted message no longer counts anywhere.

Session analytics and content gaps read the raw rows; creator analytics (``creator_reports``)
and daily usage (``usage_reports``) read the rollups kept on write, with the raw rows of the
partial buckets at a period's ends, so every figure is exact.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, and_, case, distinct, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from chronos_chat.analytics_models import ContentGap, SessionAnalytics, VideoCount
from chronos_chat.errors import InvalidInput
from chronos_chat.money import from_nanos
from chronos_chat.schema import chat_messages, message_keywords, video_references, video_titles
from chronos_chat.sessions import fetch_session_row
from chronos_chat.validation import check_aware, check_external_id, check_text

M, R, K, T = chat_messages.c, video_references.c, message_keywords.c, video_titles.c
PERIOD_DAYS: dict[str, int | None] = {"day": 1, "week": 7, "month": 30, "all": None}


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone called ``tz``; InvalidInput if there is none."""
    try:
        return ZoneInfo(check_text("tz", tz, max_length=64))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("tz", f"unknown time zone {tz!r}") from exc


def resolve_period(
    period: str, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime | None, datetime]:
    """[since, until) for a named rolling period (1, 7, 30 days or all) or an explicit range."""
    if period not in PERIOD_DAYS:
        raise InvalidInput("period", "must be day, week, month or all")
    check_aware("since", since)
    check_aware("until", until)
    end = until or now
    if since is None and until is None:
        days = PERIOD_DAYS[period]
        since = None if days is None else end - timedelta(days=days)
    if since is not None and since >= end:
        raise InvalidInput("since", "must be before until")
    return since, end


def _between(column: Any, since: datetime | None, until: datetime) -> list[ColumnElement[bool]]:
    where = [column < until]
    if since is not None:
        where.append(column >= since)
    return where


# --- session -------------------------------------------------------------------------------


def _session_videos(db: Connection, session: Any) -> list[VideoCount]:
    """The session's ten most cited videos, titled as in the creator's directory."""
    titled = and_(T.creator_id == R.creator_id, T.video_id == R.video_id)
    query = (
        select(R.video_id, func.max(T.title).label("title"), func.count().label("refs"))
        .join(video_titles, titled, isouter=True)
        .where(R.session_id == session.id)
        .group_by(R.video_id)
        .order_by(func.count().desc(), R.video_id)
        .limit(10)
    )
    return [
        VideoCount(
            video_id=r.video_id, video_title=r.title, reference_count=r.refs, unique_sessions=1
        )
        for r in db.execute(query)
    ]


def session_analytics(db: Connection, session_id: uuid.UUID) -> SessionAnalytics:
    """Figures of one session; raises SessionNotFound."""
    session = fetch_session_row(db, session_id)
    roles = select(
        func.sum(case((M.role == "user", 1), else_=0)).label("user"),
        func.sum(case((M.role == "assistant", 1), else_=0)).label("assistant"),
        func.avg(case((M.role == "assistant", M.response_time_ms))).label("response"),
    ).where(M.session_id == session.id)
    counts = db.execute(roles).one()
    videos = db.execute(
        select(func.count(distinct(R.video_id))).where(R.session_id == session.id)
    ).scalar_one()
    minutes = (session.last_message_at - session.created_at).total_seconds() / 60
    return SessionAnalytics(
        session_id=session.id,
        duration_minutes=round(minutes, 2) if session.message_count else 0.0,
        message_count=session.message_count,
        user_messages=int(counts.user or 0),
        assistant_messages=int(counts.assistant or 0),
        total_tokens=session.total_tokens,
        total_cost=from_nanos(session.total_cost_nanos),
        videos_referenced=int(videos),
        avg_response_time_ms=None if counts.response is None else float(counts.response),
        most_referenced_videos=_session_videos(db, session),
    )


# --- content gaps --------------------------------------------------------------------------


def content_gaps(
    db: Connection,
    creator_id: str,
    since: datetime | None,
    until: datetime,
    similarity_below: float,
) -> list[ContentGap]:
    """Questions whose answer cited no video, or only chunks below the threshold, by topic."""
    check_external_id("creator_id", creator_id)
    if not 0 <= similarity_below <= 1:
        raise InvalidInput("similarity_below", "must be between 0 and 1")
    question, answer = chat_messages.alias("question"), chat_messages.alias("answer")
    weak = (
        select(question.c.id, question.c.content)
        .join(
            answer,
            and_(answer.c.session_id == question.c.session_id, answer.c.seq == question.c.seq + 1),
        )
        .where(
            question.c.creator_id == creator_id,
            question.c.role == "user",
            answer.c.role == "assistant",
            *_between(question.c.created_at, since, until),
            func.coalesce(answer.c.best_similarity, literal(-1.0)) < similarity_below,
        )
        .subquery("weak")
    )
    query = (
        select(
            K.keyword,
            func.min(K.label).label("label"),
            func.count().label("n"),
            func.min(weak.c.content).label("example"),
            func.max(weak.c.content).label("other"),
        )
        .join(weak, weak.c.id == K.message_id)
        .group_by(K.keyword)
        .order_by(func.count().desc(), K.keyword)
        .limit(20)
    )
    return [
        ContentGap(keyword=r.label, count=r.n, examples=list(dict.fromkeys([r.example, r.other])))
        for r in db.execute(query)
    ]
