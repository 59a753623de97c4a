"""Cost optimization suggestions: the seed's five kinds and triggers, with savings computed by
re-pricing the real tokens. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chronos_chat.costs import CostBreakdown, Suggestion, price_usage
from chronos_chat.money import round_dollars
from chronos_chat.pricing import PriceCatalog, load_catalog
from chronos_chat.usage import Usage

PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _share(amount: Decimal, percent: int) -> Decimal:
    return round_dollars(amount * percent / 100)


def _usage(breakdown: CostBreakdown) -> Usage:
    return Usage(
        input_tokens=breakdown.input_tokens,
        output_tokens=breakdown.output_tokens,
        cache_read_tokens=breakdown.cache_read_tokens,
        cache_write_tokens=breakdown.cache_write_tokens,
    )


def _model_suggestion(
    breakdown: CostBreakdown, message_count: int, catalog: PriceCatalog
) -> Suggestion | None:
    default = catalog.default_chat_model
    if breakdown.model is None or breakdown.model == default or message_count >= 100:
        return None
    chat_cost = breakdown.total_cost - breakdown.embedding_cost
    on_default = price_usage(_usage(breakdown), default, catalog=catalog).total_cost
    if on_default >= chat_cost:
        return None
    saved = chat_cost - on_default
    return Suggestion(
        type="model",
        priority="high",
        title=f"Answer with {default}",
        description=(
            f"These {breakdown.input_tokens:,} input and {breakdown.output_tokens:,} output tokens "
            f"cost ${chat_cost} on {breakdown.model}; on {default} they would cost ${on_default}."
        ),
        potential_savings_percent=67,
        estimated_savings_usd=saved,
    )


def get_cost_optimization_suggestions(
    breakdown: CostBreakdown, message_count: int, *, catalog: PriceCatalog | None = None
) -> list[Suggestion]:
    """Ways to spend less for what ``breakdown`` cost over ``message_count`` messages, high first."""
    catalog = catalog or load_catalog()
    found: list[Suggestion] = []
    if breakdown.output_tokens > 2 * breakdown.input_tokens:
        found.append(
            Suggestion(
                type="prompt",
                priority="high",
                title="Ask for shorter answers",
                description="Output tokens are more than twice the input: cap answer length in the prompt.",
                potential_savings_percent=25,
                estimated_savings_usd=_share(breakdown.output_cost, 25),
            )
        )
    model = _model_suggestion(breakdown, message_count, catalog)
    if model is not None:
        found.append(model)
    if breakdown.input_tokens > 5000:
        found.append(_caching(breakdown, catalog))
    if breakdown.embedding_queries > 3:
        found.append(
            Suggestion(
                type="embedding",
                priority="medium",
                title="Cache query embeddings",
                description="More than three embedding queries: reuse embeddings of repeated questions.",
                potential_savings_percent=30,
                estimated_savings_usd=_share(breakdown.embedding_cost, 30),
            )
        )
    if message_count > 50:
        found.append(
            Suggestion(
                type="batching",
                priority="low",
                title="Batch background work",
                description="Over 50 messages: batch titles and summaries (batch APIs cost less).",
                potential_savings_percent=20,
                estimated_savings_usd=_share(breakdown.total_cost, 20),
            )
        )
    return sorted(found, key=lambda s: PRIORITY_ORDER[s.priority])


def _caching(breakdown: CostBreakdown, catalog: PriceCatalog) -> Suggestion:
    # Half the input re-read from the prompt cache: those tokens cost the cache-read price.
    half = breakdown.input_tokens // 2
    model = breakdown.model or catalog.default_chat_model
    as_input = price_usage(Usage(input_tokens=half), model, catalog=catalog).total_cost
    as_cached = price_usage(Usage(cache_read_tokens=half), model, catalog=catalog).total_cost
    return Suggestion(
        type="caching",
        priority="medium",
        title="Cache the prompt's context",
        description="Over 5,000 input tokens: mark the system prompt and retrieved context cacheable.",
        potential_savings_percent=50,
        estimated_savings_usd=as_input - as_cached,
    )


def get_pricing_info(catalog: PriceCatalog | None = None) -> dict[str, Any]:
    """The catalog's current prices per million tokens, by model id, with the defaults."""
    catalog = catalog or load_catalog()
    models = {}
    for model in catalog.models.values():
        price = model.price_at()
        models[model.id] = {
            "provider": model.provider,
            "kind": model.kind,
            "aliases": list(model.aliases),
            "input_per_million": price.input,
            "output_per_million": price.output,
            "cache_write_per_million": price.cache_write,
            "cache_read_per_million": price.cache_read,
            "effective_from": price.effective_from.isoformat(),
            "source": price.source,
        }
    return {
        "default_chat_model": catalog.default_chat_model,
        "default_embedding_model": catalog.default_embedding_model,
        "models": models,
    }
