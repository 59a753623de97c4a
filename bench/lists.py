"""Session list pages and full-text search over the workload, against the original's approach
in the same run: a list that counts each session's messages, and a search that scans with LIKE.

    python -m bench.lists --messages 1000000 --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from typing import Any

from sqlalchemy import Connection, func, select

from bench.common import ms, timed
from bench.workload import Workload, load
from chronos_chat import ChatStore, OfflineTitleGenerator
from chronos_chat.schema import chat_messages, chat_sessions

QUERIES = [
    "barre chords",
    "pandas groupby",
    "OAuth",
    "depth of field",
    "index funds",
    "useEffect cleanup",
    "overfitting",
    "white balance",
    "Docker containers",
    "tax brackets",
]
M, S = chat_messages.c, chat_sessions.c


def original_list(db: Connection, creator_id: str, page: int, limit: int = 20) -> list[Any]:
    """The original's list: join every message to count it, then page."""
    counts = (
        select(S.id, S.title, S.last_message_at, func.count(M.id).label("message_count"))
        .join(chat_messages, M.session_id == S.id, isouter=True)
        .where(S.creator_id == creator_id, S.archived_at.is_(None))
        .group_by(S.id, S.title, S.last_message_at)
        .order_by(S.last_message_at.desc())
    )
    return list(db.execute(counts.limit(limit).offset((page - 1) * limit)).all())


def like_search(db: Connection, creator_id: str, query: str) -> list[Any]:
    """A LIKE scan over message contents and titles (no full-text index)."""
    pattern = f"%{query}%"
    hits = (
        select(M.session_id)
        .where(M.creator_id == creator_id, M.content.ilike(pattern))
        .union(select(S.id).where(S.creator_id == creator_id, S.title.ilike(pattern)))
        .subquery()
    )
    return list(db.execute(select(S.id).where(S.id.in_(select(hits))).limit(20)).all())


async def bench(backend: str, workload: Workload) -> list[str]:
    """Rows of the results table for one backend."""
    rows = []
    async with ChatStore(workload.url, title_generator=OfflineTitleGenerator()) as store:
        big = workload.biggest_creator
        first = await store.list_sessions(creator_id=big)
        last_page = first.total_pages

        async def ours_page(page: int) -> Any:
            return await store.list_sessions(creator_id=big, page=page)

        async def theirs_page(page: int) -> Any:
            return await store.database.read(original_list, big, page)

        middle = (last_page + 1) // 2  # the deepest page from either end
        pages = (
            ("page 1", 1),
            (f"page {middle:,} (middle)", middle),
            (f"page {last_page:,} (last)", last_page),
        )
        for label, page in pages:
            ours = await timed(lambda p=page: ours_page(p), repeat=25)
            theirs = await timed(lambda p=page: theirs_page(p), repeat=5)
            rows.append(
                f"| {backend} | list, biggest creator, {label} | {ms(ours)} | {ms(theirs)} | "
                f"{statistics.median(theirs) / statistics.median(ours):.0f}x |"
            )
        student = await timed(
            lambda: store.list_sessions(student_id=workload.busiest_student), repeat=25
        )
        rows.append(f"| {backend} | list, busiest student, page 1 | {ms(student)} | | |")

        search_times, like_times = [], []
        for query in QUERIES:
            search_times += await timed(
                lambda q=query: store.search_sessions(q, creator_id=big), repeat=3
            )
            like_times += await timed(
                lambda q=query: store.database.read(like_search, big, q), repeat=1, warmup=0
            )
        rows.append(
            f"| {backend} | search, biggest creator ({len(QUERIES)} queries) | {ms(search_times)} | "
            f"{ms(like_times)} | {statistics.median(like_times) / statistics.median(search_times):.0f}x |"
        )
        student_search = []
        for query in QUERIES:
            student_search += await timed(
                lambda q=query: store.search_sessions(q, student_id=workload.busiest_student),
                repeat=3,
            )
        rows.append(f"| {backend} | search, busiest student | {ms(student_search)} | | |")
    return rows


async def main(backends: list[str], messages: int) -> None:
    """Print the Markdown table."""
    print("| backend | operation | ours, median ms | original's approach, median ms | speed-up |")
    print("|---|---|---:|---:|---:|")
    for backend in backends:
        workload = await load(backend, messages)
        for row in await bench(backend, workload):
            print(row, flush=True)


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    asyncio.run(main(backends, args.messages))


if __name__ == "__main__":
    cli()
