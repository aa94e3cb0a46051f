"""Plain HTTP on the WebSocket port: ``/healthz``, ``/metrics`` and the web client's static files.

websockets calls :func:`process_request` for every incoming request before the handshake; returning a
response answers it as plain HTTP, returning None lets a WebSocket upgrade proceed.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

STATIC_DIR = Path(__file__).parent / "static"

# Module files change with releases; a short max-age with revalidation keeps reloads cheap but fresh.
STATIC_CACHE_CONTROL = "public, max-age=60, must-revalidate"


def _response(status: HTTPStatus, body: bytes, content_type: str, **extra: str) -> Response:
    headers = Headers()
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["Date"] = formatdate(usegmt=True)
    headers["X-Content-Type-Options"] = "nosniff"
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return Response(status.value, status.phrase, headers, body)


def text_response(status: HTTPStatus, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return _response(status, text.encode(), content_type, Cache_Control="no-store")


def static_response(path: str, static_dir: Path = STATIC_DIR) -> Response | None:
    """Serve a file below ``static_dir`` for a URL path; None when there is no such file.

    ``/`` (with any query string, e.g. ``/?spectate=CODE``) serves ``index.html``.
    """
    url_path = path.split("?", 1)[0].split("#", 1)[0]
    relative = "index.html" if url_path in ("", "/") else url_path.lstrip("/")
    root = static_dir.resolve()
    candidate = (root / relative).resolve()
    # Refuse anything that escapes the static directory (../ tricks).
    if root not in candidate.parents or not candidate.is_file():
        return None
    content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
        content_type += "; charset=utf-8"
    if candidate.suffix == ".js":
        content_type = "text/javascript; charset=utf-8"
    return _response(HTTPStatus.OK, candidate.read_bytes(), content_type, Cache_Control=STATIC_CACHE_CONTROL)


def make_process_request(
    healthz: Callable[[], Awaitable[tuple[bool, str]]],
    metrics: Callable[[str | None], Awaitable[tuple[bytes, str]]],
) -> Callable[[ServerConnection, Request], Awaitable[Response | None]]:
    """Build the ``process_request`` hook for :func:`websockets.asyncio.server.serve`.

    Args:
        healthz: returns (healthy, detail); healthy means Redis answers.
        metrics: given the scraper's Accept header, returns the exposition's body and Content-Type.
    """

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None  # the WebSocket endpoint is `/`; the handshake goes on
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            healthy, detail = await healthz()
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            return text_response(status, detail + "\n")
        if path == "/metrics":
            body, content_type = await metrics(request.headers.get("Accept"))
            return _response(HTTPStatus.OK, body, content_type, Cache_Control="no-store")
        static = static_response(request.path)
        if static is not None:
            return static
        return text_response(HTTPStatus.NOT_FOUND, "not found\n")

    return process_request
