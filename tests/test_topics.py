"""Keyword extraction: what a student's question is about, in words a person reads."""

from __future__ import annotations

import pytest

from chronos_chat.topics import extract_keywords, singular


@pytest.mark.parametrize(
    ("question", "labels"),
    [
        ("How do I implement authentication?", ["authentication"]),
        ("Which React hooks run on every render?", ["react hooks", "render"]),
        ("Explain row level security in Postgres please", ["row level security", "postgres"]),
        ("Could you summarize the part about Next.js routing?", ["next.js routing"]),
        ("Why do I get CORS errors?", ["CORS errors"]),
        ("What does this video say, should I watch it again?", []),
        ("useState vs useEffect", ["useState", "useEffect"]),
        # Counting words are not part of a topic; a number inside a name stays.
        ("How do I merge two dataframes in pandas?", ["merge", "dataframes", "pandas"]),
        (
            "Is Three.js good for two-factor authentication?",
            ["three.js", "two-factor authentication"],
        ),
    ],
)
def test_labels(question: str, labels: list[str]) -> None:
    assert [k.label for k in extract_keywords(question)] == labels


@pytest.mark.parametrize(
    ("name", "key"), [("Next.js routing", "next.js routing"), ("Node.js", "node.js")]
)
def test_dotted_names_are_not_plurals(name: str, key: str) -> None:
    assert extract_keywords(name)[0].key == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("React hooks", "react hook"),
        ("queries", "query"),
        ("CORS errors", "CORS error"),
        ("classes", "class"),
    ],
)
def test_variants_share_a_key(a: str, b: str) -> None:
    assert extract_keywords(a)[0].key == extract_keywords(b)[0].key


@pytest.mark.parametrize(
    ("word", "one"),
    [
        ("hooks", "hook"),
        ("queries", "query"),
        ("boxes", "box"),
        ("class", "class"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("pandas", "pandas"),
        ("sql", "sql"),
    ],
)
def test_singular(word: str, one: str) -> None:
    assert singular(word) == one


def test_each_topic_once_and_limited() -> None:
    text = "hooks, hooks and more hooks; " + ", ".join(f"topic{i}" for i in range(30))
    keywords = extract_keywords(text, limit=5)
    assert len(keywords) == 5
    assert [k.key for k in keywords].count("hook") == 1
