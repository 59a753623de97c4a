"""Every store test runs on SQLite and on PostgreSQL (a database of its own, made and dropped here).

PostgreSQL comes from ``CHRONOS_TEST_POSTGRES_URL`` (default: the local server's ``test``
database, used only to create ours). Without a server the PostgreSQL half skips, except
under ``CI=true``, where it fails.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from chronos_chat import ChatStore, OfflineTitleGenerator
from tests.factories import empty

ADMIN_URL = os.environ.get("CHRONOS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _dsn(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


def _admin(statement: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)  # type: ignore[call-overload]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated, dropped at the end."""
    name = f"chronos_test_{uuid.uuid4().hex[:12]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    url = _dsn(ADMIN_URL, name)

    async def migrate() -> None:
        store = ChatStore(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    yield url
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend: a new SQLite file, or the run's PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chronos.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[ChatStore]:
    """An open ``ChatStore`` over an empty database, with offline titles."""
    chat_store = ChatStore(database_url, title_generator=OfflineTitleGenerator())
    await chat_store.open()
    await empty(chat_store)
    try:
        yield chat_store
    finally:
        await chat_store.close()
