"""The engine's CORS layer: headers on every answer (errors included), and any OPTIONS
answered at once, before auth or routing."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import Handler

ALLOW_METHODS = "GET,PUT,POST,PATCH,DELETE,OPTIONS"
ALLOW_HEADERS = "Content-type,Accept,X-Access-Token,X-Key"


def add_cors(request: web.Request, response: web.StreamResponse) -> None:
    """The error middleware's `finish` hook."""
    if response.prepared:
        return  # a WebSocket or streamed answer: its headers are already sent
    response.headers.update({
        "X-Powered-By": "Webitel",
        "Access-Control-Allow-Origin": request.headers.get("Origin") or "*",
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": "86400",
    })


@web.middleware
async def preflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return web.Response(status=200)
    return await handler(request)
