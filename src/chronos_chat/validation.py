"""Checks on caller input; each failure is an ``InvalidInput`` naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chronos_chat.errors import InvalidInput
from chronos_chat.models import ROLES, Role, VideoReferenceIn

MAX_EXTERNAL_ID = 128
MAX_REFERENCES = 50
MAX_PAGE_SIZE = 100
MAX_TITLE = 500


def check_text(field: str, value: object, *, max_length: int, allow_empty: bool = False) -> str:
    """A string without NUL characters, non-empty unless allowed, at most ``max_length``."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if not allow_empty and not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length:,} characters")
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")
    return value


def check_external_id(field: str, value: object) -> str:
    """A student, creator or video id: 1 to 128 characters."""
    return check_text(field, value, max_length=MAX_EXTERNAL_ID)


def check_role(value: object) -> Role:
    """One of user, assistant or system."""
    for role in ROLES:
        if value == role:
            return role
    raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")


MAX_COUNT = 10**12  # beyond any real token count or offset; far inside a 64-bit column


def check_count(field: str, value: int | None) -> int | None:
    """None or a whole number from 0 to ``MAX_COUNT``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidInput(field, f"must be a whole number from 0 to {MAX_COUNT:,}")
    return value


def check_aware(field: str, value: datetime | None) -> datetime | None:
    """None or a timezone-aware datetime."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput(field, "must be timezone-aware")
    return value


def check_page(page: int, limit: int) -> tuple[int, int]:
    """A page number from 1 and a page size from 1 to 100."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidInput("page", "must be a whole number from 1")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return page, limit


def check_video_ids(field: str, values: Iterable[str]) -> list[str]:
    """A list of video ids (duplicates dropped, order kept)."""
    if isinstance(values, str):
        raise InvalidInput(field, "must be a list of video ids, not one string")
    ids = [check_external_id(f"{field}[{i}]", v) for i, v in enumerate(values)]
    return list(dict.fromkeys(ids))


def check_metadata(field: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON object without NUL characters anywhere."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(field, "must be an object")
    _reject_nul_deep(field, value)
    return dict(value)


def _reject_nul_deep(field: str, value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(field, "must not contain NUL characters")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(field, "keys must be strings")
            _reject_nul_deep(f"{field}.{key}", key)
            _reject_nul_deep(f"{field}.{key}", item)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _reject_nul_deep(f"{field}[{i}]", item)
    elif value is not None and not isinstance(value, bool | int | float):
        raise InvalidInput(field, f"cannot store {type(value).__name__} as JSON")


def check_references(
    values: Iterable[Mapping[str, Any] | VideoReferenceIn],
) -> list[VideoReferenceIn]:
    """Video references: at most 50, each with a video_id, similarity in [0, 1]."""
    if isinstance(values, str | Mapping):
        raise InvalidInput("video_references", "must be a list of references")
    refs = list(values)
    if len(refs) > MAX_REFERENCES:
        raise InvalidInput("video_references", f"at most {MAX_REFERENCES} references")
    checked = []
    for i, ref in enumerate(refs):
        try:
            raw = ref.model_dump() if isinstance(ref, VideoReferenceIn) else ref
            checked.append(VideoReferenceIn.model_validate(raw))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise InvalidInput(f"video_references[{i}].{where}", error["msg"]) from None
    return checked
