"""Sessions: create, get-or-create, update, archive, delete, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import Connection, select

from chronos_chat import (
    ChatSession,
    ChatStore,
    Conflict,
    InvalidInput,
    SessionNotFound,
    export,
    idempotency,
    restore,
)
from chronos_chat import sessions as sessions_module
from chronos_chat.schema import idempotency_keys, student_names
from tests.factories import (
    held_open,
    make_exchange,
    make_session,
    reference,
    until_waiting_on_a_lock,
)

K = idempotency_keys.c


async def test_create_and_get_session(store: ChatStore) -> None:
    created = await make_session(
        store, title="OAuth", context_video_ids=["v1", "v2", "v1"], metadata={"source": "web"}
    )
    fetched = await store.get_session(created.id)
    assert fetched == created
    assert fetched.context_video_ids == ["v1", "v2"]
    assert fetched.metadata == {"source": "web"}
    assert fetched.created_at.tzinfo is not None
    assert fetched.message_count == 0
    assert fetched.total_cost == 0


async def test_timestamps_keep_microseconds_and_utc(store: ChatStore) -> None:
    when = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    session = await make_session(store, created_at=when.astimezone())
    fetched = await store.get_session(session.id)
    assert fetched.created_at == when
    assert fetched.created_at.utcoffset() == timedelta(0)


async def test_unknown_session_is_not_found(store: ChatStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.get_session(uuid.uuid4())
    with pytest.raises(SessionNotFound):
        await store.get_session("not-a-uuid")  # type: ignore[arg-type]


async def test_get_or_create_reuses_recent_session(store: ChatStore) -> None:
    first = await store.get_or_create_session("student-1", "creator-1", ["v1"])
    again = await store.get_or_create_session("student-1", "creator-1", ["v2"])
    assert again.id == first.id
    assert again.context_video_ids == ["v1", "v2"]


async def test_get_or_create_starts_new_session_after_window(store: ChatStore) -> None:
    old = await make_session(store, created_at=datetime.now(UTC) - timedelta(hours=25))
    fresh = await store.get_or_create_session("student-1", "creator-1")
    assert fresh.id != old.id
    assert (await store.get_or_create_session("student-1", "creator-1")).id == fresh.id


async def test_get_or_create_counts_last_message_as_activity(store: ChatStore) -> None:
    old = await make_session(store, created_at=datetime.now(UTC) - timedelta(hours=30))
    await make_exchange(store, old, at=datetime.now(UTC) - timedelta(hours=2))
    assert (await store.get_or_create_session("student-1", "creator-1")).id == old.id
    short = await store.get_or_create_session(
        "student-1", "creator-1", reuse_window=timedelta(hours=1)
    )
    assert short.id != old.id


async def test_get_or_create_never_reuses_archived_or_others(store: ChatStore) -> None:
    archived = await make_session(store)
    await store.archive_session(archived.id)
    mine = await store.get_or_create_session("student-1", "creator-1")
    assert mine.id != archived.id
    other_creator = await store.get_or_create_session("student-1", "creator-2")
    other_student = await store.get_or_create_session("student-2", "creator-1")
    assert len({mine.id, other_creator.id, other_student.id}) == 3


async def test_get_or_create_is_atomic_under_concurrency(store: ChatStore) -> None:
    results = await asyncio.gather(
        *(store.get_or_create_session("student-1", "creator-1") for _ in range(50))
    )
    assert len({s.id for s in results}) == 1
    assert await store.get_session_count("student-1") == 1


async def test_update_session_fields(store: ChatStore) -> None:
    session = await make_session(store, metadata={"a": 1})
    updated = await store.update_session(session.id, title="Hooks", metadata={"b": 2})
    assert (updated.title, updated.metadata) == ("Hooks", {"b": 2})
    assert updated.updated_at > session.updated_at
    cleared = await store.update_session(session.id, title=None)
    assert cleared.title is None
    assert cleared.metadata == {"b": 2}
    with pytest.raises(SessionNotFound):
        await store.update_session(uuid.uuid4(), title="x")


async def test_archive_keeps_metadata_and_can_be_undone(store: ChatStore) -> None:
    session = await make_session(store, metadata={"keep": "me"})
    archived = await store.archive_session(session.id)
    assert archived.archived_at is not None
    assert archived.metadata == {"keep": "me"}
    assert (await store.list_sessions(student_id="student-1")).total == 0
    assert (await store.list_sessions(student_id="student-1", archived=True)).total == 1
    assert (await store.list_sessions(student_id="student-1", archived=None)).total == 1
    restored = await store.unarchive_session(session.id)
    assert restored.archived_at is None
    assert (await store.list_sessions(student_id="student-1")).total == 1


async def test_delete_session_removes_messages(store: ChatStore) -> None:
    session = await make_session(store)
    user, _ = await make_exchange(store, session)
    await store.delete_session(session.id)
    with pytest.raises(SessionNotFound):
        await store.get_session(session.id)
    with pytest.raises(Exception, match="not found"):
        await store.get_message(user.id)
    with pytest.raises(SessionNotFound):
        await store.delete_session(session.id)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("student_id", {"student_id": ""}),
        ("student_id", {"student_id": "x" * 129}),
        ("creator_id", {"creator_id": "   "}),
        ("student_id", {"student_id": "a\x00b"}),
        ("title", {"title": "bad\x00title"}),
        ("metadata", {"metadata": {"k": "v\x00"}}),
        ("context_video_ids[0]", {"context_video_ids": [""]}),
        ("created_at", {"created_at": datetime(2026, 1, 1)}),  # noqa: DTZ001
    ],
)
async def test_bad_session_input_names_field_and_writes_nothing(
    store: ChatStore, field: str, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput) as info:
        await make_session(store, **kwargs)
    assert info.value.field.startswith(field)
    assert (await store.list_sessions(archived=None)).total == 0


async def test_session_ids_up_to_128_characters(store: ChatStore) -> None:
    session = await make_session(store, student_id="s" * 128, creator_id="c" * 128)
    assert session.student_id == "s" * 128


def _stored_keys(db: Connection) -> list[tuple[str, str]]:
    return [tuple(row) for row in db.execute(select(K.scope, K.key).order_by(K.key))]


async def _answered_with_key(store: ChatStore, session: ChatSession, scope: str, key: str) -> None:
    """A message written as an API request with an Idempotency-Key does it: its response kept."""
    await store.database.write(idempotency.claim, scope, key, "hash", datetime.now(UTC))
    await store.create_message(
        session_id=session.id, role="user", content="What is a closure?", request_key=(scope, key)
    )


async def test_forgetting_a_student_leaves_no_trace_of_them_and_touches_no_one_else(
    store: ChatStore,
) -> None:
    # The creator's analytics after the erasure equal those from before the student came.
    stays = await make_session(store, student_id="student-2")
    await make_exchange(store, stays, "How do React hooks manage state?")
    await _answered_with_key(store, stays, "service:rag", "kept")
    await store.set_student_name("student-2", "Grace Hopper")
    before = await store.get_creator_chat_analytics("creator-1", "all")

    goes = await make_session(store, student_id="student-1")
    await make_exchange(store, goes, "What is row level security?", references=[reference("v2")])
    archived = await make_session(store, student_id="student-1")
    await make_exchange(store, archived, "How do I set up OAuth scopes?")
    await store.archive_session(archived.id)
    await store.set_student_name("student-1", "Ada Lovelace")
    await _answered_with_key(store, goes, "student:student-1", "theirs")
    await _answered_with_key(store, goes, "service:rag", "about-them")

    assert await store.forget_student("student-1") == 2
    assert (await store.list_sessions(student_id="student-1", archived=None)).total == 0
    for gone in (goes, archived):
        with pytest.raises(SessionNotFound):
            await store.get_session(gone.id)
    assert await store.search_messages("security") == []
    after = await store.get_creator_chat_analytics("creator-1", "all")
    moving = {"since", "until"}
    assert after.model_dump(exclude=moving) == before.model_dump(exclude=moving)
    assert [s.student_name for s in after.most_active_students] == ["Grace Hopper"]
    assert await store.database.read(_stored_keys) == [("service:rag", "kept")]
    assert (await store.get_session(stays.id, include_messages=True)).message_count == 3
    assert await store.forget_student("student-1") == 0  # again: nothing left, no error
    with pytest.raises(InvalidInput, match="student_id"):
        await store.forget_student("")


async def test_naming_a_student_twice_at_once_keeps_the_later_name(postgres_url: str) -> None:
    # Two namings of one student at once: the second waits for the first and replaces its
    # name, instead of failing on the first's fresh row.
    student = f"student-{uuid.uuid4().hex[:8]}"
    async with ChatStore(postgres_url) as store:
        await store.set_student_name(student, "Ada")
        async with held_open(store, sessions_module.set_student_name, student, "Ada L."):
            later = asyncio.create_task(store.set_student_name(student, "Ada Lovelace"))
            await until_waiting_on_a_lock(postgres_url)
        await asyncio.wait_for(later, timeout=10)
        names = await store.database.read(
            lambda db: db.execute(
                select(student_names.c.name).where(student_names.c.student_id == student)
            ).all()
        )
    assert [n for (n,) in names] == ["Ada Lovelace"]


async def test_one_export_imported_twice_at_once_is_one_session(postgres_url: str) -> None:
    # Both imports find no session with the id; the second waits on the first's rows and then
    # reports the conflict, instead of a driver error.
    async with ChatStore(postgres_url) as store:
        session = await make_session(store, creator_id=f"creator-{uuid.uuid4().hex[:8]}")
        await store.create_message(session_id=session.id, role="user", content="hello")
        document = await store.export_session(session.id)
        await store.delete_session(session.id)
        checked = export.check_document(document)
        imports = restore.import_session
        async with held_open(store, imports, checked, store.catalog, store.max_content_length):
            later = asyncio.create_task(store.import_session(document))
            await until_waiting_on_a_lock(postgres_url)
        with pytest.raises(Conflict):
            await asyncio.wait_for(later, timeout=10)
        assert (await store.get_session(session.id)).message_count == 1


async def test_a_key_given_back_while_it_is_claimed_is_claimed(postgres_url: str) -> None:
    # A retry's insert meets the first request's key; before the retry reads that row, the
    # first request fails and gives the key back. The retry then claims the free key instead
    # of failing on a row that is gone. (A slow statement trigger holds the window open.)
    scope, key = "service:rag", f"key-{uuid.uuid4().hex[:8]}"
    async with ChatStore(postgres_url) as store:
        await store.database.write(idempotency.claim, scope, key, "hash", datetime.now(UTC))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "CREATE FUNCTION pause_claims() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$"
            )
            admin.execute(
                "CREATE TRIGGER pause_claims AFTER INSERT ON idempotency_keys"
                " FOR EACH STATEMENT EXECUTE FUNCTION pause_claims()"
            )
            try:
                retry = asyncio.create_task(
                    store.database.write(idempotency.claim, scope, key, "hash", datetime.now(UTC))
                )
                for _ in range(200):
                    sleeping = admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                    ).fetchone()
                    if sleeping and sleeping[0]:
                        break
                    await asyncio.sleep(0.01)
                await store.database.write(idempotency.release, scope, key)
                assert await asyncio.wait_for(retry, timeout=10) is None  # claimed
            finally:
                admin.execute("DROP TRIGGER IF EXISTS pause_claims ON idempotency_keys")
                admin.execute("DROP FUNCTION IF EXISTS pause_claims()")
        assert await store.database.read(
            lambda db: db.execute(select(K.key).where(K.key == key)).scalars().all()
        ) == [key]
