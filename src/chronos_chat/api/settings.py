"""Service settings, from ``CHRONOS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What the service needs to run; every field has a ``CHRONOS_`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="CHRONOS_", extra="ignore")

    database_url: str | None = None
    jwt_secret: str = Field(default="", repr=False)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    rate_limit_per_minute: int = Field(default=1200, ge=0)
    redis_url: str | None = None
