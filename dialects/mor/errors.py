"""MOR's two error shapes, and the middleware that makes every failure look like MOR.

Filter errors (API disabled, GET disabled, no key, bad hash) come before the method and are a bare
`<status>`; method errors are wrapped in `<page>`. The v2 REST service answers JSON instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.context import GATEWAY
from gateway.http import request_key
from gateway.logs import brief

from . import render

log = logging.getLogger("callgate.mor")

PARAMS = request_key("mor.params", dict)  # the merged query/body parameters, once read


class MorError(Exception):
    """A MOR-native error; `filter_level` picks the `<status>` shape over `<page><status>`."""

    filter_level = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FilterError(MorError):
    filter_level = True


class MethodError(MorError):
    pass


class UndefinedMethod(MorError):
    """Rails' `method_missing` answer for an action the API does not have."""


class RestError(Exception):
    """A v2 REST failure: JSON body with a real HTTP status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def rest_response(status: int, message: str, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status,
                             headers=headers)


def _is_rest(request: web.Request) -> bool:
    tail = request.match_info.get("tail") or request.path
    return "/v2/" in f"/{tail}/" or request.path.rstrip("/").endswith("/v2")


def _xml(request: web.Request, body: bytes) -> web.Response:
    opts = request.app[GATEWAY].settings.dialect("mor")
    params = request.get(PARAMS) or {}
    return render.respond(body, opts, inline=params.get("test") == "1")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def mor_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Everything, including aiohttp's own 404/405 and bugs, leaves in the platform's shape."""
    try:
        return await handler(request)
    except RestError as exc:
        return rest_response(exc.status, exc.message, exc.headers)
    except UndefinedMethod as exc:
        return _xml(request, render.undefined_method(exc.message))
    except MorError as exc:
        body = (render.filter_error if exc.filter_level else render.page_error)(exc.message)
        return _xml(request, body)
    except web.HTTPException as exc:
        if _is_rest(request):
            return rest_response(exc.status, exc.reason)
        name = request.path.removeprefix("/billing/api").strip("/")
        return _xml(request, render.undefined_method(name))
    except Exception as exc:
        # never the parameters: they may hold a password (`p`)
        log.error("mor: unexpected %s on %s %s", brief(exc), request.method, request.path)
        if _is_rest(request):
            return rest_response(500, "Internal error")
        return _xml(request, render.filter_error("Internal error"))
