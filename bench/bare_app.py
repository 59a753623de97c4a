"""Bare FastAPI endpoints for the API benchmark's baselines: a constant, and a raw insert +
update + commit on the same schema (sqlite3 or psycopg, one connection per worker thread)."""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import FastAPI

app = FastAPI()
URL = os.environ["BENCH_DATABASE_URL"]
_local = threading.local()


def _connection() -> Any:
    if not hasattr(_local, "db"):
        if URL.startswith("sqlite:///"):
            db = sqlite3.connect(
                URL.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
            )
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
                db.execute(f"PRAGMA {pragma}")
        else:
            db = psycopg.connect(
                URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )
        _local.db = db
    return _local.db


@app.get("/bare/constant")
async def constant() -> dict[str, str]:
    """Nothing at all (async: no thread pool, the fastest FastAPI answer)."""
    return {"status": "ok"}


@app.post("/bare/insert/{session_id}", status_code=201)
def insert(session_id: uuid.UUID) -> dict[str, str]:
    """Insert a message and bump its session, committed (sync: runs in FastAPI's thread pool)."""
    db = _connection()
    message_id = uuid.uuid4()
    sqlite = URL.startswith("sqlite")
    at: Any = datetime.now(UTC).replace(tzinfo=None).isoformat(" ") if sqlite else datetime.now(UTC)
    mark = "?" if sqlite else "%s"
    sid: Any = session_id.hex if sqlite else session_id
    db.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
    seq = db.execute(
        f"UPDATE chat_sessions SET last_seq = last_seq + 1, message_count = message_count + 1, "
        f"last_message_at = {mark} WHERE id = {mark} RETURNING last_seq",
        (at, sid),
    ).fetchone()[0]
    db.execute(
        "INSERT INTO chat_messages (id, session_id, creator_id, student_id, seq, role, content, metadata, "
        f"created_at) VALUES ({', '.join([mark] * 9)})",
        (
            message_id.hex if sqlite else message_id,
            sid,
            "c",
            "s",
            seq,
            "user",
            "hello from wrk",
            "{}",
            at,
        ),
    )
    db.execute("COMMIT")
    return {"id": str(message_id)}
