"""A creator's daily usage in a time zone, from the rollups (how they are read: ``rollup_reads``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Select,
    Subquery,
    case,
    distinct,
    func,
    select,
)

from chronos_chat import dialects
from chronos_chat.analytics_models import UsageDay
from chronos_chat.errors import InvalidInput
from chronos_chat.money import from_nanos
from chronos_chat.rollup_reads import (
    M,
    Q,
    S,
    Shape,
    activity_rows,
    between,
    combined,
    cut_period,
    of_creator,
    pairs,
    period_params,
    run,
    sessions_where,
)
from chronos_chat.rollups import QUARTER_HOUR
from chronos_chat.validation import check_external_id

# --- daily usage ---------------------------------------------------------------------------


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _present_students(shape: Shape) -> Subquery:
    """(time, student) of each quarter hour or message in which a student wrote or was answered."""

    def rolled(low: Any, high: Any) -> Select[Any]:
        return select(Q.bucket_at.label("at"), Q.student_id).where(
            of_creator(Q.creator_id), Q.messages > 0, *between(Q.bucket_at, low, high)
        )

    def raw(low: Any, high: Any) -> Select[Any]:
        return select(M.created_at.label("at"), M.student_id).where(
            of_creator(M.creator_id), *between(M.created_at, low, high)
        )

    return combined(rolled, raw, shape)


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
    parts = cut_period(since, until, QUARTER_HOUR)
    zone_key = dialects.local_time_key(db, tz, since, until)

    def day_of(column: Any) -> Any:
        return dialects.local_day(db, column, tz, since, until)

    def activity() -> Select[Any]:
        a = activity_rows(parts.shape).c
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
        return (
            select(
                day.label("day"),
                func.count().label("sessions"),
                func.avg(case((S.message_count > 0, S.duration_minutes))).label("duration"),
            )
            .where(*sessions_where(since))
            .group_by(day)
        )

    params = {"creator": creator_id, **parts.params}
    by_day_m = {
        _as_date(r.day): r for r in run(db, ("usage", parts.shape, zone_key), activity, params)
    }
    present = pairs(run(db, ("present", parts.shape, zone_key), students, params))
    by_day_u = {_as_date(day): int(n) for day, n in present.items()}
    session_params = period_params(creator_id, since, until)
    by_day_s = {
        _as_date(r.day): r for r in run(db, ("usage sessions", zone_key), sessions, session_params)
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
