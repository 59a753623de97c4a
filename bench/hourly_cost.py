"""What per-hour rollups would cost ingest on SQLite, measured before deciding to build them.

A rolling month reads the raw rows of the day it starts in (docs/benchmarks.md, "The month
depends on the hour it runs"); per-hour rollups beside the daily ones would shrink that to an
hour. This runs bench.ingest's ``create_message`` loop on a database as migrated, and on one
with hour-keyed rollups added by hand (videos and cited minutes in one table, sessions per video,
topics; students through a ``user_messages`` counter on the quarter-hour rollup), alternately.
An experiment: no reader uses these tables, and no migration makes them.

    python -m bench.hourly_cost [--messages 2000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import replace

from sqlalchemy import Connection

from bench.common import sqlite_file
from bench.ingest import ours
from chronos_chat import ChatStore, rollups
from chronos_chat.rollups import ROLLUPS, Rollup

USER = "sum(CASE WHEN c.role = 'user' THEN 1 ELSE 0 END)"


def _hour(column: str) -> str:
    return f"substr({column}, 1, 13) || ':00:00.000000'"  # SQLite's UTC text, cut to the hour


_SESSIONS = next(r for r in ROLLUPS if r.target == "rollup_video_sessions")
HOURLY = (
    *(
        replace(r, sums={**r.sums, "user_messages": USER})
        if r.target == "rollup_student_quarters"
        else r
        for r in ROLLUPS
    ),
    Rollup(
        "rollup_video_hours",
        "video_references",
        {
            "creator_id": "c.creator_id",
            "hour_at": _hour("c.created_at"),
            "video_id": "c.video_id",
            "minute": "COALESCE(MINUTE(c.timestamp_seconds), -1)",
        },
        {"reference_count": "count(*)"},
    ),
    replace(
        _SESSIONS,
        target="rollup_video_session_hours",
        keys={
            "creator_id": "c.creator_id",
            "hour_at": _hour("s.created_at"),
            "video_id": "c.video_id",
        },
    ),
    Rollup(
        "rollup_topic_hours",
        "message_keywords",
        {
            "creator_id": "c.creator_id",
            "hour_at": _hour("c.created_at"),
            "keyword": "c.keyword",
            "label": "c.label",
        },
        {"mentions": "count(*)"},
    ),
)
KEY = "creator_id VARCHAR(128) NOT NULL, hour_at DATETIME NOT NULL"
TABLES = (
    f"CREATE TABLE rollup_video_hours ({KEY}, video_id VARCHAR(128) NOT NULL, minute INTEGER NOT NULL, "
    "reference_count BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (creator_id, hour_at, video_id, minute)) WITHOUT ROWID",
    f"CREATE TABLE rollup_video_session_hours ({KEY}, video_id VARCHAR(128) NOT NULL, "
    "sessions BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (creator_id, hour_at, video_id)) WITHOUT ROWID",
    f"CREATE TABLE rollup_topic_hours ({KEY}, keyword VARCHAR(100) NOT NULL, label VARCHAR(100) NOT NULL, "
    "mentions BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (creator_id, hour_at, keyword, label)) WITHOUT ROWID",
    "ALTER TABLE rollup_student_quarters ADD COLUMN user_messages BIGINT NOT NULL DEFAULT 0",
)


def _add_hourly(db: Connection) -> None:
    rollups.uninstall(db)
    for ddl in TABLES:
        db.exec_driver_sql(ddl)
    daily, rollups.ROLLUPS = rollups.ROLLUPS, HOURLY  # type: ignore[misc]
    try:
        rollups.install(db)
    finally:
        rollups.ROLLUPS = daily  # type: ignore[misc]


async def _database(hourly: bool) -> str:
    url = f"sqlite:///{sqlite_file(f'hourly_cost_{int(hourly)}.db')}"
    async with ChatStore(url) as store:
        if hourly:
            await store.database.write(_add_hourly)
    return url


async def main(messages: int, rounds: int) -> None:
    """Print messages/second with and without the hourly rollups, and the ratio."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for hourly in (False, True):
            rates[hourly].append(await ours(await _database(hourly), messages))
    daily, hourly = statistics.median(rates[False]), statistics.median(rates[True])
    print("| rollups | create_message /s (median of rounds) | ratio |")
    print("|---|---:|---:|")
    print(f"| daily (as shipped) | {daily:,.0f} | |")
    print(f"| daily and hourly | {hourly:,.0f} | {hourly / daily:.0%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds))
