"""The REST service over HTTP (httpx against the ASGI app) on both backends: routes, errors,
limits, idempotency, and who may do what."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Connection, text

from chronos_chat import ChatSession, ChatStore, idempotency
from chronos_chat.api import Settings, create_app
from chronos_chat.api.auth import Unauthenticated, authenticate, issue_token
from chronos_chat.api.schemas import MessageCreate
from tests.factories import make_exchange, make_session, reference

SECRET = "test-secret-" + "x" * 20


def bearer(role: str, sub: str, creator_id: str | None = None) -> dict[str, str]:
    """Headers of a caller."""
    return {
        "Authorization": f"Bearer {issue_token(SECRET, role=role, sub=sub, creator_id=creator_id)}"
    }


STUDENT = bearer("student", "student-1")
CREATOR = bearer("creator", "creator-1", "creator-1")
SERVICE = bearer("service", "rag-backend")


async def client_for(store: ChatStore, **settings: Any) -> httpx.AsyncClient:
    """An HTTP client on the app over ``store``."""
    app = create_app(store, Settings(jwt_secret=SECRET, **settings))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def client(store: ChatStore) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(store) as http:
        yield http


@pytest.fixture
async def sessions(store: ChatStore) -> dict[str, ChatSession]:
    """One session of the caller's (student-1 with creator-1) and one of strangers'."""
    own = await make_session(store, student_id="student-1", creator_id="creator-1", title="Mine")
    await make_exchange(store, own)
    other = await make_session(
        store, student_id="student-2", creator_id="creator-2", title="Theirs"
    )
    await make_exchange(store, other)
    return {"own": own, "other": other}


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "bearer  "},
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "s", "role": "student", "exp": 9e9}, "wrong-secret-" + "y" * 32, "HS256"
            )
        },
        {
            "Authorization": "Bearer "
            + jwt.encode({"sub": "s", "role": "student", "exp": 1}, SECRET, "HS256")
        },
        {
            "Authorization": "Bearer "
            + jwt.encode({"sub": "s", "role": "root", "exp": 9e9}, SECRET, "HS256")
        },
        {
            "Authorization": "Bearer "
            + jwt.encode({"sub": "c", "role": "creator", "exp": 9e9}, SECRET, "HS256")
        },
        {"Authorization": "Bearer " + jwt.encode({"sub": "s", "role": "student"}, SECRET, "HS256")},
    ],
)
async def test_missing_or_bad_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/chat/sessions", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_a_token_stops_working_when_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_token(SECRET, role="student", sub="s", ttl=60)
    assert authenticate(SECRET, token).sub == "s"  # verified once, then remembered
    later = time.time() + 61
    monkeypatch.setattr("chronos_chat.api.auth.time.time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(SECRET, token)


def test_app_refuses_to_start_without_secret(store: ChatStore) -> None:
    with pytest.raises(ValueError, match="CHRONOS_JWT_SECRET is not set"):
        create_app(store, Settings(jwt_secret=""))


def test_app_refuses_a_secret_short_enough_to_guess(store: ChatStore) -> None:
    # HS256 with a short key can be brute-forced offline from any one token.
    with pytest.raises(ValueError, match="too short"):
        create_app(store, Settings(jwt_secret="s" * 31))
    with pytest.raises(ValueError, match="too short"):
        issue_token("secret", role="service", sub="x")
    create_app(store, Settings(jwt_secret="s" * 32))


def test_no_route_waits_for_the_thread_pool(store: ChatStore) -> None:
    # FastAPI runs a plain ``def`` route or dependency in its thread pool: a thread hop per
    # request (a sync store dependency had cost every route about a quarter of its throughput).
    app = create_app(store, Settings(jwt_secret="s" * 32))
    routes, pending = list(app.routes), []
    while routes:  # FastAPI 0.12x+ keeps included routers as routes of their own
        route = routes.pop()
        if isinstance(route, APIRoute):
            pending.append(route.dependant)
        routes += getattr(getattr(route, "original_router", None), "routes", [])
    assert len(pending) >= 18  # every route of the service
    sync = []
    while pending:
        dependant = pending.pop()
        call = dependant.call
        if call is not None and not inspect.isroutine(call):  # an instance, as HTTPBearer
            call = call.__call__  # type: ignore[operator]
        if call is not None and not inspect.iscoroutinefunction(call):
            sync.append(call.__qualname__)
        pending += dependant.dependencies
    assert sync == []


# --- who may do what ----------------------------------------------------------------------

MATRIX: list[tuple[str, str, str, dict[str, Any] | None]] = [
    # method, path (the session's id goes in {sid}), action, body
    ("GET", "/api/chat/sessions/{sid}", "read", None),
    ("GET", "/api/chat/sessions/{sid}/messages", "read", None),
    ("GET", "/api/chat/export/{sid}?format=markdown", "read", None),
    ("PATCH", "/api/chat/sessions/{sid}", "rename", {"title": "Renamed"}),
    ("PATCH", "/api/chat/sessions?id={sid}", "rename", {"title": "Renamed"}),
    ("DELETE", "/api/chat/sessions/{sid}", "archive", None),
    ("DELETE", "/api/chat/sessions?id={sid}", "archive", None),
    (
        "POST",
        "/api/chat/sessions/{sid}/messages",
        "post user message",
        {"role": "user", "content": "hi"},
    ),
    (
        "POST",
        "/api/chat/sessions/{sid}/messages",
        "post answer",
        {"role": "assistant", "content": "a"},
    ),
    ("POST", "/api/chat/sessions/{sid}/title", "title", None),
    ("PATCH", "/api/chat/sessions/{sid}", "change metadata", {"metadata": {"k": 1}}),
    ("DELETE", "/api/chat/sessions/{sid}?hard=true", "hard delete", None),
    ("GET", "/api/chat/sessions/{sid}?analytics=true", "session analytics", None),
]
# Expected status for the caller's own data; another's data is always 404 (except service).
OWN: dict[str, dict[str, int]] = {
    "read": {"student": 200, "creator": 200, "service": 200},
    "rename": {"student": 200, "creator": 403, "service": 200},
    "archive": {"student": 200, "creator": 403, "service": 200},
    "post user message": {"student": 201, "creator": 403, "service": 201},
    "post answer": {"student": 403, "creator": 403, "service": 201},
    "title": {"student": 200, "creator": 403, "service": 200},
    "change metadata": {"student": 403, "creator": 403, "service": 200},
    "hard delete": {"student": 403, "creator": 403, "service": 204},
    "session analytics": {"student": 403, "creator": 200, "service": 200},
}
ROLES = {"student": STUDENT, "creator": CREATOR, "service": SERVICE}


async def _snapshot(store: ChatStore, session: ChatSession) -> Any:
    try:
        current = await store.get_session(session.id, include_messages=True)
    except Exception:
        return None
    return current.model_dump(exclude={"updated_at"})


@pytest.mark.parametrize(
    ("method", "path", "action", "body"), MATRIX, ids=[f"{m[0]} {m[1]}" for m in MATRIX]
)
@pytest.mark.parametrize("role", ["student", "creator", "service"])
@pytest.mark.parametrize("whose", ["own", "other"])
async def test_authorization_matrix(
    store: ChatStore,
    client: httpx.AsyncClient,
    sessions: dict[str, ChatSession],
    method: str,
    path: str,
    action: str,
    body: dict[str, Any] | None,
    role: str,
    whose: str,
) -> None:
    target = sessions[whose]
    before = await _snapshot(store, target)
    response = await client.request(
        method, path.format(sid=target.id), json=body, headers=ROLES[role]
    )
    wanted = OWN[action][role] if whose == "own" or role == "service" else 404
    assert response.status_code == wanted, response.text
    if wanted >= 400:
        assert await _snapshot(store, target) == before  # nothing changed
        assert "Theirs" not in response.text  # nothing leaked


@pytest.mark.parametrize(
    ("role", "query", "status", "titles"),
    [
        ("student", "", 200, {"Mine"}),
        ("student", "?student_id=student-2", 403, None),
        ("creator", "", 200, {"Mine"}),
        ("creator", "?creator_id=creator-2", 403, None),
        ("service", "", 200, {"Mine", "Theirs"}),
        ("service", "?student_id=student-2", 200, {"Theirs"}),
    ],
)
async def test_lists_are_scoped_to_the_caller(
    client: httpx.AsyncClient,
    sessions: dict[str, ChatSession],
    role: str,
    query: str,
    status: int,
    titles: set[str] | None,
) -> None:
    response = await client.get(f"/api/chat/sessions{query}", headers=ROLES[role])
    assert response.status_code == status
    if titles is not None:
        assert {s["title"] for s in response.json()["data"]} == titles


@pytest.mark.parametrize(
    ("role", "query", "status"),
    [
        ("student", "?creator_id=creator-1", 403),
        ("creator", "", 200),
        ("creator", "?creator_id=creator-2", 403),
        ("service", "?creator_id=creator-2", 200),
        ("service", "", 422),
    ],
)
async def test_analytics_access(
    client: httpx.AsyncClient, sessions: dict[str, ChatSession], role: str, query: str, status: int
) -> None:
    response = await client.get(f"/api/chat/analytics{query}", headers=ROLES[role])
    assert response.status_code == status, response.text
    if status == 200:
        analytics = response.json()["analytics"]
        assert analytics["total_messages"] == 2
        assert analytics["creator_id"] == ("creator-1" if role == "creator" else "creator-2")


@pytest.mark.parametrize(
    ("role", "query", "status", "messages"),
    [
        ("student", "", 403, None),
        ("creator", "", 200, 2),
        ("creator", "?creator_id=creator-2", 403, None),
        ("creator", "?student_id=student-2", 200, 0),  # not one of this creator's: nothing
        ("creator", "?session_id={own}", 200, 2),
        ("creator", "?session_id={other}", 404, None),
        ("service", "?creator_id=creator-2", 200, 2),
        ("service", "?student_id=student-1&session_id={own}", 200, 2),
        ("service", "", 422, None),
    ],
)
async def test_cost_reports_are_scoped_to_the_caller(
    client: httpx.AsyncClient,
    sessions: dict[str, ChatSession],
    role: str,
    query: str,
    status: int,
    messages: int | None,
) -> None:
    path = "/api/chat/costs" + query.format(own=sessions["own"].id, other=sessions["other"].id)
    response = await client.get(path, headers=ROLES[role])
    assert response.status_code == status, response.text
    assert "Theirs" not in response.text
    if messages is not None:
        assert response.json()["message_count"] == messages


async def test_cost_report_is_exact_and_per_model(
    client: httpx.AsyncClient, store: ChatStore, sessions: dict[str, ChatSession]
) -> None:
    response = await client.get("/api/chat/costs", headers=CREATOR)
    body = response.json()
    session = await store.get_session(sessions["own"].id)
    assert body["total_cost"] == str(session.total_cost)
    spent = {row["model"]: row for row in body["by_model"]}
    assert sum(Decimal(row["total_cost"]) for row in spent.values()) == session.total_cost
    answer = spent["claude-haiku-4-5"]  # 500 tokens in at $1 and 800 out at $5 per million
    assert (answer["output_tokens"], answer["total_cost"]) == (800, "0.004500000")
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    empty = await client.get("/api/chat/costs", params={"since": later}, headers=CREATOR)
    assert empty.json()["message_count"] == 0 and empty.json()["total_cost"] == "0"
    naive = await client.get("/api/chat/costs?until=2026-01-01T00:00:00", headers=CREATOR)
    assert naive.status_code == 422 and naive.json()["field"] == "until"


@pytest.mark.parametrize(("role", "status"), [("student", 403), ("creator", 403), ("service", 200)])
async def test_only_the_service_erases_a_student(
    client: httpx.AsyncClient,
    store: ChatStore,
    sessions: dict[str, ChatSession],
    role: str,
    status: int,
) -> None:
    # Even about themselves: the app behind the service decides who may ask for an erasure.
    response = await client.delete("/api/chat/students/student-1", headers=ROLES[role])
    assert response.status_code == status, response.text
    left = await store.list_sessions(student_id="student-1", archived=None)
    if status == 200:
        assert response.json() == {"student_id": "student-1", "deleted_sessions": 1}
        assert left.total == 0
        unknown = await client.delete("/api/chat/students/nobody", headers=SERVICE)
        assert unknown.json()["deleted_sessions"] == 0
    else:
        assert [s.id for s in left.data] == [sessions["own"].id]
    assert (await store.get_session(sessions["other"].id)).message_count == 2
    too_long = await client.delete(f"/api/chat/students/{'s' * 129}", headers=SERVICE)
    assert too_long.status_code == 422


async def test_students_create_only_their_own_sessions(
    client: httpx.AsyncClient, store: ChatStore
) -> None:
    mine = await client.post(
        "/api/chat/sessions", json={"student_id": "student-1", "creator_id": "c"}, headers=STUDENT
    )
    assert mine.status_code == 201
    theirs = await client.post(
        "/api/chat/sessions", json={"student_id": "student-9", "creator_id": "c"}, headers=STUDENT
    )
    assert theirs.status_code == 403
    assert await store.get_session_count("student-9") == 0
    creator = await client.post(
        "/api/chat/sessions", json={"student_id": "s", "creator_id": "creator-1"}, headers=CREATOR
    )
    assert creator.status_code == 403


async def test_message_routes_of_others_are_404(
    client: httpx.AsyncClient, store: ChatStore, sessions: dict[str, ChatSession]
) -> None:
    theirs = (await store.get_messages(sessions["other"].id))[0]
    for method in ("PATCH", "DELETE"):
        response = await client.request(
            method,
            f"/api/chat/messages/{theirs.id}",
            json={"content": "x"} if method == "PATCH" else None,
            headers=STUDENT,
        )
        assert response.status_code == 404
    assert (await store.get_message(theirs.id)).content == theirs.content


# --- routes -------------------------------------------------------------------------------


async def test_get_or_create_over_http(client: httpx.AsyncClient) -> None:
    body = {"student_id": "student-1", "creator_id": "creator-1", "reuse_recent": True}
    first = await client.post("/api/chat/sessions", json=body, headers=STUDENT)
    again = await client.post("/api/chat/sessions", json=body, headers=STUDENT)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


async def test_session_lifecycle_over_http(client: httpx.AsyncClient, store: ChatStore) -> None:
    created = (
        await client.post(
            "/api/chat/sessions",
            json={"student_id": "student-1", "creator_id": "creator-1"},
            headers=STUDENT,
        )
    ).json()
    sid = created["id"]
    posted = await client.post(
        f"/api/chat/sessions/{sid}/messages",
        json={"role": "user", "content": "How do I implement authentication?", "token_count": 12},
        headers=STUDENT,
    )
    assert posted.status_code == 201
    answer = await client.post(
        f"/api/chat/sessions/{sid}/messages",
        json={
            "role": "assistant",
            "content": "Like this",
            "model": "claude-haiku-4-5",
            "usage": {"input_tokens": 100, "output_tokens": 50},
            "video_references": [reference("v1")],
        },
        headers=SERVICE,
    )
    assert answer.status_code == 201
    assert answer.json()["usage"]["cost"] == "0.000350000"
    title = await client.post(f"/api/chat/sessions/{sid}/title", headers=STUDENT)
    assert title.json() == {"title": "Questions about authentication"}
    full = (await client.get(f"/api/chat/sessions/{sid}?messages=true", headers=STUDENT)).json()
    assert [m["role"] for m in full["messages"]] == ["user", "assistant"]
    assert full["total_cost"] == "0.000362000"
    listed = (
        await client.get(f"/api/chat/sessions/{sid}/messages?role=assistant", headers=STUDENT)
    ).json()
    assert [m["content"] for m in listed["messages"]] == ["Like this"]
    renamed = await client.patch(
        f"/api/chat/sessions?id={sid}", json={"title": "Auth"}, headers=STUDENT
    )
    assert renamed.json()["title"] == "Auth"
    searched = (
        await client.get("/api/chat/sessions?search=authentication", headers=STUDENT)
    ).json()
    assert [s["id"] for s in searched["data"]] == [sid]
    edited = await client.patch(
        f"/api/chat/messages/{answer.json()['id']}", json={"content": "Better"}, headers=SERVICE
    )
    assert edited.json()["edited_at"] is not None
    archived = await client.delete(f"/api/chat/sessions?id={sid}", headers=STUDENT)
    assert archived.json()["archived_at"] is not None
    assert (await client.get("/api/chat/sessions", headers=STUDENT)).json()["total"] == 0
    assert (await client.get("/api/chat/sessions?archived=true", headers=STUDENT)).json()[
        "total"
    ] == 1
    gone = await client.delete(f"/api/chat/messages/{answer.json()['id']}", headers=SERVICE)
    assert gone.status_code == 204
    assert (await store.get_session(uuid.UUID(sid))).message_count == 1


async def test_export_and_import_round_trip(
    client: httpx.AsyncClient, sessions: dict[str, ChatSession]
) -> None:
    sid = sessions["own"].id
    exported = await client.get(f"/api/chat/export/{sid}?format=json", headers=STUDENT)
    assert exported.headers["content-disposition"] == f'attachment; filename="session-{sid}.json"'
    document = exported.json()
    assert document["chronos_chat_export"] == 1
    assert document["messages"][1]["video_references"][0]["video_id"] == "video-1"
    markdown = await client.get(f"/api/chat/export/{sid}?format=markdown", headers=STUDENT)
    assert markdown.headers["content-disposition"].endswith(f'session-{sid}.md"')
    assert markdown.text.startswith("# Mine\n")
    assert "- Title of video-1 at 2:00" in markdown.text
    assert (
        await client.post("/api/chat/import", json=document, headers=STUDENT)
    ).status_code == 403
    assert (
        await client.post("/api/chat/import", json=document, headers=SERVICE)
    ).status_code == 409
    # A copy under a new session id still carries the messages' ids: a conflict, not a crash.
    copy = {**document, "session": {**document["session"], "id": str(uuid.uuid4())}}
    clash = await client.post("/api/chat/import", json=copy, headers=SERVICE)
    assert clash.status_code == 409, clash.text
    assert document["messages"][0]["id"] in clash.json()["message"]
    missing = await client.get(f"/api/chat/sessions/{copy['session']['id']}", headers=SERVICE)
    assert missing.status_code == 404  # nothing of the copy was written
    twice = {**copy, "messages": [document["messages"][0], document["messages"][0]]}
    repeated = await client.post("/api/chat/import", json=twice, headers=SERVICE)
    assert (repeated.status_code, repeated.json()["field"]) == (422, "messages")
    assert (
        await client.delete(f"/api/chat/sessions/{sid}?hard=true", headers=SERVICE)
    ).status_code == 204
    restored = await client.post("/api/chat/import", json=document, headers=SERVICE)
    assert restored.status_code == 201
    again = (await client.get(f"/api/chat/export/{sid}?format=json", headers=STUDENT)).json()
    assert again["messages"] == document["messages"]
    assert again["session"] | {"updated_at": None} == document["session"] | {"updated_at": None}


async def test_analytics_with_usage_and_projection(
    client: httpx.AsyncClient, sessions: dict[str, ChatSession]
) -> None:
    response = await client.get(
        "/api/chat/analytics?period=all&usage=true&cost_projection=true&tz=Asia/Kathmandu",
        headers=CREATOR,
    )
    body = response.json()
    assert response.status_code == 200
    assert len(body["usage"]) == 30
    assert body["cost_projection"]["days_observed"] >= 1
    assert isinstance(body["optimization_suggestions"], list)
    for extras in ("", "&usage=true&cost_projection=true"):  # one report refusing, or two
        refused = await client.get(f"/api/chat/analytics?tz=Mars/Base{extras}", headers=CREATOR)
        assert refused.status_code == 422
        assert refused.json()["error"] == "invalid_input"


async def test_analytics_with_content_gaps(
    client: httpx.AsyncClient, store: ChatStore, sessions: dict[str, ChatSession]
) -> None:
    for own, question in (
        (sessions["own"], "Can webhooks be retried later?"),
        (sessions["other"], "What about webhooks?"),
    ):
        await store.create_message(session_id=own.id, role="user", content=question)
        await store.create_message(
            session_id=own.id,
            role="assistant",
            content="a",
            video_references=[reference("v9", similarity=0.2)],
        )
    url = "/api/chat/analytics?period=all&content_gaps=true&similarity_below=0.5"
    body = (await client.get(url, headers=CREATOR)).json()
    gaps = {gap["keyword"]: gap for gap in body["content_gaps"]}
    assert gaps["webhooks"]["examples"] == [
        "Can webhooks be retried later?"
    ]  # not creator-2's question
    assert (await client.get("/api/chat/analytics", headers=CREATOR)).json()["content_gaps"] is None
    too_high = await client.get(url.replace("0.5", "1.5"), headers=CREATOR)
    assert too_high.status_code == 422
    assert too_high.json()["field"] == "similarity_below"
    # The same report on its own route, scoped to the caller in the same way.
    alone = await client.get("/api/chat/content-gaps?period=all", headers=CREATOR)
    assert alone.json() == body["content_gaps"]
    theirs = await client.get("/api/chat/content-gaps?creator_id=creator-2", headers=SERVICE)
    assert [gap["examples"] for gap in theirs.json()] == [["What about webhooks?"]]
    for headers, query, status in (
        (STUDENT, "", 403),
        (CREATOR, "?creator_id=creator-2", 403),
        (SERVICE, "", 422),
        (CREATOR, "?similarity_below=-0.1", 422),
    ):
        refused = await client.get(f"/api/chat/content-gaps{query}", headers=headers)
        assert refused.status_code == status


async def test_health_ready_metrics_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    # Every response carries a request id: the caller's, or a new one.
    tagged = await client.get("/healthz", headers={"X-Request-ID": "req-7"})
    assert tagged.headers["x-request-id"] == "req-7"
    assert tagged.headers["x-content-type-options"] == "nosniff"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32
    # One that is not a plain token (it would go into the logs as given) is replaced.
    for odd in (b"x" * 129, b"a b", b"id\xe9", b"<script>"):
        replaced = await client.get("/healthz", headers={"X-Request-ID": odd})
        assert len(replaced.headers["x-request-id"]) == 32
    await client.get("/api/chat/sessions", headers=STUDENT)
    metrics = await client.get("/metrics")
    assert (
        'chronos_http_requests_total{method="GET",route="/api/chat/sessions",status="200"}'
        in metrics.text
    )
    document = (await client.get("/openapi.json")).json()
    assert document["info"]["title"] == "chronos-chat"
    # The docs' "Authorize" button needs the scheme, and each API route must say it wants it.
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for operation in operations.values():
            wanted = operation.get("security") == [{"HTTPBearer": []}]
            assert wanted is path.startswith("/api/"), path
    assert (await client.get("/docs")).status_code == 200


# --- bad input and limits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "user", "content": "x", "cost": 1}, "cost"),
        ({"role": "user", "content": "x", "session_id": "abc"}, "session_id"),
        ({"role": "robot", "content": "x"}, "role"),
        ({"role": "user", "content": ""}, "content"),
        ({"role": "user", "content": "a\u0000b"}, "content"),
        ({"role": "user", "content": "x", "token_count": -1}, "token_count"),
        (
            {
                "role": "user",
                "content": "x",
                "video_references": [{"video_id": "v", "similarity": 2}],
            },
            "video_references.0.similarity",
        ),
        ({"role": "user", "content": "x", "usage": {"input_tokens": "many"}}, "usage.input_tokens"),
    ],
)
async def test_bad_message_is_422_naming_the_field(
    client: httpx.AsyncClient,
    store: ChatStore,
    sessions: dict[str, ChatSession],
    body: dict[str, Any],
    field: str,
) -> None:
    sid = sessions["own"].id
    response = await client.post(f"/api/chat/sessions/{sid}/messages", json=body, headers=SERVICE)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert (await store.get_session(sid)).message_count == 2


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/api/chat/sessions", b"{not json"),
        (
            "POST",
            "/api/chat/sessions",
            b'{"student_id": "student-1", "creator_id": "c", "archived_at": "2026-01-01"}',
        ),
        ("GET", "/api/chat/sessions?limit=101", None),
        ("GET", "/api/chat/sessions?page=0", None),
        ("GET", "/api/chat/sessions/not-a-uuid", None),
        ("GET", "/api/chat/sessions?sort_by=password", None),
        ("GET", "/api/chat/sessions?from_date=yesterday", None),
    ],
)
async def test_malformed_requests_are_422(
    client: httpx.AsyncClient, method: str, path: str, content: bytes | None
) -> None:
    headers = {**STUDENT, "Content-Type": "application/json"}
    response = await client.request(method, path, content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert set(response.json()) >= {"error", "message"}


async def test_body_over_limit_is_413(store: ChatStore, sessions: dict[str, ChatSession]) -> None:
    async with await client_for(store, max_body_bytes=1000) as http:
        body = {"role": "user", "content": "x" * 2000}
        response = await http.post(
            f"/api/chat/sessions/{sessions['own'].id}/messages", json=body, headers=STUDENT
        )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert (await store.get_session(sessions["own"].id)).message_count == 2


async def test_rate_limit_is_429_with_retry_after(store: ChatStore) -> None:
    async with await client_for(store, rate_limit_per_minute=3) as http:
        statuses = [
            (await http.get("/api/chat/sessions", headers=STUDENT)).status_code for _ in range(4)
        ]
        other = await http.get("/api/chat/sessions", headers=bearer("student", "student-2"))
        limited = await http.get("/api/chat/sessions", headers=STUDENT)
    assert statuses == [200, 200, 200, 429]
    assert other.status_code == 200  # per token
    assert 1 <= int(limited.headers["Retry-After"]) <= 61


async def test_rate_limit_off(store: ChatStore) -> None:
    async with await client_for(store, rate_limit_per_minute=0) as http:
        assert all([(await http.get("/healthz")).status_code == 200 for _ in range(5)])
        assert (await http.get("/api/chat/sessions", headers=STUDENT)).status_code == 200


async def test_unexpected_error_is_500_with_request_id(
    store: ChatStore,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(store, "list_sessions", broken)
    response = await client.get("/api/chat/sessions", headers={**STUDENT, "X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "unexpected error; quote the request id",
        "request_id": "req-42",
    }
    assert "secret internals" not in response.text
    assert any("req-42" in r.getMessage() for r in caplog.records)


# --- idempotency --------------------------------------------------------------------------


async def test_idempotent_retry_returns_first_response(
    client: httpx.AsyncClient, store: ChatStore, sessions: dict[str, ChatSession]
) -> None:
    sid = sessions["own"].id
    url = f"/api/chat/sessions/{sid}/messages"
    headers = {**STUDENT, "Idempotency-Key": "retry-1"}
    first = await client.post(url, json={"role": "user", "content": "once"}, headers=headers)
    again = await client.post(url, json={"role": "user", "content": "once"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await store.get_session(sid)).message_count == 3
    changed = await client.post(url, json={"role": "user", "content": "twice"}, headers=headers)
    assert changed.status_code == 422
    other_caller = await client.post(
        url,
        json={"role": "user", "content": "twice"},
        headers={**SERVICE, "Idempotency-Key": "retry-1"},
    )
    assert other_caller.status_code == 201  # keys are scoped to the caller


async def test_same_key_in_flight_is_409_and_abandoned_keys_are_taken_over(
    client: httpx.AsyncClient, store: ChatStore, sessions: dict[str, ChatSession]
) -> None:
    sid = sessions["own"].id
    body = {"role": "user", "content": "slow"}
    digest = hashlib.sha256(
        f"{sid}\n{MessageCreate(**body).model_dump_json()}".encode()
    ).hexdigest()
    url, headers = f"/api/chat/sessions/{sid}/messages", {**STUDENT, "Idempotency-Key": "busy"}
    await store.database.write(
        idempotency.claim, "student:student-1", "busy", digest, datetime.now(UTC)
    )
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code == 409
    assert (await store.get_session(sid)).message_count == 2
    long_ago = datetime.now(UTC) - idempotency.ABANDONED_AFTER - timedelta(seconds=1)
    await store.database.write(idempotency.claim, "student:student-1", "dead", digest, long_ago)
    taken_over = await client.post(url, json=body, headers={**STUDENT, "Idempotency-Key": "dead"})
    assert taken_over.status_code == 201
    assert (await store.get_session(sid)).message_count == 3


async def test_failed_request_releases_its_key(
    client: httpx.AsyncClient, store: ChatStore, sessions: dict[str, ChatSession]
) -> None:
    url = f"/api/chat/sessions/{sessions['own'].id}/messages"
    headers = {**SERVICE, "Idempotency-Key": "k"}
    broken = {"role": "user", "content": "x", "video_references": [{"video_id": "v\u0000"}]}
    assert (await client.post(url, json=broken, headers=headers)).status_code == 422
    # The failed attempt released the key: the corrected retry runs (it is not a reuse).
    fixed = {"role": "user", "content": "x", "video_references": [{"video_id": "v"}]}
    retried = await client.post(url, json=fixed, headers=headers)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert (await store.get_session(sessions["own"].id)).message_count == 3


async def test_rate_limit_is_shared_through_redis(store: ChatStore) -> None:
    import os

    import redis.asyncio as aioredis

    url = os.environ.get("CHRONOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    probe = aioredis.Redis.from_url(url)
    try:
        await probe.ping()
    except OSError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"no Redis server: {exc}")
    finally:
        await probe.aclose()
    caller = bearer("student", f"redis-{uuid.uuid4().hex}")
    apps = [
        create_app(store, Settings(jwt_secret=SECRET, rate_limit_per_minute=3, redis_url=url))
        for _ in range(2)
    ]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://test")
        for a in apps
    ]
    try:
        statuses = [
            (await clients[i % 2].get("/api/chat/sessions", headers=caller)).status_code
            for i in range(4)
        ]
    finally:
        for http, app in zip(clients, apps, strict=True):
            await http.aclose()
            await app.state.rate_limiter.close()  # the lifespan would; ASGITransport runs none
    assert statuses == [200, 200, 200, 429]  # two processes, one limit


async def test_requests_go_through_when_redis_is_unreachable(
    store: ChatStore, caplog: pytest.LogCaptureFixture
) -> None:
    # The limit protects the service; losing Redis must not take every route down with it.
    settings = Settings(
        jwt_secret=SECRET, rate_limit_per_minute=1, redis_url="redis://127.0.0.1:9/0"
    )
    app = create_app(store, settings)
    caller = bearer("student", f"no-redis-{uuid.uuid4().hex}")
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            statuses = [
                (await client.get("/api/chat/sessions", headers=caller)).status_code
                for _ in range(5)
            ]
    finally:
        await app.state.rate_limiter.close()
    assert statuses == [200] * 5
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert 1 <= len(warnings) <= 2  # once a minute (a minute may turn), not once a request


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    unreachable = ChatStore("postgresql://postgres@127.0.0.1:9/nowhere", auto_migrate=False)
    try:
        async with await client_for(unreachable) as http:
            response = await http.get("/readyz")
            alive = await http.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "database unreachable"}
        assert alive.status_code == 200
    finally:
        await unreachable.close()


async def test_routes_answer_503_while_the_database_is_unreachable() -> None:
    unreachable = ChatStore("postgresql://postgres@127.0.0.1:9/nowhere", auto_migrate=False)
    try:
        async with await client_for(unreachable) as http:
            response = await http.get("/api/chat/sessions", headers=bearer("student", "s1"))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        body = response.json()
        assert body["error"] == "database_unavailable"
        assert body["request_id"] == response.headers["X-Request-ID"]
    finally:
        await unreachable.close()


async def test_message_and_its_stored_response_commit_together(
    store: ChatStore, sessions: dict[str, ChatSession]
) -> None:
    now = datetime.now(UTC)
    assert await store.database.write(idempotency.claim, "svc", "k", "h", now) is None
    message = await store.create_message(
        session_id=sessions["own"].id, role="user", content="once", request_key=("svc", "k")
    )
    replay = await store.database.write(idempotency.claim, "svc", "k", "h", now)
    assert replay is not None
    assert (replay.status_code, replay.body["id"]) == (201, str(message.id))
    assert await store.database.write(idempotency.claim, "svc", "k2", "h", now) is None
    with pytest.raises(Exception, match="not found"):
        await store.create_message(
            session_id=uuid.uuid4(), role="user", content="x", request_key=("svc", "k2")
        )
    with pytest.raises(idempotency.InFlight):  # nothing was completed by the failed write
        await store.database.write(idempotency.claim, "svc", "k2", "h", now)


async def test_idempotency_keys_expire_after_a_day(store: ChatStore) -> None:
    # As in Stripe's API: a key is kept for a day, then free again, then purged.
    day = idempotency.KEPT_FOR
    then = datetime.now(UTC) - 2 * day
    write = store.database.write
    assert await write(idempotency.claim, "svc", "old", "h1", then) is None
    await write(idempotency.complete, "svc", "old", 201, {"id": "first"})
    assert await write(idempotency.claim, "svc", "recent", "h1", then + day) is None
    # Within the day the first response replays; a day later the key starts afresh.
    assert await write(idempotency.claim, "svc", "old", "h1", then + day / 2) is not None
    assert await write(idempotency.claim, "svc", "old", "h2", then + day) is None
    with pytest.raises(idempotency.InFlight):  # it is the new request's key now
        await write(idempotency.claim, "svc", "old", "h2", then + day)
    # Purging two days on removes only what is older than a day.
    assert await write(idempotency.purge, then + 2 * day + timedelta(seconds=1)) == 2
    assert await write(idempotency.claim, "svc", "old", "h3", then + 2 * day) is None


async def test_the_service_purges_expired_idempotency_keys(store: ChatStore) -> None:
    long_ago = datetime.now(UTC) - 2 * idempotency.KEPT_FOR
    await store.database.write(idempotency.claim, "svc", "stale", "h", long_ago)
    await store.database.write(idempotency.claim, "svc", "fresh", "h", datetime.now(UTC))
    app = create_app(store, Settings(jwt_secret=SECRET))
    async with app.router.lifespan_context(app):
        for _ in range(200):  # the purge runs at start-up, beside the first requests
            if "stale" not in await store.database.read(_keys):
                break
            await asyncio.sleep(0.01)
        assert await store.database.read(_keys) == ["fresh"]


def _keys(db: Connection) -> list[str]:
    rows = db.execute(text("SELECT key FROM idempotency_keys WHERE scope = 'svc' ORDER BY key"))
    return [row.key for row in rows]


async def test_an_expired_key_is_taken_over_by_one_request_only(store: ChatStore) -> None:
    then = datetime.now(UTC) - 2 * idempotency.KEPT_FOR
    await store.database.write(idempotency.claim, "svc", "k", "h1", then)
    await store.database.write(idempotency.complete, "svc", "k", 201, {"id": "first"})
    now = datetime.now(UTC)
    claims = [store.database.write(idempotency.claim, "svc", "k", "h2", now) for _ in range(4)]
    results = await asyncio.gather(*claims, return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["InFlight"] * 3 + ["NoneType"]
