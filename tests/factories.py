"""Plain factory functions with keyword overrides."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import text

from chronos_chat import ChatMessage, ChatSession, ChatStore
from chronos_chat.schema import metadata


async def make_session(store: ChatStore, **overrides: Any) -> ChatSession:
    """A session for student-1 with creator-1 unless told otherwise."""
    values: dict[str, Any] = {"student_id": "student-1", "creator_id": "creator-1"} | overrides
    return await store.create_session(**values)


def reference(video_id: str = "video-1", **overrides: Any) -> dict[str, Any]:
    """A video reference as a RAG pipeline passes it."""
    return {
        "video_id": video_id,
        "video_title": f"Title of {video_id}",
        "timestamp": 120,
        "chunk_text": "First, configure your OAuth provider...",
        "similarity": 0.92,
    } | overrides


async def make_question(
    store: ChatStore, content: str = "How do React hooks work?"
) -> tuple[ChatSession, ChatMessage]:
    """A session of a creator of its own (the PostgreSQL tests share one database) with one
    student question in it."""
    session = await make_session(store, creator_id=f"creator-{uuid.uuid4().hex[:8]}")
    question = await store.create_message(session_id=session.id, role="user", content=content)
    return session, question


async def make_exchange(
    store: ChatStore,
    session: ChatSession,
    question: str = "How do I set up OAuth?",
    answer: str = "Here are the steps...",
    *,
    at: datetime | None = None,
    references: list[dict[str, Any]] | None = None,
) -> tuple[ChatMessage, ChatMessage]:
    """A user question and an assistant answer citing a video."""
    user = await store.create_message(
        session_id=session.id, role="user", content=question, token_count=150, created_at=at
    )
    assistant = await store.create_message(
        session_id=session.id,
        role="assistant",
        content=answer,
        usage={"input_tokens": 500, "output_tokens": 800},
        model="claude-haiku-4-5",
        video_references=references if references is not None else [reference()],
        created_at=at,
    )
    return user, assistant


async def empty(store: ChatStore) -> None:
    """Remove every row (PostgreSQL: the run's database is shared; SQLite files are new)."""
    if store.database.dialect != "postgresql":
        return
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    await store.database.write(
        lambda db: db.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    )


async def until_waiting_on_a_lock(url: str) -> None:
    """Return once a session of the PostgreSQL database at ``url`` waits for a lock."""
    with psycopg.connect(url, autocommit=True) as db:
        for _ in range(200):
            waiting = db.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                return
            await asyncio.sleep(0.025)
    raise AssertionError("nothing came to wait for a lock")


@contextlib.asynccontextmanager
async def held_open(
    store: ChatStore, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> AsyncIterator[None]:
    """Run ``fn(db, ...)`` in a transaction of its own (in a thread) and keep it open, holding
    its locks, until the block ends; then commit it."""
    ran, finish = threading.Event(), threading.Event()

    def run() -> None:
        with store.database.engine.connect() as db, db.begin():
            fn(db, *args, **kwargs)
            ran.set()
            finish.wait(10)

    task = asyncio.create_task(asyncio.to_thread(run))
    while not ran.is_set():
        if task.done():
            await task  # fn raised: so does this
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        finish.set()
        await task
