"""``ChatStore``: the one object a library user holds. It owns the database and delegates
every operation to the domain modules, each in one transaction (titling excepted: the model is
asked between a read and a write, so no lock waits on it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection
from sqlalchemy.engine import URL

from chronos_chat import (
    analytics,
    cost_reports,
    creator_reports,
    export,
    idempotency,
    message_reads,
    messages,
    restore,
    session_lists,
    sessions,
    topic_refresh,
    usage_reports,
)
from chronos_chat.analytics_models import ContentGap, CreatorAnalytics, SessionAnalytics, UsageDay
from chronos_chat.cost_reports import CostSummary
from chronos_chat.costs import CostProjection, Suggestion
from chronos_chat.database import Database
from chronos_chat.dialects import SqliteSynchronous
from chronos_chat.models import (
    ChatMessage,
    ChatSession,
    ChatSessionListItem,
    Page,
    Revision,
    VideoReferenceIn,
)
from chronos_chat.pricing import PriceCatalog, load_catalog
from chronos_chat.session_lists import SessionFilters
from chronos_chat.sessions import UNSET, Unset
from chronos_chat.titles import TitleGenerator, default_title_generator, make_title
from chronos_chat.validation import check_external_id


class ChatStore:
    """Chat sessions, messages, costs and analytics over SQLite or PostgreSQL.

    ``url`` falls back to ``CHRONOS_DATABASE_URL``, then to ``sqlite:///chronos.db``. Use it
    as ``async with ChatStore(url) as store: ...``; opening applies the migrations unless
    ``auto_migrate=False``.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        auto_migrate: bool = True,
        title_generator: TitleGenerator | None = None,
        catalog: PriceCatalog | None = None,
        default_chat_model: str | None = None,
        max_content_length: int = messages.DEFAULT_MAX_CONTENT,
        sqlite_synchronous: SqliteSynchronous = "FULL",
        **engine_options: Any,
    ) -> None:
        self.database = Database(url, sqlite_synchronous=sqlite_synchronous, **engine_options)
        self.auto_migrate = auto_migrate
        self.title_generator = title_generator or default_title_generator()
        self.catalog = catalog or load_catalog(default_chat_model=default_chat_model)
        self.max_content_length = max_content_length

    async def open(self) -> Self:
        """Connect, and apply the migrations unless ``auto_migrate`` is off."""
        if self.auto_migrate:
            await self.database.migrate()
        return self

    async def close(self) -> None:
        """Close every connection."""
        await self.database.dispose()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def migrate(self) -> None:
        """Bring the schema up to date (what ``chronos-chat migrate`` does)."""
        await self.database.migrate()

    # --- sessions ------------------------------------------------------------------------

    async def create_session(
        self,
        *,
        student_id: str,
        creator_id: str,
        title: str | None = None,
        context_video_ids: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
    ) -> ChatSession:
        """Start a new session. Raises InvalidInput."""
        return await self.database.write(
            sessions.create_session,
            student_id=student_id,
            creator_id=creator_id,
            title=title,
            context_video_ids=context_video_ids,
            metadata=metadata,
            created_at=created_at,
        )

    async def get_session(
        self, session_id: uuid.UUID, include_messages: bool = False
    ) -> ChatSession:
        """A session, with its messages if asked. Raises SessionNotFound."""
        if include_messages:
            return await self.database.read(message_reads.get_session_with_messages, session_id)
        return await self.database.read(sessions.get_session, session_id)

    async def get_or_create_session(
        self,
        student_id: str,
        creator_id: str,
        context_video_ids: Iterable[str] = (),
        *,
        reuse_window: timedelta = sessions.DEFAULT_REUSE_WINDOW,
    ) -> ChatSession:
        """The pair's session active within ``reuse_window`` (24 h), or a new one. Atomic."""
        session, _created = await self.get_or_create_session_ex(
            student_id, creator_id, context_video_ids, reuse_window=reuse_window
        )
        return session

    async def get_or_create_session_ex(
        self,
        student_id: str,
        creator_id: str,
        context_video_ids: Iterable[str] = (),
        *,
        reuse_window: timedelta = sessions.DEFAULT_REUSE_WINDOW,
    ) -> tuple[ChatSession, bool]:
        """Like ``get_or_create_session``, also telling whether the session was created."""
        return await self.database.write(
            sessions.get_or_create_session,
            student_id,
            creator_id,
            context_video_ids,
            reuse_window=reuse_window,
        )

    async def update_session(
        self,
        session_id: uuid.UUID,
        *,
        title: str | Unset | None = UNSET,
        context_video_ids: Iterable[str] | Unset = UNSET,
        metadata: Mapping[str, Any] | Unset = UNSET,
    ) -> ChatSession:
        """Change the title, context videos or metadata. Raises SessionNotFound, InvalidInput."""
        return await self.database.write(
            sessions.update_session,
            session_id,
            title=title,
            context_video_ids=context_video_ids,
            metadata=metadata,
        )

    async def archive_session(self, session_id: uuid.UUID) -> ChatSession:
        """Soft-delete: hide from lists and never reuse; metadata kept. Raises SessionNotFound."""
        return await self.database.write(sessions.set_archived, session_id, True)

    async def unarchive_session(self, session_id: uuid.UUID) -> ChatSession:
        """Bring an archived session back. Raises SessionNotFound."""
        return await self.database.write(sessions.set_archived, session_id, False)

    async def delete_session(self, session_id: uuid.UUID) -> None:
        """Delete a session and all its messages for good. Raises SessionNotFound."""
        await self.database.write(sessions.delete_session, session_id)

    async def list_sessions(
        self,
        *,
        student_id: str | None = None,
        creator_id: str | None = None,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
        has_title: bool | None = None,
        min_messages: int | None = None,
        video_ids: Sequence[str] | None = None,
        archived: bool | None = False,
        page: int = 1,
        limit: int = 20,
        sort_by: str = "last_message_at",
        sort_order: str = "desc",
    ) -> Page[ChatSessionListItem]:
        """A page of sessions; ``archived`` False (default) active, True archived, None both."""
        filters = SessionFilters(
            student_id, creator_id, from_date, to_date, has_title, min_messages, video_ids, archived
        )
        return await self.database.read(
            session_lists.list_sessions,
            filters,
            page=page,
            limit=limit,
            sort_by=sort_by,
            sort_order=sort_order,
        )

    async def search_sessions(
        self,
        query: str,
        *,
        student_id: str | None = None,
        creator_id: str | None = None,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
        has_title: bool | None = None,
        min_messages: int | None = None,
        video_ids: Sequence[str] | None = None,
        archived: bool | None = False,
        page: int = 1,
        limit: int = 20,
    ) -> Page[ChatSessionListItem]:
        """Sessions whose title or messages match ``query`` (full-text), best first, with snippets."""
        filters = SessionFilters(
            student_id, creator_id, from_date, to_date, has_title, min_messages, video_ids, archived
        )
        return await self.database.report(
            session_lists.search_sessions, query, filters, page=page, limit=limit
        )

    async def get_session_count(self, student_id: str, *, creator_id: str | None = None) -> int:
        """How many active sessions the student has (with one creator, if given)."""
        return await self.database.read(
            session_lists.get_session_count, student_id, creator_id=creator_id
        )

    async def generate_and_set_title(self, session_id: uuid.UUID, first_message: str) -> str:
        """Title the session from its first message (Claude if configured, else offline)."""
        await self.database.read(sessions.fetch_session_row, session_id)
        # The model is asked outside any transaction: a slow API must not hold a lock.
        title = await make_title(self.title_generator, first_message)
        await self.update_session(session_id, title=title)
        return title

    # --- messages ------------------------------------------------------------------------

    async def create_message(
        self,
        *,
        session_id: uuid.UUID,
        role: str,
        content: str,
        token_count: int | None = None,
        model: str | None = None,
        video_references: Iterable[Mapping[str, Any] | VideoReferenceIn] = (),
        usage: Any = None,
        response_time_ms: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        created_at: datetime | None = None,
        session_student_id: str | None = None,
        session_creator_id: str | None = None,
        request_key: tuple[str, str] | None = None,
    ) -> ChatMessage:
        """Store a message with its references, usage and cost, and update the session.

        All in one transaction. ``usage`` is any SDK's usage object or dict. A retry with the
        same ``idempotency_key`` returns the first message. With ``session_student_id`` or
        ``session_creator_id``, writes only into a session of theirs. ``request_key`` (scope, key)
        is an idempotency key claimed by an API request: the message is kept as its response in
        the same transaction, so a crash can never leave it written but unanswered. Raises SessionNotFound,
        InvalidInput, IdempotencyConflict.
        """
        new = messages.validate_message(
            session_id=session_id,
            role=role,
            content=content,
            token_count=token_count,
            model=model,
            video_references=video_references,
            usage=usage,
            response_time_ms=response_time_ms,
            metadata=metadata,
            idempotency_key=idempotency_key,
            created_at=created_at,
            max_content_length=self.max_content_length,
        )
        owner = messages.Owner(session_student_id, session_creator_id)
        return await self.database.write(_create_message, new, self.catalog, owner, request_key)

    async def get_messages(
        self,
        session_id: uuid.UUID,
        limit: int | None = None,
        offset: int = 0,
        role: str | None = None,
    ) -> list[ChatMessage]:
        """The session's messages in order; all of them unless ``limit``. Raises SessionNotFound."""
        return await self.database.read(
            message_reads.get_messages, session_id, limit=limit, offset=offset, role=role
        )

    async def get_message(self, message_id: uuid.UUID) -> ChatMessage:
        """One message. Raises MessageNotFound."""
        return await self.database.read(message_reads.get_message, message_id)

    async def update_message(
        self,
        message_id: uuid.UUID,
        *,
        content: str | Unset = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
    ) -> ChatMessage:
        """Edit a message, keeping its previous content as a revision. Raises MessageNotFound."""
        return await self.database.write(
            messages.update_message,
            message_id,
            content=content,
            metadata=metadata,
            max_content_length=self.max_content_length,
        )

    async def get_message_revisions(self, message_id: uuid.UUID) -> list[Revision]:
        """A message's earlier contents, oldest first. Raises MessageNotFound."""
        return await self.database.read(messages.get_revisions, message_id)

    async def delete_message(self, message_id: uuid.UUID) -> None:
        """Delete a message; the session's counters stay exact. Raises MessageNotFound."""
        await self.database.write(messages.delete_message, message_id)

    async def get_message_count(self, session_id: uuid.UUID) -> int:
        """How many messages the session holds (a stored counter). Raises SessionNotFound."""
        return (await self.get_session(session_id)).message_count

    async def count_messages_by_role(self, session_id: uuid.UUID) -> dict[str, int]:
        """Messages per role: user, assistant, system. Raises SessionNotFound."""
        return await self.database.read(message_reads.count_messages_by_role, session_id)

    async def search_messages(
        self,
        query: str,
        session_id: uuid.UUID | None = None,
        creator_id: str | None = None,
        student_id: str | None = None,
        limit: int = 20,
    ) -> list[ChatMessage]:
        """Messages matching ``query`` (full-text), best first."""
        return await self.database.report(
            message_reads.search_messages,
            query,
            session_id=session_id,
            creator_id=creator_id,
            student_id=student_id,
            limit=limit,
        )

    async def get_conversation_history(
        self, session_id: uuid.UUID, limit: int | None = None
    ) -> list[dict[str, str]]:
        """The last ``limit`` messages, oldest first, as ``{"role", "content"}`` for an LLM."""
        return await self.database.read(message_reads.get_conversation_history, session_id, limit)

    async def get_messages_with_video_refs(self, session_id: uuid.UUID) -> list[ChatMessage]:
        """The session's messages that cite videos. Raises SessionNotFound."""
        return await self.database.read(message_reads.get_messages_with_video_refs, session_id)

    # --- costs ---------------------------------------------------------------------------

    async def get_cost_summary(
        self,
        *,
        creator_id: str | None = None,
        student_id: str | None = None,
        session_id: uuid.UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> CostSummary:
        """Stored costs and tokens summed (per model too) over a creator, student, session or time."""
        return await self.database.report(
            cost_reports.spending,
            sessions.now_utc(),
            creator_id=creator_id,
            student_id=student_id,
            session_id=session_id,
            since=since,
            until=until,
        )

    async def get_cost_projection(self, creator_id: str, days: int = 30) -> CostProjection:
        """A month's cost projected from the creator's real daily costs over the last ``days`` days."""
        check_external_id("creator_id", creator_id)
        today = sessions.now_utc().date()
        return await self.database.report(cost_reports.cost_projection, creator_id, days, today)

    async def get_creator_cost_suggestions(
        self, creator_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Suggestion]:
        """Ways for a creator to spend less, with savings from re-pricing their real tokens."""
        summary = await self.get_cost_summary(creator_id=creator_id, since=since, until=until)
        return cost_reports.suggestions_for(summary, self.catalog)

    # --- analytics -----------------------------------------------------------------------

    async def get_session_analytics(self, session_id: uuid.UUID) -> SessionAnalytics:
        """One session's duration, counts, tokens, cost, response time and videos."""
        return await self.database.read(analytics.session_analytics, session_id)

    async def get_creator_chat_analytics(
        self,
        creator_id: str,
        period: str = "month",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        tz: str = "UTC",
    ) -> CreatorAnalytics:
        """A creator's figures over a rolling period (day, week, month: 1, 7, 30 days; all) or
        the range [since, until); hours in ``tz``. What counts is stated in ``chronos_chat.analytics``.
        """
        zone = analytics.zone(tz)
        start, end = analytics.resolve_period(period, since, until, sessions.now_utc())
        return await self.database.report(
            creator_reports.creator_analytics, creator_id, period, start, end, zone
        )

    async def get_chat_usage_metrics(
        self, creator_id: str, from_date: date, to_date: date, tz: str = "UTC"
    ) -> list[UsageDay]:
        """One row per local day in ``tz`` from ``from_date`` to ``to_date``, quiet days included."""
        zone = analytics.zone(tz)
        return await self.database.report(
            usage_reports.usage_metrics, creator_id, from_date, to_date, zone
        )

    async def get_content_gaps(
        self, creator_id: str, period: str = "month", *, similarity_below: float = 0.5
    ) -> list[ContentGap]:
        """Students' questions the videos did not answer (no citation, or only weak ones), by topic."""
        start, end = analytics.resolve_period(period, None, None, sessions.now_utc())
        return await self.database.report(
            analytics.content_gaps, creator_id, start, end, similarity_below
        )

    async def forget_student(self, student_id: str) -> int:
        """Erase a student: every session of theirs (archived too) with its messages, references
        and keywords, their name, and stored responses of idempotent requests about them, in one
        transaction; analytics and costs no longer count them. How many sessions went."""
        return await self.database.write(sessions.forget_student, student_id)

    async def set_student_name(self, student_id: str, name: str | None) -> None:
        """Name a student in analytics (None forgets the name)."""
        await self.database.write(sessions.set_student_name, student_id, name)

    async def refresh_topics(
        self,
        *,
        batch_size: int = 1000,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Extract every student message's topics again with this version's rules (after an
        upgrade that improved them), ``batch_size`` messages a transaction, calling
        ``on_progress(done, total)`` after each. How many messages' topics changed."""
        return await topic_refresh.refresh(self.database, batch_size, on_progress)

    # --- export --------------------------------------------------------------------------

    async def export_session(self, session_id: uuid.UUID) -> dict[str, Any]:
        """The session as a versioned JSON document: session, messages, analytics, exported_at."""
        session, stats = await self.database.read(_session_and_analytics, session_id)
        return export.export_document(session, stats, sessions.now_utc())

    async def export_session_markdown(self, session_id: uuid.UUID) -> str:
        """The session as readable Markdown. Raises SessionNotFound."""
        session, stats = await self.database.read(_session_and_analytics, session_id)
        return export.render_markdown(session, stats)

    async def import_session(self, document: Mapping[str, Any]) -> ChatSession:
        """Restore a JSON export (same ids). Raises InvalidInput, Conflict if it exists."""
        checked = export.check_document(document)
        return await self.database.write(
            restore.import_session, checked, self.catalog, self.max_content_length
        )


def _create_message(
    db: Connection,
    new: messages.NewMessage,
    catalog: PriceCatalog,
    owner: messages.Owner,
    request_key: tuple[str, str] | None,
) -> ChatMessage:
    message = messages.create_message(db, new, catalog, owner)
    if request_key is not None:
        idempotency.complete(db, *request_key, 201, message.model_dump(mode="json"))
    return message


def _session_and_analytics(
    db: Connection, session_id: uuid.UUID
) -> tuple[ChatSession, SessionAnalytics]:
    return message_reads.get_session_with_messages(db, session_id), analytics.session_analytics(
        db, session_id
    )


__all__ = ["ChatStore"]
