"""The engine, its transactions and its migrations.

Each library call is one unit of work: a domain function (plain SQLAlchemy Core over a
connection, ``db``) runs whole in a worker thread, inside one transaction, and the caller
awaits it. One thread hop per call instead of one per statement is what makes writes fast
(see docs/benchmarks.md). On SQLite a quick read (``statements.quick``: a key lookup or one page
of an index) skips the hop and runs on the caller's event loop, where it costs less than the hop.
Domain functions never commit; ``Database.write`` commits once, or rolls everything back if the
function raises.

SQLite has one writer and each commit costs an fsync, so its writes go through one thread
(``GroupCommit``): writes that arrive while another commits share the next commit, each in its
own savepoint. A caller hears back only once the commit that holds its write is durable.

On PostgreSQL a report can hand part of its work to a second connection that reads the same
snapshot (``alongside``): a dashboard's figures come from two server processes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError

from chronos_chat.dialects import (
    SqliteSynchronous,
    create_engine,
    is_deadlock,
    is_unavailable,
    resolve_url,
)
from chronos_chat.errors import DatabaseUnavailable, InvalidInput
from chronos_chat.statements import is_one_statement, is_quick

P = ParamSpec("P")
T = TypeVar("T")
MIGRATION_LOCK = 0x6368726F6E6F73  # "chronos": one migrator at a time on PostgreSQL
DEADLOCK_RETRIES = 2


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
        workers: int = 2,
        report_workers: int = 2,
        **engine_options: Any,
    ) -> None:
        self.url = resolve_url(url)
        sqlite = self.url.get_backend_name() == "sqlite"
        # Every thread can hold a connection at once: no call waits for one while holding a
        # thread. SQLite's writer and its event loop's quick reads each keep one; on PostgreSQL
        # each report worker has a partner (``alongside``).
        threads = workers + report_workers * (1 if sqlite else 2) + (2 if sqlite else 0)
        if min(workers, report_workers) < 1 or pool_size < threads:
            needs = (
                "workers + report_workers + 2 (SQLite's writer and quick reads)"
                if sqlite
                else "workers + 2 x report_workers (each report's partner)"
            )
            raise InvalidInput(
                "pool_size",
                f"needs at least {needs} connections ({threads}), "
                "and at least one worker of each kind",
            )
        self.engine: Engine = create_engine(
            self.url, sqlite_synchronous=sqlite_synchronous, pool_size=pool_size, **engine_options
        )
        self._writer = self.engine.execution_options(chronos_write=True)
        # A read sees one snapshot from its first statement to its last: SQLite's read
        # transactions do; PostgreSQL's default (READ COMMITTED) takes one per statement, so a
        # list's total and its page, or two figures of one report, could disagree.
        self._reader = (
            self.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            if self.dialect == "postgresql"
            else self.engine
        )
        # One statement is its own snapshot: on PostgreSQL it runs without BEGIN and ROLLBACK,
        # two round trips of its three (statements.one_statement).
        self._single = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else self._reader
        )
        # SQLite has one writer at a time. Queueing this process's writers in one thread is fair
        # and immediate (SQLite's busy handler makes them sleep and retry: p99 of hundreds of ms
        # under load), and lets them share commits. Other processes still meet the busy timeout.
        self._group = GroupCommit(self._writer) if sqlite else None
        self._quick = _KeptReader(self._reader) if sqlite else None
        # Few threads: the work is mostly Python under one GIL, and every thread more adds
        # contention, not speed (2 threads against 10: POST 703 -> 1,191 requests/s, p99 48 ->
        # 12 ms on PostgreSQL). Long reads (analytics, search, reports) get threads of their
        # own, so a dashboard's analytics never hold up a student's page.
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chronos-db")
        self._reports = ThreadPoolExecutor(
            max_workers=report_workers, thread_name_prefix="chronos-reports"
        )
        self._partners = None if sqlite else _Partners(self._reader, report_workers)

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(db, ...)`` in a write transaction: committed if it returns, rolled back if it raises."""
        if self._group is not None:
            with _reachable():
                return await self._group.submit(fn, *args, **kwargs)
        return await self._run(self._executor, self._transaction, self._writer, fn, args, kwargs)

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(db, ...)`` in a read transaction: one consistent snapshot, nothing written."""
        if self._quick is not None and is_quick(fn, *args, **kwargs):
            # SQLite, and a read that costs less than the hop to a thread and back: run it here.
            with _reachable():
                return self._quick.read(fn, args, kwargs)
        engine = (
            self._single if is_one_statement(self.dialect, fn, *args, **kwargs) else self._reader
        )
        return await self._run(self._executor, self._snapshot, engine, fn, args, kwargs)

    async def report(
        self, fn: Callable[Concatenate[Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Like ``read``, for a long read (analytics, search, reports): in threads of its own.

        On PostgreSQL ``fn`` may hand work to a partner in its snapshot with ``alongside``.
        """
        run, given = (fn, args) if self._partners is None else (self._partners.lend, (fn, *args))
        return await self._run(self._reports, self._snapshot, self._reader, run, given, kwargs)

    @staticmethod
    async def _run(
        executor: Executor,
        how: Callable[..., T],
        engine: Engine,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        call = functools.partial(how, engine, fn, args, kwargs)
        with _reachable():
            return await asyncio.get_running_loop().run_in_executor(executor, call)

    @staticmethod
    def _transaction(
        engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        return _once_more_if_stale(_in_transaction, engine, fn, args, kwargs)

    @staticmethod
    def _snapshot(
        engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        return _once_more_if_stale(_in_snapshot, engine, fn, args, kwargs)

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with the shipped Alembic migrations."""
        await self.write(_upgrade, revision)

    async def current_revision(self) -> str | None:
        """The schema revision the database is at (None before any migration)."""
        return await self.read(_current_revision)

    async def dispose(self) -> None:
        """Close every pooled connection and stop the worker threads."""
        loop = asyncio.get_running_loop()
        if self._quick is not None:
            self._quick.close()
        if self._group is not None:
            await loop.run_in_executor(self._executor, self._group.close)
        await loop.run_in_executor(self._executor, self.engine.dispose)
        self._executor.shutdown(wait=False)
        self._reports.shutdown(wait=False)
        if self._partners is not None:
            self._partners.shutdown()


_PARTNER = "chronos_partner"  # in a report's Connection.info while it runs: how to start one
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


def alongside(db: Connection, fn: Callable[..., T], /, *args: Any) -> Future[T]:
    """Start ``fn(other, *args)`` beside the report running on ``db``; its result as a future.

    On PostgreSQL, in a report (``Database.report``), ``other`` is a second connection in a
    thread of its own, in a transaction that imports ``db``'s snapshot (``pg_export_snapshot``):
    it sees exactly what ``db`` sees, while both servers' processes work at once. Anywhere else
    ``fn`` runs at once on ``db`` itself. Take the result before the report returns: the
    snapshot can be imported only while the report's transaction lasts.
    """
    start: Callable[..., Future[T]] | None = db.info.get(_PARTNER)
    if start is not None:
        return start(fn, *args)
    done: Future[T] = Future()
    done.set_result(fn(db, *args))
    return done


class _Partners:
    """PostgreSQL: a thread per report worker, for the part of a report run ``alongside`` it."""

    def __init__(self, engine: Engine, threads: int) -> None:
        self._engine = engine  # the readers': REPEATABLE READ, READ ONLY, as the report's own
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="chronos-partners"
        )

    def lend(self, db: Connection, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(db, ...)``, able to start work ``alongside`` it while it runs."""
        # Held here: a connection lost meanwhile cannot give its info back (it raises instead
        # of letting the lost connection's error through, which gets the report retried).
        info = db.info
        info[_PARTNER] = functools.partial(self._start, db)
        try:
            return fn(db, *args, **kwargs)
        finally:
            info.pop(_PARTNER, None)  # the info stays with the pooled connection

    def _start(self, db: Connection, fn: Callable[..., T], *args: Any) -> Future[T]:
        snapshot = db.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        return self._executor.submit(
            _once_more_if_stale, _in_snapshot, self._engine, _imported, (snapshot, fn, args), {}
        )

    def shutdown(self) -> None:
        """Stop the threads (work already started finishes)."""
        self._executor.shutdown(wait=False)


def _imported(db: Connection, snapshot: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    if not _SNAPSHOT_ID.fullmatch(snapshot):  # it is spliced into the statement below
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    # The first statement of the transaction; valid while the exporting one lasts, and the
    # report waits for this result before it ends.
    db.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    return fn(db, *args)


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """Raise the driver's connection and lock errors as ``DatabaseUnavailable``."""
    try:
        yield
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable(f"database unavailable: {exc.orig}") from exc
        raise


class _Stale(Exception):
    """The pooled connection had died (server restart, failover) before anything committed."""

    def __init__(self, error: DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error


_Attempt = Callable[[Engine, Callable[..., T], tuple[Any, ...], dict[str, Any]], T]


def _once_more_if_stale(
    how: _Attempt[T],
    engine: Engine,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    # SQLAlchemy empties the pool when it sees a dead connection, so a second attempt gets a
    # fresh one; pinging on every checkout would cost a round trip on every call instead.
    try:
        return how(engine, fn, args, kwargs)
    except _Stale:
        pass
    try:
        return how(engine, fn, args, kwargs)
    except _Stale as again:
        raise again.error from None


def _in_transaction(
    engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    retries = DEADLOCK_RETRIES
    while True:
        try:
            with engine.connect() as db:
                transaction = db.begin()
                result = _stale_if_lost(fn, db, args, kwargs)
                transaction.commit()  # a connection lost here is an error: it may have landed
                return result
        except DBAPIError as exc:
            # PostgreSQL broke a deadlock by rolling this transaction back whole: run it again
            # (the other side goes on), rather than fail a caller for a collision of timing.
            if not retries or not is_deadlock(exc):
                raise
            retries -= 1


def _in_snapshot(
    engine: Engine, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    with engine.connect() as db:
        result = _stale_if_lost(fn, db, args, kwargs)
        if db.dialect.name == "postgresql" and db.in_transaction():
            # psycopg forgets every prepared statement on ROLLBACK, so reads ended that way had
            # each statement parsed and planned on every call (a creator's month of analytics
            # 16-17 -> 14-15 ms). The transaction is READ ONLY: COMMIT ends it the same way.
            db.commit()
        return result


def _stale_if_lost(
    fn: Callable[..., T], db: Connection, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    """``fn(db, ...)``; a connection lost meanwhile as ``_Stale`` (nothing was committed yet)."""
    try:
        return fn(db, *args, **kwargs)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise _Stale(exc) from exc
        raise


class _KeptReader:
    """A connection kept for the quick reads of the thread that made the first one (the event
    loop's): a pool checkout and return cost a quarter of a page of sessions. Reads from any
    other thread take a pooled connection as every other read does."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._db: Connection | None = None
        self._thread: int | None = None

    def read(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        """``fn(db, ...)`` in a read transaction of its own, ended (rolled back) when it returns."""
        if self._thread is None:
            self._thread = threading.get_ident()
        if self._thread != threading.get_ident():
            return _once_more_if_stale(_in_snapshot, self._engine, fn, args, kwargs)
        db = self._db = self._db or self._engine.connect()
        try:
            return fn(db, *args, **kwargs)
        finally:
            if db.invalidated:  # the next read connects again
                self._db = None
            else:
                db.rollback()  # a read kept open would pin its WAL snapshot

    def close(self) -> None:
        """Return the kept connection to the pool."""
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = field(default=None)


class GroupCommit:
    """One writer thread that runs queued write functions in order and commits them in groups.

    A group is whatever is queued when the previous commit ends (up to ``max_group``). Alone, a
    function runs in a plain transaction; in a group, each runs in a savepoint, so one that
    raises rolls back only its own writes. If the commit fails, every function of the group
    fails with it: nothing is reported written that was not committed.
    """

    def __init__(self, engine: Engine, max_group: int = 64) -> None:
        self._engine = engine
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._db: Connection | None = None
        self._thread = threading.Thread(target=self._serve, name="chronos-writer", daemon=True)
        self._thread.start()

    async def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Queue ``fn(db, *args, **kwargs)`` and wait until its group is committed."""
        if self._closed:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, kwargs, loop, loop.create_future())
        self._queue.put(job)
        result: T = await job.future
        return result

    def close(self) -> None:
        """Finish the queued writes and stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _serve(self) -> None:
        try:
            self._serve_queue()
        finally:
            if self._db is not None:
                self._db.close()

    def _serve_queue(self) -> None:
        while (job := self._queue.get()) is not None:
            group = [job]
            while len(group) < self._max_group:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(queued)
            self._commit(group)
            for done in group:
                _settle(done)

    def _commit(self, group: list[_Job]) -> None:
        try:
            # One connection kept for the writer's life (opened on its first write, so that an
            # unreachable file fails that write): a pool checkout and return per commit cost
            # more than SQLite's own commit work.
            db = self._db = self._db or self._engine.connect()
            with db.begin():
                if len(group) == 1:
                    job = group[0]
                    job.result = job.fn(db, *job.args, **job.kwargs)
                    return
                for job in group:
                    try:
                        with db.begin_nested():
                            job.result = job.fn(db, *job.args, **job.kwargs)
                    except Exception as error:  # only this job's savepoint is rolled back
                        job.error = error
        except BaseException as error:
            for job in group:
                if job.error is None:
                    job.error = error
            self._drop_if_unfinished()

    def _drop_if_unfinished(self) -> None:
        """Give up the writer's connection if a failure (a refused commit) left its transaction
        open: the pool rolls it back, and the next write opens another."""
        db = self._db
        if db is None:
            return
        # Whatever state the failure left the connection in, the writer thread must live on:
        # every later write waits on it.
        try:
            unfinished = db.connection.driver_connection.in_transaction  # type: ignore[union-attr]
        except Exception:
            unfinished = True
        if unfinished:
            self._db = None
            with contextlib.suppress(Exception):
                db.close()


def _settle(job: _Job) -> None:
    def deliver() -> None:
        if job.future.cancelled():
            return
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)

    with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody is waiting
        job.loop.call_soon_threadsafe(deliver)


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
