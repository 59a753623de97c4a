"""The engine, its transactions and its migrations.

Each library call is one unit of work: a domain function (plain SQLAlchemy Core over a
connection, ``db``) runs whole in a worker thread, inside one transaction, and the caller
awaits it. One thread hop per call instead of one per statement is what makes writes fast
(see docs/benchmarks.md). Domain functions never commit; ``Database.write`` commits once, or
rolls everything back if the function raises.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import URL, Engine

from chronos_chat.dialects import SqliteSynchronous, create_engine, resolve_url

P = ParamSpec("P")
T = TypeVar("T")
MIGRATION_LOCK = 0x6368726F6E6F73  # "chronos": one migrator at a time on PostgreSQL


def alembic_config() -> Config:
    """The Alembic configuration of the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(files("chronos_chat") / "migrations"))
    return config


class Database:
    """A connection pool whose transactions run in worker threads, awaited by the caller."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        sqlite_synchronous: SqliteSynchronous = "FULL",
        pool_size: int = 10,
        **engine_options: Any,
    ) -> None:
        self.url = resolve_url(url)
        self.engine: Engine = create_engine(
            self.url, sqlite_synchronous=sqlite_synchronous, pool_size=pool_size, **engine_options
        )
        self._writer = self.engine.execution_options(chronos_write=True)
        # SQLite has one writer at a time. Queueing this process's writers on a lock is fair and
        # immediate; leaving them to SQLite's busy handler makes them sleep and retry (p99 of
        # hundreds of ms under load). Other processes still meet the busy timeout.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        # One worker per pooled connection: a call never holds a connection while it waits
        # for a thread, nor a thread while it waits for a connection.
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="chronos-db")

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(db, ...)`` in a write transaction: committed if it returns, rolled back if it raises."""
        how = self._locked_transaction if self._write_lock is not None else self._transaction
        return await self._run(how, self._writer, fn, *args, **kwargs)

    def _locked_transaction(
        self, engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        assert self._write_lock is not None
        with self._write_lock:
            return self._transaction(engine, fn, args, kwargs)

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(db, ...)`` in a read transaction: one consistent snapshot, never committed."""
        return await self._run(self._snapshot, self.engine, fn, *args, **kwargs)

    async def _run(
        self,
        how: Callable[..., T],
        engine: Engine,
        fn: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(how, engine, fn, args, kwargs)
        return await loop.run_in_executor(self._executor, call)

    @staticmethod
    def _transaction(
        engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        with engine.begin() as db:
            return fn(db, *args, **kwargs)

    @staticmethod
    def _snapshot(
        engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        with engine.connect() as db:
            return fn(db, *args, **kwargs)

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with the shipped Alembic migrations."""
        await self.write(_upgrade, revision)

    async def current_revision(self) -> str | None:
        """The schema revision the database is at (None before any migration)."""
        return await self.read(_current_revision)

    async def dispose(self) -> None:
        """Close every pooled connection and stop the worker threads."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self.engine.dispose)
        self._executor.shutdown(wait=False)


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Two processes opening a store at once must not both create the tables.
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
