"""A local HTTP server that speaks enough of the Anthropic Messages API for tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeAnthropic:
    """What the server answers, and the requests it saw."""

    reply: str = "OAuth Setup Questions"
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""


@contextmanager
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """Serve the fake on 127.0.0.1 (a free port) while the block runs."""
    state = FakeAnthropic()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            bearer = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            api_key = self.headers.get("x-api-key") or bearer or None
            state.requests.append({"path": self.path, "body": body, "api_key": api_key})
            time.sleep(state.delay)
            if state.status != 200:
                payload: dict[str, Any] = {
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                }
            else:
                payload = {
                    "id": "msg_test",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": state.reply}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 20, "output_tokens": 6},
                }
            data = json.dumps(payload).encode()
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test): nothing to answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
