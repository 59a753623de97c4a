"""Extracting stored questions' topics again: only stale ones change, rollups stay exact."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, func, insert, select
from typer.testing import CliRunner

from chronos_chat import ChatStore, InvalidInput, dialects, messages
from chronos_chat.cli import app
from chronos_chat.schema import chat_messages, message_keywords
from chronos_chat.topics import extract_keywords
from tests.factories import held_open, make_question, make_session, until_waiting_on_a_lock
from tests.test_analytics import build
from tests.test_rollups import _rebuild, _snapshot

M, K = chat_messages.c, message_keywords.c


def _make_stale(db: Connection) -> set[Any]:
    """What an older extractor would have left on a few questions: a phrase it no longer makes,
    topics missing, and a question that kept its topics."""
    questions = db.execute(
        select(M.id, M.creator_id, M.created_at).where(M.role == "user").order_by(M.pk)
    ).all()
    stale = set()
    for q in questions[:3]:
        db.execute(
            insert(message_keywords).values(
                message_id=q.id,
                creator_id=q.creator_id,
                created_at=q.created_at,
                keyword="two users log",
                label="two users log",
            )
        )
        stale.add(q.id)
    for q in questions[3:5]:
        db.execute(delete(message_keywords).where(K.message_id == q.id))
        stale.add(q.id)
    return stale


def _add_stale_topic(db: Connection, message_id: Any) -> None:
    q = db.execute(select(M.creator_id, M.created_at).where(M.id == message_id)).one()
    db.execute(
        insert(message_keywords).values(
            message_id=message_id,
            creator_id=q.creator_id,
            created_at=q.created_at,
            keyword="two users log",
            label="two users log",
        )
    )


def _stored_and_fresh(db: Connection) -> tuple[dict[Any, list[str]], dict[Any, list[str]]]:
    stored: dict[Any, list[str]] = {}
    for row in db.execute(select(K.message_id, K.keyword)):
        stored.setdefault(row.message_id, []).append(row.keyword)
    fresh = {}
    for q in db.execute(select(M.id, M.content).where(M.role == "user")):
        if keys := [k.key for k in extract_keywords(q.content)]:
            fresh[q.id] = sorted(keys)
    return {k: sorted(v) for k, v in stored.items()}, fresh


async def test_refresh_rewrites_stale_topics_only_and_keeps_rollups_exact(
    store: ChatStore,
) -> None:
    await build(store, seed=13)
    stale = await store.database.write(_make_stale)
    questions = await store.database.read(
        lambda db: db.execute(select(func.count()).where(M.role == "user")).scalar_one()
    )
    seen: list[tuple[int, int]] = []
    changed = await store.refresh_topics(batch_size=7, on_progress=lambda *p: seen.append(p))
    assert changed == len(stale)
    stored, fresh = await store.database.read(_stored_and_fresh)
    assert stored == fresh
    assert len(seen) == math.ceil(questions / 7)
    assert seen[-1] == (questions, questions)
    # The triggers counted every rewrite: the rollups hold what a rebuild from the rows gives.
    kept = await store.database.read(_snapshot)
    await store.database.write(_rebuild)
    assert await store.database.read(_snapshot) == kept
    assert await store.refresh_topics() == 0


async def test_refresh_refuses_a_bad_batch_size(store: ChatStore) -> None:
    await build(store, seed=2)
    stale = await store.database.write(_make_stale)
    for size in (0, -5, 10_001, 10**9):  # over 10,000 ids would not bind in one IN on SQLite
        with pytest.raises(InvalidInput, match="batch_size"):
            await store.refresh_topics(batch_size=size)
    assert await store.refresh_topics() == len(stale)  # nothing was rewritten before


def test_the_command_refreshes_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/refresh.db"

    async def prepare() -> None:
        async with ChatStore(url) as store:
            session = await make_session(store)
            await store.create_message(
                session_id=session.id,
                role="user",
                content="When two users log in at once, what happens?",
                created_at=datetime(2026, 5, 1, tzinfo=UTC),
            )
            await store.database.write(_make_stale)

    asyncio.run(prepare())
    refused = CliRunner().invoke(
        app, ["refresh-topics", "--batch-size", "0", "--database-url", url]
    )
    assert refused.exit_code == 2  # a usage error, before anything runs
    result = CliRunner().invoke(app, ["refresh-topics", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "1 of the stored questions changed" in result.output
    again = CliRunner().invoke(app, ["refresh-topics", "--database-url", url])
    assert "0 of the stored questions changed" in again.output


LOG = "CREATE TABLE touch_log (seq {serial} PRIMARY KEY, creator_id TEXT, at {at}, keyword TEXT)"
TRIGGERS = {  # the same timing as the rollup triggers: deletes before, inserts after
    "touch_log_delete": ("BEFORE DELETE ON message_keywords", "OLD"),
    "touch_log_insert": ("AFTER INSERT ON message_keywords", "NEW"),
}


def _log_keyword_writes(db: Connection, on: bool) -> None:
    """Log every keyword row written, in the order the database writes them (or stop)."""
    for name, (when, row) in TRIGGERS.items():
        for ddl in dialects.drop_row_trigger_ddl(db, name, "message_keywords"):
            db.exec_driver_sql(ddl)
        if on:
            body = [
                "INSERT INTO touch_log (creator_id, at, keyword) "
                f"VALUES ({row}.creator_id, {row}.created_at, {row}.keyword)"
            ]
            for ddl in dialects.row_trigger_ddl(db, name, when, body):
                db.exec_driver_sql(ddl)
    db.exec_driver_sql("DROP TABLE IF EXISTS touch_log")
    if on:
        sqlite = db.dialect.name == "sqlite"
        serial, at = ("INTEGER", "TEXT") if sqlite else ("BIGSERIAL", "TIMESTAMPTZ")
        db.exec_driver_sql(LOG.format(serial=serial, at=at))


def _utc_day(at: datetime | str) -> str:
    """The UTC day of a logged time (SQLite logs UTC text, PostgreSQL a timestamptz)."""
    return at[:10] if isinstance(at, str) else at.astimezone(UTC).date().isoformat()


async def test_rewrites_reach_the_rollups_in_the_order_writers_take_them(
    store: ChatStore,
) -> None:
    # A new message moves its rollup rows by creator, day, keyword and label. A refresh (or an
    # edit) moving them in another order could deadlock with it on PostgreSQL.
    questions = ["zebra stripes and apple pie", "mango lassi", "apple pie with zebra stripes"]
    for i, content in enumerate(questions * 2):
        session = await make_session(store, creator_id=f"creator-{i % 2}")
        await store.create_message(
            session_id=session.id,
            role="user",
            content=content,
            created_at=datetime(2026, 5, 1 + i % 3, 12 + i, tzinfo=UTC),
        )

    def scramble(db: Connection) -> None:  # what an older extractor might have left
        for q in db.execute(select(M.id, M.creator_id, M.created_at).where(M.role == "user")):
            for word in ("yak", "banana", "kiwi"):
                db.execute(
                    insert(message_keywords).values(
                        message_id=q.id,
                        creator_id=q.creator_id,
                        created_at=q.created_at,
                        keyword=word,
                        label=word,
                    )
                )

    await store.database.write(scramble)
    await store.database.write(_log_keyword_writes, True)
    try:
        assert await store.refresh_topics() == len(questions) * 2
        logged = await store.database.read(
            lambda db: db.exec_driver_sql(
                "SELECT creator_id, at, keyword FROM touch_log ORDER BY seq"
            ).all()
        )
    finally:
        await store.database.write(_log_keyword_writes, False)
    touched = [(creator, _utc_day(at), keyword) for creator, at, keyword in logged]
    assert len(touched) == 6 * 3 + sum(len(extract_keywords(q)) for q in questions * 2) * 2
    assert touched == sorted(touched)


async def test_a_refresh_rewrites_what_an_edit_left(postgres_url: str) -> None:
    # A refresh reads questions while an edit of one is in flight. It must rewrite the topics of
    # the content as the edit leaves it, not add the old content's beside the edit's.
    async with ChatStore(postgres_url) as store:
        _, question = await make_question(store)
        await store.database.write(_add_stale_topic, question.id)  # something to rewrite
        edit = messages.update_message
        async with held_open(store, edit, question.id, content="Explain webpack loaders"):
            refreshed = asyncio.create_task(store.refresh_topics())
            await until_waiting_on_a_lock(postgres_url)
        await asyncio.wait_for(refreshed, timeout=10)
        stored = await store.database.read(
            lambda db: sorted(
                db.execute(select(K.keyword).where(K.message_id == question.id)).scalars()
            )
        )
    assert stored == sorted(k.key for k in extract_keywords("Explain webpack loaders"))
