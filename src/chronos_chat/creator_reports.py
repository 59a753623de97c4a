"""A creator's analytics and daily usage, read from the rollups (what a period holds: see
``analytics``).

Each figure reads whole buckets from a rollup and the partial buckets at the period's ends from
the raw rows (``rollups.split``). Its statement depends only on the period's shape (which of
those parts there are), so it is built once and run again with bound parameters: building a
SQLAlchemy statement of this size costs about 1 ms, running it about 0.1 ms more than the
driver.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Integer,
    Result,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
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
    CreatorAnalytics,
    Engagement,
    HourCount,
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
from chronos_chat.statements import built_once
from chronos_chat.validation import check_external_id

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
TOKENS = (
    M.input_tokens
    + M.output_tokens
    + M.cache_read_tokens
    + M.cache_write_tokens
    + M.embedding_tokens
)


def ratio(numerator: float | int | None, denominator: float | int | None) -> float:
    """numerator / denominator, 0 when there is nothing to divide by."""
    return float(numerator or 0) / float(denominator) if denominator else 0.0


# --- statements built once per shape -------------------------------------------------------


def _run(
    db: Connection, key: tuple[Any, ...], build: Callable[[], Any], params: dict[str, Any]
) -> Result[Any]:
    """Execute the statement ``build`` makes for ``key`` (made once per dialect and key)."""
    statement = built_once(("creator_reports", db.dialect.name, *key), build)
    return db.execute(statement, params)


def _pairs(result: Result[Any]) -> dict[Any, Any]:
    """A two-column result as a dict."""
    rows: list[tuple[Any, Any]] = [tuple(row) for row in result]
    return dict(rows)


Shape = tuple[bool, bool, int]  # whole buckets?, bounded below?, how many raw ends


class Parts(NamedTuple):
    """A period cut for one bucket width: its shape, and the bounds as parameters."""

    shape: Shape
    params: dict[str, Any]


def _parts(since: datetime | None, until: datetime, step: timedelta) -> Parts:
    cut = split(since, until, step)
    params: dict[str, Any] = {}
    if cut.rolled is not None:
        params["r_lo"], params["r_hi"] = cut.rolled
    for i, (low, high) in enumerate(cut.raw):
        params[f"w{i}_lo"], params[f"w{i}_hi"] = low, high
    bounded = cut.rolled is not None and cut.rolled[0] is not None
    return Parts((cut.rolled is not None, bounded, len(cut.raw)), params)


Part = Callable[[Any, Any], Select[Any]]  # (low, high) as bound parameters; low may be None


def _combined(rolled: Part, raw: Part, shape: Shape) -> Subquery:
    """Rows of whole buckets from a rollup and of the partial ends from the raw table, as one."""
    has_rolled, bounded, ends = shape
    selects = [raw(bindparam(f"w{i}_lo"), bindparam(f"w{i}_hi")) for i in range(ends)]
    if has_rolled:
        selects.append(rolled(bindparam("r_lo") if bounded else None, bindparam("r_hi")))
    return selects[0].subquery() if len(selects) == 1 else union_all(*selects).subquery()


def _between(column: Any, low: Any, high: Any) -> list[ColumnElement[bool]]:
    return [column < high] if low is None else [column >= low, column < high]


def _creator(column: ColumnElement[str]) -> ColumnElement[bool]:
    return column == bindparam("creator")


def _ids(column: ColumnElement[str]) -> ColumnElement[bool]:
    return column.in_(bindparam("ids", expanding=True))


def _session_where(since: datetime | None) -> list[ColumnElement[bool]]:
    low: Any = None if since is None else bindparam("since")
    return [_creator(S.creator_id), *_between(S.created_at, low, bindparam("until"))]


def _period_params(creator_id: str, since: datetime | None, until: datetime) -> dict[str, Any]:
    return {"creator": creator_id, "since": since, "until": until}


# --- creator analytics ---------------------------------------------------------------------


def _activity(shape: Shape) -> Subquery:
    """Per quarter hour or raw row: the ``rollup_activity`` counters, at time ``at``."""

    def rolled(low: Any, high: Any) -> Select[Any]:
        return select(A.bucket_at.label("at"), *(A[c] for c in ACTIVITY_COLUMNS)).where(
            _creator(A.creator_id), *_between(A.bucket_at, low, high)
        )

    def raw(low: Any, high: Any) -> Select[Any]:
        message = select(
            M.created_at.label("at"),
            literal(1).label("messages"),
            case((M.role == "user", 1), else_=0).label("user_messages"),
            TOKENS.label("tokens"),
            func.coalesce(M.cost_nanos, 0).label("cost_nanos"),
            case((M.cost_nanos.is_(None), 1), else_=0).label("unpriced_messages"),
            literal(0).label("cited_messages"),
        ).where(_creator(M.creator_id), *_between(M.created_at, low, high))
        # A message is cited once, by its first reference (as in the rollup).
        cited = select(R.created_at, *(literal(0) for _ in ACTIVITY_COLUMNS[:-1]), literal(1))
        cited = cited.where(
            _creator(R.creator_id), R.position == 0, *_between(R.created_at, low, high)
        )
        return select(union_all(message, cited).subquery())

    return _combined(rolled, raw, shape)


def _activity_by_hour(
    db: Connection,
    creator_id: str,
    since: datetime | None,
    until: datetime,
    tz: ZoneInfo,
    start: datetime,
) -> tuple[dict[str, int], list[HourCount]]:
    """The period's activity counters, and its messages by local hour (busiest first).

    One query: the totals are the sum of the (at most 24) hours.
    """
    parts = _parts(since, until, QUARTER_HOUR)

    def build() -> Select[Any]:
        a = _activity(parts.shape).c
        hour = dialects.local_hour(db, dialects.local_time(db, a.at, tz, start, until))
        sums = (func.sum(a[c]).label(c) for c in ACTIVITY_COLUMNS)
        return select(hour.label("hour"), *sums).group_by(hour)

    key = ("hours", parts.shape, dialects.local_time_key(db, tz, start, until))
    rows = _run(db, key, build, {"creator": creator_id, **parts.params}).all()
    totals = {c: sum(int(r._mapping[c]) for r in rows) for c in ACTIVITY_COLUMNS}
    hours = [HourCount(hour=int(r.hour), message_count=int(r.messages)) for r in rows]
    busiest = [h for h in hours if h.message_count > 0]
    return totals, sorted(busiest, key=lambda h: (-h.message_count, h.hour))


def _session_totals(
    db: Connection, creator_id: str, since: datetime | None, until: datetime
) -> tuple[Any, float]:
    """Sessions, their messages and durations (sum and median), students who started them."""
    duration = dialects.minutes_between(db, S.created_at, S.last_message_at)
    with_messages = S.message_count > 0
    params = _period_params(creator_id, since, until)

    def totals() -> Select[Any]:
        per = (
            select(
                func.count().label("n"),
                func.sum(S.message_count).label("messages"),
                func.sum(case((with_messages, duration))).label("minutes"),
                func.sum(case((with_messages, 1), else_=0)).label("timed"),
            )
            .where(*_session_where(since))
            .group_by(S.student_id)
            .subquery()
            .c
        )
        return select(
            func.coalesce(func.sum(per.n), 0).label("sessions"),
            func.sum(per.messages).label("messages"),
            func.sum(per.minutes).label("minutes"),
            func.coalesce(func.sum(per.timed), 0).label("timed"),
            func.count().label("students"),
            func.coalesce(func.sum(case((per.n > 1, 1), else_=0)), 0).label("repeaters"),
        )

    def middle() -> Select[Any]:
        return (
            select(duration.label("minutes"))
            .where(*_session_where(since), with_messages)
            .order_by(duration)
            .limit(bindparam("count", type_=Integer))
            .offset(bindparam("skip", type_=Integer))
        )

    row = _run(db, ("sessions", since is None), totals, params).one()
    timed = int(row.timed)
    if not timed:
        return row, 0.0
    window = {"count": 2 - timed % 2, "skip": (timed - 1) // 2}
    key = ("median", since is None)
    values = [float(v) for v in _run(db, key, middle, params | window).scalars()]
    return row, sum(values) / len(values)


def _student_figures(
    db: Connection, creator_id: str, since: datetime | None, until: datetime
) -> tuple[Any, list[StudentActivity]]:
    """Distinct students and askers, user messages, and the ten most active askers."""
    parts = _parts(since, until, DAY)

    def build() -> Select[Any]:
        def rolled(low: Any, high: Any) -> Select[Any]:
            return select(D.student_id, D.messages, D.user_messages).where(
                _creator(D.creator_id), *_between(D.day_at, low, high)
            )

        def raw(low: Any, high: Any) -> Select[Any]:
            return select(
                M.student_id,
                literal(1).label("messages"),
                case((M.role == "user", 1), else_=0).label("user_messages"),
            ).where(_creator(M.creator_id), *_between(M.created_at, low, high))

        rows = _combined(rolled, raw, parts.shape).c
        per = (
            select(
                rows.student_id,
                func.sum(rows.messages).label("messages"),
                func.sum(rows.user_messages).label("user_messages"),
            )
            .group_by(rows.student_id)
            .subquery()
            .c
        )
        return (
            select(
                per.student_id,
                per.user_messages,
                func.sum(case((per.messages > 0, 1), else_=0)).over().label("students"),
                func.sum(case((per.user_messages > 0, 1), else_=0)).over().label("askers"),
                func.sum(per.user_messages).over().label("user_messages_total"),
            )
            .order_by(per.user_messages.desc(), per.student_id)
            .limit(10)
        )

    params = {"creator": creator_id, **parts.params}
    rows = _run(db, ("students", parts.shape), build, params).all()
    top = [r for r in rows if r.user_messages > 0]
    return (rows[0] if rows else None), _active_students(db, creator_id, since, until, top)


def _active_students(
    db: Connection, creator_id: str, since: datetime | None, until: datetime, top: list[Any]
) -> list[StudentActivity]:
    if not top:
        return []

    def sessions() -> Select[Any]:
        low: Any = None if since is None else bindparam("since")
        return (
            select(
                M.student_id,
                func.count(distinct(M.session_id)).label("sessions"),
                func.max(N.name).label("name"),
            )
            .join(student_names, N.student_id == M.student_id, isouter=True)
            .where(
                _ids(M.student_id),
                _creator(M.creator_id),
                M.role == "user",
                *_between(M.created_at, low, bindparam("until")),
            )
            .group_by(M.student_id)
        )

    params = _period_params(creator_id, since, until) | {"ids": [r.student_id for r in top]}
    found = _run(db, ("student sessions", since is None), sessions, params)
    details = {row.student_id: row for row in found}
    return [
        StudentActivity(
            student_id=r.student_id,
            student_name=details[r.student_id].name,
            session_count=details[r.student_id].sessions,
            message_count=int(r.user_messages),
        )
        for r in top  # each asked something in the period, so each has a row
    ]


def _videos(
    db: Connection, creator_id: str, since: datetime | None, until: datetime
) -> tuple[list[VideoCount], int]:
    """The ten most cited videos (with their sessions) and how many videos were cited."""
    parts = _parts(since, until, DAY)

    def build() -> Select[Any]:
        def rolled(low: Any, high: Any) -> Select[Any]:
            return select(V.video_id, V.reference_count.label("refs")).where(
                _creator(V.creator_id), *_between(V.day_at, low, high)
            )

        def raw(low: Any, high: Any) -> Select[Any]:
            return select(R.video_id, literal(1).label("refs")).where(
                _creator(R.creator_id), *_between(R.created_at, low, high)
            )

        rows = _combined(rolled, raw, parts.shape).c
        refs = func.sum(rows.refs)
        top = (
            select(rows.video_id, refs.label("refs"), func.count().over().label("videos"))
            .group_by(rows.video_id)
            .having(refs > 0)
            .order_by(refs.desc(), rows.video_id)
            .limit(10)
            .subquery()
        )
        titled = and_(_creator(T.creator_id), T.video_id == top.c.video_id)
        return (
            select(top, T.title)
            .join(video_titles, titled, isouter=True)
            .order_by(top.c.refs.desc(), top.c.video_id)
        )

    params = {"creator": creator_id, **parts.params}
    top = _run(db, ("videos", parts.shape), build, params).all()
    if not top:
        return [], 0
    sessions = _video_sessions(db, parts, params | {"ids": [r.video_id for r in top]})
    videos = [
        VideoCount(
            video_id=r.video_id,
            video_title=r.title,
            reference_count=int(r.refs),
            unique_sessions=sessions.get(r.video_id, 0),
        )
        for r in top
    ]
    return videos, int(top[0].videos)


def _video_sessions(db: Connection, parts: Parts, params: dict[str, Any]) -> dict[str, int]:
    """Per video: the period's sessions (created in it) that cited the video."""

    def build() -> Select[Any]:
        def rolled(low: Any, high: Any) -> Select[Any]:
            return select(VS.video_id, VS.sessions).where(
                _creator(VS.creator_id), _ids(VS.video_id), *_between(VS.day_at, low, high)
            )

        def raw(low: Any, high: Any) -> Select[Any]:
            return (
                select(R.video_id, func.count(distinct(R.session_id)).label("sessions"))
                .join(chat_sessions, S.id == R.session_id)
                .where(_creator(S.creator_id), _ids(R.video_id), *_between(S.created_at, low, high))
                .group_by(R.video_id)
            )

        rows = _combined(rolled, raw, parts.shape).c
        return select(rows.video_id, func.sum(rows.sessions)).group_by(rows.video_id)

    rows = _run(db, ("video sessions", parts.shape), build, params)
    return {video: int(n) for video, n in _pairs(rows).items()}


def _moments(
    db: Connection,
    creator_id: str,
    since: datetime | None,
    until: datetime,
    videos: list[VideoCount],
) -> list[VideoMoments]:
    if not videos:
        return []
    parts = _parts(since, until, DAY)

    def build() -> Select[Any]:
        def rolled(low: Any, high: Any) -> Select[Any]:
            return select(MO.video_id, MO.minute, MO.reference_count.label("refs")).where(
                _creator(MO.creator_id), _ids(MO.video_id), *_between(MO.day_at, low, high)
            )

        def raw(low: Any, high: Any) -> Select[Any]:
            return select(
                R.video_id,
                dialects.whole_minutes(db, R.timestamp_seconds).label("minute"),
                literal(1).label("refs"),
            ).where(
                _creator(R.creator_id),
                _ids(R.video_id),
                R.timestamp_seconds.is_not(None),
                *_between(R.created_at, low, high),
            )

        rows = _combined(rolled, raw, parts.shape).c
        refs = func.sum(rows.refs)
        rank = func.row_number().over(
            partition_by=rows.video_id, order_by=(refs.desc(), rows.minute)
        )
        minutes = (
            select(rows.video_id, rows.minute, refs.label("refs"), rank.label("rank"))
            .group_by(rows.video_id, rows.minute)
            .having(refs > 0)
            .subquery()
            .c
        )
        return (
            select(minutes.video_id, minutes.minute, minutes.refs)
            .where(minutes.rank <= 5)
            .order_by(minutes.video_id, minutes.rank)
        )

    params = {"creator": creator_id, "ids": [v.video_id for v in videos], **parts.params}
    by_video: dict[str, list[CitedMoment]] = defaultdict(list)
    for row in _run(db, ("moments", parts.shape), build, params):
        by_video[row.video_id].append(
            CitedMoment(minute=int(row.minute), reference_count=int(row.refs))
        )
    return [VideoMoments(video_id=v.video_id, moments=by_video[v.video_id]) for v in videos]


def _topics(
    db: Connection, creator_id: str, since: datetime | None, until: datetime
) -> list[TopicCount]:
    parts = _parts(since, until, DAY)

    def build() -> Select[Any]:
        def rolled(low: Any, high: Any) -> Select[Any]:
            return select(TO.keyword, TO.label, TO.mentions).where(
                _creator(TO.creator_id), *_between(TO.day_at, low, high)
            )

        def raw(low: Any, high: Any) -> Select[Any]:
            return select(K.keyword, K.label, literal(1).label("mentions")).where(
                _creator(K.creator_id), *_between(K.created_at, low, high)
            )

        rows = _combined(rolled, raw, parts.shape).c
        mentions = func.sum(rows.mentions)
        return (
            select(
                rows.keyword,
                func.min(case((rows.mentions > 0, rows.label))).label("label"),
                mentions.label("n"),
            )
            .group_by(rows.keyword)
            .having(mentions > 0)
            .order_by(mentions.desc(), rows.keyword)
            .limit(20)
        )

    rows = _run(db, ("topics", parts.shape), build, {"creator": creator_id, **parts.params})
    return [TopicCount(keyword=r.label, count=int(r.n)) for r in rows]


def _first_message_at(db: Connection, creator_id: str) -> datetime | None:
    def build() -> Select[Any]:
        return select(func.min(M.created_at)).where(_creator(M.creator_id))

    first: datetime | None = _run(db, ("first",), build, {"creator": creator_id}).scalar()
    return first


def creator_analytics(
    db: Connection,
    creator_id: str,
    period: str,
    since: datetime | None,
    until: datetime,
    tz: ZoneInfo,
) -> CreatorAnalytics:
    """A creator's figures over [since, until) (see ``analytics`` for what counts)."""
    check_external_id("creator_id", creator_id)
    start = since or _first_message_at(db, creator_id) or until
    totals, hours = _activity_by_hour(db, creator_id, since, until, tz, start)
    sessions, median = _session_totals(db, creator_id, since, until)
    students, most_active = _student_figures(db, creator_id, since, until)
    videos, cited_videos = _videos(db, creator_id, since, until)
    return CreatorAnalytics(
        creator_id=creator_id,
        period=period,
        since=since,
        until=until,
        timezone=tz.key,
        total_sessions=int(sessions.sessions),
        total_messages=totals["messages"],
        total_students=int(students.students) if students else 0,
        total_tokens=totals["tokens"],
        total_cost=from_nanos(totals["cost_nanos"]),
        unpriced_messages=totals["unpriced_messages"],
        avg_messages_per_session=ratio(sessions.messages, sessions.sessions),
        avg_session_duration_minutes=ratio(sessions.minutes, sessions.timed),
        most_active_students=most_active,
        most_referenced_videos=videos,
        most_cited_moments=_moments(db, creator_id, since, until, videos),
        common_topics=_topics(db, creator_id, since, until),
        peak_usage_hours=hours,
        engagement=Engagement(
            returning_students=int(sessions.repeaters),
            sessions_per_student=ratio(sessions.sessions, sessions.students),
            messages_per_student=ratio(
                students.user_messages_total if students else 0,
                students.askers if students else 0,
            ),
            median_session_duration_minutes=median,
            messages_per_video=ratio(totals["cited_messages"], cited_videos),
        ),
    )


# --- daily usage ---------------------------------------------------------------------------


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _present_students(shape: Shape) -> Subquery:
    """(time, student) of each quarter hour or message in which a student wrote or was answered."""

    def rolled(low: Any, high: Any) -> Select[Any]:
        return select(Q.bucket_at.label("at"), Q.student_id).where(
            _creator(Q.creator_id), Q.messages > 0, *_between(Q.bucket_at, low, high)
        )

    def raw(low: Any, high: Any) -> Select[Any]:
        return select(M.created_at.label("at"), M.student_id).where(
            _creator(M.creator_id), *_between(M.created_at, low, high)
        )

    return _combined(rolled, raw, shape)


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
    parts = _parts(since, until, QUARTER_HOUR)
    zone_key = dialects.local_time_key(db, tz, since, until)

    def day_of(column: Any) -> Any:
        return dialects.local_day(db, dialects.local_time(db, column, tz, since, until))

    def activity() -> Select[Any]:
        a = _activity(parts.shape).c
        day = day_of(a.at)
        return select(
            day.label("day"),
            func.sum(a.messages).label("messages"),
            func.sum(a.tokens).label("tokens"),
            func.sum(a.cost_nanos).label("cost"),
        ).group_by(day)

    def students() -> Select[Any]:
        present = _present_students(parts.shape).c
        day = day_of(present.at)
        return select(day, func.count(distinct(present.student_id))).group_by(day)

    def sessions() -> Select[Any]:
        day = day_of(S.created_at)
        duration = dialects.minutes_between(db, S.created_at, S.last_message_at)
        return (
            select(
                day.label("day"),
                func.count().label("sessions"),
                func.avg(case((S.message_count > 0, duration))).label("duration"),
            )
            .where(*_session_where(since))
            .group_by(day)
        )

    params = {"creator": creator_id, **parts.params}
    by_day_m = {
        _as_date(r.day): r for r in _run(db, ("usage", parts.shape, zone_key), activity, params)
    }
    present = _pairs(_run(db, ("present", parts.shape, zone_key), students, params))
    by_day_u = {_as_date(day): int(n) for day, n in present.items()}
    session_params = _period_params(creator_id, since, until)
    by_day_s = {
        _as_date(r.day): r for r in _run(db, ("usage sessions", zone_key), sessions, session_params)
    }
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


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
