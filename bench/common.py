"""Shared benchmark plumbing: fresh databases and timing."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

ADMIN_URL = os.environ.get(
    "CHRONOS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DATA_DIR = Path(__file__).parent / "data"


def postgres_url(name: str) -> str:
    """The URL of database ``name`` on the benchmark server."""
    return f"{ADMIN_URL.rpartition('/')[0]}/{name}"


def create_postgres(name: str | None = None, *, drop: bool = True) -> str:
    """A PostgreSQL database for a benchmark (fresh unless ``drop`` is False); its URL."""
    name = name or f"chronos_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and drop:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[call-overload]
        if not exists or drop:
            admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[call-overload]
    return postgres_url(name)


def drop_postgres(url: str) -> None:
    """Drop the benchmark database at ``url``."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')  # type: ignore[call-overload]


def sqlite_file(name: str, *, fresh: bool = True) -> Path:
    """A SQLite file under bench/data (removed first unless ``fresh`` is False)."""
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / name
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


async def timed(
    run: Callable[[], Awaitable[object]], repeat: int = 7, warmup: int = 1
) -> list[float]:
    """Wall-clock seconds of ``repeat`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        await run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return times


def ms(times: list[float]) -> str:
    """Median of ``times`` in milliseconds."""
    return f"{statistics.median(times) * 1000:.2f}"


def run(coroutine: Awaitable[None]) -> None:
    """Run a benchmark's main coroutine."""
    asyncio.run(coroutine)  # type: ignore[arg-type]
