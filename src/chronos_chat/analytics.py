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

Creator figures read the rollups kept on write (``rollups``): whole quarter hours or UTC days
from there, the partial ones at a period's ends from the raw rows, so every figure is exact
and a call reads thousands of rows, not the period's messages.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Connection,
    Float,
    Select,
    Subquery,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
    union_all,
)
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
from chronos_chat.rollups import DAY, QUARTER_HOUR, split
from chronos_chat.schema import (
    chat_messages,
    chat_sessions,
    message_keywords,
    rollup_activity,
    rollup_moments,
    rollup_student_days,
    rollup_student_quarters,
    rollup_topics,
    rollup_video_sessions,
    rollup_videos,
    student_names,
    video_references,
    video_titles,
)
from chronos_chat.sessions import fetch_session_row
from chronos_chat.validation import check_aware, check_external_id, check_text

M, S, R, K, N, T = (
    chat_messages.c,
    chat_sessions.c,
    video_references.c,
    message_keywords.c,
    student_names.c,
    video_titles.c,
)
A, Q, D, V, VS, MO, TO = (
    rollup_activity.c,
    rollup_student_quarters.c,
    rollup_student_days.c,
    rollup_videos.c,
    rollup_video_sessions.c,
    rollup_moments.c,
    rollup_topics.c,
)
ACTIVITY_COLUMNS = (
    "messages",
    "user_messages",
    "tokens",
    "cost_nanos",
    "unpriced_messages",
    "cited_messages",
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


# --- creator -------------------------------------------------------------------------------


Part = Callable[[datetime | None, datetime], Select[Any]]


def _combined(
    rolled: Part, raw: Part, since: datetime | None, until: datetime, step: timedelta
) -> Subquery:
    """Rows of whole buckets from a rollup and of the partial ends from the raw table, as one."""
    parts = split(since, until, step)
    selects = [rolled(*parts.rolled)] if parts.rolled else []
    selects += [raw(low, high) for low, high in parts.raw]
    if len(selects) == 1:
        return selects[0].subquery()
    return union_all(*selects).subquery()


def _activity(creator_id: str, since: datetime | None, until: datetime) -> Subquery:
    """Per quarter hour or raw row: the ``rollup_activity`` counters, at time ``at``."""

    def rolled(low: datetime | None, high: datetime) -> Select[Any]:
        return select(A.bucket_at.label("at"), *(A[c] for c in ACTIVITY_COLUMNS)).where(
            A.creator_id == creator_id, *_between(A.bucket_at, low, high)
        )

    def raw(low: datetime | None, high: datetime) -> Select[Any]:
        message = select(
            M.created_at.label("at"),
            literal(1).label("messages"),
            case((M.role == "user", 1), else_=0).label("user_messages"),
            TOKENS.label("tokens"),
            func.coalesce(M.cost_nanos, 0).label("cost_nanos"),
            case((M.cost_nanos.is_(None), 1), else_=0).label("unpriced_messages"),
            literal(0).label("cited_messages"),
        ).where(M.creator_id == creator_id, *_between(M.created_at, low, high))
        # A message is cited once, by its first reference (as in the rollup).
        cited = select(R.created_at, *(literal(0) for _ in ACTIVITY_COLUMNS[:-1]), literal(1))
        cited = cited.where(
            R.creator_id == creator_id, R.position == 0, *_between(R.created_at, low, high)
        )
        return select(union_all(message, cited).subquery())

    return _combined(rolled, raw, since, until, QUARTER_HOUR)


def _message_totals(activity: Subquery) -> Select[Any]:
    a = activity.c
    return select(
        *(
            func.coalesce(func.sum(column), 0).label(column.name)
            for column in a
            if column.name != "at"
        )
    )


def _session_totals(db: Connection, where: list[ColumnElement[bool]]) -> tuple[Any, float]:
    duration = dialects.minutes_between(db, S.created_at, S.last_message_at)
    with_messages = S.message_count > 0
    totals = db.execute(
        select(
            func.count().label("sessions"),
            func.avg(cast(S.message_count, Float)).label("avg_messages"),
            func.avg(case((with_messages, duration))).label("avg_duration"),
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


def _session_students(db: Connection, where: list[ColumnElement[bool]]) -> Any:
    """How many students started sessions, and how many started more than one."""
    per_student = select(func.count().label("n")).where(*where).group_by(S.student_id).subquery()
    return db.execute(
        select(
            func.count().label("students"),
            func.coalesce(func.sum(case((per_student.c.n > 1, 1), else_=0)), 0).label("repeaters"),
        )
    ).one()


def _students(creator_id: str, since: datetime | None, until: datetime) -> Subquery:
    """Per student: messages and user messages in the period."""

    def rolled(low: datetime | None, high: datetime) -> Select[Any]:
        return select(D.student_id, D.messages, D.user_messages).where(
            D.creator_id == creator_id, *_between(D.day_at, low, high)
        )

    def raw(low: datetime | None, high: datetime) -> Select[Any]:
        return select(
            M.student_id,
            literal(1).label("messages"),
            case((M.role == "user", 1), else_=0).label("user_messages"),
        ).where(M.creator_id == creator_id, *_between(M.created_at, low, high))

    rows = _combined(rolled, raw, since, until, DAY)
    return (
        select(
            rows.c.student_id,
            func.sum(rows.c.messages).label("messages"),
            func.sum(rows.c.user_messages).label("user_messages"),
        )
        .group_by(rows.c.student_id)
        .subquery()
    )


def _student_figures(
    db: Connection, creator_id: str, since: datetime | None, until: datetime
) -> tuple[Any, list[StudentActivity]]:
    """Distinct students and askers, user messages, and the ten most active askers."""
    per = _students(creator_id, since, until).c
    everyone = func.sum(case((per.messages > 0, 1), else_=0)).over()
    askers = func.sum(case((per.user_messages > 0, 1), else_=0)).over()
    rows = db.execute(
        select(
            per.student_id,
            per.user_messages,
            everyone.label("students"),
            askers.label("askers"),
            func.sum(per.user_messages).over().label("user_messages_total"),
        )
        .order_by(per.user_messages.desc(), per.student_id)
        .limit(10)
    ).all()
    top = [r for r in rows if r.user_messages > 0]
    return (rows[0] if rows else None), _active_students(db, creator_id, since, until, top)


def _active_students(
    db: Connection, creator_id: str, since: datetime | None, until: datetime, top: list[Any]
) -> list[StudentActivity]:
    if not top:
        return []
    ids = [r.student_id for r in top]
    sessions: dict[str, int] = dict(
        db.execute(
            select(M.student_id, func.count(distinct(M.session_id)))
            .where(
                M.student_id.in_(ids),
                M.creator_id == creator_id,
                M.role == "user",
                *_between(M.created_at, since, until),
            )
            .group_by(M.student_id)
        ).all()
    )
    names = dict(db.execute(select(N.student_id, N.name).where(N.student_id.in_(ids))).all())
    return [
        StudentActivity(
            student_id=r.student_id,
            student_name=names.get(r.student_id),
            session_count=sessions.get(r.student_id, 0),
            message_count=int(r.user_messages),
        )
        for r in top
    ]


def _videos(
    db: Connection, creator_id: str, since: datetime | None, until: datetime
) -> tuple[list[VideoCount], int]:
    """The ten most cited videos (with their sessions) and how many videos were cited."""

    def rolled(low: datetime | None, high: datetime) -> Select[Any]:
        return select(V.video_id, V.reference_count.label("refs")).where(
            V.creator_id == creator_id, *_between(V.day_at, low, high)
        )

    def raw(low: datetime | None, high: datetime) -> Select[Any]:
        return select(R.video_id, literal(1).label("refs")).where(
            R.creator_id == creator_id, *_between(R.created_at, low, high)
        )

    rows = _combined(rolled, raw, since, until, DAY).c
    refs = func.sum(rows.refs)
    top = db.execute(
        select(rows.video_id, refs.label("refs"), func.count().over().label("videos"))
        .group_by(rows.video_id)
        .having(refs > 0)
        .order_by(refs.desc(), rows.video_id)
        .limit(10)
    ).all()
    if not top:
        return [], 0
    ids = [r.video_id for r in top]
    titles = dict(
        db.execute(
            select(T.video_id, T.title).where(T.creator_id == creator_id, T.video_id.in_(ids))
        ).all()
    )
    sessions = _video_sessions(db, creator_id, ids, since, until)
    videos = [
        VideoCount(
            video_id=r.video_id,
            video_title=titles.get(r.video_id),
            reference_count=int(r.refs),
            unique_sessions=sessions.get(r.video_id, 0),
        )
        for r in top
    ]
    return videos, int(top[0].videos)


def _video_sessions(
    db: Connection, creator_id: str, ids: list[str], since: datetime | None, until: datetime
) -> dict[str, int]:
    """Per video: the period's sessions (created in it) that cited the video."""

    def rolled(low: datetime | None, high: datetime) -> Select[Any]:
        return select(VS.video_id, VS.sessions).where(
            VS.creator_id == creator_id, VS.video_id.in_(ids), *_between(VS.day_at, low, high)
        )

    def raw(low: datetime | None, high: datetime) -> Select[Any]:
        return (
            select(R.video_id, func.count(distinct(R.session_id)).label("sessions"))
            .join(chat_sessions, S.id == R.session_id)
            .where(
                S.creator_id == creator_id, R.video_id.in_(ids), *_between(S.created_at, low, high)
            )
            .group_by(R.video_id)
        )

    rows = _combined(rolled, raw, since, until, DAY).c
    query = select(rows.video_id, func.sum(rows.sessions)).group_by(rows.video_id)
    return {video: int(n) for video, n in db.execute(query).all()}


def _moments(
    db: Connection,
    creator_id: str,
    since: datetime | None,
    until: datetime,
    videos: list[VideoCount],
) -> list[VideoMoments]:
    if not videos:
        return []
    ids = [v.video_id for v in videos]

    def rolled(low: datetime | None, high: datetime) -> Select[Any]:
        return select(MO.video_id, MO.minute, MO.reference_count.label("refs")).where(
            MO.creator_id == creator_id, MO.video_id.in_(ids), *_between(MO.day_at, low, high)
        )

    def raw(low: datetime | None, high: datetime) -> Select[Any]:
        return select(
            R.video_id,
            dialects.whole_minutes(db, R.timestamp_seconds).label("minute"),
            literal(1).label("refs"),
        ).where(
            R.creator_id == creator_id,
            R.video_id.in_(ids),
            R.timestamp_seconds.is_not(None),
            *_between(R.created_at, low, high),
        )

    rows = _combined(rolled, raw, since, until, DAY).c
    refs = func.sum(rows.refs)
    query = (
        select(rows.video_id, rows.minute, refs.label("refs"))
        .group_by(rows.video_id, rows.minute)
        .having(refs > 0)
    )
    by_video: dict[str, list[CitedMoment]] = defaultdict(list)
    for row in db.execute(query):
        by_video[row.video_id].append(
            CitedMoment(minute=int(row.minute), reference_count=int(row.refs))
        )
    return [
        VideoMoments(
            video_id=v.video_id,
            moments=sorted(by_video[v.video_id], key=lambda m: (-m.reference_count, m.minute))[:5],
        )
        for v in videos
    ]


def _topics(
    db: Connection, creator_id: str, since: datetime | None, until: datetime, limit: int = 20
) -> list[TopicCount]:
    def rolled(low: datetime | None, high: datetime) -> Select[Any]:
        return select(TO.keyword, TO.label, TO.mentions).where(
            TO.creator_id == creator_id, *_between(TO.day_at, low, high)
        )

    def raw(low: datetime | None, high: datetime) -> Select[Any]:
        return select(K.keyword, K.label, literal(1).label("mentions")).where(
            K.creator_id == creator_id, *_between(K.created_at, low, high)
        )

    rows = _combined(rolled, raw, since, until, DAY).c
    mentions = func.sum(rows.mentions)
    query = (
        select(
            rows.keyword,
            func.min(case((rows.mentions > 0, rows.label))).label("label"),
            mentions.label("n"),
        )
        .group_by(rows.keyword)
        .having(mentions > 0)
        .order_by(mentions.desc(), rows.keyword)
        .limit(limit)
    )
    return [TopicCount(keyword=r.label, count=int(r.n)) for r in db.execute(query)]


def _first_message_at(db: Connection, creator_id: str) -> datetime | None:
    first: datetime | None = db.execute(
        select(func.min(M.created_at)).where(M.creator_id == creator_id)
    ).scalar()
    return first


def _peak_hours(
    db: Connection, activity: Subquery, tz: ZoneInfo, start: datetime, end: datetime
) -> list[HourCount]:
    a = activity.c
    hour = dialects.local_hour(db, dialects.local_time(db, a.at, tz, start, end))
    n = func.sum(a.messages)
    query = select(hour.label("hour"), n.label("n")).group_by(hour).having(n > 0)
    hours = [HourCount(hour=int(r.hour), message_count=int(r.n)) for r in db.execute(query)]
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
    sessions = [S.creator_id == creator_id, *_between(S.created_at, since, until)]
    activity = _activity(creator_id, since, until)
    totals = db.execute(_message_totals(activity)).one()
    session_totals, median = _session_totals(db, sessions)
    starters = _session_students(db, sessions)
    students, most_active = _student_figures(db, creator_id, since, until)
    videos, cited_videos = _videos(db, creator_id, since, until)
    start = since or _first_message_at(db, creator_id) or until
    return CreatorAnalytics(
        creator_id=creator_id,
        period=period,
        since=since,
        until=until,
        timezone=tz.key,
        total_sessions=int(session_totals.sessions),
        total_messages=int(totals.messages),
        total_students=int(students.students) if students else 0,
        total_tokens=int(totals.tokens),
        total_cost=from_nanos(int(totals.cost_nanos)),
        unpriced_messages=int(totals.unpriced_messages),
        avg_messages_per_session=float(session_totals.avg_messages or 0),
        avg_session_duration_minutes=float(session_totals.avg_duration or 0),
        most_active_students=most_active,
        most_referenced_videos=videos,
        most_cited_moments=_moments(db, creator_id, since, until, videos),
        common_topics=_topics(db, creator_id, since, until),
        peak_usage_hours=_peak_hours(db, activity, tz, start, until),
        engagement=Engagement(
            returning_students=int(starters.repeaters),
            sessions_per_student=_ratio(session_totals.sessions, starters.students),
            messages_per_student=_ratio(
                students.user_messages_total if students else 0,
                students.askers if students else 0,
            ),
            median_session_duration_minutes=median,
            messages_per_video=_ratio(int(totals.cited_messages), cited_videos),
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

    def day_of(column: Any) -> Any:
        return dialects.local_day(db, dialects.local_time(db, column, tz, since, until))

    activity = _activity(creator_id, since, until).c
    day = day_of(activity.at)
    messages = db.execute(
        select(
            day.label("day"),
            func.sum(activity.messages).label("messages"),
            func.sum(activity.tokens).label("tokens"),
            func.sum(activity.cost_nanos).label("cost"),
        ).group_by(day)
    ).all()
    present = _present_students(creator_id, since, until).c
    day = day_of(present.at)
    students = db.execute(select(day, func.count(distinct(present.student_id))).group_by(day)).all()
    duration = dialects.minutes_between(db, S.created_at, S.last_message_at)
    day = day_of(S.created_at)
    sessions = db.execute(
        select(
            day.label("day"),
            func.count().label("sessions"),
            func.avg(case((S.message_count > 0, duration))).label("duration"),
        )
        .where(S.creator_id == creator_id, *_between(S.created_at, since, until))
        .group_by(day)
    ).all()
    by_day_m = {_as_date(r.day): r for r in messages}
    by_day_s = {_as_date(r.day): r for r in sessions}
    by_day_u = {_as_date(day): int(n) for day, n in students}
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
                unique_students=by_day_u.get(day, 0),
                avg_session_duration_minutes=float(s.duration or 0) if s else 0.0,
            )
        )
    return days


def _present_students(creator_id: str, since: datetime, until: datetime) -> Subquery:
    """(time, student) of each quarter hour or message in which a student wrote or was answered."""

    def rolled(low: datetime | None, high: datetime) -> Select[Any]:
        return select(Q.bucket_at.label("at"), Q.student_id).where(
            Q.creator_id == creator_id, Q.messages > 0, *_between(Q.bucket_at, low, high)
        )

    def raw(low: datetime | None, high: datetime) -> Select[Any]:
        return select(M.created_at.label("at"), M.student_id).where(
            M.creator_id == creator_id, *_between(M.created_at, low, high)
        )

    return _combined(rolled, raw, since, until, QUARTER_HOUR)


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
