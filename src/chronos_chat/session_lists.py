"""Session lists, search and counts: filters, pages from one index per owner and archive
state, full-text matches with snippets. List statements are built once per filter shape
(``statements``)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, get_args

from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    Integer,
    Select,
    Uuid,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from chronos_chat import dialects, driver, session_counts
from chronos_chat.errors import InvalidInput
from chronos_chat.models import ChatSessionListItem, Page
from chronos_chat.schema import chat_messages, chat_sessions, video_references
from chronos_chat.statements import (
    built_once,
    one_statement,
    one_statement_when,
    quick,
    quick_when,
)
from chronos_chat.validation import (
    check_aware,
    check_external_id,
    check_page,
    check_text,
    check_video_ids,
)

S = chat_sessions.c
M = chat_messages.c


SortBy = Literal["last_message_at", "created_at", "updated_at", "message_count", "title"]
SortOrder = Literal["asc", "desc"]
SORT_COLUMNS: dict[str, Any] = dict(
    zip(
        get_args(SortBy),
        (S.last_message_at, S.created_at, S.updated_at, S.message_count, S.title),
        strict=True,
    )
)

LIST_COLUMNS = (
    S.id,
    S.student_id,
    S.creator_id,
    S.title,
    S.created_at,
    S.updated_at,
    S.last_message_at,
    S.archived_at,
    S.message_count,
    S.preview,
)


def _list_columns(db: Connection) -> tuple[Any, ...]:
    # The list shows how many videos, so the database counts them (no JSON decoding per row).
    return (*LIST_COLUMNS, dialects.json_array_length(db, S.context_video_ids).label("videos"))


MAX_MIN_MESSAGES = 2**31 - 1  # a message count is a 32-bit integer column
# Past any list's end, yet a 64-bit integer the SQL can subtract from: a page's offset is cut
# to it (a page number a client sends can be any size).
MAX_OFFSET = 2**62


@dataclass(frozen=True, slots=True)
class SessionFilters:
    """Which sessions a list or search covers. ``archived``: False active, True archived, None both."""

    student_id: str | None = None
    creator_id: str | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None
    has_title: bool | None = None
    min_messages: int | None = None
    video_ids: Sequence[str] | None = None
    archived: bool | None = False

    def checked(self) -> SessionFilters:
        """The same filters, validated; raises InvalidInput naming the bad one."""
        if self.student_id is not None:
            check_external_id("student_id", self.student_id)
        if self.creator_id is not None:
            check_external_id("creator_id", self.creator_id)
        check_aware("from_date", self.from_date)
        check_aware("to_date", self.to_date)
        if self.min_messages is not None and (
            isinstance(self.min_messages, bool) or not 0 <= self.min_messages <= MAX_MIN_MESSAGES
        ):
            raise InvalidInput(
                "min_messages", f"must be a whole number from 0 to {MAX_MIN_MESSAGES}"
            )
        if self.video_ids is not None:
            check_video_ids("video_ids", self.video_ids)
        return self

    def conditions(self, db: Connection) -> list[ColumnElement[bool]]:
        """The WHERE conditions on ``chat_sessions`` these filters stand for, with their values
        as bound parameters (``params``): one statement serves every value."""
        where: list[ColumnElement[bool]] = []
        if self.student_id is not None:
            where.append(S.student_id == bindparam("f_student"))
        if self.creator_id is not None:
            where.append(S.creator_id == bindparam("f_creator"))
        if self.from_date is not None:
            where.append(S.created_at >= bindparam("f_from"))
        if self.to_date is not None:
            where.append(S.created_at <= bindparam("f_to"))
        if self.has_title is not None:
            where.append(S.title.is_not(None) if self.has_title else S.title.is_(None))
        if self.min_messages:
            where.append(S.message_count >= bindparam("f_min_messages"))
        if self.video_ids:
            where.append(_touches_videos(db))
        if self.archived is not None:
            where.append(S.archived_at.is_not(None) if self.archived else S.archived_at.is_(None))
        return where

    def params(self) -> dict[str, Any]:
        """The values of the parameters in ``conditions``."""
        return {
            "f_student": self.student_id,
            "f_creator": self.creator_id,
            "f_from": self.from_date,
            "f_to": self.to_date,
            "f_min_messages": self.min_messages,
            "f_videos": list(self.video_ids or ()),
            "f_context_videos": list(self.video_ids or ()),
        }

    def by_owner_only(self) -> bool:
        """Whether only owners and the archive state filter: ``session_counts`` has the total."""
        owned = self.student_id is not None or self.creator_id is not None
        narrowed = (self.from_date, self.to_date, self.has_title, self.min_messages or None)
        return owned and not self.video_ids and all(f is None for f in narrowed)

    def shape(self) -> tuple[Any, ...]:
        """What ``conditions`` looks like: filters with the same shape share a statement."""
        return (
            self.student_id is not None,
            self.creator_id is not None,
            self.from_date is not None,
            self.to_date is not None,
            self.has_title,
            bool(self.min_messages),
            bool(self.video_ids),
            self.archived,
        )


def _touches_videos(db: Connection) -> ColumnElement[bool]:
    cited = (
        select(video_references.c.pk)
        .where(
            video_references.c.session_id == S.id,
            video_references.c.video_id.in_(bindparam("f_videos", expanding=True)),
        )
        .exists()
    )
    # Its own name: PostgreSQL binds the list whole there, while IN expands it.
    in_context = dialects.json_array_contains_any(db, S.context_video_ids, "f_context_videos")
    return or_(in_context, cited)


def _list_item(m: Mapping[Any, Any], snippet: str | None = None) -> ChatSessionListItem:
    return ChatSessionListItem(
        id=m["id"],
        student_id=m["student_id"],
        creator_id=m["creator_id"],
        title=m["title"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_message_at=m["last_message_at"],
        archived_at=m["archived_at"],
        message_count=m["message_count"],
        preview=m["preview"],
        video_count=m["videos"],
        snippet=snippet,
    )


def _order(sort_by: str, sort_order: str, columns: Any = S) -> list[Any]:
    """ORDER BY the sort column, then pk, of ``columns`` (the sessions table's, or a subquery's)."""
    if sort_by not in SORT_COLUMNS:
        raise InvalidInput("sort_by", f"must be one of {', '.join(SORT_COLUMNS)}")
    if sort_order not in ("asc", "desc"):
        raise InvalidInput("sort_order", "must be asc or desc")
    column = columns[sort_by]
    if sort_order == "desc":
        return [column.desc(), columns.pk.desc()]
    return [column.asc(), columns.pk.asc()]


def _paged(
    items: list[ChatSessionListItem], total: int, page: int, limit: int
) -> Page[ChatSessionListItem]:
    return Page[ChatSessionListItem](
        data=items, total=total, page=page, limit=limit, total_pages=math.ceil(total / limit)
    )


def _every_page_at_once(dialect: str, filters: SessionFilters) -> bool:
    """Whether any page of this list is one statement with its total (``_any_page``): on
    PostgreSQL, for one owner's sessions. Other lists scan and count rows anyway, and there the
    branch left out still cost PostgreSQL a parallel worker's start (a page of everything
    8.8 -> 12.7 ms)."""
    return dialect == "postgresql" and filters.by_owner_only()


def _one_statement_page(dialect: str, filters: SessionFilters, *, page: int = 1, **_: Any) -> bool:
    return page == 1 or _every_page_at_once(dialect, filters)


def _first_page_of_an_index(
    filters: SessionFilters, *, page: int = 1, sort_by: str = "last_message_at", **_: Any
) -> bool:
    # One owner's sessions in one state by recency are one index (its total one counter row),
    # so their first page reads as many entries as it shows, however many sessions there are.
    by_index = filters.by_owner_only() and filters.archived is not None
    return page == 1 and sort_by == "last_message_at" and by_index


@quick_when(_first_page_of_an_index)
@one_statement_when(_one_statement_page)
def list_sessions(
    db: Connection,
    filters: SessionFilters,
    *,
    page: int = 1,
    limit: int = 20,
    sort_by: str = "last_message_at",
    sort_order: str = "desc",
) -> Page[ChatSessionListItem]:
    """A page of sessions matching ``filters``, from the sessions table alone.

    On PostgreSQL any page of one owner's sessions is one statement with its total
    (``_any_page``). Otherwise the first page is one statement, its total a column of its rows:
    a first page never reads backwards, so it needs no total first, and it is empty only when
    nothing matches. Later pages read the total, then the page, in one snapshot.
    """
    page, limit = check_page(page, limit)
    filters = filters.checked()
    statements = _list_statements(db, filters, sort_by, sort_order)  # a bad order raises here
    params = _params(filters)
    offset = (page - 1) * limit
    if statements.pages is not None:
        values = params | {"limit": limit, "offset": min(offset, MAX_OFFSET)}
        rows = driver.fetch(db, statements.pages, values)
        items = [_list_item(r._mapping) for r in rows if r.id is not None]
        return _paged(items, rows[0].total, page, limit)
    if page == 1:
        rows = driver.fetch(db, statements.first_page, params | {"limit": limit, "offset": 0})
        total = rows[0].total if rows else 0
        return _paged([_list_item(r._mapping) for r in rows], total, page, limit)
    total = int(db.execute(statements.total, params).scalar_one())
    if offset >= total:
        return _paged([], total, page, limit)
    # A page past the middle is read from the other end: the index is walked up to the page
    # either way, so the last page costs what the first does instead of the whole list.
    backwards = offset * 2 > total
    if backwards:
        offset, limit_here = max(0, total - offset - limit), min(limit, total - offset)
        sort_order = "asc" if sort_order == "desc" else "desc"
        statements = _list_statements(db, filters, sort_by, sort_order)
    else:
        limit_here = limit
    rows = driver.fetch(db, statements.page, params | {"limit": limit_here, "offset": offset})
    items = [_list_item(r._mapping) for r in (reversed(rows) if backwards else rows)]
    return _paged(items, total, page, limit)


def _params(filters: SessionFilters) -> dict[str, Any]:
    # An owner's total from session_counts adds up the archive states asked for.
    return filters.params() | session_counts.states(filters.archived)


class ListStatements(NamedTuple):
    """A list's statements: a page, its total, the first page with its total, and (PostgreSQL,
    one owner's sessions) any page with its total."""

    page: Select[Any]
    total: Select[Any]
    first_page: Select[Any]
    pages: Select[Any] | None


def _list_statements(
    db: Connection, filters: SessionFilters, sort_by: str, sort_order: str
) -> ListStatements:
    key = ("list", db.dialect.name, filters.shape(), sort_by, sort_order)
    return built_once(key, lambda: _build_list(db, filters, sort_by, sort_order))


def _build_list(
    db: Connection, filters: SessionFilters, sort_by: str, sort_order: str
) -> ListStatements:
    where = filters.conditions(db)
    order = _order(sort_by, sort_order)
    # Page the keys first (from the owner's active or archived index alone, in its order,
    # last_message_at then pk), then fetch just those rows.
    keys = (
        select(S.pk)
        .where(*where)
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    keyed = keys.subquery("page")
    query = select(*_list_columns(db)).join(keyed, keyed.c.pk == S.pk).order_by(*order)
    # An owner's total is one row of session_counts; other filters count the sessions.
    total = (
        session_counts.COUNT
        if filters.by_owner_only()
        else select(func.count()).select_from(chat_sessions).where(*where)
    )
    along = total.correlate(None).scalar_subquery().label("total")
    at_once = _every_page_at_once(db.dialect.name, filters)
    pages = _any_page(db, where, sort_by, sort_order, total) if at_once else None
    return ListStatements(query, total, query.add_columns(along), pages)


def _any_page(
    db: Connection,
    where: list[ColumnElement[bool]],
    sort_by: str,
    sort_order: str,
    total: Select[Any],
) -> Select[Any]:
    """PostgreSQL: any page and its total in one statement, so one round trip and no
    transaction (BEGIN, the total, the page, ROLLBACK were four: at 1M messages a middle page
    of 20k sessions 2.1-2.2 -> 1.4-1.6 ms, the first 1.0 -> 0.8).

    The keys are read forwards or, past the middle, backwards from the end (the one-time
    filters let PostgreSQL run only the branch it needs; SQLite would scan both, so it reads
    the total first). Their array feeds an index lookup of the rows, which the total joins
    outer: a page past the end is one row with the total and nulls.
    """
    counted = select(total.correlate(None).scalar_subquery().label("n")).cte("total")
    n = select(counted.c.n).scalar_subquery()
    limit = bindparam("limit", type_=Integer)
    offset = bindparam("offset", type_=BigInteger)
    reverse = "asc" if sort_order == "desc" else "desc"
    forwards = (
        select(S.pk)
        .where(*where, n - offset >= offset)
        .order_by(*_order(sort_by, sort_order))
        .limit(limit)
        .offset(offset)
    )
    backwards = (
        select(S.pk)
        .where(*where, n - offset < offset)
        .order_by(*_order(sort_by, reverse))
        .limit(func.greatest(0, func.least(limit, n - offset)))
        .offset(func.greatest(0, n - offset - limit))
    )
    keys = func.array(union_all(forwards, backwards).scalar_subquery())
    rows = select(*_list_columns(db), S.pk).where(S.pk == any_(keys)).subquery("rows")
    listed = [c for c in rows.c if c.name != "pk"]
    return (
        select(*listed, counted.c.n.label("total"))
        .select_from(counted.outerjoin(rows, true()))
        .order_by(*_order(sort_by, sort_order, rows.c))
    )


def search_sessions(
    db: Connection,
    query: str,
    filters: SessionFilters,
    *,
    page: int = 1,
    limit: int = 20,
) -> Page[ChatSessionListItem]:
    """Sessions whose title or messages match ``query``, best match first, with a snippet."""
    check_text("query", query, max_length=1000)
    page, limit = check_page(page, limit)
    filters = filters.checked()
    q = dialects.fts_query(db, query)
    ranked = _ranked_matches(db, filters, q)
    where = filters.conditions(db)
    columns = _list_columns(db)
    base = select(*columns, ranked.c.score).join(ranked, ranked.c.sid == S.id).where(*where)
    ordered = base.order_by(ranked.c.score, S.last_message_at.desc(), S.pk.desc())
    count = select(func.count()).select_from(chat_sessions.join(ranked, ranked.c.sid == S.id))
    params = filters.params()
    total = db.execute(count.where(*where), params).scalar_one()
    offset = (page - 1) * limit
    if offset >= total:  # past the end (also keeps a huge page number out of SQL)
        return _paged([], total, page, limit)
    rows = db.execute(ordered.limit(limit).offset(offset), params).all()
    snippets = _snippets(db, q, [r.id for r in rows])
    items = [_list_item(r._mapping, snippets.get(r.id) or r.title) for r in rows]
    return _paged(items, total, page, limit)


def _ranked_matches(db: Connection, filters: SessionFilters, q: str) -> Any:
    messages = text(dialects.message_match_sql(db)).bindparams(q=q)
    mm = messages.columns(pk=Integer, score=Float).subquery("mm")
    message_hits = select(M.session_id.label("sid"), mm.c.score).join(mm, mm.c.pk == M.pk)
    # Push the owner filters down so the planner can narrow the matches early.
    if filters.student_id is not None:
        message_hits = message_hits.where(M.student_id == filters.student_id)
    if filters.creator_id is not None:
        message_hits = message_hits.where(M.creator_id == filters.creator_id)
    titles = text(dialects.title_match_sql(db)).bindparams(q=q)
    tm = titles.columns(pk=Integer, score=Float).subquery("tm")
    title_hits = select(S.id.label("sid"), tm.c.score).join(tm, tm.c.pk == S.pk)
    hits = union_all(message_hits, title_hits).subquery("hits")
    return (
        select(hits.c.sid, func.min(hits.c.score).label("score"))
        .group_by(hits.c.sid)
        .subquery("ranked")
    )


def _snippets(db: Connection, q: str, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not session_ids:
        return {}
    statement = text(dialects.snippet_sql(db)).bindparams(
        bindparam("q", q), bindparam("ids", session_ids, expanding=True, type_=Uuid)
    )
    statement = statement.columns(session_id=Uuid)  # type: ignore[assignment]
    rows = db.execute(statement).all()
    return {row.session_id: row.snippet for row in rows}


@quick
@one_statement
def get_session_count(
    db: Connection, student_id: str, *, creator_id: str | None = None, archived: bool | None = False
) -> int:
    """How many sessions the student has (active ones unless ``archived`` says otherwise)."""
    filters = SessionFilters(student_id=student_id, creator_id=creator_id, archived=archived)
    return session_counts.count(db, filters.checked().params(), archived)
