"""Cost math, the price catalog and suggestions: table-driven, golden values, properties."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronos_chat import (
    InvalidInput,
    UnknownModel,
    calculate_chat_cost,
    calculate_complete_cost,
    calculate_embedding_cost,
    calculate_student_cost,
    estimate_session_cost,
    format_cost,
    get_cost_optimization_suggestions,
    get_pricing_info,
    load_catalog,
    project_monthly_cost,
)
from chronos_chat.costs import price_usage
from chronos_chat.pricing import ModelPricing, Price, PriceCatalog, shipped_catalog
from chronos_chat.usage import Usage, normalize_usage

D = Decimal


def test_seed_example_is_exact() -> None:
    cost = calculate_complete_cost(input_tokens=500, output_tokens=800, embedding_queries=1)
    assert cost.model == "claude-haiku-4-5-20251001"
    assert (cost.input_cost, cost.output_cost) == (D("0.0005"), D("0.004"))
    assert cost.embedding_cost == D("0.000001")  # 50 tokens of text-embedding-3-small
    assert cost.total_cost == D("0.004501")
    assert format_cost(cost.total_cost) == "$0.0045"
    assert cost.total_tokens == 1350


@pytest.mark.parametrize(
    ("model", "input_cost", "output_cost", "write", "read"),
    [
        ("claude-haiku-4-5-20251001", "1", "5", "1.25", "0.10"),
        ("claude-haiku-4-5", "1", "5", "1.25", "0.10"),
        ("claude-3-5-haiku-20241022", "0.80", "4", "1.00", "0.08"),
        ("claude-3-5-sonnet-20241022", "3", "15", "3.75", "0.30"),
        ("claude-3-5-sonnet-20240620", "3", "15", "3.75", "0.30"),
        ("anthropic/claude-3-5-sonnet-20241022", "3", "15", "3.75", "0.30"),
    ],
)
def test_catalog_prices_per_million(
    model: str, input_cost: str, output_cost: str, write: str, read: str
) -> None:
    cost = calculate_chat_cost(
        1_000_000, 1_000_000, model, cache_write_tokens=1_000_000, cache_read_tokens=1_000_000
    )
    assert (cost.input_cost, cost.output_cost) == (D(input_cost), D(output_cost))
    assert (cost.cache_write_cost, cost.cache_read_cost) == (D(write), D(read))


@pytest.mark.parametrize(
    ("model", "per_million"),
    [
        ("text-embedding-3-small", "0.02"),
        ("text-embedding-3-large", "0.13"),
        ("text-embedding-ada-002", "0.10"),
    ],
)
def test_embedding_prices(model: str, per_million: str) -> None:
    assert calculate_embedding_cost(1, model, tokens=1_000_000).total_cost == D(per_million)
    assert calculate_embedding_cost(20_000, model).embedding_tokens == 1_000_000


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0", "$0.0000"),
        ("0.00001", "<$0.0001"),
        ("0.0001", "$0.0001"),
        ("0.004501", "$0.0045"),
        ("0.0425", "$0.0425"),
        ("0.99994", "$0.9999"),
        ("1", "$1.00"),
        ("15.67", "$15.67"),
        ("1234.561", "$1,234.56"),
        ("1000000", "$1,000,000.00"),
    ],
)
def test_format_cost(amount: str, shown: str) -> None:
    assert format_cost(D(amount)) == shown


@pytest.mark.parametrize("bad", [D("-0.01"), D("NaN"), D("Infinity")])
def test_format_cost_rejects(bad: Decimal) -> None:
    with pytest.raises(InvalidInput):
        format_cost(bad)


def test_unknown_model_names_closest() -> None:
    with pytest.raises(UnknownModel) as info:
        calculate_chat_cost(1, 1, "claude-haiku-4.5")
    assert "claude-haiku-4-5-20251001" in info.value.suggestions
    with pytest.raises(UnknownModel):
        calculate_embedding_cost(1, "text-embedding-4")


@pytest.mark.parametrize(
    "call",
    [
        lambda: calculate_chat_cost(-1, 0),
        lambda: calculate_chat_cost("10", 0),  # type: ignore[arg-type]
        lambda: calculate_chat_cost(True, 0),
        lambda: calculate_chat_cost(1, 2, cache_read_tokens=1.5),  # type: ignore[arg-type]
        lambda: calculate_complete_cost(input_tokens=-5),
        lambda: calculate_complete_cost(embedding_queries=-1),
        lambda: calculate_embedding_cost(-1),
        lambda: calculate_embedding_cost(1, tokens=-1),
        lambda: estimate_session_cost(-2),
        lambda: project_monthly_cost([], days_in_month=0),
        lambda: normalize_usage({"input_tokens": 1.5}),
        lambda: normalize_usage(
            {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 2}}
        ),
    ],
)
def test_bad_arguments_are_invalid_input(call: object) -> None:
    with pytest.raises(InvalidInput):
        call()  # type: ignore[operator]


def test_prices_are_resolved_by_time() -> None:
    model = ModelPricing(
        id="m",
        provider="p",
        kind="chat",
        prices=(Price(date(2025, 1, 1), D("2"), D("8")), Price(date(2024, 1, 1), D("1"), D("4"))),
    )
    catalog = PriceCatalog(
        [model, *shipped_catalog().models.values()],
        default_chat_model="m",
        default_embedding_model="text-embedding-3-small",
    )
    before = calculate_chat_cost(
        1_000_000, 0, at=datetime(2024, 12, 31, 23, 59, tzinfo=UTC), catalog=catalog
    )
    after = calculate_chat_cost(1_000_000, 0, at=datetime(2025, 1, 1, tzinfo=UTC), catalog=catalog)
    ancient = calculate_chat_cost(
        1_000_000, 0, at=datetime(2020, 1, 1, tzinfo=UTC), catalog=catalog
    )
    assert (before.total_cost, after.total_cost, ancient.total_cost) == (D(1), D(2), D(1))


def test_pricing_file_extends_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = {
        "default_chat_model": "my-model",
        "models": [
            {
                "id": "my-model",
                "kind": "chat",
                "prices": [{"from": "2024-01-01", "input": "2", "output": "3"}],
            },
            {
                "id": "claude-haiku-4-5-20251001",
                "aliases": ["claude-haiku-4-5"],
                "prices": [{"from": "2025-10-15", "input": "0.5", "output": "2.5"}],
            },
        ],
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(custom))
    monkeypatch.setenv("CHRONOS_PRICING_FILE", str(path))
    catalog = load_catalog()
    assert catalog.default_chat_model == "my-model"
    assert calculate_chat_cost(1_000_000, 0, catalog=catalog).total_cost == D(2)
    assert calculate_chat_cost(1_000_000, 0, "claude-haiku-4-5", catalog=catalog).total_cost == D(
        "0.5"
    )
    assert calculate_chat_cost(
        1_000_000, 0, "claude-3-5-haiku-20241022", catalog=catalog
    ).total_cost == D("0.8")
    monkeypatch.setenv("CHRONOS_DEFAULT_MODEL", "claude-3-5-sonnet-20241022")
    assert load_catalog().default_chat_model == "claude-3-5-sonnet-20241022"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"models": [{"id": "x", "prices": [{"from": "2024-01-01", "input": "-1"}]}]}),
    ],
)
def test_bad_pricing_file_is_invalid(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidInput):
        load_catalog(path)


def test_usage_from_sdk_shapes() -> None:
    anthropic = SimpleNamespace(
        input_tokens=10,
        output_tokens=20,
        cache_creation_input_tokens=30,
        cache_read_input_tokens=40,
    )
    assert normalize_usage(anthropic) == Usage(10, 20, 40, 30)
    openai = SimpleNamespace(
        prompt_tokens=100,
        completion_tokens=7,
        prompt_tokens_details=SimpleNamespace(cached_tokens=60),
    )
    assert normalize_usage(openai) == Usage(input_tokens=40, output_tokens=7, cache_read_tokens=60)
    assert normalize_usage({"prompt_tokens": 5, "completion_tokens": 1}) == Usage(5, 1)


def test_estimate_and_projection() -> None:
    estimate = estimate_session_cost(12)  # six exchanges of 500 in / 800 out / one query
    assert estimate.total_cost == 6 * D("0.004501")
    projection = project_monthly_cost([D("1.5"), D("0"), D("3")])
    assert projection.days_observed == 3
    assert projection.average_daily_cost == D("1.5")
    assert projection.projected_monthly_cost == D("45")
    assert project_monthly_cost([]).projected_monthly_cost == 0


def test_student_cost() -> None:
    costs = [calculate_complete_cost(input_tokens=500, output_tokens=800) for _ in range(3)]
    student = calculate_student_cost(costs)
    assert (student.message_count, student.total_cost) == (3, 3 * D("0.004501"))
    assert student.average_cost_per_message == D("0.004501")


def test_suggestions_keep_the_seed_triggers() -> None:
    sonnet = calculate_complete_cost(
        input_tokens=6000,
        output_tokens=20_000,
        embedding_queries=4,
        model="claude-3-5-sonnet-20241022",
    )
    found = get_cost_optimization_suggestions(sonnet, message_count=60)
    assert [s.type for s in found] == ["prompt", "model", "caching", "embedding", "batching"]
    assert [s.potential_savings_percent for s in found] == [25, 67, 50, 30, 20]
    model = found[1]
    # The same tokens on Haiku 4.5: 6000 * $1/M + 20000 * $5/M = $0.106; on Sonnet $0.318.
    assert model.estimated_savings_usd == D("0.318") - D("0.106")
    assert found[0].estimated_savings_usd == D("0.075")  # a quarter of the $0.30 output
    cheap = calculate_complete_cost(input_tokens=1000, output_tokens=500)
    assert get_cost_optimization_suggestions(cheap, message_count=10) == []
    assert [s.type for s in get_cost_optimization_suggestions(sonnet, 100)] == [
        "prompt",
        "caching",
        "embedding",
        "batching",
    ]


def test_pricing_info_lists_defaults_and_sources() -> None:
    info = get_pricing_info()
    assert info["default_chat_model"] == "claude-haiku-4-5-20251001"
    haiku = info["models"]["claude-3-5-haiku-20241022"]
    assert (haiku["input_per_million"], haiku["output_per_million"]) == (D("0.80"), D("4.00"))
    assert all(m["source"] for m in info["models"].values())


tokens = st.integers(min_value=0, max_value=10**9)
usages = st.tuples(tokens, tokens, tokens, tokens, tokens, st.integers(0, 100)).map(
    lambda t: Usage(*t)
)
models = st.sampled_from(sorted(shipped_catalog().models))


@given(
    st.lists(usages, min_size=1, max_size=20),
    st.sampled_from(
        [
            "claude-haiku-4-5",
            "claude-3-5-haiku-20241022",
            "claude-3-5-sonnet-20241022",
            "claude-3-haiku-20240307",
        ]
    ),
)
def test_costs_are_non_negative_additive_and_order_free(parts: list[Usage], model: str) -> None:
    each = [price_usage(u, model).total_cost for u in parts]
    assert all(c >= 0 for c in each)
    total = parts[0]
    for usage in parts[1:]:
        total = total.plus(usage)
    assert sum(each, D(0)) == price_usage(total, model).total_cost
    assert sum(reversed(each), D(0)) == sum(each, D(0))
    assert all(c == c.quantize(D("1e-9")) for c in each)
