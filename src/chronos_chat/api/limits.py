"""Request limits: body size, and a per-token rate limit (in memory, or Redis when shared)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronos_chat.api.errors import RateLimited, error_body

WINDOW_SECONDS = 60
logger = logging.getLogger("chronos_chat.api")


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` is answered 413 before any of it is used."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(error_body("payload_too_large", f"request body over {limit} bytes")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimiter(Protocol):
    """Counts requests per key in fixed one-minute windows."""

    async def hit(self, key: str) -> None:
        """Count one request; raises RateLimited past the limit."""
        ...


class MemoryRateLimiter:
    """For one process: counts in this process's memory (bounded to the busiest keys)."""

    def __init__(self, per_minute: int, max_keys: int = 100_000) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._counts: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._lock = asyncio.Lock()

    async def hit(self, key: str) -> None:
        """Count one request; raises RateLimited past the limit."""
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        async with self._lock:
            count = self._counts.pop((key, window), 0) + 1
            self._counts[(key, window)] = count
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
        if count > self.per_minute:
            raise RateLimited(int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1)


class RedisRateLimiter:
    """For many processes: counts in Redis, one key per token and minute, expiring with it.

    If Redis cannot be reached the request goes through (logged once a minute): the limit
    protects the service, and losing Redis should not take the whole API down with it.
    """

    def __init__(self, url: str, per_minute: int, timeout: float = 0.5) -> None:
        from redis.asyncio import Redis

        self.per_minute = per_minute
        self.redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._warned_window = -1

    async def hit(self, key: str) -> None:
        """Count one request; raises RateLimited past the limit."""
        from redis.exceptions import RedisError

        now = time.time()
        window = int(now // WINDOW_SECONDS)
        name = f"chronos:rate:{key}:{window}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, WINDOW_SECONDS + 5)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            if window != self._warned_window:
                self._warned_window = window
                logger.warning("rate limit not applied: Redis unreachable (%r)", exc)
            return
        if count > self.per_minute:
            raise RateLimited(int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1)

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.redis.aclose()
