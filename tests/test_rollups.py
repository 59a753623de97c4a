"""Rollups: the triggers keep exactly what a rebuild from the rows gives; periods split right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, Table, delete, select

from chronos_chat import ChatStore
from chronos_chat.database import alembic_config
from chronos_chat.rollups import DAY, QUARTER_HOUR, ROLLUPS, Split, backfill, floor_to, split
from chronos_chat.schema import metadata
from tests.test_analytics import build

T0 = datetime(2026, 3, 1, 10, 7, 30, tzinfo=UTC)
TABLES = sorted({r.target for r in ROLLUPS})


def _snapshot(db: Connection) -> dict[str, set[tuple[object, ...]]]:
    """Every rollup row that counts something."""
    rows = {}
    for name in TABLES:
        table: Table = metadata.tables[name]
        counters = [c for c in table.columns if not c.primary_key]
        rows[name] = {
            tuple(r) for r in db.execute(select(table)) if any(r._mapping[c.name] for c in counters)
        }
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
    kept = await store.database.read(_snapshot)
    await store.database.write(_migrate, "0004")
    assert await store.database.read(_snapshot) == kept
    await store.database.write(_migrate, "head")
    assert await store.database.read(_snapshot) == kept
    # The triggers are back: a new message is counted at once, as a rebuild would.
    session = await store.create_session(student_id="after", creator_id="c-after")
    await store.create_message(session_id=session.id, role="user", content="react hooks state")
    counted = await store.database.read(_snapshot)
    await store.database.write(_rebuild)
    assert await store.database.read(_snapshot) == counted != kept


def _migrate(db: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = db
    if revision == "head":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)
