"""Alembic environment: runs on the connection the library hands it."""

from __future__ import annotations

from alembic import context

from chronos_chat.schema import metadata

# Full-text objects differ by dialect and live outside the shared metadata.
FTS_PREFIXES = ("chat_messages_fts", "chat_sessions_fts", "ix_fts_", "search_vector")


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    """Leave the dialect-specific full-text objects out of drift checks."""
    return not (name and name.startswith(FTS_PREFIXES))


def run_migrations() -> None:
    """Run the migrations on the connection given in ``config.attributes``."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
