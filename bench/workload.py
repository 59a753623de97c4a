"""The deterministic workload: bulk-load N messages of realistic traffic through the library's
schema (migrations, counters, costs, references, full-text index), on SQLite or PostgreSQL.

    python -m bench.workload --messages 1000000 --backend sqlite

Creators share traffic heavy-tailed (the first holds about 40%), about 20k students at 1M
messages, sessions of 2-40 alternating messages over 90 days with a daily rhythm, 1-5
references per answer, token usage and models. A loaded database is reused while its
message count matches.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress
from sqlalchemy import Connection, Engine, func, select

from bench.common import create_postgres, postgres_url, sqlite_file
from chronos_chat.costs import price_usage
from chronos_chat.database import Database
from chronos_chat.messages import best_similarity, keyword_rows
from chronos_chat.pricing import load_catalog
from chronos_chat.sample_data import PlannedSession, plan_sessions
from chronos_chat.schema import chat_messages, chat_sessions, message_keywords, video_references
from chronos_chat.usage import normalize_usage

BATCH_SESSIONS = 500
GENERATOR_VERSION = 6  # bump when the generator or the schema changes: old loads are not reused


@dataclass(frozen=True)
class Workload:
    """A loaded database and what is in it."""

    url: str
    messages: int
    sessions: int
    biggest_creator: str
    median_creator: str
    busiest_student: str


def students_for(messages: int) -> int:
    """About 20k students at 1M messages, scaled down for smaller loads."""
    return max(50, messages // 50)


Rows = list[dict[str, Any]]


def _rows(plan: PlannedSession, catalog: Any) -> tuple[dict[str, Any], Rows, Rows, Rows]:
    sid = uuid.uuid4()
    messages: Rows = []
    references: Rows = []
    keywords: Rows = []
    tokens = cost_total = 0
    preview = None
    for seq, m in enumerate(plan.messages, start=1):
        usage = normalize_usage(m.usage)
        cost = price_usage(usage, m.model, at=m.created_at, catalog=catalog).total_nanos
        tokens += usage.total_tokens
        cost_total += cost
        mid = uuid.uuid4()
        if m.role == "user":
            preview = preview or m.content[:100]
            keywords += keyword_rows(mid, plan.creator_id, m.created_at, m.content)
        messages.append(
            {
                "id": mid,
                "session_id": sid,
                "creator_id": plan.creator_id,
                "student_id": plan.student_id,
                "seq": seq,
                "role": m.role,
                "content": m.content,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "embedding_tokens": usage.embedding_tokens,
                "embedding_queries": usage.embedding_queries,
                "model": m.model,
                "embedding_model": usage.embedding_model,
                "cost_nanos": cost,
                "response_time_ms": m.response_time_ms,
                "metadata": {},
                "idempotency_key": None,
                "created_at": m.created_at,
                "edited_at": None,
                "best_similarity": best_similarity(r["similarity"] for r in m.references),
            }
        )
        for position, ref in enumerate(m.references):
            references.append(
                {
                    "message_id": mid,
                    "session_id": sid,
                    "creator_id": plan.creator_id,
                    "created_at": m.created_at,
                    "position": position,
                    "video_id": ref["video_id"],
                    "video_title": ref["video_title"],
                    "timestamp_seconds": ref["timestamp"],
                    "chunk_text": ref["chunk_text"],
                    "similarity": ref["similarity"],
                }
            )
    session = {
        "id": sid,
        "creator_id": plan.creator_id,
        "student_id": plan.student_id,
        "title": None,
        "context_video_ids": plan.context_video_ids,
        "metadata": {},
        "preview": preview,
        "created_at": plan.created_at,
        "updated_at": plan.messages[-1].created_at,
        "last_message_at": plan.messages[-1].created_at,
        "archived_at": None,
        "message_count": len(plan.messages),
        "last_seq": len(plan.messages),
        "total_tokens": tokens,
        "total_cost_nanos": cost_total,
        "unpriced_message_count": 0,
    }
    return session, messages, references, keywords


def _insert(engine: Engine, batch: list[PlannedSession], catalog: Any) -> None:
    sessions, messages, references, keywords = [], [], [], []
    for plan in batch:
        s, m, r, k = _rows(plan, catalog)
        sessions.append(s)
        messages.extend(m)
        references.extend(r)
        keywords.extend(k)
    with engine.begin() as db:
        db.execute(chat_sessions.insert(), sessions)
        db.execute(chat_messages.insert(), messages)
        for table, rows in ((video_references, references), (message_keywords, keywords)):
            if rows:
                db.execute(table.insert(), rows)


def _count(db: Connection) -> int:
    return int(db.execute(select(func.count()).select_from(chat_messages)).scalar_one())


def _describe(db: Connection, url: str) -> Workload:
    per_creator = db.execute(
        select(chat_messages.c.creator_id, func.count())
        .group_by(chat_messages.c.creator_id)
        .order_by(func.count().desc())
    ).all()
    student = db.execute(
        select(chat_sessions.c.student_id)
        .group_by(chat_sessions.c.student_id)
        .order_by(func.count().desc())
        .limit(1)
    ).scalar_one()
    sessions = db.execute(select(func.count()).select_from(chat_sessions)).scalar_one()
    return Workload(
        url=url,
        messages=sum(n for _, n in per_creator),
        sessions=int(sessions),
        biggest_creator=per_creator[0][0],
        median_creator=per_creator[len(per_creator) // 2][0],
        busiest_student=student,
    )


async def load(backend: str, messages: int, *, seed: int = 7, creators: int = 12) -> Workload:
    """A database of ``messages`` messages on ``backend`` (loaded now, or reused)."""
    name = f"workload_{messages}_s{seed}_v{GENERATOR_VERSION}"
    if backend == "sqlite":
        url = f"sqlite:///{sqlite_file(name + '.db', fresh=False)}"
    else:
        url = create_postgres(f"chronos_bench_{name}", drop=False)
    database = Database(url, sqlite_synchronous="OFF")
    try:
        before = await database.current_revision()
        await database.migrate()
        if before is not None and before != await database.current_revision():
            # A migration may have rewritten a table (0015 on PostgreSQL): settle the
            # planner's statistics and visibility maps before anything is timed on it.
            await asyncio.to_thread(_settle, database.engine)
        if await database.read(_count) != messages:
            await database.dispose()
            if backend == "sqlite":
                sqlite_file(name + ".db")
            else:
                create_postgres(f"chronos_bench_{name}")
            database = Database(url, sqlite_synchronous="OFF")
            await database.migrate()
            await asyncio.to_thread(_fill, database.engine, messages, seed, creators)
        return await database.read(_describe, url)
    finally:
        await database.dispose()


def _fill(engine: Engine, messages: int, seed: int, creators: int) -> None:
    catalog = load_catalog()
    plans = plan_sessions(
        messages=messages, creators=creators, students=students_for(messages), days=90, seed=seed
    )
    batch: list[PlannedSession] = []
    with Progress() as progress:
        task = progress.add_task(f"loading {messages:,} messages", total=messages)
        for plan in plans:
            batch.append(plan)
            if len(batch) == BATCH_SESSIONS:
                _insert(engine, batch, catalog)
                progress.advance(task, sum(len(p.messages) for p in batch))
                batch = []
        if batch:
            _insert(engine, batch, catalog)
            progress.advance(task, sum(len(p.messages) for p in batch))
    _settle(engine)


def _settle(engine: Engine) -> None:
    """Statistics for the planner and, on PostgreSQL, visibility maps for index-only scans."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as db:
            db.exec_driver_sql("ANALYZE")


def cli() -> None:
    """Load a workload and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    start = time.perf_counter()
    workload = asyncio.run(load(args.backend, args.messages))
    print(workload, f"({time.perf_counter() - start:.0f} s)")


__all__ = ["Workload", "load", "postgres_url"]

if __name__ == "__main__":
    cli()
