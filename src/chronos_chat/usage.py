"""Token usage as the LLM SDKs report it, normalized to one shape.

Accepts Anthropic's usage (input_tokens, output_tokens, cache_creation_input_tokens,
cache_read_input_tokens), OpenAI's (prompt_tokens, completion_tokens,
prompt_tokens_details.cached_tokens) and our own field names, as objects or dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from chronos_chat.errors import InvalidInput
from chronos_chat.validation import MAX_COUNT

TOKENS_PER_QUERY = 50


class Usage(NamedTuple):
    """Tokens by kind; ``input_tokens`` excludes cached input. (A tuple: cheap to make.)"""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    embedding_tokens: int = 0
    embedding_queries: int = 0
    embedding_model: str | None = None

    @property
    def chat_tokens(self) -> int:
        """Input, output and cache tokens together."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    @property
    def total_tokens(self) -> int:
        """Every token, embeddings included."""
        return self.chat_tokens + self.embedding_tokens

    def plus(self, other: Usage) -> Usage:
        """Both usages together (the embedding model of the first that names one)."""
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.embedding_tokens + other.embedding_tokens,
            self.embedding_queries + other.embedding_queries,
            self.embedding_model or other.embedding_model,
        )


def _get(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _count(source: Any, name: str, field: str) -> int:
    value = _get(source, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{name} must be a whole number, got {value!r}")
    if value < 0:
        raise InvalidInput(field, f"{name} must not be negative")
    if value > MAX_COUNT:
        raise InvalidInput(field, f"{name} must be at most {MAX_COUNT:,}")
    return value


def normalize_usage(usage: Any, field: str = "usage") -> Usage:
    """One ``Usage`` from whatever an SDK returned (or our own dict); None is zero usage."""
    if usage is None:
        return Usage()
    if isinstance(usage, Usage):
        return usage
    if _get(usage, "prompt_tokens") is not None:  # OpenAI: prompt includes cached tokens
        cached = _count(_get(usage, "prompt_tokens_details") or {}, "cached_tokens", field)
        prompt = _count(usage, "prompt_tokens", field)
        if cached > prompt:
            raise InvalidInput(field, "cached_tokens exceeds prompt_tokens")
        input_tokens, output = prompt - cached, _count(usage, "completion_tokens", field)
        cache_read, cache_write = cached, 0
    else:
        input_tokens, output = (
            _count(usage, "input_tokens", field),
            _count(usage, "output_tokens", field),
        )
        cache_read = _count(usage, "cache_read_input_tokens", field) + _count(
            usage, "cache_read_tokens", field
        )
        cache_write = _count(usage, "cache_creation_input_tokens", field) + _count(
            usage, "cache_write_tokens", field
        )
    model = _get(usage, "embedding_model")
    if model is not None and not isinstance(model, str):
        raise InvalidInput(field, "embedding_model must be a string")
    queries = _count(usage, "embedding_queries", field)
    embedding_tokens = _count(usage, "embedding_tokens", field)
    if _get(usage, "embedding_tokens") is None:
        # The seed's estimate when only queries are known: 50 tokens of text each.
        embedding_tokens = queries * TOKENS_PER_QUERY
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        embedding_tokens=embedding_tokens,
        embedding_queries=queries,
        embedding_model=model,
    )
