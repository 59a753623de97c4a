"""Idempotency keys, as in Stripe's API and the IETF draft: the first response to a (caller,
key) is kept; a retry gets it back and writes nothing; the same key with another request is
refused; a retry while the first is still running is told to wait. Keys are kept for a day
(``KEPT_FOR``), as Stripe does: after that a key is free again and ``purge`` removes it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from chronos_chat import dialects
from chronos_chat.errors import Conflict, IdempotencyConflict
from chronos_chat.schema import idempotency_keys
from chronos_chat.statements import in_batches

K = idempotency_keys.c
# A request that has not finished after this long has died with its process: take over.
ABANDONED_AFTER = timedelta(minutes=2)
# Retries come within minutes; a day bounds the table by a day of keyed requests.
KEPT_FOR = timedelta(hours=24)
CLAIM_ATTEMPTS = 3


def caller_scope(role: str, sub: str) -> str:
    """The scope of a caller's keys: a key is theirs alone."""
    return f"{role}:{sub}"


class InFlight(Conflict):
    """The first request with this key has not finished yet."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored response of the first request."""

    status_code: int
    body: Any


def claim(db: Connection, scope: str, key: str, request_hash: str, now: datetime) -> Replay | None:
    """Claim the key for this request (None), or the first request's response to replay.

    Raises IdempotencyConflict if the key was used for another request, InFlight if the first
    is still running.
    """
    values = {"scope": scope, "key": key, "request_hash": request_hash, "created_at": now}
    in_flight = InFlight(f"a request with idempotency key {key!r} is still in progress")
    for _ in range(CLAIM_ATTEMPTS):
        if dialects.insert_if_absent(db, idempotency_keys, values):
            return None
        # The key's row may go (its request failed and gave it back) between the insert that
        # met it and this read; then the key is free and the insert is tried again.
        row = db.execute(select(idempotency_keys).where(K.scope == scope, K.key == key)).first()
        if row is not None:
            break
    else:
        raise in_flight
    if now - row.created_at >= KEPT_FOR:  # expired: the key is free again
        if not _take(db, row, values | {"status_code": None, "response": None}):
            raise in_flight
        return None
    if row.request_hash != request_hash:
        raise IdempotencyConflict(f"idempotency key {key!r} was used with a different request")
    if row.status_code is not None:
        return Replay(row.status_code, row.response)
    if now - row.created_at < ABANDONED_AFTER or not _take(db, row, {"created_at": now}):
        raise in_flight
    return None


def _take(db: Connection, row: Any, values: dict[str, Any]) -> bool:
    """Take over the key as ``row`` left it; False if another request took it meanwhile."""
    # Conditional on the row as read: of two requests taking over at once, one wins (on
    # PostgreSQL the second waits for the first's row lock, then no longer matches).
    taken = db.execute(
        update(idempotency_keys)
        .where(K.scope == row.scope, K.key == row.key, K.created_at == row.created_at)
        .values(**values)
    )
    return int(taken.rowcount) == 1


def complete(db: Connection, scope: str, key: str, status_code: int, body: Any) -> None:
    """Keep the response of the request that claimed the key."""
    db.execute(
        update(idempotency_keys)
        .where(K.scope == scope, K.key == key)
        .values(status_code=status_code, response=body)
    )


def release(db: Connection, scope: str, key: str) -> None:
    """Give the key back after a failed request, so a retry runs again."""
    db.execute(
        delete(idempotency_keys).where(K.scope == scope, K.key == key, K.status_code.is_(None))
    )


def forget(db: Connection, scope: str, session_ids: Sequence[uuid.UUID]) -> None:
    """Delete the keys of ``scope`` and every stored response about one of ``session_ids``."""
    db.execute(delete(idempotency_keys).where(K.scope == scope))
    about = K.response["session_id"].as_string()
    for batch in in_batches([str(i) for i in session_ids]):
        db.execute(delete(idempotency_keys).where(about.in_(batch)))


def purge(db: Connection, now: datetime) -> int:
    """Delete the keys older than ``KEPT_FOR``; how many went."""
    result = db.execute(delete(idempotency_keys).where(K.created_at < now - KEPT_FOR))
    return int(result.rowcount)
