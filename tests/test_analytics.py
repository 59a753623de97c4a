"""Analytics: every figure against a brute-force computation over the same rows, on both
backends, across periods and time zones; edge cases by name."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chronos_chat import ChatMessage, ChatSession, ChatStore, InvalidInput, SessionNotFound
from chronos_chat.topics import extract_keywords
from tests.factories import make_session, reference

NOW = datetime.now(UTC)
ZONES = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York"]
QUESTIONS = [
    "How do React hooks work with useEffect cleanup?",
    "Why does my OAuth token refresh fail?",
    "Can you explain row level security in Postgres?",
    "What is the difference between barre chords and power chords?",
    "How do I read the histogram for exposure?",
    "Is dollar cost averaging better than lump sum investing?",
]


Built = list[tuple[ChatSession, list[ChatMessage]]]
TITLES: dict[tuple[str, str], str] = {}  # (creator, video) -> the title it was last cited with


async def build(store: ChatStore, seed: int) -> Built:
    """A random but reproducible history: creators, students, sessions, answers, edits, deletes."""
    rng = random.Random(seed)
    built = []
    TITLES.clear()
    for i in range(20):
        creator = f"creator-{rng.randint(1, 2)}"
        days = rng.uniform(0, 40) if i % 2 else rng.uniform(0, 1.5)  # half of them lately
        start = NOW - timedelta(days=days, minutes=rng.randint(0, 1440))
        session = await make_session(
            store, student_id=f"student-{rng.randint(1, 5)}", creator_id=creator, created_at=start
        )
        at = start
        for _ in range(rng.randint(0, 4)):
            at += timedelta(minutes=rng.uniform(0.5, 90))
            await store.create_message(
                session_id=session.id,
                role="user",
                content=rng.choice(QUESTIONS),
                token_count=rng.randint(5, 50),
                created_at=at,
            )
            at += timedelta(seconds=rng.randint(2, 30))
            title = rng.choice(["Intro", "Intro (remastered)", None])  # as this answer names it
            refs = [
                reference(
                    f"video-{rng.randint(1, 6)}",
                    video_title=title,
                    timestamp=rng.uniform(0, 900),
                    similarity=rng.random(),
                )
                for _ in range(rng.randint(0, 3))
            ]
            for ref in refs:
                if ref["video_title"] is not None:
                    TITLES[(creator, ref["video_id"])] = ref["video_title"]
            await store.create_message(
                session_id=session.id,
                role="assistant",
                content="answer",
                video_references=refs,
                usage={
                    "input_tokens": rng.randint(100, 900),
                    "output_tokens": rng.randint(10, 300),
                },
                model=rng.choice(
                    ["claude-haiku-4-5", "claude-3-5-sonnet-20241022", "mystery-model"]
                ),
                response_time_ms=rng.randint(100, 3000),
                created_at=at,
            )
        if i % 5 == 4:
            await store.archive_session(session.id)
        messages = await store.get_messages(session.id)
        if messages and i % 4 == 0:
            await store.delete_message(messages[-1].id)
        if messages and i % 3 == 1:  # an edited question changes its topics
            await store.update_message(messages[0].id, content=rng.choice(QUESTIONS))
        if i % 7 == 6:
            await store.delete_session(session.id)  # gone: counts nowhere
            continue
        built.append((await store.get_session(session.id), await store.get_messages(session.id)))
    await store.set_student_name("student-1", "Ada")
    return built


def expected(
    data: list[tuple[ChatSession, list[ChatMessage]]],
    creator: str,
    since: datetime | None,
    until: datetime,
    tz: str,
) -> dict[str, Any]:
    """Every figure, computed the slow way from the rows."""

    def inside(t: datetime) -> bool:
        return (since is None or t >= since) and t < until

    sessions = [s for s, _ in data if s.creator_id == creator and inside(s.created_at)]
    messages = [m for s, ms in data if s.creator_id == creator for m in ms if inside(m.created_at)]
    owner = {s.id: s.student_id for s, _ in data}
    users = [m for m in messages if m.role == "user"]
    durations = [
        (s.last_message_at - s.created_at).total_seconds() / 60 for s in sessions if s.message_count
    ]
    per_student = Counter(owner[m.session_id] for m in users)
    sessions_of = defaultdict(set)
    for m in users:
        sessions_of[owner[m.session_id]].add(m.session_id)
    refs = [(m, r) for m in messages for r in m.video_references]
    video_counts = Counter(r.video_id for _, r in refs)
    video_sessions = defaultdict(set)  # the period's sessions citing the video, at any time
    period_sessions = {s.id for s in sessions}
    for s, ms in data:
        for m in ms:
            for r in m.video_references:
                if s.id in period_sessions:
                    video_sessions[r.video_id].add(s.id)
    top_videos = sorted(video_counts, key=lambda v: (-video_counts[v], v))[:10]
    moments = {}
    for video in top_videos:
        minutes = Counter(int(r.timestamp // 60) for _, r in refs if r.video_id == video)
        moments[video] = sorted(minutes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    topics = Counter()
    labels: dict[str, set[str]] = defaultdict(set)
    for m in users:
        for k in extract_keywords(m.content):
            topics[k.key] += 1
            labels[k.key].add(k.label)
    hours = Counter(m.created_at.astimezone(ZoneInfo(tz)).hour for m in messages)
    students_per_session = Counter(s.student_id for s in sessions)
    return {
        "total_sessions": len(sessions),
        "total_messages": len(messages),
        "total_students": len({owner[m.session_id] for m in messages}),
        "total_tokens": sum(m.token_count for m in messages),
        "total_cost": sum((m.usage.cost or Decimal(0) for m in messages), Decimal(0)),
        "unpriced_messages": sum(1 for m in messages if m.usage.cost is None),
        "avg_messages_per_session": statistics.fmean([s.message_count for s in sessions])
        if sessions
        else 0.0,
        "avg_session_duration_minutes": statistics.fmean(durations) if durations else 0.0,
        "median": statistics.median(durations) if durations else 0.0,
        "students": [
            (s, per_student[s], len(sessions_of[s]))
            for s in sorted(per_student, key=lambda s: (-per_student[s], s))[:10]
        ],
        "videos": [
            (v, TITLES.get((creator, v)), video_counts[v], len(video_sessions[v]))
            for v in top_videos
        ],
        "moments": [(v, moments[v]) for v in top_videos],
        "topics": [
            (min(labels[k]), topics[k]) for k in sorted(topics, key=lambda k: (-topics[k], k))[:20]
        ],
        "hours": sorted(hours.items(), key=lambda kv: (-kv[1], kv[0])),
        "returning": sum(1 for n in students_per_session.values() if n > 1),
        "sessions_per_student": len(sessions) / len(students_per_session) if sessions else 0.0,
        "messages_per_student": len(users) / len(per_student) if per_student else 0.0,
        "messages_per_video": (
            len({m.id for m, _ in refs}) / len(video_counts) if video_counts else 0.0
        ),
    }


def compare(got: Any, want: dict[str, Any]) -> None:
    """Assert every figure of ``got`` equals the brute-force ``want``."""
    for name in (
        "total_sessions",
        "total_messages",
        "total_students",
        "total_tokens",
        "total_cost",
        "unpriced_messages",
    ):
        assert getattr(got, name) == want[name], name
    assert got.avg_messages_per_session == pytest.approx(want["avg_messages_per_session"])
    assert got.avg_session_duration_minutes == pytest.approx(
        want["avg_session_duration_minutes"], abs=1e-3
    )
    assert got.engagement.median_session_duration_minutes == pytest.approx(want["median"], abs=1e-3)
    assert [
        (s.student_id, s.message_count, s.session_count) for s in got.most_active_students
    ] == want["students"]
    assert [
        (v.video_id, v.video_title, v.reference_count, v.unique_sessions)
        for v in got.most_referenced_videos
    ] == want["videos"]
    assert [
        (m.video_id, [(c.minute, c.reference_count) for c in m.moments])
        for m in got.most_cited_moments
    ] == want["moments"]
    assert [(t.keyword, t.count) for t in got.common_topics] == want["topics"]
    assert [(h.hour, h.message_count) for h in got.peak_usage_hours] == want["hours"]
    assert got.engagement.returning_students == want["returning"]
    assert got.engagement.sessions_per_student == pytest.approx(want["sessions_per_student"])
    assert got.engagement.messages_per_student == pytest.approx(want["messages_per_student"])
    assert got.engagement.messages_per_video == pytest.approx(want["messages_per_video"])


@pytest.mark.parametrize("seed", [11, 12])
async def test_creator_analytics_match_brute_force(store: ChatStore, seed: int) -> None:
    data = await build(store, seed)
    for creator in ("creator-1", "creator-2"):
        for period in ("day", "week", "month", "all"):
            for tz in ZONES:
                got = await store.get_creator_chat_analytics(creator, period, tz=tz)
                compare(got, expected(data, creator, got.since, got.until, tz))
        # Ranges cutting buckets anywhere (on a message, to the microsecond), inside one quarter
        # hour, or on UTC midnights.
        midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
        times = sorted(m.created_at for s, ms in data if s.creator_id == creator for m in ms)
        on_messages = [(times[i], times[-1 - i]) for i in range(min(3, len(times) // 2))]
        for since, until in (
            *on_messages,
            (NOW - timedelta(days=17, minutes=7, seconds=3), NOW - timedelta(days=2, hours=5)),
            (NOW - timedelta(days=9, minutes=3), NOW - timedelta(days=9, minutes=1)),
            (midnight - timedelta(days=20), midnight - timedelta(days=1)),
            (midnight - timedelta(days=30, microseconds=1), NOW + timedelta(microseconds=1)),
        ):
            got = await store.get_creator_chat_analytics(creator, since=since, until=until)
            compare(got, expected(data, creator, since, until, "UTC"))
    named = await store.get_creator_chat_analytics("creator-1", "all")
    if any(s.student_id == "student-1" for s in named.most_active_students):
        assert (
            next(s for s in named.most_active_students if s.student_id == "student-1").student_name
            == "Ada"
        )


async def test_explicit_range_and_boundaries(store: ChatStore) -> None:
    midnight = datetime(2026, 6, 1, tzinfo=UTC)
    session = await make_session(store, created_at=midnight - timedelta(hours=1))
    for at in (midnight - timedelta(microseconds=1), midnight, midnight + timedelta(seconds=1)):
        await store.create_message(
            session_id=session.id, role="user", content="webhooks", created_at=at
        )
    before = await store.get_creator_chat_analytics(
        "creator-1", since=midnight - timedelta(days=1), until=midnight
    )
    after = await store.get_creator_chat_analytics(
        "creator-1", since=midnight, until=midnight + timedelta(days=1)
    )
    assert (before.total_messages, after.total_messages) == (1, 2)
    assert (before.total_sessions, after.total_sessions) == (1, 0)


@pytest.mark.parametrize(
    ("tz", "local_hours"),
    [
        ("UTC", [(23, 1), (0, 1)]),
        ("Asia/Kolkata", [(5, 2)]),  # 23:59:59 UTC is 05:29:59, 00:00 UTC is 05:30
        ("Asia/Kathmandu", [(5, 2)]),  # +05:45: 05:44:59 and 05:45
        ("America/New_York", [(19, 1), (20, 1)]),
    ],
)
async def test_hours_in_time_zones_with_odd_offsets(
    store: ChatStore, tz: str, local_hours: list[tuple[int, int]]
) -> None:
    session = await make_session(store, created_at=datetime(2026, 6, 1, 20, tzinfo=UTC))
    for at in (datetime(2026, 6, 1, 23, 59, 59, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC)):
        await store.create_message(session_id=session.id, role="user", content="x", created_at=at)
    got = await store.get_creator_chat_analytics("creator-1", "all", tz=tz)
    assert sorted((h.hour, h.message_count) for h in got.peak_usage_hours) == sorted(local_hours)


async def test_usage_metrics_by_local_day_across_dst(store: ChatStore) -> None:
    # 2026-03-08: New York springs forward at 07:00 UTC (02:00 EST -> 03:00 EDT).
    session = await make_session(store, created_at=datetime(2026, 3, 8, 4, 59, tzinfo=UTC))
    times = [
        datetime(2026, 3, 8, 4, 59, 59, tzinfo=UTC),  # 23:59:59 on the 7th (EST)
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # 00:00 on the 8th
        datetime(2026, 3, 9, 3, 59, 59, tzinfo=UTC),  # 23:59:59 on the 8th (EDT)
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # 00:00 on the 9th
    ]
    for at in times:
        await store.create_message(
            session_id=session.id, role="user", content="q", token_count=10, created_at=at
        )
    days = await store.get_chat_usage_metrics(
        "creator-1", date(2026, 3, 6), date(2026, 3, 10), tz="America/New_York"
    )
    assert [(d.date.day, d.messages_sent) for d in days] == [
        (6, 0),
        (7, 1),
        (8, 2),
        (9, 1),
        (10, 0),
    ]
    assert [d.sessions_created for d in days] == [0, 1, 0, 0, 0]
    assert days[2].tokens_used == 20
    assert days[2].unique_students == 1
    assert days[2].cost_usd == Decimal("0.00002")  # 20 input tokens at $1/M
    utc_days = await store.get_chat_usage_metrics("creator-1", date(2026, 3, 8), date(2026, 3, 9))
    assert [d.messages_sent for d in utc_days] == [2, 2]


async def test_session_analytics(store: ChatStore) -> None:
    start = NOW - timedelta(hours=2)
    session = await make_session(store, created_at=start)
    await store.create_message(
        session_id=session.id, role="user", content="q", created_at=start + timedelta(minutes=1)
    )
    await store.create_message(
        session_id=session.id,
        role="assistant",
        content="a",
        response_time_ms=1000,
        token_count=100,
        video_references=[reference("v1"), reference("v2"), reference("v1")],
        created_at=start + timedelta(minutes=15),
    )
    await store.create_message(
        session_id=session.id,
        role="assistant",
        content="b",
        response_time_ms=3000,
        video_references=[reference("v1")],
        created_at=start + timedelta(minutes=30),
    )
    got = await store.get_session_analytics(session.id)
    assert got.duration_minutes == 30.0
    assert (got.message_count, got.user_messages, got.assistant_messages) == (3, 1, 2)
    assert got.avg_response_time_ms == 2000
    assert got.videos_referenced == 2
    assert [(v.video_id, v.reference_count) for v in got.most_referenced_videos] == [
        ("v1", 3),
        ("v2", 1),
    ]
    assert got.total_cost == Decimal("0.0005")  # 100 output tokens at $5/M
    with pytest.raises(SessionNotFound):
        await store.get_session_analytics(session.id.__class__(int=1))


async def test_empty_creator_and_empty_session(store: ChatStore) -> None:
    empty = await store.get_creator_chat_analytics("nobody", "all")
    assert (empty.total_messages, empty.total_sessions, empty.total_cost) == (0, 0, 0)
    assert (
        empty.common_topics == []
        and empty.peak_usage_hours == []
        and empty.most_active_students == []
    )
    assert empty.engagement.median_session_duration_minutes == 0
    session = await make_session(store)
    got = await store.get_session_analytics(session.id)
    assert (got.message_count, got.duration_minutes, got.avg_response_time_ms) == (0, 0.0, None)


async def test_content_gaps(store: ChatStore) -> None:
    session = await make_session(store)
    pairs = [
        ("How do webhooks work?", []),
        ("Do webhooks need signatures?", [reference("v1", similarity=0.3)]),
        ("What are React hooks?", [reference("v2", similarity=0.9)]),
        # An unscored chunk beside a strong one: the answer's best is the strong one.
        (
            "When do React hooks run?",
            [reference("v3", similarity=None), reference("v2", similarity=0.8)],
        ),
        ("What about webhooks?", [reference("v3", similarity=None)]),  # nothing scored: a gap
    ]
    for question, refs in pairs:
        await store.create_message(session_id=session.id, role="user", content=question)
        await store.create_message(
            session_id=session.id, role="assistant", content="a", video_references=refs
        )
    gaps = await store.get_content_gaps("creator-1", "all", similarity_below=0.5)
    by_topic = {g.keyword: g for g in gaps}
    assert by_topic["webhooks"].count == 3
    assert set(by_topic["webhooks"].examples) <= {
        "How do webhooks work?",
        "Do webhooks need signatures?",
        "What about webhooks?",
    }
    assert "react hooks" not in by_topic
    assert len(await store.get_content_gaps("creator-1", "all", similarity_below=0.95)) > len(gaps)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.get_creator_chat_analytics("c", "year"), "period"),
        (lambda s: s.get_creator_chat_analytics("c", tz="Mars/Base"), "tz"),
        (lambda s: s.get_creator_chat_analytics("c", since=datetime(2026, 1, 1)), "since"),  # noqa: DTZ001
        (lambda s: s.get_creator_chat_analytics("c", since=NOW, until=NOW - timedelta(1)), "since"),
        (lambda s: s.get_chat_usage_metrics("c", date(2026, 2, 1), date(2026, 1, 1)), "to_date"),
        (lambda s: s.get_content_gaps("c", similarity_below=2), "similarity_below"),
        (lambda s: s.get_creator_chat_analytics("", "all"), "creator_id"),
    ],
)
async def test_bad_analytics_arguments(store: ChatStore, call: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        await call(store)
    assert info.value.field == field
