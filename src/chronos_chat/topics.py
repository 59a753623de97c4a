"""Keywords of a student's question: what it is about, in words a person reads. Pure.

Question and filler words are dropped, plurals fold into one key ("hooks" and "hook"),
and adjacent content words stay together as a phrase ("react hooks", "row level security")
because a phrase names a topic better than its words apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any anyone anything are aren't as
    at be because been before being below between both but by can can't cannot could
    couldn't did didn't do does doesn't doing don't down during each either else even ever
    every few for from further get gets getting got had hadn't has hasn't have haven't
    having he her here hers herself him himself his how i i'd i'll i'm i've if in into is
    isn't it it's its itself just let let's like me might more most much must my myself need
    needs no nor not now of off on once one only or other ought our ours ourselves out over
    own really same shall she should shouldn't so some something still such than that that's
    the their theirs them themselves then there there's these they they're this those
    through to too under until up upon us use used using very via want wants was wasn't we
    we're were weren't what what's when where where's whether which while who who's whom why
    why's will with within without won't would wouldn't yes yet you you're your yours yourself
    yourselves
    able actually already always another anyway around ask asked asking best better
    certain clarify clear come correct course different does done easy example examples
    exactly explain explained explanation figure find follow good great guys happen happens
    hello help hey hi idea instead keep kind know learn learning lesson lessons look make
    makes making many mean means mentioned minute minutes new next part please point possible
    problem question questions quick quickly right say see seem seems set show showed
    sure tell thank thanks thing things think try trying tutorial tutorials understand
    twice understanding video videos vs versus way ways work works working wrong
    add adding apply bad big call change choose compare configure configuring create
    creating deal difference differences difficult fast fix fixing give go going handle implement implementing install installing
    hard pass put remove run running setup simple slow small start
    attempt attempts basic basics beginner beginners bit confused confusing deeper go going
    lost missing move moves project school sorry started stuck summarize summary together
    watch watched worth starting take update updating write writing matter matters
    relate relates related keeps inside mistake mistakes practice practices common fail fails
    failed failing
    two three four five six seven eight nine ten first second third
    """.split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#]*(?:[.'\-][A-Za-z0-9+#]+)*")
_CLAUSE = re.compile(r"[,;:!?()\[\]{}\"\n]+|\.(?=\s|$)")  # "Next.js" is a word, ". " ends a clause
_KEEP_S = ("ss", "us", "is", "os", "as", "ys")
MAX_PHRASE = 3


@dataclass(frozen=True, slots=True)
class Keyword:
    """A topic: ``key`` groups variants ("react hook"), ``label`` shows it ("react hooks"),
    ``text`` is as the student wrote it ("React hooks")."""

    key: str
    label: str
    text: str = ""


def singular(word: str) -> str:
    """Fold an English plural into its singular ("queries" -> "query"); leave others alone."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    return word[:-1]


def _is_content(word: str) -> bool:
    lower = word.lower()
    return lower not in STOP_WORDS and len(lower) > 1 and not lower.isdigit()


def _runs(text: str) -> list[list[str]]:
    runs: list[list[str]] = []
    for clause in _CLAUSE.split(text):
        current: list[str] = []
        for word in _WORD.findall(clause):
            if _is_content(word):
                current.append(word)
            elif current:
                runs.append(current)
                current = []
        if current:
            runs.append(current)
    return runs


def _display(word: str) -> str:
    # "OAuth", "JWT", "PyTorch" keep their capitals; "React" or "Hooks" at a sentence start do not.
    return word if any(c.isupper() for c in word[1:]) else word.lower()


def _fold(word: str) -> str:
    # Acronyms and code names ("CORS", "iOS", "useState", "Next.js") are not plurals of anything.
    coined = word.isupper() or (word[0].islower() and any(c.isupper() for c in word)) or "." in word
    return word.lower() if coined else singular(word.lower())


def _keyword(words: list[str]) -> Keyword:
    key = " ".join(_fold(w) for w in words)
    label = " ".join(_display(w) for w in words)[:100]
    return Keyword(key=key[:100], label=label, text=" ".join(words))


def extract_keywords(text: str, limit: int = 10) -> list[Keyword]:
    """The topics of ``text`` in order of appearance, each once, at most ``limit``.

    A run of two or three adjacent content words is one phrase; a longer run, its words.
    """
    seen: dict[str, Keyword] = {}
    for run in _runs(text):
        parts = [run] if len(run) <= MAX_PHRASE else [[w] for w in run]
        for part in parts:
            keyword = _keyword(part)
            seen.setdefault(keyword.key, keyword)
    return list(seen.values())[:limit]
