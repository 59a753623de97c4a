"""Rollups: the triggers keep exactly what a rebuild from the rows gives; periods split right."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, Table, delete, inspect, select

from chronos_chat import ChatStore
from chronos_chat import session_counts as session_counts_module
from chronos_chat.database import alembic_config
from chronos_chat.rollup_reads import cut_period
from chronos_chat.rollups import (
    DAILY,
    DAY,
    HOUR,
    QUARTER_HOUR,
    ROLLUPS,
    Split,
    backfill,
    floor_to,
    split,
)
from chronos_chat.schema import metadata, session_counts
from tests.test_analytics import build

T0 = datetime(2026, 3, 1, 10, 7, 30, tzinfo=UTC)
TABLES = sorted({r.target for r in ROLLUPS})
DAILY_TABLES = sorted({r.target for r in DAILY})


def _snapshot(db: Connection, names: list[str] = TABLES) -> dict[str, set[tuple[object, ...]]]:
    """Every rollup row that counts something (of the columns the database has now)."""
    rows = {}
    for name in names:
        table: Table = metadata.tables[name]
        present = {c["name"] for c in inspect(db).get_columns(name)}
        columns = [c for c in table.columns if c.name in present]
        counters = [c for c in columns if not c.primary_key]
        rows[name] = {
            tuple(r)
            for r in db.execute(select(*columns))
            if any(r._mapping[c.name] for c in counters)
        }
    return rows


def _daily_snapshot(db: Connection) -> dict[str, set[tuple[object, ...]]]:
    """What the daily rollups count, in the columns they had before the hourly ones came."""
    rows = _snapshot(db, DAILY_TABLES)
    quarters = rows["rollup_student_quarters"]
    rows["rollup_student_quarters"] = {r[:4] for r in quarters}
    return rows


def _rebuild(db: Connection) -> None:
    for name in TABLES:
        db.execute(delete(metadata.tables[name]))
    backfill(db)


async def test_triggers_keep_what_a_rebuild_computes(store: ChatStore) -> None:
    # Inserts, deletes, edits, hard deletes and archives, then the migration's backfill.
    await build(store, seed=21)
    kept = await store.database.read(_snapshot)
    await store.database.write(_rebuild)
    assert await store.database.read(_snapshot) == kept
    assert all(kept[name] for name in TABLES)


@pytest.mark.parametrize(
    ("at", "step", "floor"),
    [
        (T0, QUARTER_HOUR, datetime(2026, 3, 1, 10, 0, tzinfo=UTC)),
        (T0.replace(minute=15, second=0), QUARTER_HOUR, T0.replace(minute=15, second=0)),
        (T0, DAY, datetime(2026, 3, 1, tzinfo=UTC)),
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), DAY, datetime(1999, 12, 31, tzinfo=UTC)),
    ],
)
def test_floor_to(at: datetime, step: timedelta, floor: datetime) -> None:
    assert floor_to(at, step) == floor


M = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "want"),
    [
        (None, M + timedelta(hours=5), Split((None, M), [(M, M + timedelta(hours=5))])),
        (M, M + DAY * 2, Split((M, M + DAY * 2), [])),
        (
            M - timedelta(hours=1),
            M + DAY + timedelta(seconds=1),
            Split(
                (M, M + DAY),
                [(M - timedelta(hours=1), M), (M + DAY, M + DAY + timedelta(seconds=1))],
            ),
        ),
        # Shorter than a bucket, or straddling one boundary: all raw.
        (
            M + timedelta(hours=1),
            M + timedelta(hours=2),
            Split(None, [(M + timedelta(hours=1), M + timedelta(hours=2))]),
        ),
        (
            M - timedelta(hours=1),
            M + timedelta(hours=1),
            Split(None, [(M - timedelta(hours=1), M + timedelta(hours=1))]),
        ),
    ],
)
def test_split_into_whole_days_and_raw_ends(
    since: datetime | None, until: datetime, want: Split
) -> None:
    assert split(since, until, DAY) == want


async def test_clustering_the_rollups_keeps_their_rows_and_triggers(store: ChatStore) -> None:
    # Migration 0005 rebuilds every rollup table; what the triggers kept must come through.
    await build(store, seed=5)
    everything = await store.database.read(_snapshot)
    kept = await store.database.read(_daily_snapshot)
    await store.database.write(_migrate, "0004")
    assert await store.database.read(_daily_snapshot) == kept
    await store.database.write(_migrate, "head")
    assert await store.database.read(_snapshot) == everything  # 0011 refilled the hourly ones
    # The triggers are back: a new message is counted at once, as a rebuild would.
    session = await store.create_session(student_id="after", creator_id="c-after")
    await store.create_message(session_id=session.id, role="user", content="react hooks state")
    counted = await store.database.read(_snapshot)
    await store.database.write(_rebuild)
    assert await store.database.read(_snapshot) == counted != kept


def test_a_trigger_adds_one_rows_values_or_refuses_the_aggregate() -> None:
    # A rollup summing with an aggregate the one-row form cannot follow must not install.
    videos = next(r for r in ROLLUPS if r.target == "rollup_videos")
    assert "count(" not in videos.row_upsert("sqlite", "(SELECT 1)", "1", "false")
    with pytest.raises(ValueError, match="max"):
        replace(videos, sums={"reference_count": "max(c.position)"}).row_upsert(
            "sqlite", "(SELECT 1)", "1", "false"
        )


def _migrate(db: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = db
    if revision == "head":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def test_session_counts_equal_counting_the_sessions(store: ChatStore) -> None:
    # Creates, archives, an unarchive and hard deletes; the kept totals against COUNT(*).
    await build(store, seed=9)
    archived = (await store.list_sessions(archived=True, limit=100)).data
    await store.unarchive_session(archived[0].id)
    owners: list[dict[str, str]] = [
        {"creator_id": "creator-1"},
        {"creator_id": "creator-2"},
        {"creator_id": "creator-1", "student_id": "student-2"},
        *({"student_id": f"student-{i}"} for i in range(1, 6)),
    ]
    for owner in owners:
        for state in (False, True, None):
            kept = await store.list_sessions(**owner, archived=state)  # type: ignore[arg-type]
            # A date filter is not kept on write: the total is then a COUNT(*) of the rows.
            counted = await store.list_sessions(
                **owner,  # type: ignore[arg-type]
                archived=state,
                from_date=datetime(2000, 1, 1, tzinfo=UTC),
            )
            assert kept.total == counted.total, (owner, state)
    assert (
        await store.get_session_count("student-2")
        == (await store.list_sessions(student_id="student-2")).total
    )
    kept_rows = await store.database.read(_counts)
    await store.database.write(_recount)
    assert await store.database.read(_counts) == kept_rows


def _counts(db: Connection) -> set[tuple[object, ...]]:
    return {tuple(r) for r in db.execute(select(session_counts)) if r.sessions}


def _recount(db: Connection) -> None:
    db.execute(delete(session_counts))
    session_counts_module.backfill(db)


@pytest.mark.parametrize(
    ("since", "until", "now", "signs", "rolled"),
    [
        # A period ending now takes today's bucket and subtracts what lies after now.
        (
            M + timedelta(hours=20),
            M + timedelta(days=3, hours=17),
            M + timedelta(days=3, hours=17),
            (1, -1),
            (M + DAY, M + 4 * DAY),
        ),
        # A start early in its day subtracts the few hours before it from that day's bucket.
        (M + timedelta(hours=3), M + 3 * DAY, M + 9 * DAY, (-1,), (M, M + 3 * DAY)),
        # An end long past, early in its day: reading its few hours beats subtracting the rest.
        (M, M + timedelta(days=3, hours=2), M + 9 * DAY, (1,), (M, M + 3 * DAY)),
        # Without ``now`` (readers that cannot subtract), only additions.
        (
            M + timedelta(hours=3),
            M + timedelta(days=3, hours=17),
            None,
            (1, 1),
            (M + DAY, M + 3 * DAY),
        ),
    ],
)
def test_cut_period_subtracts_the_shorter_side(
    since: datetime,
    until: datetime,
    now: datetime | None,
    signs: tuple[int, ...],
    rolled: tuple[datetime, datetime],
) -> None:
    parts = cut_period(since, until, DAY, now=now)
    assert parts.shape[2] == signs
    assert (parts.params["r_lo"], parts.params["r_hi"]) == rolled


def test_cut_period_reads_the_partial_days_by_the_hour() -> None:
    # A month starting at 12:17:03 and ending at 20:40 today, read at 20:40: the start's day is
    # whole hours from 13:00 and 43 raw minutes; today is its bucket less what lies after now.
    since = M + timedelta(hours=12, minutes=17, seconds=3)
    until = now = M + timedelta(days=30, hours=20, minutes=40)
    parts = cut_period(since, until, DAY, now=now, fine=HOUR)
    assert parts.shape[2] == (1, -1)
    assert parts.shape[3] == ((True, 1), (True, 1))
    p = parts.params
    assert (p["r_lo"], p["r_hi"]) == (M + DAY, M + 31 * DAY)
    assert (p["w0_0_lo"], p["w0_0_hi"]) == (since, M + timedelta(hours=13))
    assert (p["f0_lo"], p["f0_hi"]) == (M + timedelta(hours=13), M + DAY)
    # The subtracted side: 20:40 to 21:00 raw, then whole hours to midnight.
    assert (p["w1_0_lo"], p["w1_0_hi"]) == (until, M + timedelta(days=30, hours=21))
    assert (p["f1_lo"], p["f1_hi"]) == (M + timedelta(days=30, hours=21), M + 31 * DAY)


async def test_the_best_similarity_backfill_keeps_content_gaps(store: ChatStore) -> None:
    # Migration 0010 fills best_similarity from the references; gaps must read the same.
    await build(store, seed=11)
    before = await store.get_content_gaps("creator-1", "all", similarity_below=0.6)
    assert before  # the history holds weak answers
    await store.database.write(_migrate, "0009")
    await store.database.write(_migrate, "head")
    assert await store.get_content_gaps("creator-1", "all", similarity_below=0.6) == before
