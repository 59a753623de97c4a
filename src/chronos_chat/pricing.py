"""The dated price catalog: which model cost what, from when, according to whom.

Pure: reads the shipped JSON file (and, if set, ``CHRONOS_PRICING_FILE``) and answers
questions about it. Prices are Decimal dollars per million tokens.
"""

from __future__ import annotations

import difflib
import json
import os
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from chronos_chat.errors import InvalidInput, UnknownModel

Kind = Literal["chat", "embedding"]
ZERO = Decimal(0)
MILLION = Decimal(1_000_000)
NANOS_PER_TOKEN_PER_MILLION = 1000  # $1 per million tokens is 1,000 nano-dollars a token


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million tokens, in force from ``effective_from`` (UTC midnight)."""

    effective_from: date
    input: Decimal
    output: Decimal = ZERO
    cache_write: Decimal = ZERO
    cache_read: Decimal = ZERO
    source: str = ""
    # Nano-dollars per token (input, output, cache read, cache write): whole numbers for every
    # price quoted to the tenth of a cent per million, so costs add up exactly.
    rates: tuple[int | Decimal, ...] = field(init=False, repr=False, compare=False)
    whole_rates: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        per_token = (self.input, self.output, self.cache_read, self.cache_write)
        object.__setattr__(self, "rates", tuple(_rate(p) for p in per_token))
        object.__setattr__(self, "whole_rates", all(isinstance(r, int) for r in self.rates))


def _rate(per_million: Decimal) -> int | Decimal:
    nanos = per_million * NANOS_PER_TOKEN_PER_MILLION
    return int(nanos) if nanos == nanos.to_integral_value() else nanos


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """A model's identity and its prices over time, oldest first."""

    id: str
    provider: str
    kind: Kind
    prices: tuple[Price, ...]
    aliases: tuple[str, ...] = ()
    _starts: tuple[date, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.prices:
            raise InvalidInput(f"models[{self.id}].prices", "needs at least one price")
        ordered = tuple(sorted(self.prices, key=lambda p: p.effective_from))
        object.__setattr__(self, "prices", ordered)
        object.__setattr__(self, "_starts", tuple(p.effective_from for p in ordered))

    def price_at(self, when: datetime | None = None) -> Price:
        """The price in force at ``when`` (now if None); before the first date, the first."""
        if len(self.prices) == 1:
            return self.prices[0]
        day = (when or datetime.now(UTC)).astimezone(UTC).date()
        return self.prices[max(bisect_right(self._starts, day) - 1, 0)]


class PriceCatalog:
    """Models by id and alias, with the default chat and embedding models."""

    def __init__(
        self,
        models: Iterable[ModelPricing],
        *,
        default_chat_model: str,
        default_embedding_model: str,
    ) -> None:
        self.models: dict[str, ModelPricing] = {m.id: m for m in models}
        self._names: dict[str, ModelPricing] = {}
        self._exact: dict[str, ModelPricing] = {}
        for model in self.models.values():
            for name in (model.id, *model.aliases):
                self._names[name.lower()] = model
                self._exact[name] = model
        self.default_chat_model = self.resolve(default_chat_model).id
        self.default_embedding_model = self.resolve(default_embedding_model).id

    def resolve(self, name: str) -> ModelPricing:
        """The model called ``name`` (id or alias, any case); UnknownModel names the closest."""
        found = (
            self._exact.get(name)
            or self._names.get(name.lower())
            or self._names.get(_strip_provider(name))
        )
        if found is None:
            close = difflib.get_close_matches(name.lower(), list(self._names), n=3, cutoff=0.5)
            raise UnknownModel(name, [self._names[c].id for c in close])
        return found

    def with_default_chat_model(self, name: str) -> PriceCatalog:
        """A copy whose default chat model is ``name``."""
        return PriceCatalog(
            self.models.values(),
            default_chat_model=name,
            default_embedding_model=self.default_embedding_model,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: PriceCatalog | None = None) -> PriceCatalog:
        """Parse the catalog format (see ``data/prices.json``); merge over ``base`` if given."""
        models = [_parse_model(i, m) for i, m in enumerate(data.get("models", []))]
        chat = data.get("default_chat_model") or (base and base.default_chat_model)
        embed = data.get("default_embedding_model") or (base and base.default_embedding_model)
        if not chat or not embed:
            raise InvalidInput("default_chat_model", "a catalog needs default models")
        every = [*(base.models.values() if base else ()), *models]
        return cls(every, default_chat_model=chat, default_embedding_model=embed)

    @classmethod
    def from_file(cls, path: str | Path, base: PriceCatalog | None = None) -> PriceCatalog:
        """Read a catalog file (JSON, numbers parsed as Decimal)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, ValueError) as exc:
            raise InvalidInput("pricing_file", f"cannot read {path}: {exc}") from exc
        return cls.from_dict(data, base)


def _strip_provider(name: str) -> str:
    # "anthropic/claude-3-5-haiku-20241022" as LiteLLM and OpenRouter spell it.
    return name.rsplit("/", 1)[-1].lower()


def _decimal(where: str, value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(where, f"not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(where, "must be a non-negative number")
    return amount


def _parse_model(index: int, raw: Mapping[str, Any]) -> ModelPricing:
    where = f"models[{index}]"
    try:
        kind = raw.get("kind", "chat")
        if kind not in ("chat", "embedding"):
            raise InvalidInput(f"{where}.kind", "must be chat or embedding")
        prices = tuple(
            Price(
                effective_from=date.fromisoformat(p["from"]),
                input=_decimal(f"{where}.input", p["input"]),
                output=_decimal(f"{where}.output", p.get("output", 0)),
                cache_write=_decimal(f"{where}.cache_write", p.get("cache_write", 0)),
                cache_read=_decimal(f"{where}.cache_read", p.get("cache_read", 0)),
                source=str(p.get("source", "")),
            )
            for p in raw["prices"]
        )
        return ModelPricing(
            id=str(raw["id"]),
            provider=str(raw.get("provider", "")),
            kind=kind,
            prices=prices,
            aliases=tuple(raw.get("aliases", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(where, f"malformed model entry: {exc}") from exc


def litellm_catalog(data: Mapping[str, Any], *, effective_from: date) -> list[ModelPricing]:
    """Models from LiteLLM's ``model_prices_and_context_window.json`` (per-token prices)."""
    models = []
    for name, entry in data.items():
        if not isinstance(entry, Mapping) or "input_cost_per_token" not in entry:
            continue
        mode = entry.get("mode")
        if mode not in ("chat", "embedding", "completion"):
            continue

        def per_million(key: str, entry: Mapping[str, Any] = entry, name: str = name) -> Decimal:
            return _decimal(f"{name}.{key}", entry.get(key) or 0) * MILLION

        price = Price(
            effective_from=effective_from,
            input=per_million("input_cost_per_token"),
            output=per_million("output_cost_per_token"),
            cache_write=per_million("cache_creation_input_token_cost"),
            cache_read=per_million("cache_read_input_token_cost"),
            source="LiteLLM model_prices_and_context_window.json",
        )
        kind: Kind = "embedding" if mode == "embedding" else "chat"
        provider = str(entry.get("litellm_provider", ""))
        models.append(ModelPricing(id=name, provider=provider, kind=kind, prices=(price,)))
    return models


def import_litellm(
    catalog: PriceCatalog, path: str | Path, *, effective_from: date
) -> PriceCatalog:
    """``catalog`` with LiteLLM's price map merged in; the models we ship keep our prices."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise InvalidInput("litellm_file", f"cannot read {path}: {exc}") from exc
    ours = set(catalog._names)
    extra = [
        m
        for m in litellm_catalog(data, effective_from=effective_from)
        if m.id.lower() not in ours and _strip_provider(m.id) not in ours
    ]
    return PriceCatalog(
        [*catalog.models.values(), *extra],
        default_chat_model=catalog.default_chat_model,
        default_embedding_model=catalog.default_embedding_model,
    )


def catalog_to_dict(catalog: PriceCatalog) -> dict[str, Any]:
    """The catalog in its file format, for ``CHRONOS_PRICING_FILE``."""
    return {
        "version": 1,
        "default_chat_model": catalog.default_chat_model,
        "default_embedding_model": catalog.default_embedding_model,
        "models": [
            {
                "provider": m.provider,
                "kind": m.kind,
                "id": m.id,
                "aliases": list(m.aliases),
                "prices": [
                    {
                        "from": p.effective_from.isoformat(),
                        "input": str(p.input),
                        "output": str(p.output),
                        "cache_write": str(p.cache_write),
                        "cache_read": str(p.cache_read),
                        "source": p.source,
                    }
                    for p in m.prices
                ],
            }
            for m in catalog.models.values()
        ],
    }


@lru_cache(maxsize=1)
def shipped_catalog() -> PriceCatalog:
    """The catalog shipped in the package."""
    raw = (files("chronos_chat") / "data" / "prices.json").read_text(encoding="utf-8")
    return PriceCatalog.from_dict(json.loads(raw, parse_float=Decimal))


def load_catalog(
    path: str | Path | None = None, *, default_chat_model: str | None = None
) -> PriceCatalog:
    """The shipped catalog, extended or overridden by ``path`` or ``CHRONOS_PRICING_FILE``.

    The default chat model is ``default_chat_model``, else ``CHRONOS_DEFAULT_MODEL``, else the
    file's. Raises InvalidInput for an unreadable file, UnknownModel for an unknown default.
    """
    path = path or os.environ.get("CHRONOS_PRICING_FILE")
    default = default_chat_model or os.environ.get("CHRONOS_DEFAULT_MODEL")
    if not path and not default:
        return shipped_catalog()
    catalog = PriceCatalog.from_file(path, shipped_catalog()) if path else shipped_catalog()
    return catalog.with_default_chat_model(default) if default else catalog


__all__ = [
    "ModelPricing",
    "Price",
    "PriceCatalog",
    "catalog_to_dict",
    "import_litellm",
    "litellm_catalog",
    "load_catalog",
    "shipped_catalog",
]
