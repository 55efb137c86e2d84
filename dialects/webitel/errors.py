"""Webitel's error bodies, and the map from every failure to one of them (gateway/errors.py).

The engine rendered every error as `{"status":"error","info":<message>}` with the error's HTTP
status (its `code` field was never set, so JSON dropped it); the login route alone answered
`{"status":401,"message":"Invalid credentials"}`. Express has no 405, so a wrong method is a
404 `"<url> not found."` like an unknown path.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.errors import (
    BadForm,
    BadJson,
    BodyTooLarge,
    ClientError,
    ErrorAnswer,
    MethodNotAllowed,
    UrlTooLong,
    answer_status,
    error_middleware,
)

from .cors import add_cors

#: The 4xx each of the engine's request-caused 500s takes with `platform_5xx = false`; any
#: other `-ERR` is the switch refusing what was asked (409). "ESL response undefined" (no
#: reply: the switch is down) stays a 500.
CLIENT_STATUS = {"-ERR No such channel!\n": 404, "Bad parameters": 400,
                 "Permission denied.": 403}


def _client_status(status: int, info: str) -> int | None:
    if status < 500:
        return None
    return CLIENT_STATUS.get(info) or (409 if info.startswith("-ERR ") else None)


class WebitelError(Exception):
    """An error answered as `{"status":"error","info":...}` with `status`."""

    def __init__(self, status: int, info: str) -> None:
        super().__init__(info)
        self.status = status
        self.info = info
        self.client_status = _client_status(status, info)

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


def _error(status: int, info: str) -> web.Response:
    return reply({"status": "error", "info": info}, status)


def _webitel(request: web.Request, exc: WebitelError) -> web.Response:
    return reply(exc.body(), answer_status(request, exc.status, exc.client_status))


def _not_found(request: web.Request, exc: Exception) -> web.Response:
    return _webitel(request, not_found(request))


def _http(request: web.Request, exc: web.HTTPException) -> web.Response:
    return _error(exc.status, exc.reason)


def _client(request: web.Request, exc: ClientError) -> web.Response:
    return _error(exc.status, exc.reason)


def _too_large(request: web.Request, exc: Exception) -> web.Response:
    return _error(413, "request entity too large")  # body-parser's (raw-body's) text


def _bad_request(request: web.Request, exc: Exception) -> web.Response:
    return _error(400, "Bad request")


def _bug(request: web.Request, exc: Exception) -> web.Response:
    return _error(500, "Internal Server Error")


ANSWERS: dict[type[BaseException], ErrorAnswer] = {
    WebitelError: _webitel,
    web.HTTPNotFound: _not_found,
    web.HTTPMethodNotAllowed: _not_found,
    MethodNotAllowed: _not_found,
    web.HTTPRequestEntityTooLarge: _too_large,
    web.HTTPException: _http,
    BodyTooLarge: _too_large,
    BadJson: _bad_request,
    BadForm: _bad_request,
    UrlTooLong: _client,
    ClientError: _client,
    Exception: _bug,
}


def webitel_errors() -> Any:
    """The dialect's one error middleware; CORS headers go on every answer it returns."""
    return error_middleware("webitel", ANSWERS, finish=add_cors)
