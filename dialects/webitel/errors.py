"""Webitel's error bodies, and the middleware that turns every failure into one of them.

The engine rendered every error as `{"status":"error","info":<message>}` with the error's HTTP
status (its `code` field was never set, so JSON dropped it); the login route alone answered
`{"status":401,"message":"Invalid credentials"}`. Express has no 405, so a wrong method is a
404 `"<url> not found."` like an unknown path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.logs import brief

log = logging.getLogger("callgate.webitel")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebitelError(Exception):
    """An error answered as `{"status":"error","info":...}` with `status`."""

    def __init__(self, status: int, info: str) -> None:
        super().__init__(info)
        self.status = status
        self.info = info

    def body(self) -> dict[str, Any]:
        return {"status": "error", "info": self.info}


class CredentialsError(WebitelError):
    """The login/logout route's odd shape: `{"status":401,"message":"Invalid credentials"}`."""

    def __init__(self) -> None:
        super().__init__(401, "Invalid credentials")

    def body(self) -> dict[str, Any]:
        return {"status": 401, "message": "Invalid credentials"}


def reply(body: Any, status: int = 200) -> web.Response:
    """JSON as Express's `res.json` writes it: compact, UTF-8, not ASCII-escaped."""
    return reply_text(json.dumps(body, separators=(",", ":"), ensure_ascii=False), status)


def reply_text(text: str, status: int = 200) -> web.Response:
    """A body `reply` would write, already serialized (lists join cached rows)."""
    return web.Response(text=text, status=status, content_type="application/json",
                        charset="utf-8")


def not_found(request: web.Request) -> WebitelError:
    return WebitelError(404, f"{request.raw_path} not found.")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except WebitelError as exc:
        return reply(exc.body(), exc.status)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        err = not_found(request)
        return reply(err.body(), err.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return reply({"status": "error", "info": exc.reason}, exc.status)
    except Exception as exc:
        # the path only: the query string may carry access_token / x_key
        log.error("webitel: unexpected %s on %s %s", brief(exc), request.method, request.path)
        return reply({"status": "error", "info": "Internal Server Error"}, 500)
