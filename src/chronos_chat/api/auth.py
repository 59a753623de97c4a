"""Who is asking: HS256 bearer tokens with ``sub``, ``role`` and, for creators, ``creator_id``."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

Role = Literal["student", "creator", "service"]
ROLES: tuple[Role, ...] = ("student", "creator", "service")
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash (256 bits)


class Unauthenticated(Exception):
    """The request carries no valid token."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a student, a creator (of ``creator_id``) or the RAG backend (service)."""

    sub: str
    role: Role
    creator_id: str | None = None


def check_secret(secret: str) -> None:
    """Raise ValueError unless ``secret`` is set and long enough to sign HS256 tokens safely."""
    if not secret:
        raise ValueError("CHRONOS_JWT_SECRET is not set: refusing to run without authentication")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"CHRONOS_JWT_SECRET is too short: HS256 needs at least {MIN_SECRET_BYTES} bytes "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)"
        )


def issue_token(
    secret: str, *, role: str, sub: str, creator_id: str | None = None, ttl: int = 3600
) -> str:
    """A signed token for ``sub`` in ``role``, valid for ``ttl`` seconds."""
    check_secret(secret)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "creator" and not creator_id:
        raise ValueError("a creator token needs a creator_id")
    claims: dict[str, object] = {
        "sub": sub,
        "role": role,
        "exp": datetime.now(UTC) + timedelta(seconds=ttl),
    }
    if creator_id:
        claims["creator_id"] = creator_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def authenticate(secret: str, token: str | None) -> Principal:
    """The principal of a bearer token (None: none was sent); raises Unauthenticated."""
    if not token:
        raise Unauthenticated("missing bearer token")
    principal, expires = _verified(secret, token)
    if expires <= time.time():
        raise Unauthenticated("invalid token: Signature has expired")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Principal, float]:
    """The principal and expiry of a token whose signature and claims check out.

    Cached: a client sends the same token on every request, and checking a signature costs
    more than the rest of a small request. Expiry is checked on every use by the caller;
    invalid tokens raise, so they are never cached.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "role"]}
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    role, sub, creator = claims.get("role"), claims.get("sub"), claims.get("creator_id")
    if role not in ROLES or not isinstance(sub, str) or not sub:
        raise Unauthenticated("invalid token: bad role or subject")
    if role == "creator" and not isinstance(creator, str):
        raise Unauthenticated("invalid token: a creator token needs creator_id")
    principal = Principal(sub=sub, role=role, creator_id=creator if role == "creator" else None)
    return principal, float(claims["exp"])
