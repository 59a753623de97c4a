"""Titles: the offline generator, cleaning a model's answer, Claude through a local fake."""

from __future__ import annotations

import re

import pytest

from chronos_chat import AnthropicTitleGenerator, ChatStore, OfflineTitleGenerator
from chronos_chat.titles import clean_title, fallback_title, make_title, offline_title
from tests.factories import make_session
from tests.fake_anthropic import fake_anthropic


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("How do I implement authentication?", "Questions about authentication"),
        ("How do I set up OAuth with React hooks?", "Questions about OAuth and React hooks"),
        ("What does row level security do in Postgres?", "Questions about row level security"),
        ("Can you explain closures?", "Questions about closures"),
        ("why is my docker build so slow", "Questions about docker build"),
        # Verbs and fillers of how students ask are not what they ask about.
        (
            "How does form validation relate to GraphQL resolvers?",
            "Questions about form validation",
        ),
        ("What are common mistakes with React hooks?", "Questions about React hooks"),
        ("My build keeps failing on Vercel", "Questions about build and Vercel"),
    ],
)
def test_offline_titles(message: str, title: str) -> None:
    assert offline_title(message) == title
    assert 3 <= len(title.split()) <= 6


@pytest.mark.parametrize("message", ["How do I do this?", "???", "thanks!"])
def test_offline_title_without_topic_is_none(message: str) -> None:
    assert offline_title(message) is None


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ('"OAuth Setup Questions"', "OAuth Setup Questions"),
        ("Title: Using React Hooks.", "Using React Hooks"),
        ("“Row Level Security Basics”\nmore text", "Row Level Security Basics"),
        ("", None),
        ("One", None),
        ("This title has far too many words to be a useful short title", None),
    ],
)
def test_clean_title(raw: str, cleaned: str | None) -> None:
    assert clean_title(raw) == cleaned


async def test_fallback_title_when_nothing_works() -> None:
    title = await make_title(OfflineTitleGenerator(), "??")
    assert re.fullmatch(r"Chat from [A-Z][a-z]{2} \d{1,2}, \d{4}", title)
    assert title == fallback_title()


async def test_generate_and_set_title(store: ChatStore) -> None:
    session = await make_session(store)
    title = await store.generate_and_set_title(session.id, "How do I implement authentication?")
    assert title == "Questions about authentication"
    assert (await store.get_session(session.id)).title == title


async def test_claude_titles_through_the_sdk() -> None:
    with fake_anthropic() as fake:
        fake.reply = '"Setting Up OAuth Providers"'
        generator = AnthropicTitleGenerator(api_key="test-key", base_url=fake.base_url)
        title = await make_title(generator, "How do I set up OAuth?")
    assert title == "Setting Up OAuth Providers"
    request = fake.requests[0]
    assert request["path"] == "/v1/messages"
    assert request["api_key"] == "test-key"
    assert request["body"]["model"] == "claude-haiku-4-5"
    assert "How do I set up OAuth?" in request["body"]["messages"][0]["content"]


async def test_claude_honours_anthropic_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_anthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
        from chronos_chat.titles import default_title_generator

        generator = default_title_generator()
        assert isinstance(generator, AnthropicTitleGenerator)
        assert await generator.generate("Explain webhooks") == "OAuth Setup Questions"
    assert fake.requests[0]["api_key"] == "env-key"


@pytest.mark.parametrize("failure", ["error", "unusable", "timeout"])
async def test_claude_failure_falls_back_to_offline_title(failure: str) -> None:
    with fake_anthropic() as fake:
        if failure == "error":
            fake.status = 529
        elif failure == "unusable":
            fake.reply = "Sure"
        else:
            fake.delay = 1.0
        generator = AnthropicTitleGenerator(api_key="k", base_url=fake.base_url, timeout=0.2)
        title = await make_title(generator, "How do I implement authentication?")
    assert title == "Questions about authentication"
