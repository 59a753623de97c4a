"""Messages: writes with references, usage and counters; reads, edits, deletes; bad input."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import Connection

from chronos_chat import (
    ChatStore,
    IdempotencyConflict,
    InvalidInput,
    MessageNotFound,
    SessionNotFound,
    messages,
)
from chronos_chat.sessions import now_utc
from tests.factories import (
    held_open,
    make_exchange,
    make_question,
    make_session,
    reference,
    until_waiting_on_a_lock,
)


async def test_create_message_stores_references_usage_and_counters(store: ChatStore) -> None:
    session = await make_session(store)
    user, assistant = await make_exchange(
        store, session, references=[reference("v1"), reference("v2", similarity=0.5)]
    )
    assert user.usage.input_tokens == 150 and user.role == "user"
    assert [r.video_id for r in assistant.video_references] == ["v1", "v2"]
    messages = await store.get_messages(session.id)
    assert [m.id for m in messages] == [user.id, assistant.id]
    assert messages[1].video_references == assistant.video_references
    assert messages[1].video_references[0].timestamp == 120
    fresh = await store.get_session(session.id)
    assert fresh.message_count == 2 == await store.get_message_count(session.id)
    assert fresh.total_tokens == 150 + 500 + 800
    assert fresh.total_cost == user.usage.cost + assistant.usage.cost  # type: ignore[operator]
    assert fresh.last_message_at == assistant.created_at


async def test_seed_example_prices_token_count_by_role(store: ChatStore) -> None:
    session = await store.get_or_create_session("student", "creator", ["v1", "v2"])
    user = await store.create_message(
        session_id=session.id, role="user", content="How do I set up OAuth?", token_count=150
    )
    assistant = await store.create_message(
        session_id=session.id,
        role="assistant",
        content="Here are the steps...",
        token_count=850,
        model="claude-3-5-haiku-20241022",
        video_references=[reference("v1")],
    )
    assert user.usage.cost == Decimal("0.000150000")  # 150 input tokens of Haiku 4.5 at $1/M
    assert assistant.usage.cost == Decimal("0.003400000")  # 850 output tokens at $4/M
    assert (await store.get_session(session.id)).total_cost == Decimal("0.003550000")


async def test_messages_keep_order_with_equal_timestamps(store: ChatStore) -> None:
    session = await make_session(store)
    when = datetime(2026, 5, 1, tzinfo=UTC)
    for i in range(12):
        await store.create_message(
            session_id=session.id, role="user", content=f"m{i}", created_at=when
        )
    assert [m.content for m in await store.get_messages(session.id)] == [f"m{i}" for i in range(12)]
    assert [m.seq for m in await store.get_messages(session.id)] == list(range(1, 13))


async def test_idempotent_retry_returns_first_message_and_writes_nothing(store: ChatStore) -> None:
    session = await make_session(store)
    kwargs: dict[str, Any] = {
        "session_id": session.id,
        "role": "assistant",
        "content": "answer",
        "token_count": 10,
        "video_references": [reference()],
        "idempotency_key": "req-1",
    }
    first = await store.create_message(**kwargs)
    retry = await store.create_message(**kwargs)
    assert retry == first
    fresh = await store.get_session(session.id)
    assert fresh.message_count == 1 and fresh.total_tokens == 10
    with pytest.raises(IdempotencyConflict):
        await store.create_message(**(kwargs | {"content": "another answer"}))
    assert (await store.get_session(session.id)).message_count == 1


async def test_get_messages_window_and_role(store: ChatStore) -> None:
    session = await make_session(store)
    for i in range(3):
        await make_exchange(store, session, question=f"q{i}", answer=f"a{i}")
    assert [m.content for m in await store.get_messages(session.id, limit=2, offset=1)] == [
        "a0",
        "q1",
    ]
    assert [m.content for m in await store.get_messages(session.id, role="user")] == [
        "q0",
        "q1",
        "q2",
    ]
    # Every combination of window and role (each is a statement of its own).
    assert [m.content for m in await store.get_messages(session.id, offset=4)] == ["q2", "a2"]
    answers = await store.get_messages(session.id, role="assistant", limit=1, offset=1)
    assert [(m.content, len(m.video_references)) for m in answers] == [("a1", 1)]
    assert [m.content for m in await store.get_messages(session.id, limit=1)] == ["q0"]
    assert await store.count_messages_by_role(session.id) == {
        "user": 3,
        "assistant": 3,
        "system": 0,
    }
    with pytest.raises(SessionNotFound):
        await store.get_messages(uuid.uuid4())


async def test_conversation_history_is_the_last_n_in_order(store: ChatStore) -> None:
    session = await make_session(store)
    for i in range(3):
        await make_exchange(store, session, question=f"q{i}", answer=f"a{i}")
    assert await store.get_conversation_history(session.id, 3) == [
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
    ]
    assert len(await store.get_conversation_history(session.id)) == 6


async def test_messages_with_video_refs(store: ChatStore) -> None:
    session = await make_session(store)
    _, cited = await make_exchange(store, session)
    await make_exchange(store, session, references=[])
    assert [m.id for m in await store.get_messages_with_video_refs(session.id)] == [cited.id]


async def test_edit_keeps_revisions_and_updates_preview(store: ChatStore) -> None:
    session = await make_session(store)
    user, _ = await make_exchange(store, session, question="first version")
    edited = await store.update_message(user.id, content="second version")
    assert edited.content == "second version"
    assert edited.edited_at is not None
    await store.update_message(user.id, content="third version")
    revisions = await store.get_message_revisions(user.id)
    assert [r.content for r in revisions] == ["first version", "second version"]
    listed = await store.list_sessions(student_id="student-1")
    assert listed.data[0].preview == "third version"
    with pytest.raises(MessageNotFound):
        await store.update_message(uuid.uuid4(), content="x")
    with pytest.raises(InvalidInput):
        await store.update_message(user.id, content="")


async def test_delete_keeps_counters_exact(store: ChatStore) -> None:
    session = await make_session(store)
    user, assistant = await make_exchange(store, session)
    await make_exchange(store, session, question="second question")
    await store.delete_message(assistant.id)
    await store.delete_message(user.id)
    fresh = await store.get_session(session.id)
    remaining = await store.get_messages(session.id)
    assert fresh.message_count == len(remaining) == 2
    assert fresh.total_tokens == sum(m.token_count for m in remaining)
    assert fresh.total_cost == sum((m.usage.cost or Decimal(0)) for m in remaining)
    assert (await store.list_sessions()).data[0].preview == "second question"
    with pytest.raises(MessageNotFound):
        await store.get_message(assistant.id)
    with pytest.raises(MessageNotFound):
        await store.delete_message(assistant.id)


async def test_search_messages(store: ChatStore) -> None:
    session = await make_session(store)
    await make_exchange(store, session, question="How do webhooks retry?")
    other = await make_session(store, creator_id="creator-2")
    await make_exchange(store, other, question="Do webhooks need signing?")
    assert len(await store.search_messages("webhooks")) == 2
    found = await store.search_messages("webhooks", creator_id="creator-2")
    assert [m.session_id for m in found] == [other.id]
    assert await store.search_messages("webhooks", session_id=session.id, limit=1)


async def test_sdk_usage_objects_are_accepted(store: ChatStore) -> None:
    session = await make_session(store)
    anthropic_usage = SimpleNamespace(
        input_tokens=100,
        output_tokens=200,
        cache_creation_input_tokens=1000,
        cache_read_input_tokens=2000,
    )
    message = await store.create_message(
        session_id=session.id,
        role="assistant",
        content="a",
        usage=anthropic_usage,
        model="claude-haiku-4-5",
    )
    # $1/M input, $5/M output, $1.25/M cache write, $0.10/M cache read
    assert message.usage.cost == Decimal("0.000100") + Decimal("0.001") + Decimal(
        "0.00125"
    ) + Decimal("0.0002")
    openai_usage = {
        "prompt_tokens": 300,
        "completion_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    other = await store.create_message(
        session_id=session.id,
        role="assistant",
        content="b",
        usage=openai_usage,
        model="claude-haiku-4-5",
    )
    assert (other.usage.input_tokens, other.usage.cache_read_tokens, other.usage.output_tokens) == (
        200,
        100,
        10,
    )


async def test_unknown_model_is_kept_unpriced(store: ChatStore) -> None:
    session = await make_session(store)
    message = await store.create_message(
        session_id=session.id, role="assistant", content="a", token_count=100, model="gpt-9-ultra"
    )
    assert message.usage.cost is None
    fresh = await store.get_session(session.id)
    assert fresh.unpriced_message_count == 1 and fresh.total_cost == 0
    await store.delete_message(message.id)
    assert (await store.get_session(session.id)).unpriced_message_count == 0


BAD_MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("role", {"role": "robot"}),
    ("content", {"content": ""}),
    ("content", {"content": "x" * 100_001}),
    ("content", {"content": "nul\x00"}),
    ("token_count", {"token_count": -1}),
    ("usage", {"usage": {"input_tokens": -5}}),
    ("usage", {"usage": {"output_tokens": 2**63}}),  # more than a database integer holds
    ("token_count", {"token_count": 10**13}),
    ("response_time_ms", {"response_time_ms": -1}),
    ("video_references", {"video_references": [reference()] * 51}),
    ("video_references[0].video_id", {"video_references": [{"video_title": "no id"}]}),
    ("video_references[0].similarity", {"video_references": [reference(similarity=1.5)]}),
    ("video_references[0].timestamp", {"video_references": [reference(timestamp=-1)]}),
    ("video_references[0].chunk_text", {"video_references": [reference(chunk_text="a\x00")]}),
    ("metadata", {"metadata": {"a": "\x00"}}),
    ("created_at", {"created_at": datetime(2026, 1, 1)}),  # noqa: DTZ001
]


@pytest.mark.parametrize(("field", "override"), BAD_MESSAGES)
async def test_bad_message_names_field_and_writes_nothing(
    store: ChatStore, field: str, override: dict[str, Any]
) -> None:
    session = await make_session(store)
    kwargs = {"session_id": session.id, "role": "user", "content": "hello"} | override
    with pytest.raises(InvalidInput) as info:
        await store.create_message(**kwargs)
    assert info.value.field.startswith(field)
    after = await store.get_session(session.id)
    assert after.message_count == 0 and after.updated_at == session.updated_at
    assert await store.get_messages(session.id) == []


async def test_message_for_unknown_session(store: ChatStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.create_message(session_id=uuid.uuid4(), role="user", content="hi")


async def test_failed_transaction_leaves_no_trace(store: ChatStore) -> None:
    from chronos_chat import messages, sessions

    class Boom(Exception):
        pass

    def session_message_then_failure(db: Connection) -> None:
        session = sessions.create_session(db, student_id="s", creator_id="c")
        new = messages.validate_message(session_id=session.id, role="user", content="hello")
        messages.create_message(db, new, store.catalog)
        raise Boom

    with pytest.raises(Boom):
        await store.database.write(session_message_then_failure)
    assert (await store.list_sessions(archived=None)).total == 0
    assert await store.search_messages("hello") == []


REFUSE_REFERENCES = {
    "sqlite": [
        "CREATE TRIGGER refuse_references BEFORE INSERT ON video_references"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
        "CREATE TRIGGER refuse_references BEFORE INSERT ON video_references"
        " FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}
ALLOW_REFERENCES = {
    "sqlite": ["DROP TRIGGER refuse_references"],
    "postgresql": ["DROP TRIGGER refuse_references ON video_references", "DROP FUNCTION refuse()"],
}


async def _run_all(store: ChatStore, statements: list[str]) -> None:
    def run(db: Connection) -> None:
        for statement in statements:
            db.exec_driver_sql(statement)

    await store.database.write(run)


async def test_a_database_error_midway_is_sqlalchemys_and_leaves_no_trace(
    store: ChatStore,
) -> None:
    # The message row is written before its references fail: all of it must roll back, and the
    # caller sees SQLAlchemy's error class whichever way the backend's statements were sent.
    session = await make_session(store, creator_id="creator-1")
    dialect = store.database.dialect
    await _run_all(store, REFUSE_REFERENCES[dialect])
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="refused"):
            await store.create_message(
                session_id=session.id,
                role="assistant",
                content="An answer about react hooks",
                video_references=[reference("v1")],
            )
    finally:
        await _run_all(store, ALLOW_REFERENCES[dialect])
    assert await store.get_messages(session.id) == []
    assert (await store.get_session(session.id)).message_count == 0
    assert await store.search_messages("hooks") == []
    assert (await store.get_creator_chat_analytics("creator-1", "all")).total_messages == 0
    written = await store.create_message(
        session_id=session.id, role="assistant", content="again", video_references=[reference("v1")]
    )
    assert written.seq == 1  # the failed message did not use up a place in the session


async def test_backfilled_message_does_not_move_activity_back(store: ChatStore) -> None:
    session = await make_session(store)
    recent = await store.create_message(session_id=session.id, role="user", content="now")
    await store.create_message(
        session_id=session.id, role="user", content="old", created_at=now_utc() - timedelta(days=3)
    )
    assert (await store.get_session(session.id)).last_message_at == recent.created_at


async def test_write_only_into_the_expected_owners_session(store: ChatStore) -> None:
    session = await make_session(store, student_id="student-1", creator_id="creator-1")
    for owner in ({"session_student_id": "student-2"}, {"session_creator_id": "creator-2"}):
        for key in (None, "k1"):
            with pytest.raises(SessionNotFound):
                await store.create_message(
                    session_id=session.id,
                    role="user",
                    content="How do react hooks manage state?",
                    video_references=[reference("v1"), reference("v2")],
                    idempotency_key=key,
                    **owner,
                )
    fresh = await store.get_session(session.id)
    assert fresh.message_count == 0 and fresh.last_message_at == session.last_message_at
    # Nor a reference, a keyword or a rollup row: the refused write left no trace at all.
    seen = await store.get_creator_chat_analytics("creator-1", "all")
    assert seen.total_messages == 0
    assert seen.most_referenced_videos == [] and seen.common_topics == []
    mine = await store.create_message(
        session_id=session.id,
        role="user",
        content="x",
        session_student_id="student-1",
        session_creator_id="creator-1",
    )
    assert mine.seq == 1


async def test_an_edit_takes_the_session_before_the_topics_rollups(postgres_url: str) -> None:
    # A new message locks its session's row, then its topics' rollup rows. An edit taking them
    # the other way round could deadlock with it; taken in the same order, one waits for the other.
    async with ChatStore(postgres_url) as store:
        session, question = await make_question(store)
        creator = session.creator_id
        with psycopg.connect(postgres_url) as writer:  # plays a new message's transaction
            writer.execute("SET lock_timeout = '5s'")
            writer.execute("SELECT 1 FROM chat_sessions WHERE id = %s FOR UPDATE", (session.id,))
            edit = asyncio.create_task(
                store.update_message(question.id, content="How do React hooks re-render?")
            )
            await until_waiting_on_a_lock(postgres_url)
            # The writer moves on to the topic's rollup row, which the edit must not hold yet.
            moved = writer.execute(
                "UPDATE rollup_topics SET mentions = mentions + 0"
                " WHERE creator_id = %s AND keyword = 'react hook'",
                (creator,),
            )
            assert moved.rowcount == 1
            writer.commit()
        edited = await asyncio.wait_for(edit, timeout=10)
    assert edited.content == "How do React hooks re-render?"


async def test_a_write_that_loses_a_deadlock_runs_again(postgres_url: str) -> None:
    # Another transaction takes the topic's rollup row, then the session's: the opposite of an
    # edit's order. PostgreSQL breaks the deadlock by rolling the edit back (it waited first);
    # the edit runs again once the other transaction is done, and the caller never sees it.
    async with ChatStore(postgres_url) as store:
        session, question = await make_question(store)
        creator = session.creator_id
        with psycopg.connect(postgres_url) as other:
            other.execute(
                "UPDATE rollup_topics SET mentions = mentions + 0"
                " WHERE creator_id = %s AND keyword = 'react hook'",
                (creator,),
            )
            edit = asyncio.create_task(
                store.update_message(question.id, content="How do React hooks re-render?")
            )
            await until_waiting_on_a_lock(postgres_url)
            await asyncio.to_thread(
                other.execute, "SELECT 1 FROM chat_sessions WHERE id = %s FOR UPDATE", (session.id,)
            )
            other.commit()
        edited = await asyncio.wait_for(edit, timeout=10)
        assert edited.content == "How do React hooks re-render?"
        revisions = await store.get_message_revisions(question.id)
    assert [r.content for r in revisions] == ["How do React hooks work?"]  # written once


async def test_concurrent_edits_keep_every_revision(postgres_url: str) -> None:
    # Two edits of one message at once: the second waits for the first, and its revision is
    # the first's content, not the content both read before either wrote.
    async with ChatStore(postgres_url) as store:
        _, question = await make_question(store, "v1")
        async with held_open(store, messages.update_message, question.id, content="v2"):
            second = asyncio.create_task(store.update_message(question.id, content="v3"))
            await until_waiting_on_a_lock(postgres_url)
        assert (await asyncio.wait_for(second, timeout=10)).content == "v3"
        revisions = await store.get_message_revisions(question.id)
    assert [r.content for r in revisions] == ["v1", "v2"]


async def test_a_message_deleted_twice_at_once_is_counted_down_once(postgres_url: str) -> None:
    # A retried delete waits for the first on the session; it then finds the message gone.
    async with ChatStore(postgres_url) as store:
        session, _ = await make_question(store, "keep me")
        doomed = await store.create_message(
            session_id=session.id, role="assistant", content="drop me", token_count=40
        )
        async with held_open(store, messages.delete_message, doomed.id):
            second = asyncio.create_task(store.delete_message(doomed.id))
            await until_waiting_on_a_lock(postgres_url)
        with pytest.raises(MessageNotFound):
            await asyncio.wait_for(second, timeout=10)
        after = await store.get_session(session.id)
    assert (after.message_count, after.total_tokens) == (1, 0)
