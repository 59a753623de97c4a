"""Session titles from the first message: offline and deterministic, or by Claude.

Every generator may fail or answer badly; ``make_title`` falls back from the configured
generator to the offline one, then to "Chat from Nov 24, 2026".
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from chronos_chat.topics import extract_keywords

logger = logging.getLogger(__name__)

DEFAULT_TITLE_MODEL = "claude-haiku-4-5"
MIN_WORDS, MAX_WORDS = 3, 6
MAX_TITLE_CHARS = 80
_QUOTES = "\"'`“”‘’«»"


@runtime_checkable
class TitleGenerator(Protocol):
    """Makes a 3-6 word title for a chat from its first message; None when it cannot."""

    async def generate(self, first_message: str) -> str | None:
        """A title for a session that starts with ``first_message``, or None."""
        ...


class OfflineTitleGenerator:
    """Names the subject from the message's keywords: "Questions about authentication"."""

    async def generate(self, first_message: str) -> str | None:
        """A deterministic title from the message's first topics, or None if it has none."""
        return offline_title(first_message)


def offline_title(first_message: str) -> str | None:
    """ "Questions about X" or "Questions about X and Y", at most six words; None if no topic."""
    keywords = extract_keywords(first_message, limit=3)
    if not keywords:
        return None
    chosen = [keywords[0].text]
    if len(keywords) > 1 and len(" ".join([*chosen, keywords[1].text]).split()) <= 3:
        chosen.append(keywords[1].text)
    subject = " and ".join(chosen)
    words = subject.split()[: MAX_WORDS - 2]
    return "Questions about " + " ".join(words)


def clean_title(raw: str | None) -> str | None:
    """A model's answer as a title: quotes and a trailing period stripped; None if unusable."""
    if not raw:
        return None
    line = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    if line.lower().startswith("title:"):
        line = line[6:].strip()
    title = line.strip(_QUOTES).strip().rstrip(".").strip(_QUOTES).strip()
    words = title.split()
    if not MIN_WORDS - 1 <= len(words) <= MAX_WORDS + 2 or len(title) > MAX_TITLE_CHARS:
        return None
    if "\x00" in title:
        return None
    return title


class AnthropicTitleGenerator:
    """Asks a Claude model for a short title with the official SDK (honours ANTHROPIC_BASE_URL)."""

    PROMPT = (
        "Write a title of 3 to 6 words for a tutoring chat that starts with the student "
        "message below. Answer with the title only, no quotes.\n\n<message>\n{message}\n</message>"
    )

    def __init__(
        self,
        *,
        model: str = DEFAULT_TITLE_MODEL,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 5.0,
        client: Any = None,
    ) -> None:
        from anthropic import AsyncAnthropic

        self.model = model
        self.client = client or AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def generate(self, first_message: str) -> str | None:
        """Claude's title for the message, or None on any failure or unusable answer."""
        from anthropic import APIError

        try:
            response = await self.client.messages.create(
                model=self.model,
                max_tokens=24,
                messages=[
                    {"role": "user", "content": self.PROMPT.format(message=first_message[:4000])}
                ],
            )
        except APIError as exc:
            logger.warning("title generation failed, using the offline title: %s", exc)
            return None
        text = "".join(getattr(block, "text", "") for block in response.content)
        return clean_title(text)


def default_title_generator() -> TitleGenerator:
    """Claude when ``ANTHROPIC_API_KEY`` is set (model from ``CHRONOS_TITLE_MODEL``), else offline."""
    if os.environ.get("ANTHROPIC_API_KEY"):
        return AnthropicTitleGenerator(
            model=os.environ.get("CHRONOS_TITLE_MODEL", DEFAULT_TITLE_MODEL)
        )
    return OfflineTitleGenerator()


def fallback_title(now: datetime | None = None) -> str:
    """The last resort: "Chat from Nov 24, 2026"."""
    now = now or datetime.now(UTC)
    return f"Chat from {now:%b} {now.day}, {now.year}"


async def make_title(generator: TitleGenerator, first_message: str) -> str:
    """The generator's title, else the offline one, else the dated fallback."""
    title = await generator.generate(first_message)
    if title is None and not isinstance(generator, OfflineTitleGenerator):
        title = offline_title(first_message)
    return title or fallback_title()
