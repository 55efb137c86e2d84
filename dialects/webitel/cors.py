"""The engine's CORS layer: on every path, before auth, and any OPTIONS answered at once."""

from __future__ import annotations

from aiohttp import web

from .errors import Handler

ALLOW_METHODS = "GET,PUT,POST,PATCH,DELETE,OPTIONS"
ALLOW_HEADERS = "Content-type,Accept,X-Access-Token,X-Key"


def _headers(request: web.Request) -> dict[str, str]:
    return {
        "X-Powered-By": "Webitel",
        "Access-Control-Allow-Origin": request.headers.get("Origin") or "*",
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": "86400",
    }


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return web.Response(status=200, headers=_headers(request))
    response = await handler(request)
    response.headers.update(_headers(request))
    return response
