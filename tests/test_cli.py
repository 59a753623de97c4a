"""The command line, run as a user runs it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronos_chat.cli import app
from chronos_chat.pricing import PriceCatalog

runner = CliRunner()


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["migrate", "--database-url", f"sqlite:///{tmp_path}/m.db"])
    assert result.exit_code == 0, result.output
    assert "revision" in result.output
    assert (tmp_path / "m.db").exists()


def test_pricing_table_lists_models() -> None:
    result = runner.invoke(app, ["pricing"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "claude-haiku-4-5-20251001" in result.output
    assert "text-embedding-3-small" in result.output


def test_pricing_estimate_matches_the_seed() -> None:
    result = runner.invoke(
        app,
        ["pricing", "estimate", "--input", "500", "--output", "800", "--embedding-queries", "1"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0
    assert "$0.0045" in result.output
    assert "0.004501000" in result.output


def test_pricing_estimate_unknown_model_fails_with_suggestions() -> None:
    result = runner.invoke(
        app, ["pricing", "estimate", "--model", "claude-haiku-4.5", "--input", "1"]
    )
    assert result.exit_code == 1
    assert "claude-haiku-4-5" in result.output


def test_import_litellm_adds_models_keeps_ours(tmp_path: Path) -> None:
    source = tmp_path / "litellm.json"
    source.write_text(
        json.dumps(
            {
                "sample_spec": {"mode": "chat"},
                "gpt-4o-mini": {
                    "litellm_provider": "openai",
                    "mode": "chat",
                    "input_cost_per_token": 1.5e-07,
                    "output_cost_per_token": 6e-07,
                    "cache_read_input_token_cost": 7.5e-08,
                },
                "claude-3-5-haiku-20241022": {
                    "litellm_provider": "anthropic",
                    "mode": "chat",
                    "input_cost_per_token": 1e-06,
                    "output_cost_per_token": 5e-06,
                },
            }
        )
    )
    output = tmp_path / "catalog.json"
    result = runner.invoke(
        app,
        [
            "pricing",
            "import-litellm",
            str(source),
            "--output",
            str(output),
            "--effective-from",
            "2026-01-01",
        ],
    )
    assert result.exit_code == 0, result.output
    catalog = PriceCatalog.from_file(output)
    mini = catalog.resolve("gpt-4o-mini").prices[0]
    assert (mini.input, mini.output, mini.cache_read) == (
        Decimal("0.15"),
        Decimal("0.6"),
        Decimal("0.075"),
    )
    assert catalog.resolve("claude-3-5-haiku-20241022").prices[0].input == Decimal("0.80")


def test_demo_fills_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    result = runner.invoke(
        app, ["demo", "--database-url", url, "--messages", "120", "--students", "5", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "120 messages" in result.output
    assert "sessions" in result.output


def test_demo_reuses_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    base = ["demo", "--database-url", url, "--messages", "60", "--students", "3", "--no-serve"]
    assert runner.invoke(app, base).exit_code == 0
    again = runner.invoke(app, base)
    assert again.exit_code == 0
    assert "using the" in again.output


def test_token_needs_a_secret_and_signs_claims() -> None:
    import jwt

    assert (
        runner.invoke(
            app, ["token", "--role", "student", "--sub", "s1"], env={"CHRONOS_JWT_SECRET": ""}
        ).exit_code
        == 1
    )
    result = runner.invoke(
        app,
        ["token", "--role", "creator", "--sub", "c1", "--creator-id", "c1"],
        env={"CHRONOS_JWT_SECRET": "k" * 32},
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), "k" * 32, algorithms=["HS256"])
    assert (claims["role"], claims["sub"], claims["creator_id"]) == ("creator", "c1", "c1")
    bad = runner.invoke(
        app, ["token", "--role", "creator", "--sub", "c1"], env={"CHRONOS_JWT_SECRET": "k" * 32}
    )
    assert bad.exit_code == 1


def test_serve_refuses_without_secret() -> None:
    result = runner.invoke(app, ["serve"], env={"CHRONOS_JWT_SECRET": ""})
    assert result.exit_code == 1
    assert "CHRONOS_JWT_SECRET" in result.output


@pytest.mark.parametrize("command", [["migrate"], ["serve", "--port", "8957"]])
def test_an_unreachable_database_is_one_line_not_a_traceback(command: list[str]) -> None:
    nowhere = "postgresql://postgres@127.0.0.1:9/nowhere"
    result = runner.invoke(
        app,
        [*command, "--database-url", nowhere],
        env={"CHRONOS_JWT_SECRET": "s" * 32, "COLUMNS": "200"},
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: database unavailable")
    assert "Traceback" not in result.output


def test_export_prints_markdown(tmp_path: Path) -> None:
    import asyncio

    from chronos_chat import ChatStore

    url = f"sqlite:///{tmp_path}/e.db"

    async def make() -> str:
        async with ChatStore(url) as store:
            session = await store.create_session(student_id="s", creator_id="c", title="OAuth")
            await store.create_message(session_id=session.id, role="user", content="How?")
            return str(session.id)

    session_id = asyncio.run(make())
    result = runner.invoke(app, ["export", session_id, "--database-url", url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# OAuth")
    assert (
        runner.invoke(
            app, ["export", session_id, "--format", "json", "--database-url", url]
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["export", "not-a-uuid", "--database-url", url]).exit_code == 1


def test_forget_student_asks_then_erases(tmp_path: Path) -> None:
    import asyncio

    from chronos_chat import ChatStore

    url = f"sqlite:///{tmp_path}/f.db"

    async def make() -> None:
        async with ChatStore(url) as store:
            for student in ("s1", "s1", "s2"):
                session = await store.create_session(student_id=student, creator_id="c")
                await store.create_message(session_id=session.id, role="user", content="Hi?")

    async def left() -> dict[str, int]:
        async with ChatStore(url) as store:
            return {s: await store.get_session_count(s) for s in ("s1", "s2")}

    asyncio.run(make())
    declined = runner.invoke(app, ["forget-student", "s1", "--database-url", url], input="n\n")
    assert declined.exit_code == 1
    assert asyncio.run(left()) == {"s1": 2, "s2": 1}
    erased = runner.invoke(app, ["forget-student", "s1", "--yes", "--database-url", url])
    assert erased.exit_code == 0, erased.output
    assert "2 sessions" in erased.output
    assert asyncio.run(left()) == {"s1": 0, "s2": 1}
    refused = runner.invoke(app, ["forget-student", "", "--yes", "--database-url", url])
    assert refused.exit_code == 1 and "student_id" in refused.output
