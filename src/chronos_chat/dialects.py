"""Everything that differs between SQLite and PostgreSQL, in one place.

URLs and drivers, connection settings, time stored as UTC, locks, insert-if-absent, full-text
search, JSON membership and local-time buckets. Domain modules ask this module instead of
testing the dialect themselves.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    Text,
    bindparam,
    case,
    cast,
    event,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from chronos_chat import driver
from chronos_chat.errors import ChronosError, InvalidInput

SqliteSynchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
DEFAULT_SQLITE_FILE = "chronos.db"
MIN_SQLITE = (3, 35)  # RETURNING and ALTER TABLE DROP COLUMN


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC (naive on SQLite, which has no zone type)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput("datetime", "must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, its text parsed straight into a UTC datetime; elsewhere as declared."""
        if dialect.name == "sqlite":
            return _sqlite_utc
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalize PostgreSQL's timestamps to UTC (SQLite's are read by ``_sqlite_utc``)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_utc(value: str | None) -> datetime | None:
    """A timestamp as SQLite holds it ("2026-11-25 04:00:00.000000", UTC), timezone-aware.

    Parsed with its zone appended: SQLAlchemy's parse and then ``replace(tzinfo=UTC)`` took 1 us
    a value, this 0.2, and a page of 20 sessions holds 60 of them.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text that names its own offset
        parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is UTC:
        return parsed
    # A date alone reads its "+" as the separator of a time: naive midnight.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def resolve_url(url: str | URL | None) -> URL:
    """Turn a plain URL (or the environment's, or the default file) into one with our driver."""
    raw = url or os.environ.get("CHRONOS_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_FILE}"
    try:
        parsed = make_url(raw) if isinstance(raw, str) else raw
    except ArgumentError:
        # Not echoed back: a URL can carry a password.
        raise InvalidInput(
            "url", "is not a database URL: e.g. sqlite:///chronos.db or postgresql://user@host/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise InvalidInput("url", f"unsupported database {backend!r}: use sqlite or postgresql")


def create_engine(
    url: URL, *, sqlite_synchronous: SqliteSynchronous = "FULL", **kwargs: Any
) -> Engine:
    """Create the engine with the settings that keep each backend safe and fast."""
    # The most recently used connection has a warm page cache (and, for SQLite, knows the
    # latest WAL state): reuse it first.
    kwargs.setdefault("pool_use_lifo", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 0)
    if url.get_backend_name() != "sqlite":
        engine = sa_create_engine(url, **kwargs)
        event.listen(engine, "connect", _without_jit)
        return engine
    if url.database in (None, "", ":memory:"):
        raise InvalidInput(
            "url", "use a SQLite file: an in-memory database is private to one connection"
        )
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise ChronosError(
            f"this Python's SQLite is {sqlite3.sqlite_version}; chronos-chat needs "
            f"{'.'.join(map(str, MIN_SQLITE))} or newer (for RETURNING): use a newer Python "
            "build, or PostgreSQL"
        )
    kwargs.setdefault("connect_args", {"check_same_thread": False})
    engine = sa_create_engine(url, **kwargs)
    _configure_sqlite(engine, sqlite_synchronous)
    return engine


def _without_jit(dbapi_connection: Any, _record: Any) -> None:
    # PostgreSQL compiles a query with JIT once its estimated cost is high, which ours (index
    # reads feeding aggregates) reach without running long: the compile took 250 ms of a 400 ms
    # content-gaps report. A SET rather than a startup option, which PgBouncer refuses.
    dbapi_connection.execute("SET jit = off")
    dbapi_connection.commit()  # SET is transactional: a later rollback would undo it


def _configure_sqlite(engine: Engine, synchronous: SqliteSynchronous) -> None:
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise InvalidInput("sqlite_synchronous", "must be OFF, NORMAL, FULL or EXTRA")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would BEGIN too late (DEFERRED, on the first
        # write); turn it off so the "begin" hook below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Write transactions take the write lock up front, so a read-then-write (such as
        # get-or-create) can never interleave with another writer.
        mode = "IMMEDIATE" if conn.get_execution_options().get("chronos_write") else "DEFERRED"
        driver.execute(conn, f"BEGIN {mode}")  # SQLAlchemy's execute costs more than the BEGIN


# SQLite result codes and PostgreSQL SQLSTATE classes that mean "the database cannot serve
# this now" (no connection, busy, locked, out of resources, shutting down, deadlock) rather
# than a mistake in the statement.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
)
_POSTGRES_UNAVAILABLE = ("08", "40", "53", "55P03", "57")


def is_unavailable(error: DBAPIError) -> bool:
    """Whether ``error`` says the database is unreachable or busy, not that the SQL is wrong."""
    if error.connection_invalidated:
        return True
    orig = error.orig
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:
        return str(name).startswith(_SQLITE_UNAVAILABLE)
    if hasattr(orig, "sqlstate"):  # psycopg: no SQLSTATE when no server ever answered
        state = getattr(orig, "sqlstate", None)
        return state is None or str(state).startswith(_POSTGRES_UNAVAILABLE)
    return False


def is_deadlock(error: DBAPIError) -> bool:
    """Whether PostgreSQL aborted the transaction to break a deadlock (nothing of it was kept)."""
    return getattr(error.orig, "sqlstate", None) == "40P01"


def is_sqlite(db: Connection) -> bool:
    """Whether the connection talks to SQLite."""
    return db.dialect.name == "sqlite"


def lock_pair(db: Connection, student_id: str, creator_id: str) -> None:
    """Serialize get-or-create for one (student, creator) pair until the transaction ends."""
    if is_sqlite(db):
        return  # BEGIN IMMEDIATE already holds the database's only write lock.
    key = f"chronos-chat:{student_id}\x1f{creator_id}"
    db.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def json_array_contains_any(db: Connection, column: Any, values: str) -> Any:
    """A condition: the JSON array in ``column`` holds one of the list in parameter ``values``."""
    if is_sqlite(db):
        each = func.json_each(column).table_valued("value")
        listed = each.c.value.in_(bindparam(values, expanding=True))
        return select(literal_column("1")).select_from(each).where(listed).exists()
    return column.op("?|", return_type=Boolean)(bindparam(values, type_=ARRAY(Text)))


def json_array_length(db: Connection, column: Any) -> Any:
    """The number of items in the JSON array in ``column``."""
    return func.json_array_length(column) if is_sqlite(db) else func.jsonb_array_length(column)


def message_match_sql(db: Connection) -> str:
    """SQL that yields (message pk, score: lower is better) for messages matching ``:q``."""
    if is_sqlite(db):
        return (
            "SELECT rowid AS pk, bm25(chat_messages_fts) AS score "
            "FROM chat_messages_fts WHERE chat_messages_fts MATCH :q"
        )
    return (
        "SELECT m.pk AS pk, -ts_rank(m.search_vector, query) AS score "
        "FROM chat_messages m, websearch_to_tsquery('english', :q) query "
        "WHERE m.search_vector @@ query"
    )


def title_match_sql(db: Connection) -> str:
    """SQL that yields (session pk, score: lower is better) for titles matching ``:q``."""
    if is_sqlite(db):
        return (
            "SELECT rowid AS pk, bm25(chat_sessions_fts) AS score "
            "FROM chat_sessions_fts WHERE chat_sessions_fts MATCH :q"
        )
    return (
        "SELECT s.pk AS pk, -ts_rank(to_tsvector('english', coalesce(s.title, '')), query) "
        "AS score FROM chat_sessions s, websearch_to_tsquery('english', :q) query "
        "WHERE to_tsvector('english', coalesce(s.title, '')) @@ query"
    )


def snippet_sql(db: Connection) -> str:
    """SQL that yields (session_id, snippet) of the best match of ``:q`` in sessions ``:ids``."""
    if is_sqlite(db):
        # Grouped with min(): SQLite takes the bare column from the row holding the minimum.
        return (
            # MATERIALIZED keeps bm25() out of the aggregate, where FTS5 refuses it.
            "WITH hits AS MATERIALIZED ("
            " SELECT m.session_id AS session_id, bm25(chat_messages_fts) AS score, "
            " snippet(chat_messages_fts, 0, '[', ']', '…', 12) AS snippet "
            " FROM chat_messages_fts JOIN chat_messages m ON m.pk = chat_messages_fts.rowid "
            " WHERE chat_messages_fts MATCH :q AND m.session_id IN :ids"
            ") SELECT session_id, snippet, min(score) AS score FROM hits GROUP BY session_id"
        )
    return (
        "SELECT best.session_id, ts_headline('english', m.content, best.query, "
        "'StartSel=[, StopSel=], MaxWords=20, MinWords=8, MaxFragments=1') AS snippet "
        "FROM (SELECT DISTINCT ON (m.session_id) m.session_id, m.pk, query "
        "      FROM chat_messages m, websearch_to_tsquery('english', :q) query "
        "      WHERE m.session_id IN :ids AND m.search_vector @@ query "
        "      ORDER BY m.session_id, ts_rank(m.search_vector, query) DESC, m.pk) best "
        "JOIN chat_messages m ON m.pk = best.pk"
    )


def fts_query(db: Connection, query: str) -> str:
    """The user's words as the backend's full-text query (every word must match)."""
    if not is_sqlite(db):
        return query
    # FTS5 has its own query syntax; quoting each word makes user input a plain AND of terms.
    words = [w.replace('"', '""') for w in query.split()]
    return " ".join(f'"{w}"' for w in words)


def insert_if_absent(db: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert ``values`` unless a row with the same primary key exists; whether it inserted."""
    module = sqlite_insert if is_sqlite(db) else postgresql_insert
    key = next(iter(table.primary_key.columns))
    statement = module(table).values(values).on_conflict_do_nothing().returning(key)
    return db.execute(statement).first() is not None


def upsert(db: Connection, table: Any, values: dict[str, Any]) -> None:
    """Insert ``values``, or set them on the row with the same primary key (in one statement,
    so two writers of one key both succeed, the later one's values kept)."""
    module = sqlite_insert if is_sqlite(db) else postgresql_insert
    keys = [c.name for c in table.primary_key.columns]
    statement = module(table).values(values)
    changes = {name: statement.excluded[name] for name in values if name not in keys}
    db.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes))


# --- time buckets ---------------------------------------------------------------------------


def offset_segments(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets (minutes) over [start, end]: (from this UTC instant on, offset)."""

    def offset(at: datetime) -> int:
        delta = at.astimezone(tz).utcoffset()
        return int(delta.total_seconds() // 60) if delta else 0

    segments = [(start, offset(start))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != segments[-1][1]:
            low, high = day, following  # find the transition to the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == segments[-1][1] else (low, middle)
            segments.append((high.replace(microsecond=0), offset(following)))
        day = following
    return segments


def local_hour(db: Connection, column: Any, tz: ZoneInfo, start: datetime, end: datetime) -> Any:
    """The hour (0-23) of ``column`` (UTC) on the wall clock in ``tz``, exact over [start, end]."""
    if is_sqlite(db):
        return cast(
            _shifted(column, tz, start, end, lambda by: func.strftime("%H", column, by)), Integer
        )
    return cast(func.extract("hour", func.timezone(tz.key, column)), Integer)


def local_day(db: Connection, column: Any, tz: ZoneInfo, start: datetime, end: datetime) -> Any:
    """The calendar day of ``column`` (UTC) in ``tz`` (a date, or ISO text on SQLite), exact
    over [start, end]."""
    if is_sqlite(db):
        return _shifted(column, tz, start, end, lambda by: func.date(column, by))
    return cast(func.timezone(tz.key, column), Date)


def _shifted(
    column: Any, tz: ZoneInfo, start: datetime, end: datetime, part: Callable[[str], Any]
) -> Any:
    """SQLite has no time zones: ``part`` of ``column`` shifted by the offset in force then.

    ``part`` gets the shift as a modifier ("+330 minutes") to apply itself: one date function
    parsing the text once took 0.96 ms over a month of a big creator's quarter-hours, against
    1.38 ms for a shifted ``datetime()`` read again by ``strftime()``.
    """
    segments = offset_segments(tz, start, end)

    def shifted(minutes: int) -> Any:
        return part(f"{minutes:+d} minutes")

    if len(segments) == 1:
        return shifted(segments[0][1])
    whens = [
        (column < literal(until, UTCDateTime()), shifted(minutes))
        for (_, minutes), (until, _) in pairwise(segments)
    ]
    return case(*whens, else_=shifted(segments[-1][1]))


def local_time_key(db: Connection, tz: ZoneInfo, start: datetime, end: datetime) -> tuple[Any, ...]:
    """What ``local_hour``'s and ``local_day``'s SQL depends on besides their column: the
    zone's offsets over [start, end] and the instants they change (so a built statement can be
    reused)."""
    if not is_sqlite(db):
        return (tz.key,)
    segments = offset_segments(tz, start, end)
    return tuple(minutes for _, minutes in segments), tuple(at for at, _ in segments[1:])


def whole_minutes(db: Connection, seconds: Any) -> Any:
    """Whole minutes in a non-negative number of seconds (rounded down)."""
    if is_sqlite(db):
        return cast(seconds / 60, Integer)  # SQLite's CAST truncates
    return cast(func.floor(seconds / 60), Integer)  # PostgreSQL's would round


class minutes_between(FunctionElement[float]):  # noqa: N801 - used as a SQL function
    """``end - start`` in minutes, as a float: ``minutes_between(start, end)``.

    The expression of ``chat_sessions.duration_minutes`` (a generated column), rendered for
    each backend: SQLite has no interval type, and PostgreSQL no ``julianday``.
    """

    type = Float()
    name = "minutes_between"
    inherit_cache = True


@compiles(minutes_between, "sqlite")
def _minutes_between_sqlite(element: minutes_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(julianday({end}) - julianday({start})) * 1440.0"


@compiles(minutes_between, "postgresql")
def _minutes_between_postgresql(element: minutes_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, and summing or
    # sorting numeric took twice as long over a big creator's sessions.
    return f"date_part('epoch', {end} - {start}) / 60.0"


__all__ = [
    "UTCDateTime",
    "create_engine",
    "fts_query",
    "is_sqlite",
    "json_array_contains_any",
    "lock_pair",
    "message_match_sql",
    "resolve_url",
    "snippet_sql",
    "title_match_sql",
]


# --- rollup triggers (the definitions are in rollups.py) -----------------------------------

_BUCKETS = {
    "postgresql": {
        "QUARTER": "date_bin('15 minutes', {0}, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
        "DAY": "date_bin('1 day', {0}, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
        "HOUR": "date_bin('1 hour', {0}, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
        "MINUTE": "floor({0} / 60)::integer",
    },
    # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' text, so buckets are text surgery.
    "sqlite": {
        "QUARTER": "substr({0}, 1, 14) || printf('%02d:00.000000', CAST(substr({0}, 15, 2) AS INTEGER) / 15 * 15)",
        "DAY": "substr({0}, 1, 10) || ' 00:00:00.000000'",
        "HOUR": "substr({0}, 1, 13) || ':00:00.000000'",
        "MINUTE": "CAST({0} / 60 AS INTEGER)",
    },
}
_BUCKET_CALL = re.compile(r"\b(QUARTER|DAY|HOUR|MINUTE)\(([^()]*)\)")


def bucket_functions(dialect: str, sql: str) -> str:
    """``sql`` with QUARTER(x), DAY(x), HOUR(x) and MINUTE(x) spelled in the dialect's SQL."""
    spelled = _BUCKETS[dialect]
    return _BUCKET_CALL.sub(lambda m: spelled[m[1]].format(m[2]), sql)


# The latest titled reference of each video: a bare column beside max() (SQLite) comes from the
# row holding the maximum.
_LAST_TITLES = {
    "postgresql": (
        "SELECT DISTINCT ON (creator_id, video_id) creator_id, video_id, video_title "
        "FROM video_references WHERE video_title IS NOT NULL "
        "ORDER BY creator_id, video_id, pk DESC"
    ),
    "sqlite": (
        "SELECT creator_id, video_id, video_title FROM (SELECT creator_id, video_id, "
        "video_title, max(pk) FROM video_references WHERE video_title IS NOT NULL "
        "GROUP BY creator_id, video_id) WHERE true"
    ),
}


def last_titles_sql(db: Connection) -> str:
    """SQL yielding (creator_id, video_id, title) of each video's latest titled reference."""
    return _LAST_TITLES[db.dialect.name]


def row_trigger_ddl(db: Connection, name: str, when: str, body: Sequence[str]) -> list[str]:
    """DDL of a row trigger ``name`` firing ``when`` (e.g. "AFTER INSERT ON t") to run ``body``."""
    statements = "; ".join(body)
    if is_sqlite(db):
        return [f"CREATE TRIGGER {name} {when} BEGIN {statements}; END"]
    # Returning OLD lets a BEFORE DELETE go ahead; AFTER triggers ignore what is returned.
    return [
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {statements}; RETURN OLD; END $$",
        f"CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]


def drop_row_trigger_ddl(db: Connection, name: str, table: str) -> list[str]:
    """DDL dropping what ``row_trigger_ddl`` created."""
    if is_sqlite(db):
        return [f"DROP TRIGGER IF EXISTS {name}"]
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
