"""Aggregates kept on write, so analytics read a few thousand rows instead of millions.

Each ``Rollup`` groups the rows of one source table (messages, references or keywords) into
one rollup table and adds the group's sums to it. Database triggers apply it to every insert
and (with a minus sign) every delete, in the writing transaction: nothing can write a message
without its rollups, cascades included, and the figures are exact at once. The same definition
fills the tables from existing rows (``backfill``) when the migration adds them.

Readers combine whole buckets from the rollups (days, then the hours of a partial day) with the
raw rows left at the ends of a period (``split``), so a rolling "last 30 days" is exact to the
microsecond.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from chronos_chat import dialects
from chronos_chat.schema import TOKEN_COLUMNS

QUARTER_HOUR = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # bucket origin: a UTC midnight, as in the SQL
_COLUMN = re.compile(r"\bc\.(\w+)")


@dataclass(frozen=True)
class Rollup:
    """How rows of ``source`` (aliased ``c``) feed ``target``: its keys and aggregates as SQL."""

    target: str
    source: str
    keys: dict[str, str]
    sums: dict[str, str]
    where: str = "true"
    join: str = ""

    def columns(self) -> list[str]:
        """The source columns the definition reads, in a stable order."""
        text = " ".join([*self.keys.values(), *self.sums.values(), self.where, self.join])
        return sorted(set(_COLUMN.findall(text)))

    def upsert(self, dialect: str, source: str, sign: str, others: str) -> str:
        """INSERT ... SELECT ... ON CONFLICT adding ``sign`` times the sums of ``source``'s rows.

        ``others`` is a condition on ``r``, the source's other rows (see video sessions).
        """
        positions = ", ".join(str(i + 1) for i in range(len(self.keys)))
        grouped = f"GROUP BY {positions} ORDER BY {positions} "
        return self._upsert(dialect, source, sign, others, list(self.sums.values()), grouped)

    def row_upsert(self, dialect: str, row: str, sign: str, others: str) -> str:
        """``upsert`` for a trigger's one row ``row``: its values instead of aggregates.

        Grouping one row costs SQLite a sorter per statement: a message with three references
        ran 0.1 ms less of trigger work without it (0.41 -> 0.30 ms, synchronous=OFF).
        """
        values = [_one_row(aggregate) for aggregate in self.sums.values()]
        return self._upsert(dialect, row, sign, others, values, "")

    def _upsert(
        self, dialect: str, source: str, sign: str, others: str, sums: list[str], grouped: str
    ) -> str:
        keys = list(self.keys)
        select = ", ".join([*self.keys.values(), *(f"{sign} * ({value})" for value in sums)])
        adds = ", ".join(f"{s} = {self.target}.{s} + excluded.{s}" for s in self.sums)
        sql = (
            f"INSERT INTO {self.target} ({', '.join(keys + list(self.sums))}) "
            f"SELECT {select} FROM {source} AS c {self.join} "
            f"WHERE {self.where.format(others=others)} {grouped}"
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
        )
        return dialects.bucket_functions(dialect, sql)


_SUM = re.compile(r"sum\((.*)\)")
_COUNT = re.compile(r"count\((\*|DISTINCT c\.\w+)\)")


def _one_row(aggregate: str) -> str:
    """The value of ``aggregate`` (a sum or a count) over one row that passed the WHERE.

    A distinct count is 1: the columns counted (session ids) are never null.
    """
    if _COUNT.fullmatch(aggregate):
        return "1"
    if summed := _SUM.fullmatch(aggregate):
        return summed.group(1)
    raise ValueError(f"no one-row form for {aggregate!r}")


TOKENS = "c.input_tokens + c.output_tokens + c.cache_read_tokens + c.cache_write_tokens + c.embedding_tokens"
USER = "CASE WHEN c.role = 'user' THEN 1 ELSE 0 END"

# The rollups migrations 0004 to 0010 kept (each migration installs the set of its time).
DAILY = (
    Rollup(
        "rollup_activity",
        "chat_messages",
        {"creator_id": "c.creator_id", "bucket_at": "QUARTER(c.created_at)"},
        {
            "messages": "count(*)",
            "user_messages": f"sum({USER})",
            "tokens": f"sum({TOKENS})",
            "cost_nanos": "sum(COALESCE(c.cost_nanos, 0))",
            "unpriced_messages": "sum(CASE WHEN c.cost_nanos IS NULL THEN 1 ELSE 0 END)",
        },
    ),
    Rollup(
        "rollup_student_quarters",
        "chat_messages",
        {
            "creator_id": "c.creator_id",
            "bucket_at": "QUARTER(c.created_at)",
            "student_id": "c.student_id",
        },
        {"messages": "count(*)"},
    ),
    Rollup(
        "rollup_student_days",
        "chat_messages",
        {"creator_id": "c.creator_id", "day_at": "DAY(c.created_at)", "student_id": "c.student_id"},
        {"messages": "count(*)", "user_messages": f"sum({USER})"},
    ),
    # A message is cited once, by its first reference.
    Rollup(
        "rollup_activity",
        "video_references",
        {"creator_id": "c.creator_id", "bucket_at": "QUARTER(c.created_at)"},
        {"cited_messages": "count(*)"},
        where="c.position = 0",
    ),
    Rollup(
        "rollup_videos",
        "video_references",
        {"creator_id": "c.creator_id", "day_at": "DAY(c.created_at)", "video_id": "c.video_id"},
        {"reference_count": "count(*)"},
    ),
    # A (session, video) pair counts when its first reference arrives and stops when its last
    # goes: ``others`` picks the pair's other rows that decide it (earlier ones on insert).
    Rollup(
        "rollup_video_sessions",
        "video_references",
        {"creator_id": "c.creator_id", "video_id": "c.video_id", "day_at": "DAY(s.created_at)"},
        {"sessions": "count(DISTINCT c.session_id)"},
        where=(
            "NOT EXISTS (SELECT 1 FROM video_references r WHERE r.session_id = c.session_id"
            " AND r.video_id = c.video_id AND {others})"
        ),
        join="JOIN chat_sessions s ON s.id = c.session_id",
    ),
    Rollup(
        "rollup_moments",
        "video_references",
        {
            "creator_id": "c.creator_id",
            "video_id": "c.video_id",
            "day_at": "DAY(c.created_at)",
            "minute": "MINUTE(c.timestamp_seconds)",
        },
        {"reference_count": "count(*)"},
        where="c.timestamp_seconds IS NOT NULL",
    ),
    Rollup(
        "rollup_topics",
        "message_keywords",
        {
            "creator_id": "c.creator_id",
            "day_at": "DAY(c.created_at)",
            "keyword": "c.keyword",
            "label": "c.label",
        },
        {"mentions": "count(*)"},
    ),
)
_VIDEO_SESSIONS = next(r for r in DAILY if r.target == "rollup_video_sessions")
# Migration 0011: per-hour twins of the wide daily rollups, so a period's partial days are read
# from an hour's rows at most instead of up to half a day of raw rows (a rolling month asked for
# at noon UTC 28 -> 19-21 ms). Hour first in their keys: a write lands at the right edge, and a
# partial day is one range. Videos and their cited minutes share one table (minute -1: a
# reference without a timestamp); students count asking in the quarter-hour rollup.
HOURLY = (
    *(
        replace(r, sums={**r.sums, "user_messages": f"sum({USER})"})
        if r.target == "rollup_student_quarters"
        else r
        for r in DAILY
    ),
    Rollup(
        "rollup_video_hours",
        "video_references",
        {
            "creator_id": "c.creator_id",
            "hour_at": "HOUR(c.created_at)",
            "video_id": "c.video_id",
            "minute": "COALESCE(MINUTE(c.timestamp_seconds), -1)",
        },
        {"reference_count": "count(*)"},
    ),
    replace(
        _VIDEO_SESSIONS,
        target="rollup_video_session_hours",
        keys={
            "creator_id": "c.creator_id",
            "hour_at": "HOUR(s.created_at)",
            "video_id": "c.video_id",
        },
    ),
    Rollup(
        "rollup_topic_hours",
        "message_keywords",
        {
            "creator_id": "c.creator_id",
            "hour_at": "HOUR(c.created_at)",
            "keyword": "c.keyword",
            "label": "c.label",
        },
        {"mentions": "count(*)"},
    ),
)
# Migration 0012: what each model's messages used and cost, per creator and hour ("" for none),
# so a creator's cost summary reads the hours of a period, not its messages.
MODEL_HOURS = Rollup(
    "rollup_model_hours",
    "chat_messages",
    {
        "creator_id": "c.creator_id",
        "hour_at": "HOUR(c.created_at)",
        "model": "COALESCE(c.model, '')",
    },
    {
        "messages": "count(*)",
        **{c: f"sum(c.{c})" for c in TOKEN_COLUMNS},
        "cost_nanos": "sum(COALESCE(c.cost_nanos, 0))",
        "unpriced_messages": "sum(CASE WHEN c.cost_nanos IS NULL THEN 1 ELSE 0 END)",
    },
)
ROLLUPS = (*HOURLY, MODEL_HOURS)
SOURCES = ("chat_messages", "video_references", "message_keywords")


@dataclass(frozen=True)
class Event:
    """A write the triggers follow: the row it names (NEW/OLD), its sign, and a pair's deciders."""

    action: str
    timing: str
    row: str
    sign: str
    others: str


# Row triggers on both backends: PostgreSQL caches their plans (statement triggers over
# transition tables are planned again on every call, which halved ingest). Deletes count down
# BEFORE the row goes: PostgreSQL runs AFTER row triggers once the whole statement is done,
# when a row can no longer tell whether it was a (session, video) pair's last.
EVENTS = (
    Event("insert", "AFTER", "NEW", "1", "r.pk < c.pk"),
    Event("delete", "BEFORE", "OLD", "-1", "r.pk <> c.pk"),
)
LAST_TITLE = (
    "INSERT INTO video_titles (creator_id, video_id, title) "
    "SELECT NEW.creator_id, NEW.video_id, NEW.video_title WHERE NEW.video_title IS NOT NULL "
    "ON CONFLICT (creator_id, video_id) DO UPDATE SET title = excluded.title"
)


Rollups = tuple[Rollup, ...]


def _trigger_bodies(
    dialect: str, rollups: Rollups, *, grouped: bool = False
) -> list[tuple[str, str, str, list[str]]]:
    """(name, table, when, statements) of every rollup trigger."""
    triggers = []
    upsert = Rollup.upsert if grouped else Rollup.row_upsert
    for source in SOURCES:
        for event in EVENTS:
            columns = _columns(source, rollups)
            row = "(SELECT " + ", ".join(f"{event.row}.{c} AS {c}" for c in columns) + ")"
            body = [
                upsert(r, dialect, row, event.sign, event.others)
                for r in rollups
                if r.source == source
            ]
            if source == "video_references" and event.action == "insert":
                body.append(LAST_TITLE)
            when = f"{event.timing} {event.action.upper()} ON {source}"
            triggers.append((f"rollup_{source}_{event.action}", source, when, body))
    # A session's messages go before it, so their triggers still find its creation time.
    deletes = ["DELETE FROM chat_messages WHERE session_id = OLD.id"]
    when = "BEFORE DELETE ON chat_sessions"
    triggers.append(("rollup_chat_sessions_delete", "chat_sessions", when, deletes))
    return triggers


def install(db: Connection, rollups: Rollups = ROLLUPS, *, grouped: bool = False) -> None:
    """Create the triggers that keep ``rollups`` (and the video titles) on every write.

    ``grouped``: as migrations before 0014 made them, each upsert grouping its one row.
    """
    for name, _table, when, body in _trigger_bodies(db.dialect.name, rollups, grouped=grouped):
        for ddl in dialects.row_trigger_ddl(db, name, when, body):
            db.exec_driver_sql(ddl)


def uninstall(db: Connection) -> None:
    """Drop the rollup triggers (their tables stay)."""
    for name, table, _when, _body in _trigger_bodies(db.dialect.name, ROLLUPS):
        for ddl in dialects.drop_row_trigger_ddl(db, name, table):
            db.exec_driver_sql(ddl)


def backfill(db: Connection, rollups: Rollups = ROLLUPS, *, titles: bool = True) -> None:
    """Fill empty rollup tables (and the title directory) from the rows already stored."""
    dialect = db.dialect.name
    for rollup in rollups:
        db.exec_driver_sql(rollup.upsert(dialect, rollup.source, "1", "false"))
    if not titles:
        return
    db.exec_driver_sql(
        f"INSERT INTO video_titles (creator_id, video_id, title) {dialects.last_titles_sql(db)} "
        "ON CONFLICT (creator_id, video_id) DO UPDATE SET title = excluded.title"
    )


def _columns(source: str, rollups: Rollups) -> list[str]:
    return sorted({"pk", *(c for r in rollups if r.source == source for c in r.columns())})


# --- reading: whole buckets from the rollups, the partial ends from the raw rows -----------

Range = tuple[datetime | None, datetime]


@dataclass(frozen=True)
class Split:
    """A period [since, until) as whole buckets (``rolled``) and the partial ends (``raw``)."""

    rolled: Range | None
    raw: list[Range]


def floor_to(at: datetime, step: timedelta) -> datetime:
    """The start of the bucket of width ``step`` holding ``at`` (UTC)."""
    return at - (at - _EPOCH) % step


def split(since: datetime | None, until: datetime, step: timedelta) -> Split:
    """Cut [since, until) into whole ``step`` buckets and the raw stretches at either end."""
    high = floor_to(until, step)
    low = None
    if since is not None:
        low = floor_to(since, step)
        low = low + step if low < since else low
        if low >= high:
            return Split(None, [(since, until)])
    raw: list[Range] = []
    if since is not None and low is not None and since < low:
        raw.append((since, low))
    if high < until:
        raw.append((high, until))
    return Split((low, high), raw)
