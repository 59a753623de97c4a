"""Errors as HTTP: one table from error class to status, and one handler for each kind.

Every error body is ``{"error": code, "message": text}`` (plus ``field`` for bad input and
``request_id`` for unexpected failures, which are logged with that id and no stack trace sent).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chronos_chat.api.auth import Unauthenticated
from chronos_chat.errors import (
    ChronosError,
    Conflict,
    DatabaseUnavailable,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    UnknownModel,
)

logger = logging.getLogger("chronos_chat.api")


class Forbidden(Exception):
    """The caller may see this data but not do this to it."""


class RateLimited(Exception):
    """Too many requests with this token; ``retry_after`` seconds until the next one."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit exceeded, retry in {retry_after} s")
        self.retry_after = retry_after


# Most specific first: the first matching class decides.
STATUS: list[tuple[type[Exception], int, str]] = [
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (IdempotencyConflict, 422, "idempotency_key_reused"),
    (Conflict, 409, "conflict"),
    (UnknownModel, 422, "unknown_model"),
    (InvalidInput, 422, "invalid_input"),
    (RateLimited, 429, "rate_limited"),
    (DatabaseUnavailable, 503, "database_unavailable"),
]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one shape of every error response."""
    return {"error": code, "message": message, **extra}


async def _known(request: Request, exc: Exception) -> JSONResponse:
    status, code = next((s, c) for cls, s, c in STATUS if isinstance(exc, cls))
    extra: dict[str, Any] = {"field": exc.field} if isinstance(exc, InvalidInput) else {}
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    message = str(exc)
    if isinstance(exc, DatabaseUnavailable):
        # The driver's words (hosts, ports) go to the log, not to the client.
        extra["request_id"] = getattr(request.state, "request_id", "-")
        logger.warning("request %s: %s", extra["request_id"], exc)
        message, headers = (
            "the database is unavailable or busy; retry shortly",
            {"Retry-After": "1"},
        )
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    parts = [str(p) for p in first["loc"] if p not in ("body", "query", "path", "header")]
    field = ".".join(parts) or "body"
    return JSONResponse(
        error_body("invalid_input", f"{field}: {first['msg']}", field=field), status_code=422
    )


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    return JSONResponse(
        error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "-")
    logger.error("unexpected error in request %s: %r", request_id, exc, exc_info=exc)
    return JSONResponse(
        error_body(
            "internal_error", "unexpected error; quote the request id", request_id=request_id
        ),
        status_code=500,
    )


def install(app: FastAPI) -> None:
    """Register the handlers."""
    for cls in (ChronosError, Unauthenticated, Forbidden, RateLimited):
        app.add_exception_handler(cls, _known)
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
