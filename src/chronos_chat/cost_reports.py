"""What was spent, from the stored per-message costs: totals, per model, the monthly projection
(from the daily usage series) and suggestions. Every figure is a database aggregate over indexed columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from chronos_chat.costs import CostProjection, Suggestion, price_usage, project_monthly_cost
from chronos_chat.errors import InvalidInput, UnknownModel
from chronos_chat.models import Result
from chronos_chat.money import from_nanos
from chronos_chat.pricing import PriceCatalog
from chronos_chat.rollup_reads import between, combined, cut_period, of_creator, run
from chronos_chat.rollups import HOUR
from chronos_chat.schema import MODEL_COUNTERS, TOKEN_COLUMNS, chat_messages, rollup_model_hours
from chronos_chat.suggestions import PRIORITY_ORDER, get_cost_optimization_suggestions
from chronos_chat.usage import Usage
from chronos_chat.usage_reports import usage_metrics
from chronos_chat.validation import check_aware, check_external_id

M, MH = chat_messages.c, rollup_model_hours.c


class ModelSpend(Result):
    """What one model's messages used and cost."""

    model: str | None
    message_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    embedding_tokens: int
    embedding_queries: int
    total_cost: Decimal
    unpriced_message_count: int


class CostSummary(Result):
    """Stored costs summed over a scope: exact to the nano-dollar."""

    message_count: int
    total_tokens: int
    total_cost: Decimal
    unpriced_message_count: int
    by_model: list[ModelSpend]


def scope(
    *,
    creator_id: str | None = None,
    student_id: str | None = None,
    session_id: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """Conditions on messages: an owner, a session, and a half-open time range [since, until)."""
    where: list[ColumnElement[bool]] = []
    if creator_id is not None:
        where.append(M.creator_id == check_external_id("creator_id", creator_id))
    if student_id is not None:
        where.append(M.student_id == check_external_id("student_id", student_id))
    if session_id is not None:
        where.append(M.session_id == session_id)
    if check_aware("since", since) is not None:
        where.append(M.created_at >= since)
    if check_aware("until", until) is not None:
        where.append(M.created_at < until)
    return where


def spending(
    db: Connection,
    now: datetime,
    *,
    creator_id: str | None = None,
    student_id: str | None = None,
    session_id: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> CostSummary:
    """The cost summary of a scope (as ``scope`` takes it): a creator's alone from the hourly
    per-model rollup, any narrower one from its messages."""
    if creator_id is not None and student_id is None and session_id is None:
        return creator_cost_summary(db, creator_id, since, until, now)
    where = scope(
        creator_id=creator_id,
        student_id=student_id,
        session_id=session_id,
        since=since,
        until=until,
    )
    return cost_summary(db, where)


def cost_summary(db: Connection, where: Sequence[ColumnElement[bool]]) -> CostSummary:
    """Totals and per-model spend of the messages matching ``where`` (a student's, a session's:
    their messages are few; a creator's alone is ``creator_cost_summary``)."""
    rows = select(M.model, *_message_counters()).where(*where).subquery()
    return _summary(db.execute(_by_model(rows)))


# A period without an end still has one in SQL: past any date a message can carry.
_NO_END = datetime(9999, 1, 1, tzinfo=UTC)


def creator_cost_summary(
    db: Connection, creator_id: str, since: datetime | None, until: datetime | None, now: datetime
) -> CostSummary:
    """What ``cost_summary`` gives for the creator's messages in [since, until), read from the
    hourly per-model rollup and the raw rows of the partial hours at either end."""
    check_external_id("creator_id", creator_id)
    check_aware("since", since)
    check_aware("until", until)
    parts = cut_period(since, until or _NO_END, HOUR, now=now)

    def rolled(low: Any, high: Any) -> Select[Any]:
        counters = (MH[c] for c in MODEL_COUNTERS)
        return select(MH.model, *counters).where(
            of_creator(MH.creator_id), *between(MH.hour_at, low, high)
        )

    def raw(low: Any, high: Any) -> Select[Any]:
        model = func.coalesce(M.model, literal("")).label("model")
        return select(model, *_message_counters()).where(
            of_creator(M.creator_id), *between(M.created_at, low, high)
        )

    def build() -> Select[Any]:
        return _by_model(combined(rolled, raw, parts.shape, MODEL_COUNTERS, ("model",)))

    params = {"creator": creator_id, **parts.params}
    return _summary(run(db, ("model costs", parts.shape), build, params), no_model="")


def _message_counters() -> list[Any]:
    """Each message's contribution to the model counters, as the rollup counts it."""
    return [
        literal(1).label("messages"),
        *(getattr(M, c).label(c) for c in TOKEN_COLUMNS),
        func.coalesce(M.cost_nanos, 0).label("cost_nanos"),
        case((M.cost_nanos.is_(None), 1), else_=0).label("unpriced_messages"),
    ]


def _by_model(rows: Any) -> Select[Any]:
    sums = [func.sum(rows.c[c]).label(c) for c in MODEL_COUNTERS]
    return select(rows.c.model, *sums).group_by(rows.c.model)


def _summary(rows: Any, no_model: str | None = None) -> CostSummary:
    models = [
        ModelSpend(
            model=None if row.model == no_model else row.model,
            message_count=int(row.messages),
            **{c: int(getattr(row, c)) for c in TOKEN_COLUMNS},
            total_cost=from_nanos(int(row.cost_nanos)),
            unpriced_message_count=int(row.unpriced_messages),
        )
        for row in rows
        if row.messages  # a rollup row counted down to nothing
    ]
    models.sort(key=lambda m: (-m.total_cost, m.model or ""))  # the same on every backend
    return CostSummary(
        message_count=sum(m.message_count for m in models),
        total_tokens=sum(
            m.input_tokens
            + m.output_tokens
            + m.cache_read_tokens
            + m.cache_write_tokens
            + m.embedding_tokens
            for m in models
        ),
        total_cost=sum((m.total_cost for m in models), Decimal(0)),
        unpriced_message_count=sum(m.unpriced_message_count for m in models),
        by_model=models,
    )


def cost_projection(db: Connection, creator_id: str, days: int, today: date) -> CostProjection:
    """A month projected from the creator's last ``days`` days (from their first message, if later)."""
    if isinstance(days, bool) or not 1 <= days <= 366:
        raise InvalidInput("days", "must be from 1 to 366")
    first_seen = db.execute(
        select(func.min(M.created_at)).where(*scope(creator_id=creator_id))
    ).scalar()
    if first_seen is None:
        return project_monthly_cost([])
    start = max(today - timedelta(days=days - 1), first_seen.date())
    series = usage_metrics(db, creator_id, start, today, ZoneInfo("UTC"))
    return project_monthly_cost([day.cost_usd for day in series])


def suggestions_for(summary: CostSummary, catalog: PriceCatalog) -> list[Suggestion]:
    """Suggestions for each model's real tokens; same kinds are merged, savings added up."""
    merged: dict[str, Suggestion] = {}
    for spend in summary.by_model:
        usage = Usage(
            input_tokens=spend.input_tokens,
            output_tokens=spend.output_tokens,
            cache_read_tokens=spend.cache_read_tokens,
            cache_write_tokens=spend.cache_write_tokens,
            embedding_tokens=spend.embedding_tokens,
            embedding_queries=spend.embedding_queries,
        )
        try:
            breakdown = price_usage(usage, spend.model, catalog=catalog)
        except UnknownModel:
            continue
        for found in get_cost_optimization_suggestions(
            breakdown, summary.message_count, catalog=catalog
        ):
            key = found.type if found.type != "model" else f"model:{spend.model}"
            if key in merged:
                total = merged[key].estimated_savings_usd + found.estimated_savings_usd
                found = merged[key].model_copy(update={"estimated_savings_usd": total})
            merged[key] = found
    return sorted(
        merged.values(), key=lambda s: (PRIORITY_ORDER[s.priority], -s.estimated_savings_usd)
    )
