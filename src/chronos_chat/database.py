"""The engine, its transactions and its migrations.

One commit point per entry path: domain functions take a connection (``db``) and never
commit; ``Database.transaction()`` commits once, or rolls everything back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chronos_chat.dialects import SqliteSynchronous, create_engine, resolve_url


def alembic_config() -> Config:
    """The Alembic configuration of the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(files("chronos_chat") / "migrations"))
    return config


class Database:
    """An async engine with explicit read and write transactions."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        sqlite_synchronous: SqliteSynchronous = "FULL",
        **engine_options: Any,
    ) -> None:
        self.url = resolve_url(url)
        self.engine: AsyncEngine = create_engine(
            self.url, sqlite_synchronous=sqlite_synchronous, **engine_options
        )
        self._writer = self.engine.execution_options(chronos_write=True)

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self._writer.begin() as db:
            yield db

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction, consistent for the whole block."""
        async with self.engine.connect() as db:
            yield db

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with the shipped Alembic migrations."""
        async with self.transaction() as db:
            await db.run_sync(_upgrade, revision)

    async def current_revision(self) -> str | None:
        """The schema revision the database is at (None before any migration)."""
        async with self.read() as db:
            return await db.run_sync(_current_revision)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
