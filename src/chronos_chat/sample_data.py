"""Deterministic, realistic tutoring traffic: courses, videos, students' questions, answers.

Used by ``chronos-chat demo`` (through the library) and by the benchmarks (bulk-loaded).
Question text is composed from many openers, topics, details and follow-ups, so search and
topic analytics have something real to find.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

COURSES: dict[str, tuple[str, list[str], list[str]]] = {
    "web": (
        "Full-Stack Web Development",
        [
            "React hooks",
            "useEffect cleanup",
            "Redux state management",
            "Next.js routing",
            "server components",
            "CSS grid",
            "flexbox layout",
            "TypeScript generics",
            "REST API design",
            "OAuth authentication",
            "JWT tokens",
            "session cookies",
            "CORS errors",
            "webpack configuration",
            "Vite builds",
            "Jest unit tests",
            "Docker containers",
            "Vercel deployment",
            "database migrations",
            "PostgreSQL indexes",
            "row level security",
            "SQL joins",
            "GraphQL resolvers",
            "WebSocket connections",
            "Redis caching",
            "form validation",
            "environment variables",
        ],
        [
            "I'm on Windows",
            "after upgrading to the latest version",
            "only in production",
            "when I refresh the page",
            "with TypeScript strict mode",
            "inside a monorepo",
            "behind a reverse proxy",
            "on the free tier",
            "when two users log in at once",
        ],
    ),
    "data": (
        "Data Science with Python",
        [
            "pandas dataframes",
            "groupby aggregation",
            "missing values",
            "matplotlib plots",
            "numpy broadcasting",
            "linear regression",
            "logistic regression",
            "decision trees",
            "random forests",
            "cross validation",
            "overfitting",
            "feature scaling",
            "gradient descent",
            "neural networks",
            "PyTorch tensors",
            "train test split",
            "confusion matrix",
            "precision and recall",
            "time series forecasting",
            "Jupyter notebooks",
            "one hot encoding",
            "principal component analysis",
        ],
        [
            "with a dataset of a million rows",
            "when the classes are imbalanced",
            "on my laptop without a GPU",
            "after I normalize the features",
            "with categorical columns",
            "when I run it a second time",
            "in Google Colab",
        ],
    ),
    "guitar": (
        "Guitar from Zero",
        [
            "chord transitions",
            "barre chords",
            "fingerpicking patterns",
            "strumming rhythm",
            "pentatonic scale",
            "alternate picking",
            "string bending",
            "capo placement",
            "standard tuning",
            "music theory intervals",
            "power chords",
            "vibrato technique",
            "metronome practice",
            "hammer-ons and pull-offs",
            "palm muting",
        ],
        [
            "my fingers hurt after ten minutes",
            "on an acoustic guitar",
            "with small hands",
            "at 80 beats per minute",
            "when I switch from G to C",
            "playing along with the track",
        ],
    ),
    "photo": (
        "Digital Photography Essentials",
        [
            "aperture settings",
            "shutter speed",
            "ISO noise",
            "the exposure triangle",
            "depth of field",
            "white balance",
            "RAW editing in Lightroom",
            "the rule of thirds",
            "golden hour lighting",
            "long exposure",
            "portrait lenses",
            "reading the histogram",
            "manual focus",
            "backlit subjects",
        ],
        [
            "indoors with bad light",
            "with a kit lens",
            "on a phone camera",
            "shooting moving kids",
            "at night in the city",
            "without a tripod",
        ],
    ),
    "finance": (
        "Personal Finance Basics",
        [
            "index funds",
            "compound interest",
            "an emergency fund",
            "Roth IRA contributions",
            "tax brackets",
            "a budgeting spreadsheet",
            "credit scores",
            "mortgage refinancing",
            "asset allocation",
            "dollar cost averaging",
            "student loan repayment",
            "high yield savings accounts",
        ],
        [
            "on a variable income",
            "with credit card debt",
            "in my twenties",
            "as a freelancer",
            "if the market drops",
            "with a partner",
        ],
    ),
}

OPENERS = [
    "How do I get started with {topic}?",
    "Can you explain {topic} again? I got lost around minute {minute}.",
    "What's the difference between {topic} and {other}?",
    "Why does {topic} not work for me {detail}?",
    "I'm confused about {topic} {detail}.",
    "When should I use {topic} instead of {other}?",
    "Is there a simple example of {topic}?",
    "How does {topic} relate to {other}?",
    "Which is better for beginners: {topic} or {other}?",
    "What are common mistakes with {topic}?",
    "At {minute}:{second:02d} you mention {topic}; could you go deeper?",
    "My {topic} attempt keeps going wrong {detail}. What am I missing?",
    "Does {topic} still matter if I already know {other}?",
    "Could you summarize the part about {topic}?",
    "I watched the lesson on {topic} twice and still don't get it {detail}.",
    "What should I practice after {topic}?",
    "Is {topic} worth learning before {other}?",
    "Can {topic} and {other} be used together?",
    "What is the best way to debug {topic} {detail}?",
    "Quick question on {topic}: is the order of steps important?",
]
FOLLOW_UPS = [
    "Thanks!",
    "I'm a beginner.",
    "This is for a school project.",
    "Sorry if this is basic.",
    "The video moves a bit fast here.",
    "",
    "",
    "",
    "",
]
ANSWERS = [
    "Good question. {topic} comes down to a few steps; the video walks through them at {minute}:{second:02d}.",
    "Think of {topic} as a building block for {other}. Start small and check each step.",
    "The usual cause is a setup detail. Re-check the settings shown for {topic}, then try again.",
    "Here is the idea behind {topic}, with an example from the course.",
    "{topic} and {other} solve different problems; the lesson compares them side by side.",
]
CHAT_MODELS = [
    ("claude-haiku-4-5-20251001", 0.78),
    ("claude-sonnet-4-5-20250929", 0.17),
    ("claude-3-5-haiku-20241022", 0.05),
]


@dataclass(frozen=True, slots=True)
class Video:
    """A video of a course."""

    id: str
    title: str
    topic: str
    minutes: int


@dataclass
class Creator:
    """A course creator with their videos and share of traffic."""

    id: str
    course: str
    details: list[str]
    videos: list[Video]
    weight: float


@dataclass
class PlannedMessage:
    """A message to write, with everything ``create_message`` takes."""

    role: str
    content: str
    created_at: datetime
    model: str | None = None
    usage: dict[str, Any] | None = None
    response_time_ms: int | None = None
    references: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PlannedSession:
    """A session to write and its messages."""

    student_id: str
    creator_id: str
    created_at: datetime
    context_video_ids: list[str]
    messages: list[PlannedMessage]


def make_creators(count: int, rng: random.Random) -> list[Creator]:
    """``count`` creators cycling through the courses, with heavy-tailed traffic (the first ~40%)."""
    keys = list(COURSES)
    creators = []
    for i in range(count):
        key = keys[i % len(keys)]
        title, topics, details = COURSES[key]
        videos = [
            Video(
                f"{key}-v{j:03d}",
                f"{title}: {topic[0].upper()}{topic[1:]}",
                topic,
                rng.randint(6, 40),
            )
            for j, topic in enumerate(topics)
        ]
        # Zipf-like weights: the first creator carries about 40% of the traffic.
        weight = 1.0 / (i + 1) ** 1.3 if count > 1 else 1.0
        creators.append(Creator(f"creator-{i + 1:03d}", title, details, videos, weight))
    total = sum(c.weight for c in creators)
    for creator in creators:
        creator.weight /= total
    return creators


def _question(rng: random.Random, creator: Creator, video: Video) -> str:
    other = rng.choice(creator.videos).topic
    text = rng.choice(OPENERS).format(
        topic=video.topic,
        other=other if other != video.topic else creator.videos[0].topic,
        detail=rng.choice(creator.details),
        minute=rng.randint(0, video.minutes - 1),
        second=rng.randint(0, 59),
    )
    follow = rng.choice(FOLLOW_UPS)
    return f"{text} {follow}".strip()


def _answer(
    rng: random.Random, creator: Creator, video: Video, at: datetime, question: str
) -> PlannedMessage:
    minute, second = rng.randint(0, video.minutes - 1), rng.randint(0, 59)
    text = rng.choice(ANSWERS).format(
        topic=video.topic[0].upper() + video.topic[1:],
        other=rng.choice(creator.videos).topic,
        minute=minute,
        second=second,
    )
    cited = [video, *rng.sample(creator.videos, k=rng.randint(0, 4))]
    # One answer in twelve finds nothing close in the course (the questions content gaps show).
    # Drawn from its own generator, so the rest of the history stays as it was.
    scale = 0.5 if random.Random(f"{video.id}|{at.isoformat()}").random() < 1 / 12 else 1.0
    references = [
        {
            "video_id": v.id,
            "video_title": v.title,
            "timestamp": float(rng.randint(0, v.minutes * 60 - 1)),
            "chunk_text": f"In this part we look at {v.topic} step by step.",
            "similarity": round(
                scale * (rng.uniform(0.35, 0.97) if v is not video else rng.uniform(0.55, 0.98)),
                3,
            ),
        }
        for v in dict.fromkeys(cited)
    ]
    model = rng.choices([m for m, _ in CHAT_MODELS], weights=[w for _, w in CHAT_MODELS])[0]
    cached = rng.random() < 0.3
    usage = {
        "input_tokens": rng.randint(400, 3000),
        "output_tokens": rng.randint(120, 900),
        "cache_read_tokens": rng.randint(500, 2000) if cached else 0,
        "embedding_tokens": max(8, len(question) // 4),
        "embedding_queries": 1,
        "embedding_model": "text-embedding-3-small",
    }
    return PlannedMessage(
        role="assistant",
        content=text,
        created_at=at,
        model=model,
        usage=usage,
        response_time_ms=rng.randint(400, 4000),
        references=references,
    )


def _hourly_time(rng: random.Random, day: datetime) -> datetime:
    # Daily rhythm: evenings busiest, nights quiet.
    hour = min(23, max(0, int(rng.gauss(19, 3.5)) if rng.random() < 0.8 else rng.randint(7, 23)))
    return day.replace(
        hour=hour,
        minute=rng.randint(0, 59),
        second=rng.randint(0, 59),
        microsecond=rng.randint(0, 999_999),
    )


def plan_sessions(
    *,
    messages: int,
    creators: int = 5,
    students: int = 100,
    days: int = 60,
    seed: int = 7,
    now: datetime | None = None,
) -> Iterator[PlannedSession]:
    """Sessions totalling about ``messages`` messages (2-40 each, user/assistant alternating)."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    cast = make_creators(creators, rng)
    weights = [c.weight for c in cast]
    written = 0
    while written < messages:
        creator = rng.choices(cast, weights=weights)[0]
        student = f"student-{int(students * rng.random() ** 1.3) + 1:05d}"
        day = now - timedelta(days=int(days * math.sqrt(rng.random())))
        start = min(_hourly_time(rng, day.replace(hour=0)), now - timedelta(minutes=5))
        length = min(messages - written, 2 * rng.randint(1, 20))
        focus = rng.choice(creator.videos)
        plan: list[PlannedMessage] = []
        at = start
        for _ in range(length // 2 or 1):
            video = focus if rng.random() < 0.6 else rng.choice(creator.videos)
            question = _question(rng, creator, video)
            plan.append(
                PlannedMessage(
                    "user",
                    question,
                    at,
                    usage={"input_tokens": len(question) // 4 + 1},
                )
            )
            at += timedelta(seconds=rng.randint(2, 20))
            plan.append(_answer(rng, creator, video, at, question))
            at += timedelta(seconds=rng.randint(20, 400))
        plan = plan[: max(length, 1)]
        overshoot = plan[-1].created_at - now
        if overshoot > timedelta(0):  # a session started late tonight: slide it into the past
            start -= overshoot
            for message in plan:
                message.created_at -= overshoot
        written += len(plan)
        yield PlannedSession(student, creator.id, start, [focus.id], plan)
