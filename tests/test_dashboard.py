"""The creator dashboard in a real browser: Chromium driven by Playwright, against
``chronos-chat serve`` on 127.0.0.1, over a seeded SQLite database and over PostgreSQL.

Chromium comes from ``CHRONOS_TEST_CHROMIUM`` or the PATH (Debian's ``chromium`` package;
``.ci/run`` installs it). Without one the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from chronos_chat import ChatStore, OfflineTitleGenerator
from chronos_chat.api.auth import issue_token
from chronos_chat.sessions import now_utc
from tests.factories import empty, make_exchange, make_session, reference

SECRET = "dashboard-test-secret-" + "z" * 16
CHROMIUM = os.environ.get("CHRONOS_TEST_CHROMIUM") or next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)
INJECTED = '<img src=x onerror="window.injected = 1">How do I deploy to kubernetes?'


def _no_browser() -> None:
    message = "no Chromium: install Debian's chromium or set CHRONOS_TEST_CHROMIUM"
    if os.environ.get("CI"):
        pytest.fail(f"the dashboard's browser tests must run in CI: {message}")
    pytest.skip(message)


async def _seed(url: str) -> dict[str, Any]:
    """Two creators' sessions, one with a question the videos could not answer; their analytics."""
    async with ChatStore(url, title_generator=OfflineTitleGenerator()) as store:
        for student in ("student-1", "student-2", "student-3"):
            session = await make_session(store, student_id=student, creator_id="creator-1")
            await make_exchange(store, session, "How do React hooks manage state?")
        old = now_utc() - timedelta(days=45)  # counted in "all", not in the last 30 days
        session = await make_session(store, student_id="student-1", created_at=old)
        await make_exchange(store, session, "What is row level security?", at=old)
        await store.set_student_name("student-1", "Ada Lovelace")
        gap = await make_session(store, student_id="student-2", creator_id="creator-1")
        weak = [reference("video-9", similarity=0.2)]
        await make_exchange(store, gap, INJECTED, references=weak)
        other = await make_session(store, student_id="student-9", creator_id="creator-2")
        for _ in range(7):
            await make_exchange(store, other, "Secret question of creator two?")
        for i in range(12):
            quiet = await make_session(store, student_id=f"student-{i}", creator_id="creator-3")
        await store.create_message(  # a model the catalog does not price: no cost, no guess
            session_id=quiet.id,
            role="assistant",
            content="Hi",
            model="homegrown-llm",
            usage={"input_tokens": 10, "output_tokens": 10},
        )
        seeded: dict[str, Any] = {
            period: await store.get_creator_chat_analytics("creator-1", period)
            for period in ("month", "all")
        }
        month = seeded["month"]
        seeded["ada_spent"] = await store.get_cost_summary(
            creator_id="creator-1", student_id="student-1", since=month.since, until=month.until
        )
        return seeded


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, Any]]:
    """A database of each backend with the data above, and figures from the library."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'chronos.db'}"
    else:  # the run's PostgreSQL database, emptied: other modules' tests leave rows behind
        url = str(request.getfixturevalue("postgres_url"))
        asyncio.run(_emptied(url))
    return url, asyncio.run(_seed(url))


async def _emptied(url: str) -> None:
    async with ChatStore(url) as store:
        await empty(store)


@pytest.fixture(scope="module")
def server(seeded: tuple[str, dict[str, Any]]) -> Iterator[str]:
    """``chronos-chat serve`` on a free port; its base URL."""
    port = _free_port()
    env = os.environ | {"CHRONOS_DATABASE_URL": seeded[0], "CHRONOS_JWT_SECRET": SECRET}
    command = [str(Path(sys.executable).with_name("chronos-chat")), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stdout is not None
            pytest.fail(f"the server stopped: {process.stdout.read().decode()}")
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the server did not start in 30 s")


@pytest.fixture(scope="module")
def browser(seeded: tuple[str, dict[str, Any]]) -> Iterator[Browser]:
    """One headless Chromium for each backend's data.

    It comes after the data (Playwright runs an event loop of its own, and the data is
    written with ``asyncio.run``) and goes with it.
    """
    if CHROMIUM is None:
        _no_browser()
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (its own storage) that fails the test on any script error."""
    context = browser.new_context(timezone_id="UTC")
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    # A refused request is logged by the browser as "Failed to load resource": expected here.
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield tab
    context.close()
    assert problems == []


def token(role: str, sub: str, creator_id: str | None = None) -> str:
    """A token signed with the server's secret."""
    return issue_token(SECRET, role=role, sub=sub, creator_id=creator_id)


def figure(page: Page, key: str) -> str:
    """The text of one summary card."""
    return page.locator(f'[data-figure="{key}"]').inner_text()


def test_a_creator_sees_their_analytics_and_the_token_leaves_the_url(
    server: str, page: Page, seeded: tuple[str, dict[str, Any]]
) -> None:
    month = seeded[1]["month"]
    page.goto(f"{server}/dashboard#token={token('creator', 'creator-1', 'creator-1')}")
    expect(page.locator('[data-figure="total_sessions"]')).to_have_text(str(month.total_sessions))
    assert month.total_sessions == 4  # the 45-day-old session is outside the month
    assert figure(page, "total_messages") == str(month.total_messages) == "8"
    assert figure(page, "total_students") == "3"
    assert figure(page, "total_cost") == f"${month.total_cost:.4f}"
    exact = page.locator('[data-figure="total_cost"]').get_attribute("title")
    assert exact == f"${month.total_cost.normalize():f}"  # to the nano-dollar on hover
    assert "#token" not in page.url  # out of the address bar and the history
    assert page.locator("#unpriced").is_hidden()  # every message here has a price
    answers = page.locator("#models tr", has_text="claude-haiku-4-5")
    assert answers.inner_text().split() == ["claude-haiku-4-5", "4", "5,200", "$0.0180"]
    assert page.get_by_role("cell", name="Ada Lovelace").is_visible()  # the student directory
    assert page.get_by_role("cell", name="Title of video-1").is_visible()
    assert page.locator("#topics tr", has_text="hooks").inner_text().split() == ["hooks", "3"]
    assert "Secret question" not in page.content()  # creator-2's data never reaches the page
    assert page.locator("#usage-messages rect").count() == 30  # one bar a day, quiet days too
    assert page.locator("#peak-hours rect").count() == 24


def test_changing_the_period_redraws_the_figures(
    server: str, page: Page, seeded: tuple[str, dict[str, Any]]
) -> None:
    page.goto(f"{server}/dashboard#token={token('creator', 'creator-1', 'creator-1')}")
    expect(page.locator('[data-figure="total_sessions"]')).to_have_text("4")
    page.select_option("select[name=period]", "all")
    expect(page.locator('[data-figure="total_sessions"]')).to_have_text(
        str(seeded[1]["all"].total_sessions)
    )
    assert figure(page, "total_messages") == str(seeded[1]["all"].total_messages) == "10"
    assert page.locator("#topics tr", has_text="security").count() == 1


def test_student_questions_are_shown_as_text_never_run(server: str, page: Page) -> None:
    page.goto(f"{server}/dashboard#token={token('creator', 'creator-1', 'creator-1')}")
    gap = page.locator("#gaps details").filter(has=page.locator("summary", has_text="kubernetes"))
    gap = gap.first
    gap.locator("summary").click()
    expect(gap.locator("li")).to_have_text(INJECTED)
    assert page.locator("#gaps img").count() == 0
    assert page.evaluate("window.injected") is None


def test_the_page_refuses_inline_scripts(server: str) -> None:
    response = httpx.get(f"{server}/dashboard")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{server}/dashboard/static/dashboard.js")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{server}/", follow_redirects=False).headers["location"] == "/dashboard"


def test_without_a_token_the_page_asks_for_one_and_signs_in(server: str, page: Page) -> None:
    page.goto(f"{server}/dashboard")
    form = page.locator("#sign-in")
    expect(form).to_be_visible()
    assert page.locator("#report").is_hidden()
    form.locator("input[name=token]").fill(token("creator", "creator-1", "creator-1"))
    form.get_by_role("button").click()
    expect(page.locator('[data-figure="total_sessions"]')).to_have_text("4")
    page.get_by_role("button", name="Sign out").click()
    expect(form).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_bad_token_is_refused_and_forgotten(server: str, page: Page) -> None:
    forged = issue_token("another-secret-" + "q" * 20, role="creator", sub="c", creator_id="c")
    page.goto(f"{server}/dashboard#token={forged}")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Sign in again")
    assert page.locator("#report").is_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_student_sees_no_analytics(server: str, page: Page) -> None:
    page.goto(f"{server}/dashboard#token={token('student', 'student-1')}")
    expect(page.locator("#status")).to_have_text("students have no analytics")
    assert page.locator("#report").is_hidden()


def test_a_creator_cannot_look_at_another_creator(server: str, page: Page) -> None:
    page.goto(
        f"{server}/dashboard?creator_id=creator-2#token={token('creator', 'c1', 'creator-1')}"
    )
    expect(page.locator("#status")).to_have_text("creators see their own analytics only")
    assert "Secret question" not in page.content()


def test_the_service_picks_a_creator(server: str, page: Page) -> None:
    page.goto(f"{server}/dashboard?creator_id=creator-2#token={token('service', 'rag')}")
    expect(page.locator('[data-figure="total_messages"]')).to_have_text("14")
    assert page.locator("#creator").inner_text().startswith("creator-2")


def test_a_creator_finds_reads_and_downloads_a_conversation(
    server: str, page: Page, tmp_path: Path
) -> None:
    page.goto(f"{server}/dashboard#token={token('creator', 'creator-1', 'creator-1')}")
    expect(page.locator("#page-info")).to_have_text("page 1 of 1 · 5 conversations")
    assert "student-9" not in page.locator("#sessions").inner_text()  # creator-2's student
    page.get_by_role("searchbox").fill("kubernetes")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#page-info")).to_have_text("page 1 of 1 · 1 conversation")
    page.locator("#sessions button.link").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    question = dialog.locator(".message.user .content")
    expect(question).to_have_text(INJECTED)  # as text: nothing in it ran
    assert page.evaluate("window.injected") is None
    expect(dialog.locator(".references li")).to_have_text("Title of video-9 at 2:00 (match 20%)")
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Download Markdown").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("session-") and saved.suffix == ".md"
    assert "How do I deploy to kubernetes?" in saved.read_text()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_conversations_come_a_page_at_a_time(server: str, page: Page) -> None:
    page.goto(f"{server}/dashboard?creator_id=creator-3#token={token('service', 'rag')}")
    expect(page.locator("#page-info")).to_have_text("page 1 of 2 · 12 conversations")
    expect(page.locator("#unpriced")).to_have_text(
        "1 message used a model without a known price; their cost is not in these totals."
    )
    expect(page.locator("#models tr", has_text="homegrown-llm")).to_contain_text("no price")
    assert page.locator("#sessions tbody tr").count() == 10
    assert page.get_by_role("button", name="Previous").is_disabled()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-info")).to_have_text("page 2 of 2 · 12 conversations")
    assert page.locator("#sessions tbody tr").count() == 2
    assert page.get_by_role("button", name="Next").is_disabled()


def test_a_failing_report_says_so_in_its_panel_and_the_rest_stands(server: str, page: Page) -> None:
    # The server's own 503 body, for one of the reports the page reads after the figures.
    unavailable = {"error": "database_unavailable", "message": "database unavailable, retry"}
    page.route(
        "**/api/chat/content-gaps*", lambda route: route.fulfill(status=503, json=unavailable)
    )
    page.goto(f"{server}/dashboard#token={token('creator', 'creator-1', 'creator-1')}")
    expect(page.locator("#gaps .error")).to_have_text("database unavailable, retry")
    expect(page.locator('[data-figure="total_sessions"]')).to_have_text("4")
    expect(page.locator("#page-info")).to_have_text("page 1 of 1 · 5 conversations")
    assert page.locator("#status").inner_text() == ""


def test_big_counts_fit_their_card_and_a_tiny_saving_is_not_nothing(
    server: str, page: Page
) -> None:
    # A big creator's month: tokens in the millions, and a suggestion that saves a fraction of
    # a cent (the seed's embedding trigger fires on the count of queries, not their price).
    def bigger(route: Any) -> None:
        body = route.fetch().json()
        body["analytics"]["total_tokens"] = 1_227_571
        tiny = {
            "type": "embedding",
            "priority": "medium",
            "title": "Cache query embeddings",
            "description": "More than three embedding queries.",
            "potential_savings_percent": 30,
            "estimated_savings_usd": "0.000001200",
        }
        body["optimization_suggestions"] = [tiny]
        route.fulfill(json=body)

    page.route("**/api/chat/analytics*", bigger)
    page.goto(f"{server}/dashboard#token={token('creator', 'creator-1', 'creator-1')}")
    tokens = page.locator('[data-figure="total_tokens"]')
    expect(tokens).to_have_text("1.23M")
    assert tokens.get_attribute("title") == "1,227,571"
    saving = page.locator("#suggestions li", has_text="Cache query embeddings")
    expect(saving).to_contain_text("(< $0.0001 a month)")
    assert "$0.0000" not in page.locator("#suggestions").inner_text()


def test_a_student_shows_their_conversations_and_what_they_cost(
    server: str, page: Page, seeded: tuple[str, dict[str, Any]]
) -> None:
    spent = seeded[1]["ada_spent"]
    assert spent.message_count == 2  # the month's question and answer; the old session is out
    page.goto(f"{server}/dashboard#token={token('creator', 'creator-1', 'creator-1')}")
    page.locator("#students").get_by_role("button", name="Ada Lovelace").click()
    expect(page.locator("#page-info")).to_have_text("page 1 of 1 · 2 conversations")
    expect(page.locator("#student-filter-text")).to_have_text(
        f"Conversations of Ada Lovelace · 2 messages in this period, ${spent.total_cost.normalize()}"
    )
    assert "student-2" not in page.locator("#sessions").inner_text()
    page.get_by_role("button", name="Show everyone").click()
    expect(page.locator("#page-info")).to_have_text("page 1 of 1 · 5 conversations")
    expect(page.locator("#student-filter")).to_be_hidden()
