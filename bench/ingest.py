"""Messages per second of ``create_message`` committed one by one, against the raw driver and
LangChain's ``SQLChatMessageHistory`` (``add_message``, and ``aadd_messages`` on an async engine
as ours is called), on SQLite and PostgreSQL, in one run.

    python -m bench.ingest [--messages 3000] [--backend sqlite|postgresql|both] [--mix every|seed]

Also the floor: the very statements ``create_message`` sent (recorded in a first run) replayed
through the raw driver, one transaction a message, on a copy of the same database. What separates
ours from the floor is our Python (validation, SQLAlchemy, the thread hop); what separates the
floor from the raw baseline is the rows a message has beyond its own (references, keywords) and
the work the schema does for them.

``--mix every`` (the default, as in every earlier run) gives every message three references;
``--mix seed`` writes messages as a tutor does: a student's question without references, the
answer with three.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, event

from bench.common import ADMIN_URL, create_postgres, drop_postgres, postgres_url, sqlite_file
from chronos_chat import ChatStore, OfflineTitleGenerator
from chronos_chat.driver import DriverStatement

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


def message(session_id: uuid.UUID, i: int, mix: str) -> dict[str, Any]:
    """The arguments of the ``i``-th ``create_message``: questions and answers alternate."""
    answer = i % 2 == 1
    return {
        "session_id": session_id,
        "role": "assistant" if answer else "user",
        "content": content(i),
        "usage": USAGE,
        "model": "claude-haiku-4-5",
        "video_references": REFERENCES if answer or mix == "every" else (),
    }


async def ours(url: str, n: int, mix: str = "every", *, auto_migrate: bool = True) -> float:
    """Messages/second of ChatStore.create_message with usage, and references as ``mix`` says."""
    titles = OfflineTitleGenerator()
    async with ChatStore(url, title_generator=titles, auto_migrate=auto_migrate) as store:
        session = await store.create_session(student_id="bench-student", creator_id="bench-creator")
        start = time.perf_counter()
        for i in range(n):
            await store.create_message(**message(session.id, i, mix))
        return n / (time.perf_counter() - start)


Recorded = list[list[tuple[str, Any]]]


async def recorded(url: str, n: int, mix: str) -> tuple[Recorded, str]:
    """The driver-level statements of each ``create_message`` of ``ours``, and the URL of a copy
    of the database as it was before them (with the session they write into)."""
    calls: Recorded = []
    async with ChatStore(url, title_generator=OfflineTitleGenerator()) as store:
        session = await store.create_session(student_id="bench-student", creator_id="bench-creator")
    copy = clone(url)

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.startswith("BEGIN"):  # the replay begins its own transactions
            calls[-1].append((statement, parameters))

    def record_driver(statement: DriverStatement, db: Connection, values: Any) -> list[Any]:
        calls[-1].append((statement.sql, statement.parameters(values)))
        return run(statement, db, values)

    run = DriverStatement.run
    DriverStatement.run = record_driver  # type: ignore[method-assign]  # SQLite's write path
    try:
        async with ChatStore(url, title_generator=OfflineTitleGenerator()) as store:
            event.listen(store.database.engine, "before_cursor_execute", record)
            for i in range(n):
                calls.append([])
                await store.create_message(**message(session.id, i, mix))
    finally:
        DriverStatement.run = run  # type: ignore[method-assign]
    if not all(calls):
        raise RuntimeError("a message was written by statements the recorder did not see")
    return calls, copy


def clone(url: str) -> str:
    """A copy of the closed database at ``url`` (a file copy, or a PostgreSQL template)."""
    if url.startswith("sqlite"):
        source = url.removeprefix("sqlite:///")
        target = f"{source}.copy"
        for suffix in ("", "-wal"):
            if Path(source + suffix).exists():
                shutil.copyfile(source + suffix, target + suffix)
        return f"sqlite:///{target}"
    name = f"{url.rpartition('/')[2]}_copy"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.rpartition("/")[2]}"')  # type: ignore[call-overload]
    return postgres_url(name)


def sqlite_connection(path: str) -> sqlite3.Connection:
    """A raw sqlite3 connection with the store's settings (WAL, synchronous=FULL, ...)."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        db.execute(f"PRAGMA {pragma}")
    return db


def postgres_connection(url: str) -> psycopg.Connection[Any]:
    """A raw psycopg connection with the store's settings (JIT off)."""
    db = psycopg.connect(url)
    db.execute("SET jit = off")
    db.commit()
    return db


def replay_sqlite(path: str, calls: Recorded) -> float:
    """Messages/second of the sqlite3 driver sending ``calls``, one transaction each."""
    db = sqlite_connection(path)
    start = time.perf_counter()
    for statements in calls:
        db.execute("BEGIN IMMEDIATE")
        for statement, parameters in statements:
            db.execute(statement, parameters).fetchall()
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return len(calls) / elapsed


def replay_postgres(url: str, calls: Recorded) -> float:
    """Messages/second of the psycopg driver sending ``calls``, one transaction each."""
    db = postgres_connection(url)
    start = time.perf_counter()
    for statements in calls:
        with db.transaction():
            for statement, parameters in statements:
                db.execute(statement, parameters).fetchall()
    elapsed = time.perf_counter() - start
    db.close()
    return len(calls) / elapsed


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
    db = sqlite_connection(path)
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
    db = postgres_connection(url)
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


def _langchain_message(i: int) -> Any:
    from langchain_core.messages import AIMessage, HumanMessage

    return AIMessage(content(i)) if i % 2 else HumanMessage(content(i))


def _wal_on_connect(engine: Any) -> None:
    """Give every SQLite connection of ``engine`` the settings ours runs with."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


def langchain(url: str, n: int) -> float:
    """Messages/second of LangChain's SQLChatMessageHistory.add_message on the same database."""
    from langchain_community.chat_message_histories import SQLChatMessageHistory
    from sqlalchemy import create_engine

    engine = create_engine(url)
    if url.startswith("sqlite"):
        _wal_on_connect(engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = SQLChatMessageHistory(session_id="bench", connection=engine)
        start = time.perf_counter()
        for i in range(n):
            history.add_message(_langchain_message(i))
        elapsed = time.perf_counter() - start
    engine.dispose()
    return n / elapsed


async def langchain_async(url: str, n: int) -> float:
    """The same through LangChain's async API (``aadd_messages`` on an async engine), as ours is
    called: aiosqlite on SQLite, psycopg's async connection on PostgreSQL."""
    from langchain_community.chat_message_histories import SQLChatMessageHistory
    from sqlalchemy.ext.asyncio import create_async_engine

    if url.startswith("sqlite"):
        engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
        _wal_on_connect(engine.sync_engine)
    else:
        engine = create_async_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = SQLChatMessageHistory(session_id="bench", connection=engine)
        await history.aadd_messages([_langchain_message(-1)])  # creates its table
        start = time.perf_counter()
        for i in range(n):
            await history.aadd_messages([_langchain_message(i)])
        elapsed = time.perf_counter() - start
    await engine.dispose()
    return n / elapsed


async def bench_backend(backend: str, n: int, mix: str) -> dict[str, float]:
    """The four rates on one backend, each on a fresh database."""
    # Each contender gets its own fresh database of the same kind and settings.
    if backend == "sqlite":
        who = ("ours", "raw", "lc", "floor", "lc-async")
        urls = [f"sqlite:///{sqlite_file(f'ingest-{name}.db')}" for name in who]
        sqlite_file("ingest-floor.db.copy")
    else:
        urls = [create_postgres() for _ in range(5)]
    copy = None
    try:
        ours_rate = await ours(urls[0], n, mix)
        sid = await _new_session(urls[1])
        calls, copy = await recorded(urls[3], n, mix)
        if backend == "sqlite":
            raw_rate = raw_sqlite(urls[1].removeprefix("sqlite:///"), sid, n)
            lc_rate = langchain(urls[2], n)
            floor_rate = replay_sqlite(copy.removeprefix("sqlite:///"), calls)
        else:
            raw_rate = raw_postgres(urls[1], sid, n)
            lc_rate = langchain(urls[2].replace("postgresql://", "postgresql+psycopg2://"), n)
            floor_rate = replay_postgres(copy, calls)
        lc_async_rate = await langchain_async(urls[4], n)
    finally:
        if backend == "postgresql":
            for url in [*urls, *([copy] if copy else [])]:
                drop_postgres(url)
    return {
        "ours": ours_rate,
        "raw": raw_rate,
        "langchain": lc_rate,
        "langchain_async": lc_async_rate,
        "floor": floor_rate,
    }


async def main(backends: list[str], n: int, mix: str) -> None:
    """Print one Markdown row per backend."""
    print(
        f"| backend (--mix {mix}) | create_message /s | raw driver /s | LangChain /s "
        "| LangChain async /s | our statements, raw driver /s | ours / raw | ours / LangChain "
        "| ours / LangChain async | floor / raw |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for backend in backends:
        r = await bench_backend(backend, n, mix)
        print(
            f"| {backend} | {r['ours']:,.0f} | {r['raw']:,.0f} | {r['langchain']:,.0f} "
            f"| {r['langchain_async']:,.0f} | {r['floor']:,.0f} | {r['ours'] / r['raw']:.0%} "
            f"| {r['ours'] / r['langchain']:.2f}x | {r['ours'] / r['langchain_async']:.2f}x "
            f"| {r['floor'] / r['raw']:.0%} |"
        )


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mix", choices=["every", "seed"], default="every")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    runner: Callable[[], Awaitable[None]] = lambda: main(backends, args.messages, args.mix)  # noqa: E731
    asyncio.run(runner())


if __name__ == "__main__":
    cli()
