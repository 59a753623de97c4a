"""Analytics computed by the database, in a fixed number of queries per call.

What a period holds, for every figure of a call:
- message figures count the messages created in [since, until);
- session figures count the sessions created in [since, until), archived ones included (they
  happened); a session's duration is from its creation to its last message, and sessions
  without messages are left out of durations;
- video figures count the references of answers created in [since, until);
- topics count the keywords of students' (user) messages created in [since, until).
A deleted message no longer counts anywhere.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Float, and_, case, cast, distinct, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from chronos_chat import dialects
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
from chronos_chat.errors import InvalidInput
from chronos_chat.money import from_nanos
from chronos_chat.schema import (
    chat_messages,
    chat_sessions,
    message_keywords,
    student_names,
    video_references,
)
from chronos_chat.sessions import fetch_session_row
from chronos_chat.validation import check_aware, check_external_id, check_text

M, S, R, K, N = (
    chat_messages.c,
    chat_sessions.c,
    video_references.c,
    message_keywords.c,
    student_names.c,
)
PERIOD_DAYS: dict[str, int | None] = {"day": 1, "week": 7, "month": 30, "all": None}
TOKENS = (
    M.input_tokens
    + M.output_tokens
    + M.cache_read_tokens
    + M.cache_write_tokens
    + M.embedding_tokens
)


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


def _ratio(numerator: float | int | None, denominator: float | int | None) -> float:
    return float(numerator or 0) / float(denominator) if denominator else 0.0


# --- session -------------------------------------------------------------------------------


def _top_videos(db: Connection, where: list[ColumnElement[bool]], limit: int) -> list[VideoCount]:
    query = (
        select(
            R.video_id,
            func.max(R.video_title).label("title"),
            func.count().label("refs"),
            func.count(distinct(R.session_id)).label("sessions"),
        )
        .where(*where)
        .group_by(R.video_id)
        .order_by(func.count().desc(), R.video_id)
        .limit(limit)
    )
    return [
        VideoCount(
            video_id=r.video_id,
            video_title=r.title,
            reference_count=r.refs,
            unique_sessions=r.sessions,
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
        most_referenced_videos=_top_videos(db, [R.session_id == session.id], 10),
    )


# --- creator -------------------------------------------------------------------------------


def _message_totals(db: Connection, where: list[ColumnElement[bool]]) -> Any:
    return db.execute(
        select(
            func.count().label("messages"),
            func.coalesce(func.sum(TOKENS), 0).label("tokens"),
            func.coalesce(func.sum(M.cost_nanos), 0).label("cost"),
            func.coalesce(func.sum(case((M.cost_nanos.is_(None), 1), else_=0)), 0).label(
                "unpriced"
            ),
            func.count(distinct(M.student_id)).label("students"),
            func.coalesce(func.sum(case((M.role == "user", 1), else_=0)), 0).label("user_messages"),
            func.count(distinct(case((M.role == "user", M.student_id)))).label("askers"),
        ).where(*where)
    ).one()


def _session_totals(db: Connection, where: list[ColumnElement[bool]]) -> tuple[Any, float]:
    duration = dialects.minutes_between(db, S.created_at, S.last_message_at)
    with_messages = S.message_count > 0
    totals = db.execute(
        select(
            func.count().label("sessions"),
            func.avg(cast(S.message_count, Float)).label("avg_messages"),
            func.avg(case((with_messages, duration))).label("avg_duration"),
            func.count(distinct(S.student_id)).label("students"),
            func.sum(case((with_messages, 1), else_=0)).label("timed"),
        ).where(*where)
    ).one()
    timed = int(totals.timed or 0)
    if not timed:
        return totals, 0.0
    middle = (
        select(duration.label("minutes"))
        .where(*where, with_messages)
        .order_by(duration)
        .limit(2 - timed % 2)
        .offset((timed - 1) // 2)
    )
    values = [float(v) for v in db.execute(middle).scalars()]
    return totals, sum(values) / len(values)


def _returning_students(db: Connection, where: list[ColumnElement[bool]]) -> int:
    repeaters = select(S.student_id).where(*where).group_by(S.student_id).having(func.count() > 1)
    return int(db.execute(select(func.count()).select_from(repeaters.subquery())).scalar_one())


def _active_students(db: Connection, where: list[ColumnElement[bool]]) -> list[StudentActivity]:
    query = (
        select(
            M.student_id,
            func.max(N.name).label("name"),
            func.count(distinct(M.session_id)).label("sessions"),
            func.count().label("messages"),
        )
        .join(student_names, N.student_id == M.student_id, isouter=True)
        .where(*where, M.role == "user")
        .group_by(M.student_id)
        .order_by(func.count().desc(), M.student_id)
        .limit(10)
    )
    return [
        StudentActivity(
            student_id=r.student_id,
            student_name=r.name,
            session_count=r.sessions,
            message_count=r.messages,
        )
        for r in db.execute(query)
    ]


def _moments(
    db: Connection, where: list[ColumnElement[bool]], videos: list[VideoCount]
) -> list[VideoMoments]:
    if not videos:
        return []
    minute = dialects.whole_minutes(db, R.timestamp_seconds)
    query = (
        select(R.video_id, minute.label("minute"), func.count().label("refs"))
        .where(
            *where, R.video_id.in_([v.video_id for v in videos]), R.timestamp_seconds.is_not(None)
        )
        .group_by(R.video_id, minute)
    )
    by_video: dict[str, list[CitedMoment]] = defaultdict(list)
    for row in db.execute(query):
        by_video[row.video_id].append(CitedMoment(minute=int(row.minute), reference_count=row.refs))
    return [
        VideoMoments(
            video_id=v.video_id,
            moments=sorted(by_video[v.video_id], key=lambda m: (-m.reference_count, m.minute))[:5],
        )
        for v in videos
    ]


def _topics(db: Connection, where: list[ColumnElement[bool]], limit: int = 20) -> list[TopicCount]:
    query = (
        select(K.keyword, func.min(K.label).label("label"), func.count().label("n"))
        .where(*where)
        .group_by(K.keyword)
        .order_by(func.count().desc(), K.keyword)
        .limit(limit)
    )
    return [TopicCount(keyword=r.label, count=r.n) for r in db.execute(query)]


def _first_message_at(db: Connection, creator_id: str) -> datetime | None:
    first: datetime | None = db.execute(
        select(func.min(M.created_at)).where(M.creator_id == creator_id)
    ).scalar()
    return first


def _peak_hours(
    db: Connection, where: list[ColumnElement[bool]], tz: ZoneInfo, start: datetime, end: datetime
) -> list[HourCount]:
    hour = dialects.local_hour(db, dialects.local_time(db, M.created_at, tz, start, end))
    query = select(hour.label("hour"), func.count().label("n")).where(*where).group_by(hour)
    hours = [HourCount(hour=int(r.hour), message_count=r.n) for r in db.execute(query)]
    return sorted(hours, key=lambda h: (-h.message_count, h.hour))


def creator_analytics(
    db: Connection,
    creator_id: str,
    period: str,
    since: datetime | None,
    until: datetime,
    tz: ZoneInfo,
) -> CreatorAnalytics:
    """A creator's figures over [since, until) (see the module docstring for what counts)."""
    check_external_id("creator_id", creator_id)
    messages = [M.creator_id == creator_id, *_between(M.created_at, since, until)]
    sessions = [S.creator_id == creator_id, *_between(S.created_at, since, until)]
    refs = [R.creator_id == creator_id, *_between(R.created_at, since, until)]
    keywords = [K.creator_id == creator_id, *_between(K.created_at, since, until)]
    totals = _message_totals(db, messages)
    session_totals, median = _session_totals(db, sessions)
    videos = _top_videos(db, refs, 10)
    cited = db.execute(
        select(func.count(distinct(R.message_id)), func.count(distinct(R.video_id))).where(*refs)
    ).one()
    start = since or _first_message_at(db, creator_id) or until
    return CreatorAnalytics(
        creator_id=creator_id,
        period=period,
        since=since,
        until=until,
        timezone=tz.key,
        total_sessions=int(session_totals.sessions),
        total_messages=int(totals.messages),
        total_students=int(totals.students),
        total_tokens=int(totals.tokens),
        total_cost=from_nanos(int(totals.cost)),
        unpriced_messages=int(totals.unpriced),
        avg_messages_per_session=float(session_totals.avg_messages or 0),
        avg_session_duration_minutes=float(session_totals.avg_duration or 0),
        most_active_students=_active_students(db, messages),
        most_referenced_videos=videos,
        most_cited_moments=_moments(db, refs, videos),
        common_topics=_topics(db, keywords),
        peak_usage_hours=_peak_hours(db, messages, tz, start, until),
        engagement=Engagement(
            returning_students=_returning_students(db, sessions),
            sessions_per_student=_ratio(session_totals.sessions, session_totals.students),
            messages_per_student=_ratio(totals.user_messages, totals.askers),
            median_session_duration_minutes=median,
            messages_per_video=_ratio(cited[0], cited[1]),
        ),
    )


# --- daily usage ---------------------------------------------------------------------------


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def usage_metrics(
    db: Connection, creator_id: str, first: date, last: date, tz: ZoneInfo
) -> list[UsageDay]:
    """One row per local day from ``first`` to ``last`` inclusive, days without traffic too."""
    check_external_id("creator_id", creator_id)
    if last < first:
        raise InvalidInput("to_date", "must not be before from_date")
    if (last - first).days > 366:
        raise InvalidInput("to_date", "at most 367 days at once")
    since, until = _local_midnight(first, tz), _local_midnight(last + timedelta(days=1), tz)
    msg_day = dialects.local_day(db, dialects.local_time(db, M.created_at, tz, since, until))
    messages = db.execute(
        select(
            msg_day.label("day"),
            func.count().label("messages"),
            func.coalesce(func.sum(TOKENS), 0).label("tokens"),
            func.coalesce(func.sum(M.cost_nanos), 0).label("cost"),
            func.count(distinct(M.student_id)).label("students"),
        )
        .where(M.creator_id == creator_id, *_between(M.created_at, since, until))
        .group_by(msg_day)
    ).all()
    ses_day = dialects.local_day(db, dialects.local_time(db, S.created_at, tz, since, until))
    duration = dialects.minutes_between(db, S.created_at, S.last_message_at)
    sessions = db.execute(
        select(
            ses_day.label("day"),
            func.count().label("sessions"),
            func.avg(case((S.message_count > 0, duration))).label("duration"),
        )
        .where(S.creator_id == creator_id, *_between(S.created_at, since, until))
        .group_by(ses_day)
    ).all()
    by_day_m = {_as_date(r.day): r for r in messages}
    by_day_s = {_as_date(r.day): r for r in sessions}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        m, s = by_day_m.get(day), by_day_s.get(day)
        days.append(
            UsageDay(
                date=day,
                sessions_created=int(s.sessions) if s else 0,
                messages_sent=int(m.messages) if m else 0,
                tokens_used=int(m.tokens) if m else 0,
                cost_usd=from_nanos(int(m.cost)) if m else Decimal("0E-9"),
                unique_students=int(m.students) if m else 0,
                avg_session_duration_minutes=float(s.duration or 0) if s else 0.0,
            )
        )
    return days


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


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
    best = select(func.max(R.similarity)).where(R.message_id == answer.c.id).scalar_subquery()
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
            func.coalesce(best, literal(-1.0)) < similarity_below,
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
