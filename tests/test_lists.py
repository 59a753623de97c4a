"""Session lists, filters, pagination and full-text search, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronos_chat import ChatStore, InvalidInput
from tests.factories import make_exchange, make_session, reference

NOW = datetime.now(UTC)


async def test_list_item_carries_summary_without_messages(store: ChatStore) -> None:
    session = await make_session(store, title="OAuth", context_video_ids=["v1", "v2"])
    await make_exchange(store, session, question="Q" * 150)
    page = await store.list_sessions(student_id="student-1")
    assert page.total == 1 and page.total_pages == 1
    item = page.data[0]
    assert item.id == session.id
    assert item.message_count == 2
    assert item.preview == "Q" * 100
    assert item.video_count == 2
    assert item.last_message_at > session.created_at
    found = await store.search_sessions("OAuth", student_id="student-1")
    assert [(i.id, i.video_count) for i in found.data] == [(session.id, 2)]


async def test_pagination_and_sorting(store: ChatStore) -> None:
    for i in range(7):
        await make_session(store, title=f"t{i}", created_at=NOW - timedelta(hours=i))
    first = await store.list_sessions(student_id="student-1", limit=3)
    assert (first.total, first.total_pages, len(first.data)) == (7, 3, 3)
    assert [s.title for s in first.data] == ["t0", "t1", "t2"]
    last = await store.list_sessions(student_id="student-1", limit=3, page=3)
    assert [s.title for s in last.data] == ["t6"]
    beyond = await store.list_sessions(student_id="student-1", limit=3, page=9)
    assert beyond.data == [] and beyond.total == 7
    # A page number whose offset no database integer holds is just past the end.
    huge = 2**62
    far = await store.list_sessions(student_id="student-1", limit=100, page=huge)
    assert far.data == [] and far.total == 7 and far.page == huge
    found = await store.search_sessions("t1", student_id="student-1", limit=100, page=huge)
    assert found.data == [] and found.total == 1
    oldest_first = await store.list_sessions(
        student_id="student-1", sort_by="created_at", sort_order="asc", limit=2
    )
    assert [s.title for s in oldest_first.data] == ["t6", "t5"]
    by_title = await store.list_sessions(sort_by="title", sort_order="desc", limit=1)
    assert by_title.data[0].title == "t6"


@pytest.mark.parametrize("sort_by", ["last_message_at", "created_at", "message_count", "title"])
@pytest.mark.parametrize("sort_order", ["desc", "asc"])
@pytest.mark.parametrize("narrowed", [False, True], ids=["owner", "narrowed"])
async def test_every_page_in_order_from_either_end(
    store: ChatStore, sort_by: str, sort_order: str, narrowed: bool
) -> None:
    # Pages past the middle are read backwards from the end; ties (equal times and counts)
    # must still fall on the same pages in the same order as a single page of everything.
    # One owner's list and a narrowed one take different statements on PostgreSQL.
    for i in range(11):
        session = await make_session(
            store, title=f"t{i % 4}", created_at=NOW - timedelta(hours=i % 3)
        )
        for _ in range(i % 2):
            await make_exchange(store, session)
    listing: dict[str, Any] = {
        "student_id": "student-1",
        "sort_by": sort_by,
        "sort_order": sort_order,
    }
    if narrowed:
        listing["from_date"] = NOW - timedelta(days=1)  # every session, through a filter
    everything = [s.id for s in (await store.list_sessions(**listing, limit=100)).data]
    for limit in (2, 3, 4, 11):
        pages = [
            await store.list_sessions(**listing, limit=limit, page=p) for p in (1, 2, 3, 4, 5, 6)
        ]
        assert [s.id for page in pages for s in page.data] == everything
        assert {page.total for page in pages} == {11}


async def test_filters(store: ChatStore) -> None:
    old = await make_session(store, title="old", created_at=NOW - timedelta(days=10))
    busy = await make_session(store, context_video_ids=["ctx-video"])
    await make_exchange(store, busy, references=[reference("cited-video")])
    other = await make_session(store, student_id="student-2", creator_id="creator-2")

    async def ids(**filters: object) -> set[object]:
        page = await store.list_sessions(**filters)  # type: ignore[arg-type]
        assert page.total == len(page.data)  # the total counts what the filters let through
        return {s.id for s in page.data}

    assert await ids(student_id="student-1") == {old.id, busy.id}
    assert await ids(creator_id="creator-2") == {other.id}
    assert await ids(from_date=NOW - timedelta(days=1)) == {busy.id, other.id}
    assert await ids(to_date=NOW - timedelta(days=1)) == {old.id}
    assert await ids(has_title=True) == {old.id}
    assert await ids(has_title=False) == {busy.id, other.id}
    assert await ids(min_messages=2) == {busy.id}
    assert await ids(video_ids=["ctx-video"]) == {busy.id}
    assert await ids(video_ids=["cited-video", "nothing"]) == {busy.id}
    assert await ids(video_ids=["nothing"]) == set()


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("limit", {"limit": 101}),
        ("limit", {"limit": 0}),
        ("page", {"page": 0}),
        ("sort_by", {"sort_by": "content"}),
        ("sort_order", {"sort_order": "up"}),
        ("from_date", {"from_date": datetime(2026, 1, 1)}),  # noqa: DTZ001
        ("min_messages", {"min_messages": -1}),
        ("min_messages", {"min_messages": 2**63}),  # more than any count a database holds
    ],
)
async def test_bad_list_arguments(store: ChatStore, field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as info:
        await store.list_sessions(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


async def test_search_returns_only_matching_sessions_ranked_with_snippets(store: ChatStore) -> None:
    oauth = await make_session(store)
    await make_exchange(store, oauth, question="How do I refresh an OAuth token?")
    twice = await make_session(store)
    await make_exchange(
        store, twice, question="OAuth scopes and OAuth consent", answer="OAuth OAuth explained"
    )
    unrelated = await make_session(store)
    await make_exchange(store, unrelated, question="What is a closure in JavaScript?")
    titled = await make_session(store, title="Deploying with OAuth")

    page = await store.search_sessions("oauth", student_id="student-1")
    found = [s.id for s in page.data]
    assert set(found) == {oauth.id, twice.id, titled.id}
    assert unrelated.id not in found
    assert page.total == 3
    by_id = {s.id: s for s in page.data}
    assert (
        "[OAuth]" in (by_id[oauth.id].snippet or "")
        or "[oauth]" in (by_id[oauth.id].snippet or "").lower()
    )
    assert by_id[titled.id].snippet


async def test_search_matches_word_forms_and_all_words(store: ChatStore) -> None:
    session = await make_session(store)
    await make_exchange(store, session, question="Which React hooks run on every render?")
    assert (await store.search_sessions("hook")).total == 1
    assert (await store.search_sessions("react hook")).total == 1
    assert (await store.search_sessions("react angular")).total == 0


async def test_search_respects_filters_and_archive(store: ChatStore) -> None:
    mine = await make_session(store)
    await make_exchange(store, mine, question="Tell me about webhooks")
    theirs = await make_session(store, student_id="student-2")
    await make_exchange(store, theirs, question="Tell me about webhooks")
    assert {
        s.id for s in (await store.search_sessions("webhooks", student_id="student-1")).data
    } == {mine.id}
    await store.archive_session(mine.id)
    assert (await store.search_sessions("webhooks", student_id="student-1")).total == 0
    assert (
        await store.search_sessions("webhooks", student_id="student-1", archived=True)
    ).total == 1


@pytest.mark.parametrize("query", ['"unbalanced', "AND OR NOT", "col:umn*", "(x", "c++ & | !"])
async def test_search_treats_operators_as_words(store: ChatStore, query: str) -> None:
    session = await make_session(store)
    await make_exchange(store, session)
    page = await store.search_sessions(query)
    assert page.total >= 0


async def test_empty_search_query_is_invalid(store: ChatStore) -> None:
    with pytest.raises(InvalidInput):
        await store.search_sessions("   ")


async def test_session_count(store: ChatStore) -> None:
    await make_session(store)
    await make_session(store, creator_id="creator-2")
    archived = await make_session(store)
    await store.archive_session(archived.id)
    assert await store.get_session_count("student-1") == 2
    assert await store.get_session_count("student-1", creator_id="creator-2") == 1
    assert await store.get_session_count("nobody") == 0
