"""Costs stored with each message, and their totals per session, student and creator."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from chronos_chat import ChatStore, InvalidInput, cost_reports
from chronos_chat.costs import price_usage
from chronos_chat.schema import chat_messages
from chronos_chat.usage import normalize_usage
from tests.factories import make_session
from tests.test_analytics import build

NOW = datetime.now(UTC)
USAGES = [
    ({"input_tokens": 1200, "output_tokens": 300}, "claude-haiku-4-5"),
    (
        {"input_tokens": 5000, "output_tokens": 900, "cache_read_input_tokens": 4000},
        "claude-3-5-sonnet-20241022",
    ),
    (
        {
            "prompt_tokens": 700,
            "completion_tokens": 40,
            "prompt_tokens_details": {"cached_tokens": 200},
        },
        "claude-3-5-haiku-20241022",
    ),
    (
        {
            "input_tokens": 10,
            "output_tokens": 10,
            "embedding_tokens": 37,
            "embedding_model": "text-embedding-3-large",
        },
        None,
    ),
    ({"output_tokens": 123, "embedding_queries": 2}, "claude-haiku-4-5"),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_totals_are_exact_sums_whatever_the_write_order(store: ChatStore, seed: int) -> None:
    plan = [(student, usage, model) for student in ("s1", "s2") for usage, model in USAGES]
    random.Random(seed).shuffle(plan)
    sessions = {s: await make_session(store, student_id=s) for s in ("s1", "s2")}
    expected: dict[str, Decimal] = {"s1": Decimal(0), "s2": Decimal(0)}
    for student, usage, model in plan:
        message = await store.create_message(
            session_id=sessions[student].id, role="assistant", content="a", usage=usage, model=model
        )
        exact = price_usage(normalize_usage(usage), model, at=message.created_at).total_cost
        assert message.usage.cost == exact
        expected[student] += exact
    for student, session in sessions.items():
        assert (await store.get_session(session.id)).total_cost == expected[student]
        summary = await store.get_cost_summary(student_id=student)
        assert summary.total_cost == expected[student]
        assert summary.message_count == len(USAGES)
    creator = await store.get_cost_summary(creator_id="creator-1")
    assert creator.total_cost == expected["s1"] + expected["s2"]
    assert sum(m.total_cost for m in creator.by_model) == creator.total_cost
    by_model = {m.model: m for m in creator.by_model}
    assert by_model["claude-3-5-sonnet-20241022"].cache_read_tokens == 8000


async def test_cost_summary_scopes_by_time_and_counts_unpriced(store: ChatStore) -> None:
    session = await make_session(store)
    await store.create_message(
        session_id=session.id,
        role="assistant",
        content="old",
        token_count=1000,
        created_at=NOW - timedelta(days=10),
    )
    await store.create_message(
        session_id=session.id,
        role="assistant",
        content="mystery",
        token_count=1000,
        model="llama-9",
    )
    recent = await store.get_cost_summary(creator_id="creator-1", since=NOW - timedelta(days=1))
    assert recent.message_count == 1
    assert recent.unpriced_message_count == 1
    assert recent.total_cost == 0
    everything = await store.get_cost_summary(session_id=session.id)
    assert everything.total_cost == Decimal("0.005")  # 1000 output tokens at $5/M
    with pytest.raises(InvalidInput):
        await store.get_cost_summary(since=datetime(2026, 1, 1))  # noqa: DTZ001


async def test_cost_projection_uses_real_days_with_zeros(store: ChatStore) -> None:
    session = await make_session(store, created_at=NOW - timedelta(days=6))
    for days_ago in (5, 2):
        await store.create_message(
            session_id=session.id,
            role="assistant",
            content="a",
            token_count=200_000,
            created_at=NOW - timedelta(days=days_ago),
        )
    projection = await store.get_cost_projection("creator-1", days=30)
    assert projection.days_observed == 6  # from the first message's day to today
    assert projection.total_cost == Decimal("2")  # 2 x 200k output tokens at $5/M
    assert projection.projected_monthly_cost == (Decimal(2) / 6 * 30).quantize(Decimal("1e-9"))
    assert (await store.get_cost_projection("nobody")).days_observed == 0
    with pytest.raises(InvalidInput):
        await store.get_cost_projection("creator-1", days=0)


async def test_creator_suggestions_reprice_real_tokens(store: ChatStore) -> None:
    session = await make_session(store)
    await store.create_message(
        session_id=session.id,
        role="assistant",
        content="a",
        model="claude-3-5-sonnet-20241022",
        usage={"input_tokens": 1000, "output_tokens": 1_000_000},
    )
    found = await store.get_creator_cost_suggestions("creator-1")
    kinds = {s.type: s for s in found}
    assert set(kinds) == {"prompt", "model"}
    # $15.003 on Sonnet against $5.001 on Haiku 4.5
    assert kinds["model"].estimated_savings_usd == Decimal("10.002")
    assert kinds["prompt"].estimated_savings_usd == Decimal("3.75")


def _raw_summary(creator: str, since: datetime | None, until: datetime | None) -> Any:
    where = cost_reports.scope(creator_id=creator, since=since, until=until)
    return lambda db: cost_reports.cost_summary(db, where)


@pytest.mark.parametrize("seed", [3, 8])
async def test_creator_cost_summary_equals_summing_the_messages(
    store: ChatStore, seed: int
) -> None:
    # Read from the hourly rollup and the raw rows at the ends, after edits and deletes; the
    # messages summed one by one decide. Boundaries on the hour, inside one, open and future.
    await build(store, seed)
    future = await make_session(store, creator_id="creator-1", student_id="later")
    await store.create_message(
        session_id=future.id,
        role="assistant",
        content="backfilled ahead",
        token_count=77,
        model="claude-haiku-4-5",
        created_at=NOW + timedelta(days=3),
    )
    rng = random.Random(seed)
    hour = NOW.replace(minute=0, second=0, microsecond=0)
    points: list[datetime | None] = [None, hour, hour - timedelta(days=2), NOW]
    # At messages' own times (a boundary includes since, excludes until) and just after them,
    # so the partial hours at the ends hold messages.
    times = await store.database.read(
        lambda db: list(db.execute(select(chat_messages.c.created_at)).scalars())
    )
    for at in rng.sample(times, 4):
        points += [at, at + timedelta(microseconds=1)]
    for creator in ("creator-1", "creator-2", "nobody"):
        for since in points:
            for until in points:
                if since is not None and until is not None and until <= since:
                    continue
                expected = await store.database.report(_raw_summary(creator, since, until))
                got = await store.get_cost_summary(creator_id=creator, since=since, until=until)
                assert got == expected, (creator, since, until)
    everything = await store.get_cost_summary(creator_id="creator-1")
    assert everything.message_count > 10
    assert {m.model for m in everything.by_model} >= {None, "claude-haiku-4-5", "mystery-model"}
