"""The REST service: FastAPI routes over one ``ChatStore``, with authentication, authorization,
limits and metrics. ``create_app`` builds it; ``chronos-chat serve`` runs it."""

from chronos_chat.api.app import create_app
from chronos_chat.api.settings import Settings

__all__ = ["Settings", "create_app"]
