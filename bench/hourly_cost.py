"""What the per-hour rollups (migration 0011) cost ingest: the ``create_message`` loop of
``bench.ingest`` on a database at revision 0010 (daily rollups only) and at head, alternately.

A rolling month reads the day it starts in at a finer grain thanks to them (docs/benchmarks.md,
"The month depends on the hour it runs"); this is their price on the write path.

    python -m bench.hourly_cost [--messages 2000] [--rounds 4] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from bench.common import create_postgres, drop_postgres, sqlite_file
from bench.ingest import ours
from chronos_chat.database import Database

BEFORE = "0010"  # the revision before the hourly rollups


async def _rate(backend: str, revision: str, messages: int) -> float:
    if backend == "sqlite":
        url = f"sqlite:///{sqlite_file(f'hourly_cost_{revision}.db')}"
    else:
        url = create_postgres()
    database = Database(url)
    try:
        await database.migrate(revision)
    finally:
        await database.dispose()
    try:
        return await ours(url, messages, auto_migrate=False)
    finally:
        if backend == "postgresql":
            drop_postgres(url)


async def main(messages: int, rounds: int, backend: str) -> None:
    """Print messages/second at both revisions and their ratio."""
    rates: dict[str, list[float]] = {BEFORE: [], "head": []}
    for _ in range(rounds):
        for revision in rates:
            rates[revision].append(await _rate(backend, revision, messages))
    before, head = statistics.median(rates[BEFORE]), statistics.median(rates["head"])
    print(f"| rollups ({backend}) | create_message /s (median of {rounds}) | ratio |")
    print("|---|---:|---:|")
    print(f"| daily only (revision {BEFORE}) | {before:,.0f} | |")
    print(f"| daily and hourly (head) | {head:,.0f} | {head / before:.0%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds, args.backend))
