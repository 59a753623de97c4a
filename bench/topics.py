"""Precision of the top 10 topics on a hand-labelled set of student questions: ours against
the original's word counting (every word over three letters), on the same questions.

    python -m bench.topics
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from chronos_chat.topics import extract_keywords, singular

LABELLED = Path(__file__).parent / "topics_labelled.json"


def fold(topic: str) -> str:
    """A topic as a comparable key: lower case, plurals folded."""
    return " ".join(singular(w) for w in topic.lower().split())


def ours(questions: list[str]) -> list[str]:
    """Our top 10: stored keywords, counted by key, shown by label (as analytics does)."""
    keywords = [k for q in questions for k in extract_keywords(q)]
    counts = Counter(k.key for k in keywords)
    labels = {k.key: min(x.label for x in keywords if x.key == k.key) for k in keywords}
    return [labels[key] for key, _ in counts.most_common(10)]


def original(questions: list[str]) -> list[str]:
    """The seed's top 10: lower-cased words longer than three letters, counted."""
    counts = Counter(w for q in questions for w in re.findall(r"[a-z]+", q.lower()) if len(w) > 3)
    return [word for word, _ in counts.most_common(10)]


def precision(top: list[str], gold: set[str]) -> float:
    """The share of ``top`` that a person named as a topic."""
    return sum(1 for t in top if fold(t) in gold) / len(top)


def main() -> None:
    """Print both lists and their precision."""
    data = json.loads(LABELLED.read_text())["questions"]
    questions = [item["q"] for item in data]
    gold = {fold(t) for item in data for t in item["topics"]}
    print(f"{len(questions)} questions, {len(gold)} distinct labelled topics")
    print("| method | precision of top 10 | top 10 |")
    print("|---|---:|---|")
    for name, top in (
        ("chronos-chat", ours(questions)),
        ("original word counting", original(questions)),
    ):
        print(f"| {name} | {precision(top, gold):.0%} | {', '.join(top)} |")


if __name__ == "__main__":
    main()
