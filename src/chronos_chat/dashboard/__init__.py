"""The creator dashboard: one static page that reads the analytics API with the viewer's token.

The page holds no data and no secret, so it is served to anyone; everything it shows comes from
the API (analytics, content gaps, costs, sessions), which checks who is asking on every call.
Data is written into the page as text only, and the page's policy lets no injected script run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    # The token may arrive in the URL's fragment; no page it links to learns the URL.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def install(app: FastAPI) -> None:
    """Serve the dashboard at ``/dashboard`` (and send ``/`` there)."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard() -> FileResponse:
        """The dashboard page."""
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        """The dashboard is the service's front page."""
        return RedirectResponse("/dashboard")
