"""How calls are scheduled: SQLite writes that queue up share a commit, each succeeding or
failing on its own; long reports run in threads of their own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, select

from chronos_chat import ChatStore
from chronos_chat.errors import InvalidInput
from chronos_chat.schema import student_names


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[ChatStore]:
    async with ChatStore(f"sqlite:///{tmp_path}/group.db") as store:
        yield store


def _name(db: Connection, student_id: str, fail: bool = False) -> str:
    db.execute(insert(student_names).values(student_id=student_id, name=student_id.upper()))
    if fail:
        raise InvalidInput("name", "refused after writing")
    return student_id


def _wait_then_name(db: Connection, gate: threading.Event, student_id: str) -> str:
    gate.wait(timeout=10)
    return _name(db, student_id)


def _names(db: Connection) -> list[str]:
    return list(db.execute(select(student_names.c.student_id).order_by("student_id")).scalars())


async def _queued_behind_a_slow_write(store: ChatStore, calls: list[Any]) -> list[Any]:
    """Run ``calls`` while the writer is busy, so they queue up and form one group."""
    gate = threading.Event()
    slow = asyncio.create_task(store.database.write(_wait_then_name, gate, "first"))
    await asyncio.sleep(0.05)  # the writer thread is now inside the slow write
    queued = [asyncio.create_task(store.database.write(*call)) for call in calls]
    await asyncio.sleep(0.05)
    gate.set()
    await slow
    return await asyncio.gather(*queued, return_exceptions=True)


async def test_queued_writes_share_one_commit_and_fail_alone(sqlite_store: ChatStore) -> None:
    commits = []
    event.listen(sqlite_store.database.engine, "commit", lambda conn: commits.append(1))
    calls = [(_name, f"s{i}", i == 3) for i in range(8)]
    outcomes = await _queued_behind_a_slow_write(sqlite_store, calls)

    assert len(commits) == 2  # the slow write's, then one for the eight queued behind it
    assert isinstance(outcomes[3], InvalidInput)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [f"s{i}" for i in range(8) if i != 3]
    # The failing write's row is gone; its neighbours' rows are all there.
    assert await sqlite_store.database.read(_names) == ["first"] + [
        f"s{i}" for i in range(8) if i != 3
    ]


async def test_a_failed_group_commit_fails_every_write_in_it(sqlite_store: ChatStore) -> None:
    engine = sqlite_store.database.engine
    commits_to_refuse = [False, True]  # the slow write commits; the group behind it does not

    def refuse(conn: Any) -> None:
        if commits_to_refuse and commits_to_refuse.pop(0):
            raise OSError("disk full")

    event.listen(engine, "commit", refuse)
    outcomes = await _queued_behind_a_slow_write(sqlite_store, [(_name, "a"), (_name, "b")])

    assert [type(o) for o in outcomes] == [OSError, OSError]
    assert await sqlite_store.database.read(_names) == ["first"]
    # The writer goes on after a failed commit.
    assert await sqlite_store.database.write(_name, "c") == "c"
    assert await sqlite_store.database.read(_names) == ["c", "first"]


async def test_many_concurrent_messages_keep_exact_counters(sqlite_store: ChatStore) -> None:
    session = await sqlite_store.create_session(student_id="s", creator_id="c")
    await asyncio.gather(
        *(
            sqlite_store.create_message(session_id=session.id, role="user", content=f"q{i}")
            for i in range(60)
        )
    )
    again = await sqlite_store.get_session(session.id, include_messages=True)
    assert again.message_count == 60
    assert sorted(m.seq for m in again.messages) == list(range(1, 61))


def _blocked(db: Connection, gate: threading.Event) -> bool:
    return gate.wait(timeout=10)


async def test_long_reports_do_not_hold_up_short_reads(sqlite_store: ChatStore) -> None:
    # Both report threads are busy; a page of sessions is still answered at once.
    gate = threading.Event()
    reports = [asyncio.create_task(sqlite_store.database.report(_blocked, gate)) for _ in range(2)]
    try:
        page = await asyncio.wait_for(sqlite_store.list_sessions(), timeout=5)
        assert page.total == 0
        assert not any(task.done() for task in reports)
    finally:
        gate.set()
    assert await asyncio.gather(*reports) == [True, True]


async def test_pool_must_hold_a_connection_per_thread(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="pool_size"):
        ChatStore(f"sqlite:///{tmp_path}/small.db", pool_size=3)
