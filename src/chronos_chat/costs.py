"""Exact cost math: tokens and a dated price in, ``Decimal`` dollars out. Pure, no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal, NamedTuple

from chronos_chat.errors import InvalidInput
from chronos_chat.models import Result
from chronos_chat.money import from_nanos, round_dollars, round_nanos
from chronos_chat.pricing import PriceCatalog, load_catalog
from chronos_chat.usage import TOKENS_PER_QUERY as DEFAULT_TOKENS_PER_QUERY
from chronos_chat.usage import Usage, normalize_usage


class CostBreakdown(NamedTuple):
    """What a piece of usage cost, by kind, and the models it was priced at.

    Costs are kept as whole nano-dollars and shown as exact ``Decimal`` dollars on access: the
    calculator makes one breakdown per call and most callers read one or two of its figures
    (an immutable tuple, as cheap to make as a value can be).
    """

    model: str | None
    embedding_model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    embedding_queries: int
    embedding_tokens: int
    nanos: tuple[int, int, int, int, int]  # input, output, cache read, cache write, embedding

    @property
    def total_tokens(self) -> int:
        """Chat and embedding tokens together."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.embedding_tokens
        )

    @property
    def input_cost(self) -> Decimal:
        """Dollars for uncached input tokens."""
        return from_nanos(self.nanos[0])

    @property
    def output_cost(self) -> Decimal:
        """Dollars for output tokens."""
        return from_nanos(self.nanos[1])

    @property
    def cache_read_cost(self) -> Decimal:
        """Dollars for input read from the prompt cache."""
        return from_nanos(self.nanos[2])

    @property
    def cache_write_cost(self) -> Decimal:
        """Dollars for input written to the prompt cache."""
        return from_nanos(self.nanos[3])

    @property
    def embedding_cost(self) -> Decimal:
        """Dollars for embedding tokens."""
        return from_nanos(self.nanos[4])

    @property
    def total_nanos(self) -> int:
        """Everything, in whole nano-dollars."""
        return sum(self.nanos)

    @property
    def total_cost(self) -> Decimal:
        """Everything, in dollars."""
        return from_nanos(sum(self.nanos))

    def as_dict(self) -> dict[str, Any]:
        """Every field and figure, for JSON (amounts as Decimal)."""
        return {
            "model": self.model,
            "embedding_model": self.embedding_model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "embedding_queries": self.embedding_queries,
            "embedding_tokens": self.embedding_tokens,
            "total_tokens": self.total_tokens,
            "input_cost": self.input_cost,
            "output_cost": self.output_cost,
            "cache_read_cost": self.cache_read_cost,
            "cache_write_cost": self.cache_write_cost,
            "embedding_cost": self.embedding_cost,
            "total_cost": self.total_cost,
        }


class CostProjection(Result):
    """A month's cost projected from a real daily series."""

    days_observed: int
    total_cost: Decimal
    average_daily_cost: Decimal
    projected_monthly_cost: Decimal


class StudentCost(Result):
    """What a student's messages cost together."""

    message_count: int
    total_cost: Decimal
    average_cost_per_message: Decimal


class Suggestion(Result):
    """A way to spend less, with what it would save."""

    type: Literal["prompt", "model", "caching", "embedding", "batching"]
    priority: Literal["high", "medium", "low"]
    title: str
    description: str
    potential_savings_percent: int
    estimated_savings_usd: Decimal


_CHAT_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _nanos(tokens: int, rate: int | Decimal) -> int:
    if isinstance(rate, int):
        return tokens * rate
    return round_nanos(tokens * rate)


def _catalog(catalog: PriceCatalog | None) -> PriceCatalog:
    return catalog if catalog is not None else load_catalog()


def price_usage(
    usage: Any,
    model: str | None = None,
    *,
    at: datetime | None = None,
    catalog: PriceCatalog | None = None,
) -> CostBreakdown:
    """Price ``usage`` (any SDK's shape) at ``model`` and at the prices in force at ``at``.

    Raises UnknownModel when the chat or embedding model is not in the catalog.
    """
    usage = usage if type(usage) is Usage else normalize_usage(usage)
    catalog = _catalog(catalog)
    rates = catalog.resolve(model or catalog.default_chat_model)
    price = rates.price_at(at)
    r = price.rates
    if price.whole_rates:  # the common case: plain integer arithmetic, nothing to round
        input_cost, output_cost = usage.input_tokens * r[0], usage.output_tokens * r[1]
        read_cost, write_cost = usage.cache_read_tokens * r[2], usage.cache_write_tokens * r[3]
    else:
        input_cost, output_cost = (
            _nanos(usage.input_tokens, r[0]),
            _nanos(usage.output_tokens, r[1]),
        )
        read_cost = _nanos(usage.cache_read_tokens, r[2])
        write_cost = _nanos(usage.cache_write_tokens, r[3])
    embed_tokens = usage.embedding_tokens
    embedding, embed_id = 0, None
    if embed_tokens:
        embed = catalog.resolve(usage.embedding_model or catalog.default_embedding_model)
        embedding, embed_id = _nanos(embed_tokens, embed.price_at(at).rates[0]), embed.id
    return CostBreakdown(
        rates.id,
        embed_id,
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.embedding_queries,
        embed_tokens,
        (input_cost, output_cost, read_cost, write_cost, embedding),
    )


def calculate_chat_cost(
    input_tokens: int,
    output_tokens: int,
    model: str | None = None,
    *,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    at: datetime | None = None,
    catalog: PriceCatalog | None = None,
) -> CostBreakdown:
    """The cost of one LLM call (default model: the catalog's default chat model)."""
    counts = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
    whole = type(input_tokens) is int and type(output_tokens) is int  # the common, fast case
    if (
        not (whole and type(cache_read_tokens) is int and type(cache_write_tokens) is int)
        or min(counts) < 0
    ):
        for field, value in zip(_CHAT_FIELDS, counts, strict=True):
            _check_count(field, value)
    usage = Usage(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
    return price_usage(usage, model, at=at, catalog=catalog)


def calculate_embedding_cost(
    query_count: int,
    model: str | None = None,
    *,
    tokens_per_query: int = DEFAULT_TOKENS_PER_QUERY,
    tokens: int | None = None,
    at: datetime | None = None,
    catalog: PriceCatalog | None = None,
) -> CostBreakdown:
    """The cost of embedding ``query_count`` queries (or exactly ``tokens`` tokens)."""
    _check_count("query_count", query_count)
    _check_count("tokens_per_query", tokens_per_query)
    embedding_tokens = tokens if tokens is not None else query_count * tokens_per_query
    _check_count("tokens", embedding_tokens)
    usage = Usage(
        embedding_queries=query_count, embedding_tokens=embedding_tokens, embedding_model=model
    )
    return price_usage(usage, None, at=at, catalog=catalog)


def calculate_complete_cost(
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    embedding_queries: int = 1,
    model: str | None = None,
    embedding_model: str | None = None,
    embedding_tokens: int | None = None,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    at: datetime | None = None,
    catalog: PriceCatalog | None = None,
) -> CostBreakdown:
    """One RAG exchange: the LLM call plus its embedding queries (50 tokens each by default)."""
    for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        _check_count(name, value)
    _check_count("embedding_queries", embedding_queries)
    usage = normalize_usage(
        {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "embedding_queries": embedding_queries,
            "embedding_tokens": embedding_tokens,
            "embedding_model": embedding_model,
        }
    )
    return price_usage(usage, model, at=at, catalog=catalog)


def estimate_session_cost(
    message_count: int,
    avg_input_tokens: int = 500,
    avg_output_tokens: int = 800,
    model: str | None = None,
    *,
    catalog: PriceCatalog | None = None,
) -> CostBreakdown:
    """A forecast for a session of ``message_count`` messages (one exchange per two).

    Only for planning: stored messages are priced from their real usage.
    """
    _check_count("message_count", message_count)
    exchanges = math.ceil(message_count / 2)
    return calculate_complete_cost(
        input_tokens=exchanges * avg_input_tokens,
        output_tokens=exchanges * avg_output_tokens,
        embedding_queries=exchanges,
        model=model,
        catalog=catalog,
    )


def project_monthly_cost(daily_costs: Sequence[Decimal], days_in_month: int = 30) -> CostProjection:
    """Project a month from a daily cost series (days without traffic must be zeros in it)."""
    if not 1 <= days_in_month <= 31:
        raise InvalidInput("days_in_month", "must be between 1 and 31")
    total = sum(daily_costs, Decimal(0))
    days = len(daily_costs)
    # Each figure is rounded once, from the exact total: never a rounded average times 30.
    average = round_dollars(total / days) if days else Decimal(0)
    projected = round_dollars(total * days_in_month / days) if days else Decimal(0)
    return CostProjection(
        days_observed=days,
        total_cost=total,
        average_daily_cost=average,
        projected_monthly_cost=projected,
    )


def calculate_student_cost(message_costs: Iterable[Decimal | CostBreakdown]) -> StudentCost:
    """A student's total and average cost from their messages' costs."""
    amounts = [c.total_cost if isinstance(c, CostBreakdown) else c for c in message_costs]
    total = sum(amounts, Decimal(0))
    average = round_dollars(total / len(amounts)) if amounts else Decimal(0)
    return StudentCost(
        message_count=len(amounts), total_cost=total, average_cost_per_message=average
    )


def format_cost(amount: Decimal | int | str) -> str:
    """Dollars for people: "$0.0045" under $1, "$1,234.56" from $1, "<$0.0001" for crumbs."""
    value = Decimal(amount)
    if not value.is_finite() or value < 0:
        raise InvalidInput("amount", "must be a non-negative number")
    if value == 0:
        return "$0.0000"
    if value < Decimal("0.0001"):
        return "<$0.0001"
    if value < 1:
        return f"${value.quantize(Decimal('0.0001'), ROUND_HALF_EVEN)}"
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_EVEN):,}"


def _check_count(field: str, value: int) -> None:
    if type(value) is not int or value < 0:  # bool is an int subclass, and not a count
        raise InvalidInput(field, "must be a non-negative whole number")


__all__ = [
    "CostBreakdown",
    "CostProjection",
    "StudentCost",
    "Suggestion",
    "calculate_chat_cost",
    "calculate_complete_cost",
    "calculate_embedding_cost",
    "calculate_student_cost",
    "estimate_session_cost",
    "format_cost",
    "price_usage",
    "project_monthly_cost",
]
