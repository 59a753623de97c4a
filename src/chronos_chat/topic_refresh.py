"""Extracting stored questions' topics again, after an upgrade that improved the extraction.

Keywords are extracted when a question is written and kept, so common topics is a GROUP BY;
when the rules improve (stop words, phrases), older questions still carry the old topics. A
refresh walks the student messages in batches, each in a write transaction of its own, and
rewrites only the keywords that differ; the rollup triggers keep every topic count exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from chronos_chat.database import Database
from chronos_chat.errors import InvalidInput
from chronos_chat.message_statements import KEYWORD_FIELDS
from chronos_chat.messages import keyword_rows, rewrite_keywords
from chronos_chat.schema import chat_messages, message_keywords

M, K = chat_messages.c, message_keywords.c
# A batch's message ids are bound in one IN list, under SQLite's bound on parameters (32,766);
# ten thousand messages are also as long as a batch should hold the write lock.
MAX_BATCH = 10_000


async def refresh(
    database: Database, batch_size: int, on_progress: Callable[[int, int], None] | None
) -> int:
    """Refresh every student message's topics, ``batch_size`` a transaction, calling
    ``on_progress(done, total)`` after each batch; how many messages' topics changed."""
    if isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_BATCH:
        raise InvalidInput("batch_size", f"must be from 1 to {MAX_BATCH:,}")
    total = await database.read(count_questions)
    after = done = changed = 0
    while True:
        batch = await database.write(refresh_batch, after, batch_size)
        if batch.last_pk is None:
            return changed
        after, done, changed = batch.last_pk, done + batch.read, changed + batch.changed
        if on_progress is not None:
            on_progress(done, max(total, done))  # questions written meanwhile count too


class Batch(NamedTuple):
    """What one batch did: the last message it read (None: none left), how many it read and
    how many of those it rewrote."""

    last_pk: int | None
    read: int
    changed: int


def count_questions(db: Connection) -> int:
    """How many student messages a refresh reads."""
    return int(db.execute(select(func.count()).where(M.role == "user")).scalar_one())


def refresh_batch(db: Connection, after_pk: int, limit: int) -> Batch:
    """Extract the topics of up to ``limit`` student messages after ``after_pk`` (in write
    order) again, and rewrite the keywords of those whose topics changed."""
    # Locked (on PostgreSQL) so that an edit of one of them waits, or is waited for: the
    # keywords rewritten are always those of the content as it stands.
    questions = db.execute(
        select(M.pk, M.id, M.creator_id, M.created_at, M.content)
        .where(M.role == "user", M.pk > after_pk)
        .order_by(M.pk)
        .limit(limit)
        .with_for_update()
    ).all()
    if not questions:
        return Batch(None, 0, 0)
    stored: defaultdict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    ids = [q.id for q in questions]
    query = select(K.message_id, *KEYWORD_FIELDS).where(K.message_id.in_(ids))
    for row in db.execute(query).mappings():
        stored[row["message_id"]].append(dict(row))
    changed = 0
    stale: list[Mapping[str, Any]] = []
    fresh: list[Mapping[str, Any]] = []
    for q in questions:
        extracted = keyword_rows(q.id, q.creator_id, q.created_at, q.content)
        if sorted(map(_topic, extracted)) != sorted(map(_topic, stored[q.id])):
            changed += 1
            stale += stored[q.id]
            fresh += extracted
    rewrite_keywords(db, stale, fresh)
    return Batch(questions[-1].pk, len(questions), changed)


def _topic(row: Mapping[str, Any]) -> tuple[str, str]:
    return row["keyword"], row["label"]
