"""Creator analytics over the workload, against (a) the original's approach (fetch the creator's
rows, aggregate in Python) and (b) hand-written SQL for the headline figures, in one run.

    python -m bench.analytics --messages 1000000 --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, text

from bench.common import ms, timed
from bench.workload import Workload, load
from chronos_chat import ChatStore, OfflineTitleGenerator, cost_reports
from chronos_chat.schema import chat_messages, chat_sessions, video_references

M, S, R = chat_messages.c, chat_sessions.c, video_references.c
WORD = re.compile(r"[a-z]{4,}")


def original(db: Connection, creator_id: str, since: datetime | None) -> dict[str, Any]:
    """The seed's way: load every session, message and reference of the creator, loop in Python."""
    sessions = db.execute(select(chat_sessions).where(S.creator_id == creator_id)).all()
    where = [M.creator_id == creator_id] + ([M.created_at >= since] if since else [])
    messages = db.execute(
        select(
            M.id,
            M.student_id,
            M.role,
            M.content,
            M.created_at,
            M.cost_nanos,
            M.input_tokens,
            M.output_tokens,
        ).where(*where)
    ).all()
    refs = db.execute(
        select(R.video_id).where(
            R.creator_id == creator_id, *([R.created_at >= since] if since else [])
        )
    ).all()
    students = Counter(m.student_id for m in messages if m.role == "user")
    words = Counter(
        w for m in messages if m.role == "user" for w in WORD.findall(m.content.lower())
    )
    return {
        "sessions": sum(1 for s in sessions if since is None or s.created_at >= since),
        "messages": len(messages),
        "cost": sum(m.cost_nanos or 0 for m in messages),
        "tokens": sum(m.input_tokens + m.output_tokens for m in messages),
        "students": students.most_common(10),
        "videos": Counter(r.video_id for r in refs).most_common(10),
        "topics": words.most_common(20),
        "hours": Counter(m.created_at.hour for m in messages).most_common(),
    }


HAND_WRITTEN = [
    "SELECT count(*), sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens"
    " + embedding_tokens), sum(cost_nanos), count(DISTINCT student_id) FROM chat_messages"
    " WHERE creator_id = :c AND created_at >= :since",
    "SELECT count(*) FROM chat_sessions WHERE creator_id = :c AND created_at >= :since",
    "SELECT student_id, count(*) FROM chat_messages WHERE creator_id = :c AND created_at >= :since"
    " AND role = 'user' GROUP BY student_id ORDER BY 2 DESC LIMIT 10",
    "SELECT video_id, count(*) FROM video_references WHERE creator_id = :c AND created_at >= :since"
    " GROUP BY video_id ORDER BY 2 DESC LIMIT 10",
    "SELECT keyword, count(*) FROM message_keywords WHERE creator_id = :c AND created_at >= :since"
    " GROUP BY keyword ORDER BY 2 DESC LIMIT 20",
]
ROUNDS = 3
HOURS = {
    "sqlite": "SELECT strftime('%H', created_at), count(*) FROM chat_messages WHERE creator_id = :c"
    " AND created_at >= :since GROUP BY 1",
    "postgresql": "SELECT extract(hour FROM created_at AT TIME ZONE 'UTC'), count(*) FROM chat_messages"
    " WHERE creator_id = :c AND created_at >= :since GROUP BY 1",
}


def hand_written(db: Connection, creator_id: str, since: datetime | None) -> list[Any]:
    """The headline figures in the best plain SQL over the raw tables."""
    start: Any = since or datetime(2000, 1, 1, tzinfo=UTC)
    if db.dialect.name == "sqlite":
        start = start.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    queries = [*HAND_WRITTEN, HOURS[db.dialect.name]]
    return [db.execute(text(q), {"c": creator_id, "since": start}).all() for q in queries]


async def _dashboard(store: ChatStore, creator: str) -> None:
    """What the dashboard's first request asks for (``/api/chat/analytics?usage=true&
    cost_projection=true``), as the route asks: its four reports at once."""
    today = datetime.now(UTC).date()
    await asyncio.gather(
        store.get_creator_chat_analytics(creator, "month"),
        store.get_chat_usage_metrics(creator, today - timedelta(days=29), today),
        store.get_cost_projection(creator),
        store.get_creator_cost_suggestions(creator, since=datetime.now(UTC) - timedelta(days=30)),
    )


async def bench(backend: str, workload: Workload) -> list[str]:
    """Rows of the results table for one backend and size."""
    rows = []
    async with ChatStore(workload.url, title_generator=OfflineTitleGenerator()) as store:
        now = datetime.now(UTC)
        for who, creator in (
            ("biggest", workload.biggest_creator),
            ("median", workload.median_creator),
        ):
            for period in ("month", "all"):
                since = now - timedelta(days=30) if period == "month" else None
                # Interleaved rounds: this machine's speed drifts over seconds, and a ratio is
                # only fair when both sides ran under the same conditions.
                ours, theirs, sql = [], [], []
                for _ in range(ROUNDS):
                    ours += await timed(
                        lambda c=creator, p=period: store.get_creator_chat_analytics(c, p), repeat=5
                    )
                    theirs += await timed(
                        lambda c=creator, s=since: store.database.read(original, c, s),
                        repeat=1,
                        warmup=0,
                    )
                    sql += await timed(
                        lambda c=creator, s=since: store.database.read(hand_written, c, s),
                        repeat=1,
                        warmup=0,
                    )
                rows.append(
                    f"| {backend} | {workload.messages:,} | {who} | {period} | {ms(ours)} | {ms(theirs)} "
                    f"| {statistics.median(theirs) / statistics.median(ours):.1f}x | {ms(sql)} "
                    f"| {statistics.median(sql) / statistics.median(ours):.1f}x |"
                )
        first = (
            await store.list_sessions(creator_id=workload.biggest_creator, sort_by="message_count")
        ).data[0]
        session = await timed(lambda: store.get_session_analytics(first.id), repeat=20)
        today = now.date()
        usage = await timed(
            lambda: store.get_chat_usage_metrics(
                workload.biggest_creator, today - timedelta(days=29), today
            ),
            repeat=15,
        )
        dashboard = await timed(lambda: _dashboard(store, workload.biggest_creator), repeat=15)
        rows.append(
            f"| {backend} | {workload.messages:,} | session analytics | | {ms(session)} | | | | |"
        )
        biggest = workload.biggest_creator
        for period in ("month", "all"):
            since = now - timedelta(days=30) if period == "month" else None
            gaps = await timed(lambda p=period: store.get_content_gaps(biggest, p), repeat=5)
            spent = await timed(
                lambda s=since: store.get_cost_summary(creator_id=biggest, since=s), repeat=5
            )
            summed = await timed(  # (b): the same figures summed from the messages
                lambda s=since: store.database.report(
                    cost_reports.cost_summary, cost_reports.scope(creator_id=biggest, since=s)
                ),
                repeat=5,
            )
            rows.append(
                f"| {backend} | {workload.messages:,} | content gaps, biggest | {period} "
                f"| {ms(gaps)} | | | | |"
            )
            rows.append(
                f"| {backend} | {workload.messages:,} | cost summary, biggest | {period} "
                f"| {ms(spent)} | | | {ms(summed)} "
                f"| {statistics.median(summed) / statistics.median(spent):.1f}x |"
            )
        rows.append(
            f"| {backend} | {workload.messages:,} | usage metrics, biggest, 30 days | | {ms(usage)} | | | | |"
        )
        rows.append(
            f"| {backend} | {workload.messages:,} | dashboard request, biggest, month | "
            f"| {ms(dashboard)} | | | | |"
        )
    return rows


async def main(backends: list[str], sizes: list[int]) -> None:
    """Print the Markdown table."""
    print(
        "| backend | messages | creator | period | ours ms | (a) original ms | (a) / ours | (b) SQL ms | (b) / ours |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    for size in sizes:
        for backend in backends:
            for row in await bench(backend, await load(backend, size)):
                print(row, flush=True)


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    asyncio.run(main(backends, args.messages))


if __name__ == "__main__":
    cli()
