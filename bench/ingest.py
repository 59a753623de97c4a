"""Messages per second of ``create_message`` committed one by one, against the raw driver and
LangChain's ``SQLChatMessageHistory.add_message``, on SQLite and PostgreSQL, in one run.

    python bench/ingest.py [--messages 3000] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.common import create_postgres, drop_postgres, sqlite_file
from chronos_chat import ChatStore, OfflineTitleGenerator

REFERENCES = [
    {
        "video_id": f"v{i}",
        "video_title": f"Video {i}",
        "timestamp": 60.0 * i,
        "chunk_text": "First, configure your OAuth provider...",
        "similarity": 0.9 - i / 10,
    }
    for i in range(3)
]
USAGE = {"input_tokens": 1200, "output_tokens": 400, "embedding_queries": 1}


def content(i: int) -> str:
    """A message text of realistic length."""
    return f"Message {i}: how do I configure OAuth scopes for the React client after login? " * 3


async def ours(url: str, n: int, *, auto_migrate: bool = True) -> float:
    """Messages/second of ChatStore.create_message with three references and usage each."""
    titles = OfflineTitleGenerator()
    async with ChatStore(url, title_generator=titles, auto_migrate=auto_migrate) as store:
        session = await store.create_session(student_id="bench-student", creator_id="bench-creator")
        start = time.perf_counter()
        for i in range(n):
            await store.create_message(
                session_id=session.id,
                role="assistant" if i % 2 else "user",
                content=content(i),
                usage=USAGE,
                model="claude-haiku-4-5",
                video_references=REFERENCES,
            )
        return n / (time.perf_counter() - start)


async def _new_session(store_url: str) -> uuid.UUID:
    async with ChatStore(store_url, title_generator=OfflineTitleGenerator()) as store:
        return (await store.create_session(student_id="raw-student", creator_id="bench-creator")).id


RAW_INSERT = (
    "INSERT INTO chat_messages (id, session_id, creator_id, student_id, seq, role, content, "
    "input_tokens, output_tokens, metadata, created_at) VALUES ({})"
)
RAW_UPDATE = (
    "UPDATE chat_sessions SET message_count = message_count + 1, last_seq = {seq}, "
    "total_tokens = total_tokens + {tokens}, last_message_at = {at}, updated_at = {at} WHERE id = {sid}"
)


def raw_sqlite(path: str, sid: uuid.UUID, n: int) -> float:
    """Messages/second of the sqlite3 driver: insert message + update session + commit."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        db.execute(f"PRAGMA {pragma}")
    insert = RAW_INSERT.format(", ".join("?" * 11))
    update = RAW_UPDATE.format(seq="?", tokens="?", at="?", sid="?")
    start = time.perf_counter()
    for i in range(n):
        at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            insert,
            (
                uuid.uuid4().hex,
                sid.hex,
                "bench-creator",
                "raw-student",
                i + 1,
                "user",
                content(i),
                1200,
                400,
                "{}",
                at,
            ),
        )
        db.execute(update, (i + 1, 1600, at, at, sid.hex))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return n / elapsed


def raw_postgres(url: str, sid: uuid.UUID, n: int) -> float:
    """Messages/second of the psycopg driver: insert message + update session + commit."""
    db = psycopg.connect(url)
    insert = RAW_INSERT.format(", ".join(["%s"] * 11))
    update = RAW_UPDATE.format(seq="%s", tokens="%s", at="%s", sid="%s")
    start = time.perf_counter()
    for i in range(n):
        at = datetime.now(UTC)
        with db.transaction():
            db.execute(
                insert,  # type: ignore[arg-type]
                (
                    uuid.uuid4(),
                    sid,
                    "bench-creator",
                    "raw-student",
                    i + 1,
                    "user",
                    content(i),
                    1200,
                    400,
                    "{}",
                    at,
                ),
            )
            db.execute(update, (i + 1, 1600, at, at, sid))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    db.close()
    return n / elapsed


def langchain(url: str, n: int) -> float:
    """Messages/second of LangChain's SQLChatMessageHistory.add_message on the same database."""
    from langchain_community.chat_message_histories import SQLChatMessageHistory
    from langchain_core.messages import AIMessage, HumanMessage
    from sqlalchemy import create_engine, event

    engine = create_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA synchronous=FULL")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = SQLChatMessageHistory(session_id="bench", connection=engine)
        start = time.perf_counter()
        for i in range(n):
            message = AIMessage(content(i)) if i % 2 else HumanMessage(content(i))
            history.add_message(message)
        elapsed = time.perf_counter() - start
    engine.dispose()
    return n / elapsed


async def bench_backend(backend: str, n: int) -> dict[str, float]:
    """The three rates on one backend, each on a fresh database."""
    # Each contender gets its own fresh database of the same kind and settings.
    if backend == "sqlite":
        urls = [f"sqlite:///{sqlite_file(f'ingest-{who}.db')}" for who in ("ours", "raw", "lc")]
    else:
        urls = [create_postgres() for _ in range(3)]
    try:
        ours_rate = await ours(urls[0], n)
        sid = await _new_session(urls[1])
        if backend == "sqlite":
            raw_rate = raw_sqlite(urls[1].removeprefix("sqlite:///"), sid, n)
            lc_rate = langchain(urls[2], n)
        else:
            raw_rate = raw_postgres(urls[1], sid, n)
            lc_rate = langchain(urls[2].replace("postgresql://", "postgresql+psycopg2://"), n)
    finally:
        if backend == "postgresql":
            for url in urls:
                drop_postgres(url)
    return {"ours": ours_rate, "raw": raw_rate, "langchain": lc_rate}


async def main(backends: list[str], n: int) -> None:
    """Print one Markdown row per backend."""
    print(
        "| backend | create_message /s | raw driver /s | LangChain /s | ours / raw | ours / LangChain |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for backend in backends:
        r = await bench_backend(backend, n)
        print(
            f"| {backend} | {r['ours']:,.0f} | {r['raw']:,.0f} | {r['langchain']:,.0f} "
            f"| {r['ours'] / r['raw']:.0%} | {r['ours'] / r['langchain']:.2f}x |"
        )


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    runner: Callable[[], Awaitable[None]] = lambda: main(backends, args.messages)  # noqa: E731
    asyncio.run(runner())


if __name__ == "__main__":
    cli()
