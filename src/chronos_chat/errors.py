"""The errors chronos-chat raises.

Every error is a ``ChronosError``; catch that to catch them all::

    ChronosError
    ├── NotFound
    │   ├── SessionNotFound
    │   └── MessageNotFound
    ├── Conflict
    │   └── IdempotencyConflict
    ├── InvalidInput          (also a ValueError)
    ├── UnknownModel          (also a LookupError)
    └── DatabaseUnavailable   (unreachable, or busy past its timeout: retry later)

The core knows nothing of HTTP; the API layer maps each class to a status in one table.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ChronosError",
    "Conflict",
    "DatabaseUnavailable",
    "IdempotencyConflict",
    "InvalidInput",
    "MessageNotFound",
    "NotFound",
    "SessionNotFound",
    "UnknownModel",
]


class ChronosError(Exception):
    """Base class of every error chronos-chat raises on purpose."""


class NotFound(ChronosError):
    """The thing asked for does not exist (or is not the caller's to see)."""


class SessionNotFound(NotFound):
    """No chat session has that id."""

    def __init__(self, session_id: object) -> None:
        super().__init__(f"chat session {session_id} not found")
        self.session_id = session_id


class MessageNotFound(NotFound):
    """No message has that id."""

    def __init__(self, message_id: object) -> None:
        super().__init__(f"message {message_id} not found")
        self.message_id = message_id


class Conflict(ChronosError):
    """The write clashes with what is already stored."""


class IdempotencyConflict(Conflict):
    """An idempotency key was reused for a different message."""


class InvalidInput(ChronosError, ValueError):
    """An argument is out of range or malformed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class UnknownModel(ChronosError, LookupError):
    """No price is known for the model; ``suggestions`` are the closest known ids."""

    def __init__(self, model: str, suggestions: Sequence[str] = ()) -> None:
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown model {model!r}{hint}")
        self.model = model
        self.suggestions = list(suggestions)


class DatabaseUnavailable(ChronosError):
    """The database cannot be reached, or stayed busy past its timeout: retry later.

    Raised instead of the driver's error so callers catch one family; the original is its
    ``__cause__``. Nothing was written, except when a PostgreSQL connection died during COMMIT
    itself: that commit may have landed, so retry writes with an ``idempotency_key``.
    """
