"""One error middleware for every dialect, driven by a map from exception class to that
dialect's answer (Starlette's ExceptionMiddleware shape).

A dialect supplies only the map; the catch-all that keeps stack traces and secrets off the
wire and out of the logs, the URL-length guard and the rule that redirects pass through live
here once. The client errors every dialect must answer in its own shape are typed below, so a
dialect maps them like any of its own exceptions.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from .logs import brief

log = logging.getLogger("callgate.errors")

#: The longest request target a dialect answers; the server reads up to `MAX_LINE` so that a
#: longer one reaches the dialect and gets its native 414 instead of aiohttp's bare 400.
MAX_URL = 8190
MAX_LINE = 1 << 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorAnswer = Callable[[web.Request, Any], "web.StreamResponse | Awaitable[web.StreamResponse]"]
Finish = Callable[[web.Request, web.StreamResponse], None]


class ClientError(Exception):
    """A request the gateway refuses before any dialect logic: status and a neutral reason."""

    status = 400
    reason = "bad request"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or self.reason)
        if reason is not None:
            self.reason = reason


class BodyTooLarge(ClientError):
    status = 413
    reason = "request body too large"


class BadJson(ClientError):
    """A body that is not UTF-8 or not JSON (or nested deeper than a parser will go).

    `msg` and `pos` are the decoder's (`pos` counts characters of `doc`, the decoded text); a
    body that is not UTF-8 has `doc` None, `msg` "not UTF-8" and `pos` the first bad byte.
    """

    def __init__(self, msg: str, pos: int, doc: str | None) -> None:
        super().__init__(f"{msg} at {pos}")
        self.msg = msg
        self.pos = pos
        self.doc = doc


class BadForm(ClientError):
    """A form or multipart body that cannot be parsed."""

    reason = "malformed form body"


class UrlTooLong(ClientError):
    status = 414
    reason = "request URI too long"


class MethodNotAllowed(ClientError):
    status = 405
    reason = "method not allowed"

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__()
        self.allowed = allowed


def _lookup(answers: Mapping[type[BaseException], ErrorAnswer],
            exc: BaseException) -> ErrorAnswer | None:
    for cls in type(exc).__mro__:
        answer = answers.get(cls)
        if answer is not None:
            return answer
    return None


#: `[gateway] platform_5xx`, on every application that answers a dialect: where the emulated
#: platform answered a request with a 5xx (Webitel's `-ERR No such channel!`, a switch's
#: refusal), False answers the same body with the 4xx the error names instead.
PLATFORM_5XX = web.AppKey("platform_5xx", bool)


def answer_status(request: web.Request, status: int, client_status: int | None) -> int:
    """The status to answer an error with: the platform's own, or with `platform_5xx` off its
    4xx `client_status` (None: the status stands, e.g. a switch that is down)."""
    if client_status is not None and not request.app.get(PLATFORM_5XX, True):
        return client_status
    return status


def error_middleware(dialect: str, answers: Mapping[type[BaseException], ErrorAnswer], *,
                     finish: Finish | None = None) -> Any:
    """The dialect's middleware: each exception is answered by the entry of its nearest class
    in `answers`. aiohttp's own 404/405/413 are looked up by their classes (`web.HTTPNotFound`
    ...). `answers` must hold `Exception`: a bug is logged as one line (type and place, never
    the arguments, which may carry credentials) and answered with the dialect's 500.
    `finish` runs on every response the middleware returns (CORS headers)."""
    if Exception not in answers:
        raise ValueError(f"{dialect}: the error map needs an Exception entry")
    table = dict(answers)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if len(request.raw_path) > MAX_URL:
                raise UrlTooLong
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = await _answer(table, request, exc, dialect)
        except Exception as exc:
            response = await _answer(table, request, exc, dialect)
        if finish is not None:
            finish(request, response)
        return response

    return middleware


async def _answer(table: Mapping[type[BaseException], ErrorAnswer], request: web.Request,
                  exc: BaseException, dialect: str) -> web.StreamResponse:
    answer = _lookup(table, exc) or table[Exception]
    if answer is table[Exception] and not isinstance(exc, web.HTTPException):
        # a bug: the path only, since query strings carry tokens and keys
        log.error("%s: unexpected %s on %s %s", dialect, brief(exc), request.method,
                  request.path)
    result = answer(request, exc)
    if inspect.isawaitable(result):
        result = await result
    return result
