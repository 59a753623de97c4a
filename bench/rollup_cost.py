"""What rollups added since a revision cost ingest: the ``create_message`` loop of
``bench.ingest`` on a database at that revision and at head, alternately.

``--before 0010`` prices the per-hour rollups of migration 0011 (a rolling month reads the day
it starts in at a finer grain thanks to them; docs/benchmarks.md, "The month depends on the
hour it runs"); ``--before 0011`` the per-model hours of migration 0012 (cost summaries);
``--before 0013`` what migration 0014's one-row triggers saved (a ratio over 100%).

    python -m bench.rollup_cost [--before 0011] [--messages 2000] [--rounds 4]
                                [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from bench.common import create_postgres, drop_postgres, sqlite_file
from bench.ingest import ours
from chronos_chat.database import Database


async def _rate(backend: str, revision: str, messages: int) -> float:
    if backend == "sqlite":
        url = f"sqlite:///{sqlite_file(f'rollup_cost_{revision}.db')}"
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


async def main(before: str, messages: int, rounds: int, backend: str) -> None:
    """Print messages/second at both revisions and their ratio."""
    rates: dict[str, list[float]] = {before: [], "head": []}
    for _ in range(rounds):
        for revision in rates:
            rates[revision].append(await _rate(backend, revision, messages))
    then, head = statistics.median(rates[before]), statistics.median(rates["head"])
    print(f"| rollups ({backend}) | create_message /s (median of {rounds}) | ratio |")
    print("|---|---:|---:|")
    print(f"| revision {before} | {then:,.0f} | |")
    print(f"| head | {head:,.0f} | {head / then:.0%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", default="0011", help="the revision to compare head with")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(main(args.before, args.messages, args.rounds, args.backend))
