"""The ``chronos-chat`` command: migrations, prices, the demo. Each command runs the async
library with ``asyncio.run``."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from chronos_chat.costs import calculate_complete_cost, format_cost
from chronos_chat.errors import ChronosError
from chronos_chat.pricing import catalog_to_dict, import_litellm, load_catalog
from chronos_chat.sample_data import plan_sessions
from chronos_chat.store import ChatStore
from chronos_chat.topic_refresh import MAX_BATCH

app = typer.Typer(
    help="Chat sessions, messages, exact costs and analytics for AI tutors.",
    no_args_is_help=True,
    add_completion=False,
)
pricing_app = typer.Typer(help="The price catalog: show it, estimate with it, extend it.")
app.add_typer(pricing_app, name="pricing")
console = Console()
T = TypeVar("T")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="CHRONOS_DATABASE_URL",
        help="sqlite:///file.db or postgresql://...",
    ),
]


def _fail(exc: ChronosError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=1)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run library calls; their errors (bad input, no database) end the command with a line."""
    try:
        return asyncio.run(coroutine)
    except ChronosError as exc:
        raise _fail(exc) from exc


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Apply the database migrations (what opening a ChatStore does by default)."""

    async def run() -> str | None:
        async with ChatStore(database_url) as store:
            return await store.database.current_revision()

    revision = _run(run())
    console.print(f"database at revision [bold]{revision}[/bold]")


@pricing_app.callback(invoke_without_command=True)
def pricing(ctx: typer.Context) -> None:
    """Print the catalog: every model, its prices per million tokens, since when, and source."""
    if ctx.invoked_subcommand is not None:
        return
    catalog = load_catalog()
    table = Table(title="Prices (USD per million tokens)")
    for column in (
        "model",
        "aliases",
        "kind",
        "input",
        "output",
        "cache write",
        "cache read",
        "from",
    ):
        table.add_column(column)
    for model in sorted(catalog.models.values(), key=lambda m: (m.kind, m.provider, m.id)):
        for price in model.prices:
            marker = (
                " (default)"
                if model.id in (catalog.default_chat_model, catalog.default_embedding_model)
                else ""
            )
            table.add_row(
                model.id + marker,
                ", ".join(model.aliases),
                model.kind,
                str(price.input),
                str(price.output) if model.kind == "chat" else "",
                str(price.cache_write) if model.kind == "chat" else "",
                str(price.cache_read) if model.kind == "chat" else "",
                price.effective_from.isoformat(),
            )
    console.print(table)


@pricing_app.command("estimate")
def pricing_estimate(
    model: Annotated[
        str | None, typer.Option(help="Chat model id or alias (default: the catalog's).")
    ] = None,
    input_tokens: Annotated[int, typer.Option("--input", min=0, help="Input tokens.")] = 0,
    output_tokens: Annotated[int, typer.Option("--output", min=0, help="Output tokens.")] = 0,
    embedding_queries: Annotated[
        int, typer.Option(min=0, help="Embedding queries (50 tokens each).")
    ] = 0,
) -> None:
    """Print the cost breakdown of one exchange."""
    try:
        cost = calculate_complete_cost(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            embedding_queries=embedding_queries,
            model=model,
        )
    except ChronosError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"Cost at {cost.model}")
    table.add_column("part")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    table.add_row("input", f"{cost.input_tokens:,}", format_cost(cost.input_cost))
    table.add_row("output", f"{cost.output_tokens:,}", format_cost(cost.output_cost))
    table.add_row("embedding", f"{cost.embedding_tokens:,}", format_cost(cost.embedding_cost))
    table.add_row(
        "total", f"{cost.total_tokens:,}", f"{format_cost(cost.total_cost)} (${cost.total_cost})"
    )
    console.print(table)


@pricing_app.command("import-litellm")
def pricing_import_litellm(
    source: Annotated[Path, typer.Argument(help="LiteLLM's model_prices_and_context_window.json.")],
    output: Annotated[
        Path, typer.Option(help="Catalog file to write (use as CHRONOS_PRICING_FILE).")
    ],
    effective_from: Annotated[
        str | None, typer.Option(help="Date the prices hold from (default today).")
    ] = None,
) -> None:
    """Merge LiteLLM's community price map into a catalog file; our own prices are kept."""
    since = date.fromisoformat(effective_from) if effective_from else datetime.now(UTC).date()
    try:
        catalog = import_litellm(load_catalog(), source, effective_from=since)
    except ChronosError as exc:
        raise _fail(exc) from exc
    output.write_text(json.dumps(catalog_to_dict(catalog), indent=1), encoding="utf-8")
    console.print(f"wrote {len(catalog.models)} models to {output}")


@app.command()
def demo(
    database_url: Annotated[
        str, typer.Option("--database-url", help="Where to put the demo data.")
    ] = "sqlite:///chronos-demo.db",
    messages: Annotated[int, typer.Option(min=2, help="About how many messages to write.")] = 6000,
    students: Annotated[int, typer.Option(min=1)] = 100,
    creators: Annotated[int, typer.Option(min=1)] = 4,
    days: Annotated[int, typer.Option(min=1)] = 60,
    fresh: Annotated[
        bool, typer.Option(help="Write new data even if the database has some.")
    ] = False,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Fill a database with a realistic demo, serve the API and print where to look."""
    existing = _run(_session_total(database_url))
    if existing and not fresh:
        console.print(
            f"using the {existing:,} demo sessions already in {database_url} (--fresh for new ones)"
        )
    else:
        if existing:
            _run(_wipe(database_url))
        count = _run(_seed(database_url, messages, students, creators, days))
        console.print(f"[green]demo ready:[/green] {count:,} messages in {database_url}")
    creator = _run(_tour(database_url))
    if serve_api:
        _serve_demo(database_url, creator, host, port)


async def _session_total(database_url: str) -> int:
    async with ChatStore(database_url) as store:
        return (await store.list_sessions(archived=None, limit=1)).total


async def _wipe(database_url: str) -> None:
    from chronos_chat.schema import metadata

    async with ChatStore(database_url) as store:

        def wipe(db: Any) -> None:
            for table in reversed(metadata.sorted_tables):
                db.execute(table.delete())

        await store.database.write(wipe)


def _serve_demo(database_url: str, creator: str, host: str, port: int) -> None:
    import secrets

    import uvicorn

    from chronos_chat.api import Settings, create_app
    from chronos_chat.api.auth import issue_token

    secret = os.environ.get("CHRONOS_JWT_SECRET") or secrets.token_urlsafe(32)
    settings = Settings(database_url=database_url, jwt_secret=secret)
    token = issue_token(secret, role="creator", sub=creator, creator_id=creator, ttl=7 * 86400)
    base = f"http://{host}:{port}"
    console.print(f"\nAPI docs:      {base}/docs")
    print(f"dashboard:     {base}/dashboard#token={token}")
    print(f"creator token: {token}  ({creator}, valid 7 days)")
    console.print("try:", soft_wrap=True)
    print(
        f'  curl -H "Authorization: Bearer {token}" "{base}/api/chat/analytics?period=month&usage=true&cost_projection=true"'
    )
    console.print("Ctrl-C stops the server.\n")
    uvicorn.run(create_app(settings=settings), host=host, port=port, log_level="warning")


async def _tour(database_url: str) -> str:
    """Show what the demo holds through the library; return the busiest creator."""
    async with ChatStore(database_url) as store:
        busiest = await store.list_sessions(sort_by="message_count", limit=1)
        if not busiest.data:
            return "creator-001"
        student = busiest.data[0].student_id
        page = await store.list_sessions(student_id=student, limit=5)
        shown = "" if page.total <= len(page.data) else f", newest {len(page.data)} shown"
        table = Table(title=f"{student}: {page.total} sessions{shown}")
        for column in ("title", "messages", "last message", "preview"):
            table.add_column(column)
        for item in page.data:
            table.add_row(
                item.title or "",
                str(item.message_count),
                f"{item.last_message_at:%Y-%m-%d %H:%M}",
                item.preview or "",
            )
        console.print(table)
        found = await store.search_sessions("barre chords", limit=3)
        example = escape(found.data[0].snippet or "") if found.data else "-"
        console.print(f"search 'barre chords': {found.total} sessions, e.g. {example}")
        session = await store.get_session(page.data[0].id)
        console.print(
            f"cost of the newest session: {format_cost(session.total_cost)} "
            f"(${session.total_cost}) for {session.total_tokens:,} tokens"
        )
        console.print(f"open it from Python with ChatStore({database_url!r}); see README.md")
        return busiest.data[0].creator_id


_BAR = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


async def _seed(database_url: str, messages: int, students: int, creators: int, days: int) -> int:
    plans = list(plan_sessions(messages=messages, creators=creators, students=students, days=days))
    total = sum(len(p.messages) for p in plans)
    async with ChatStore(database_url) as store:
        with Progress(*_BAR, console=console) as progress:
            task = progress.add_task("writing messages", total=total)
            for plan in plans:
                session = await store.create_session(
                    student_id=plan.student_id,
                    creator_id=plan.creator_id,
                    context_video_ids=plan.context_video_ids,
                    created_at=plan.created_at,
                )
                for message in plan.messages:
                    await store.create_message(
                        session_id=session.id,
                        role=message.role,
                        content=message.content,
                        model=message.model,
                        usage=message.usage,
                        response_time_ms=message.response_time_ms,
                        video_references=message.references,
                        created_at=message.created_at,
                    )
                await store.generate_and_set_title(session.id, plan.messages[0].content)
                progress.advance(task, len(plan.messages))
    return total


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the REST API and the creator dashboard (needs CHRONOS_JWT_SECRET)."""
    import uvicorn

    from chronos_chat.api import Settings, create_app

    settings = Settings()
    if database_url:
        settings.database_url = database_url
    try:
        application = create_app(settings=settings)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    _run(_open(settings.database_url))  # a missing database is one line here, not a traceback
    console.print(f"dashboard: http://{host}:{port}/dashboard (sign in with a creator token)")
    uvicorn.run(application, host=host, port=port, log_level="info")


async def _open(database_url: str | None) -> None:
    async with ChatStore(database_url):
        pass


@app.command()
def token(
    role: Annotated[str, typer.Option(help="student, creator or service.")],
    sub: Annotated[str, typer.Option(help="The caller's id (the student's id for students).")],
    creator_id: Annotated[
        str | None, typer.Option(help="For creator tokens: their creator id.")
    ] = None,
    ttl: Annotated[int, typer.Option(min=1, help="Seconds until it expires.")] = 3600,
) -> None:
    """Print a token signed with CHRONOS_JWT_SECRET."""
    from chronos_chat.api import Settings
    from chronos_chat.api.auth import issue_token

    secret = Settings().jwt_secret
    if not secret:
        console.print("[red]error:[/red] CHRONOS_JWT_SECRET is not set")
        raise typer.Exit(code=1)
    try:
        print(issue_token(secret, role=role, sub=sub, creator_id=creator_id, ttl=ttl))
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc


@app.command("export")
def export_command(
    session_id: Annotated[str, typer.Argument(help="The session's id.")],
    format: Annotated[str, typer.Option(help="json or markdown.")] = "markdown",
    database_url: DatabaseUrl = None,
) -> None:
    """Print a session as Markdown or as its JSON export."""
    if format not in ("json", "markdown"):
        console.print("[red]error:[/red] --format must be json or markdown")
        raise typer.Exit(code=2)

    async def run() -> str:
        async with ChatStore(database_url) as store:
            if format == "markdown":
                return await store.export_session_markdown(uuid.UUID(session_id))
            return json.dumps(await store.export_session(uuid.UUID(session_id)), indent=2)

    try:
        print(asyncio.run(run()), end="")
    except (ChronosError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc


@app.command("forget-student")
def forget_student(
    student_id: Annotated[str, typer.Argument(help="The student's id, as your app knows it.")],
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Erase everything stored about a student (a data-deletion request); asks first."""
    if not yes and not typer.confirm(
        f"Erase every session, message and name of {student_id!r}? This cannot be undone"
    ):
        raise typer.Exit(code=1)

    async def run() -> int:
        async with ChatStore(database_url) as store:
            return await store.forget_student(student_id)

    deleted = _run(run())
    console.print(f"erased {student_id!r}: {deleted:,} sessions with their messages")


@app.command("refresh-topics")
def refresh_topics(
    batch_size: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_BATCH,
            help="Messages per transaction (writers wait for one at most).",
        ),
    ] = 1000,
    database_url: DatabaseUrl = None,
) -> None:
    """Extract stored questions' topics again with this version's rules (after an upgrade)."""

    async def run() -> int:
        async with ChatStore(database_url) as store:
            with Progress(*_BAR, console=console) as progress:
                task = progress.add_task("extracting topics", total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                return await store.refresh_topics(batch_size=batch_size, on_progress=advance)

    changed = _run(run())
    console.print(f"topics extracted again: {changed:,} of the stored questions changed")


def main() -> None:
    """Entry point of the ``chronos-chat`` command."""
    app()
