"""Sessions counted per owner, kept by triggers, so a list's total is one row, not a count.

``session_counts`` holds, for every (creator, student) pair, every creator and every student
(the other id left empty: ids are never empty), how many of their sessions are active and how
many archived. Triggers on ``chat_sessions`` keep it in the writing transaction: +1 on insert,
-1 on delete, and a move between active and archived when ``archived_at`` is set or cleared.
Counter bumps of a new message do not touch it (they do not set ``archived_at``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Connection, String, bindparam, func, select

from chronos_chat import dialects
from chronos_chat.schema import session_counts

C = session_counts.c
ANY = ""  # the "any owner" side of a key


def _upsert(rows: list[str]) -> str:
    """Add up ``rows`` of (creator_id, student_id, archived, n) into their counters."""
    keyed = " UNION ALL ".join(
        f"SELECT {creator} AS creator_id, {student} AS student_id, archived, n FROM ({row}) AS x"
        for row in rows
        for creator, student in (("x.c", "x.s"), ("x.c", "''"), ("''", "x.s"))
    )
    return (
        "INSERT INTO session_counts (creator_id, student_id, archived, sessions) "
        f"SELECT creator_id, student_id, archived, sum(n) FROM ({keyed}) AS k WHERE true "
        "GROUP BY creator_id, student_id, archived ORDER BY creator_id, student_id, archived "
        "ON CONFLICT (creator_id, student_id, archived) "
        "DO UPDATE SET sessions = session_counts.sessions + excluded.sessions"
    )


def _row(which: str, n: int) -> str:
    return (
        f"SELECT {which}.creator_id AS c, {which}.student_id AS s, "
        f"{which}.archived_at IS NOT NULL AS archived, {n} AS n"
    )


TRIGGERS = (
    ("session_counts_insert", "AFTER INSERT ON chat_sessions", [_upsert([_row("NEW", 1)])]),
    ("session_counts_delete", "BEFORE DELETE ON chat_sessions", [_upsert([_row("OLD", -1)])]),
    (
        "session_counts_archive",
        "AFTER UPDATE OF archived_at ON chat_sessions",
        [_upsert([_row("OLD", -1), _row("NEW", 1)])],
    ),
)


def install(db: Connection) -> None:
    """Create the triggers that keep ``session_counts``."""
    for name, when, body in TRIGGERS:
        for ddl in dialects.row_trigger_ddl(db, name, when, body):
            db.exec_driver_sql(ddl)


def uninstall(db: Connection) -> None:
    """Drop those triggers (the table stays)."""
    for name, _when, _body in TRIGGERS:
        for ddl in dialects.drop_row_trigger_ddl(db, name, "chat_sessions"):
            db.exec_driver_sql(ddl)


def backfill(db: Connection) -> None:
    """Count the sessions already stored into an empty ``session_counts``."""
    every = (
        "SELECT creator_id AS c, student_id AS s, archived_at IS NOT NULL AS archived, 1 AS n "
        "FROM chat_sessions"
    )
    db.exec_driver_sql(_upsert([every]))


# Two states, the same one twice for one: plain parameters, which SQLite's driver path can run
# (an expanding IN list is rewritten per call).
COUNT = select(func.coalesce(func.sum(C.sessions), 0)).where(
    C.creator_id == func.coalesce(bindparam("f_creator", type_=String), ANY),
    C.student_id == func.coalesce(bindparam("f_student", type_=String), ANY),
    C.archived.in_(
        [bindparam("f_state", type_=Boolean), bindparam("f_other_state", type_=Boolean)]
    ),
)


def states(archived: bool | None) -> dict[str, bool]:
    """``COUNT``'s archive-state parameters for a list's ``archived`` filter (None: both)."""
    state, other = (False, True) if archived is None else (archived, archived)
    return {"f_state": state, "f_other_state": other}


def count(db: Connection, params: dict[str, Any], archived: bool | None) -> int:
    """Sessions of the owner in ``params`` (f_creator and/or f_student) by archive state."""
    return int(db.execute(COUNT, params | states(archived)).scalar_one())
