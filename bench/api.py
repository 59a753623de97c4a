"""Requests/second and latency of the service under wrk (a second process on 127.0.0.1),
against bare FastAPI endpoints in the same run: a constant, and a raw insert + update + commit.

    python -m bench.api [--duration 10] [--connections 10] [--backend sqlite|postgresql]
                        [--sessions 1] [--parts]   (needs wrk: apt-get install wrk)

``--sessions N`` spreads the POSTs (ours and the raw insert alike) over N sessions chosen at
random: 1 (the default, as in every earlier run) is the worst case, every write queued on one
session's row; 10 is ten students asking at once, each in a conversation of their own.

``--parts`` also times what a list request is made of: ``/healthz`` (what every route of ours
pays: our middleware, no parameters, token or read) and the list with one row, so the cost of
the rows is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import create_postgres, sqlite_file
from chronos_chat import ChatStore
from chronos_chat.api.auth import issue_token

SECRET = "bench-secret-" + "b" * 24
PORT = 8931


def _serve(module: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        module,
        "--port",
        str(PORT),
        "--log-level",
        "warning",
    ]
    if module.endswith(":create_app"):
        command.append("--factory")
    process = subprocess.Popen(command, env={**os.environ, **env})
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/docs", timeout=0.2)
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{module} did not start")


def _wrk(
    path: str | list[str],
    *,
    duration: int,
    connections: int,
    method: str = "GET",
    body: str = "",
    token: str = "",
) -> tuple[float, str, str]:
    """Rate, p50 and p99 of requests to ``path`` (or to one of ``path`` at random each time)."""
    paths = [path] if isinstance(path, str) else path
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    headers = f'wrk.headers["Authorization"] = "Bearer {token}"\nwrk.headers["Content-Type"] = "application/json"\n'
    pick = (  # one path: wrk's own static request, as in earlier runs
        "paths = {" + ", ".join(f'"{p}"' for p in paths) + "}\n"
        "request = function() return wrk.format(nil, paths[math.random(#paths)]) end\n"
        if len(paths) > 1
        else ""
    )
    script.write_text(f'wrk.method = "{method}"\nwrk.body = [[{body}]]\n{headers}{pick}')
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{PORT}{paths[0]}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    return rate, p50, p99


async def _prepare(url: str, sessions: int) -> list[str]:
    """The ids of the ``sessions`` the POSTs go to, among the 201 sessions the list pages over."""
    async with ChatStore(url) as store:
        targets = [
            await store.create_session(student_id="bench-student", creator_id="bench-creator")
            for _ in range(sessions)
        ]
        for i in range(201 - sessions):
            other = await store.create_session(
                student_id="bench-student", creator_id="bench-creator", title=f"s{i}"
            )
            await store.create_message(session_id=other.id, role="user", content=f"question {i}")
        return [str(session.id) for session in targets]


def main(duration: int, connections: int, backend: str, sessions: int, parts: bool) -> None:
    """Print the Markdown table."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    url = (
        f"sqlite:///{sqlite_file('api.db')}"
        if backend == "sqlite"
        else create_postgres("chronos_bench_api")
    )
    session_ids = asyncio.run(_prepare(url, sessions))
    token = issue_token(SECRET, role="service", sub="bench", ttl=3600)
    rows = []
    message = '{"role": "user", "content": "hello from wrk", "token_count": 12}'
    bare = _serve("bench.bare_app:app", {"BENCH_DATABASE_URL": url})
    try:
        constant = _wrk("/bare/constant", duration=duration, connections=connections)
        raw = _wrk(
            [f"/bare/insert/{sid}" for sid in session_ids],
            duration=duration,
            connections=connections,
            method="POST",
        )
    finally:
        bare.terminate()
        bare.wait()
    env = {
        "CHRONOS_DATABASE_URL": url,
        "CHRONOS_JWT_SECRET": SECRET,
        "CHRONOS_RATE_LIMIT_PER_MINUTE": "0",
    }
    ours = _serve("chronos_chat.api:create_app", env)
    try:
        post = _wrk(
            [f"/api/chat/sessions/{sid}/messages" for sid in session_ids],
            duration=duration,
            connections=connections,
            method="POST",
            body=message,
            token=token,
        )
        listing = _wrk(
            "/api/chat/sessions?student_id=bench-student",
            duration=duration,
            connections=connections,
            token=token,
        )
        pieces = [
            (name, _wrk(path, duration=duration, connections=connections, token=token))
            for name, path in (
                ("GET /healthz", "/healthz"),
                (
                    "GET /api/chat/sessions (page of 1)",
                    "/api/chat/sessions?student_id=bench-student&limit=1",
                ),
            )
            if parts
        ]
    finally:
        ours.terminate()
        ours.wait()
    rows.append(("bare: constant", constant, None))
    where = "one session" if sessions == 1 else f"{sessions} sessions"
    rows.append((f"bare: raw insert + update + commit ({where})", raw, None))
    rows.append((f"POST /api/chat/sessions/{{id}}/messages ({where})", post, raw[0]))
    rows.append(("GET /api/chat/sessions (page of 20 of 201)", listing, constant[0]))
    rows += [(name, measured, constant[0]) for name, measured in pieces]
    print(
        f"| endpoint ({backend}, 1 uvicorn worker, {connections} connections) | req/s | p50 | p99 | ratio to its baseline |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, (rate, p50, p99), base in rows:
        ratio = f"{rate / base:.0%}" if base else ""
        print(f"| {name} | {rate:,.0f} | {p50} | {p99} | {ratio} |")
    if parts:
        cost = {name: 1e6 / rate for name, (rate, _, _), _ in rows}
        print(
            "\nMicroseconds a request (1 / rate): "
            + ", ".join(f"{n} {c:,.0f}" for n, c in cost.items())
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sessions", type=int, default=1, choices=range(1, 201), metavar="1-200")
    parser.add_argument("--parts", action="store_true", help="also time /healthz and a page of 1")
    args = parser.parse_args()
    main(args.duration, args.connections, args.backend, args.sessions, args.parts)
