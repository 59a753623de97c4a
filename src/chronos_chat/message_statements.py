"""The write path's statements, built once: a statement made per call spends more time on its
cache key than SQLite spends running it.

On SQLite a new message's statements run through the driver's cursor (``driver``). On
PostgreSQL a new message is one statement (``one_trip``): the session's counter bump, the
message, its references and its keywords as data-modifying CTEs, so a message costs one round
trip and the session row stays locked for one statement and the commit, not four round trips.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from chronos_chat.dialects import UTCDateTime
from chronos_chat.driver import DriverStatement
from chronos_chat.schema import chat_messages, chat_sessions, message_keywords, video_references

S = chat_sessions.c

BUMP_SESSION = (
    update(chat_sessions)
    .where(S.id == bindparam("b_session_id", type_=Uuid))
    .values(
        last_seq=S.last_seq + 1,
        message_count=S.message_count + 1,
        total_tokens=S.total_tokens + bindparam("b_tokens", type_=BigInteger),
        total_cost_nanos=S.total_cost_nanos + bindparam("b_cost", type_=BigInteger),
        unpriced_message_count=S.unpriced_message_count + bindparam("b_unpriced", type_=Integer),
        last_message_at=case(
            (
                S.last_message_at < bindparam("b_at", type_=UTCDateTime),
                bindparam("b_at", type_=UTCDateTime),
            ),
            else_=S.last_message_at,
        ),
        updated_at=bindparam("b_now", type_=UTCDateTime),
        preview=func.coalesce(S.preview, bindparam("b_preview", type_=String)),
    )
    .returning(S.last_seq, S.creator_id, S.student_id)
)
SQLITE_BUMP_SESSION = DriverStatement(BUMP_SESSION)
LOCK_SESSION = (
    select(S.student_id, S.creator_id)
    .where(S.id == bindparam("b_session_id", type_=Uuid))
    .with_for_update()
)
# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT (one round trip).
INSERT_KEYWORDS = message_keywords.insert().returning(message_keywords.c.pk)
DELETE_KEYWORD = delete(message_keywords).where(message_keywords.c.pk == bindparam("b_pk"))
_K = message_keywords.c
KEYWORD_FIELDS = (_K.pk, _K.creator_id, _K.created_at, _K.keyword, _K.label)
KEYWORDS_OF = select(*KEYWORD_FIELDS).where(_K.message_id == bindparam("b_message_id"))

# The columns a message, reference or keyword gets from the caller (the rest from the session).
SESSION_COLUMNS = ("creator_id", "student_id", "seq")
MESSAGE_COLUMNS = tuple(
    c.name for c in chat_messages.columns if c.name not in ("pk", "edited_at", *SESSION_COLUMNS)
)
REFERENCE_COLUMNS = (
    "position",
    "video_id",
    "video_title",
    "timestamp_seconds",
    "chunk_text",
    "similarity",
)
KEYWORD_COLUMNS = ("keyword", "label")


@functools.cache
def one_trip(with_references: bool, with_keywords: bool) -> Select[Any]:
    """PostgreSQL: bump the session and insert the message (and its rows) in one statement.

    Parameters: the bump's ``b_*``, the message's ``m_<column>``, and per reference or keyword
    column an array ``r_<column>`` / ``k_<column>`` (one item per row, in insertion order).
    Returns the bumped session's (last_seq, creator_id, student_id); no row if there is none.
    """
    bumped = BUMP_SESSION.cte("bumped")
    b = bumped.c
    m = {name: bindparam(f"m_{name}", type_=chat_messages.c[name].type) for name in MESSAGE_COLUMNS}
    message = insert(chat_messages).from_select(
        [*MESSAGE_COLUMNS, *SESSION_COLUMNS],
        select(*m.values(), b.creator_id, b.student_id, b.last_seq),
    )
    writes = [message.cte("message")]
    owned = (m["id"], m["session_id"], m["created_at"])
    if with_references:
        rows = _unnest(video_references, "r", REFERENCE_COLUMNS)
        writes.append(
            insert(video_references)
            .from_select(
                ["message_id", "session_id", "created_at", "creator_id", *REFERENCE_COLUMNS],
                select(*owned, b.creator_id, *rows.c).select_from(bumped).join(rows, true()),
            )
            .cte("refs")
        )
    if with_keywords:
        rows = _unnest(message_keywords, "k", KEYWORD_COLUMNS)
        writes.append(
            insert(message_keywords)
            .from_select(
                ["message_id", "created_at", "creator_id", *KEYWORD_COLUMNS],
                select(m["id"], m["created_at"], b.creator_id, *rows.c)
                .select_from(bumped)
                .join(rows, true()),
            )
            .cte("keywords")
        )
    return select(b.last_seq, b.creator_id, b.student_id).add_cte(*writes)


def _unnest(table: Any, prefix: str, columns: tuple[str, ...]) -> Any:
    """The rows passed as one array per column, as a table (PostgreSQL's multi-array unnest)."""
    arrays = [bindparam(f"{prefix}_{c}", type_=ARRAY(table.c[c].type)) for c in columns]
    return func.unnest(*arrays).table_valued(*columns).render_derived(with_types=False)
