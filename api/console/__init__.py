"""The web console: static ES modules served at `/ui`, one more client of the public `/v1` API.

The files under `static/` are plain HTML, CSS and JavaScript modules: no build step, nothing
fetched from elsewhere (machines may be offline). The page holds no private route: it calls
the same endpoints as any other client, with the user's key when the service wants one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC = Path(__file__).with_name("static")
PATH = "/ui"

# Only our own files may run or be fetched: no inline script, no framing, no third party.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every load (ETag answers 304): an upgraded service never runs stale modules.
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    """The console's files, each response with the headers above."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


async def _to_console() -> RedirectResponse:
    return RedirectResponse(f"{PATH}/", status_code=307)


def mount(app: FastAPI) -> None:
    """Serve the console at `/ui/` and send `/` and `/ui` there."""
    app.add_api_route("/", _to_console, methods=["GET"], include_in_schema=False)
    app.add_api_route(PATH, _to_console, methods=["GET"], include_in_schema=False)
    app.mount(PATH, ConsoleFiles(directory=STATIC, html=True), name="console")
