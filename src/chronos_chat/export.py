"""Exports of a session: a versioned JSON document (complete, re-importable) and Markdown that
reads well. Rendering is pure: values in, text out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chronos_chat.analytics_models import SessionAnalytics
from chronos_chat.errors import InvalidInput
from chronos_chat.models import ChatMessage, ChatSession

EXPORT_VERSION = 1


def export_document(
    session: ChatSession, analytics: SessionAnalytics, exported_at: datetime
) -> dict[str, Any]:
    """The JSON export: session, messages with references and usage, analytics, when."""
    messages = session.messages or []
    return {
        "chronos_chat_export": EXPORT_VERSION,
        "exported_at": exported_at.isoformat(),
        "session": session.model_dump(mode="json", exclude={"messages"}),
        "messages": [m.model_dump(mode="json") for m in messages],
        "analytics": analytics.model_dump(mode="json"),
    }


def check_document(document: Any) -> dict[str, Any]:
    """The export document, checked enough to import; raises InvalidInput naming what is wrong."""
    if not isinstance(document, dict):
        raise InvalidInput("document", "must be a JSON object")
    if document.get("chronos_chat_export") != EXPORT_VERSION:
        raise InvalidInput("chronos_chat_export", f"must be {EXPORT_VERSION}")
    if not isinstance(document.get("session"), dict):
        raise InvalidInput("session", "must be an object")
    if not isinstance(document.get("messages"), list):
        raise InvalidInput("messages", "must be a list")
    return document


def _timestamp(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _message_markdown(message: ChatMessage) -> list[str]:
    who = {"user": "Student", "assistant": "Tutor", "system": "System"}[message.role]
    lines = [f"### {who} · {message.created_at:%Y-%m-%d %H:%M} UTC", "", message.content, ""]
    if message.video_references:
        lines.append("References:")
        for ref in message.video_references:
            title = ref.video_title or ref.video_id
            at = _timestamp(ref.timestamp)
            lines.append(f"- {title} at {at}" if at else f"- {title}")
        lines.append("")
    return lines


def render_markdown(session: ChatSession, analytics: SessionAnalytics) -> str:
    """The session as Markdown: title, created, message count, duration, then each message."""
    title = session.title or "Untitled chat"
    lines = [
        f"# {title}",
        "",
        f"- Created: {session.created_at:%Y-%m-%d %H:%M} UTC",
        f"- Messages: {session.message_count}",
        f"- Duration: {analytics.duration_minutes:g} minutes",
        "",
    ]
    for message in session.messages or []:
        lines.extend(_message_markdown(message))
    return "\n".join(lines).rstrip() + "\n"
