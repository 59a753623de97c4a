"""Promises the docs make: the public names, the CLI reference, the README's code."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import chronos_chat
from chronos_chat.cli import app

ROOT = Path(__file__).parent.parent


def test_public_names_are_the_documented_ones() -> None:
    documented = set(re.findall(r"`([A-Za-z_]+)`", (ROOT / "docs" / "api.md").read_text()))
    assert set(chronos_chat.__all__) <= documented
    exported = {name for name in documented if hasattr(chronos_chat, name)}
    assert exported == set(chronos_chat.__all__)


def _commands() -> list[list[str]]:
    root = get_command(app)
    found = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        found.append([name])
        found += [[name, sub] for sub in getattr(command, "commands", {})]
    return found


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help_and_docs(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert f"`chronos-chat {' '.join(command)}`" in (ROOT / "docs" / "cli.md").read_text()


def test_readme_quick_start_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Questions about authentication", "0.003400000"]


def test_every_public_function_has_a_docstring_and_hints() -> None:
    import ast

    missing = []
    for path in sorted((ROOT / "src" / "chronos_chat").rglob("*.py")):
        if "versions" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        scopes = [tree, *(n for n in tree.body if isinstance(n, ast.ClassDef))]
        for scope in scopes:
            for node in scope.body:
                function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                if not function or node.name.startswith("_"):
                    continue
                if not ast.get_docstring(node) or node.returns is None:
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert missing == []


def test_every_route_and_query_parameter_is_described_in_the_api_docs(tmp_path: Path) -> None:
    from chronos_chat.api import Settings, create_app

    store = chronos_chat.ChatStore(f"sqlite:///{tmp_path}/docs.db")  # never opened
    app_ = create_app(store, Settings(jwt_secret="d" * 32))
    undescribed = []
    for path, operations in app_.openapi()["paths"].items():
        for method, operation in operations.items():
            if not operation.get("description"):
                undescribed.append(f"{method.upper()} {path}")
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("description"):
                    undescribed.append(f"{method.upper()} {path} ?{parameter['name']}")
    asyncio.run(store.close())
    assert undescribed == []
