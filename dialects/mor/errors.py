"""MOR's two error shapes, and the middleware that makes every failure look like MOR.

Filter errors (API disabled, GET disabled, no key, bad hash) come before the method and are a bare
`<status>`; method errors are wrapped in `<page>`. The v2 REST service answers JSON instead.
"""

from __future__ import annotations

from aiohttp import web

from gateway.errors import (
    BadForm,
    BadJson,
    BodyTooLarge,
    ClientError,
    MethodNotAllowed,
    UrlTooLong,
    answer_status,
    error_middleware,
)
from gateway.http import request_key

from . import render
from .state import STATE

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

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, *,
                 client_status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.client_status = client_status  # with `platform_5xx = false` (gateway/errors.py)


def rest_response(status: int, message: str, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status,
                             headers=headers)


def _is_rest(request: web.Request) -> bool:
    tail = request.match_info.get("tail") or request.path
    return "/v2/" in f"/{tail}/" or request.path.rstrip("/").endswith("/v2")


def _xml(request: web.Request, body: bytes) -> web.Response:
    state = request.app.get(STATE)
    params = request.get(PARAMS) or {}
    return render.respond(body, state.options if state is not None else None,
                          inline=params.get("test") == "1")


def _rest(request: web.Request, exc: RestError) -> web.Response:
    return rest_response(answer_status(request, exc.status, exc.client_status), exc.message,
                         exc.headers)


def _undefined(request: web.Request, exc: UndefinedMethod) -> web.Response:
    return _xml(request, render.undefined_method(exc.message))


def _mor(request: web.Request, exc: MorError) -> web.Response:
    body = (render.filter_error if exc.filter_level else render.page_error)(exc.message)
    return _xml(request, body)


def _http(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals: JSON for v2, else Rails' answer to a path it has no action for."""
    if _is_rest(request):
        return rest_response(exc.status, exc.reason)
    name = request.path.removeprefix("/billing/api").strip("/")
    return _xml(request, render.undefined_method(name))


def _not_found(request: web.Request, exc: MethodNotAllowed) -> web.Response:
    """A v2 path with a method it does not serve is a route Rails does not have: 404; the
    XML API has no method list (any verb reaches the filters), so an exotic verb is an
    undefined method there."""
    if _is_rest(request):
        return rest_response(404, "Not found")
    name = request.path.removeprefix("/billing/api").strip("/")
    return _xml(request, render.undefined_method(name))


#: What MOR says for requests refused before any method runs (filter-level, as MOR's own
#: size limit answers); v2 keeps the HTTP status.
CLIENT_MESSAGES: dict[type[ClientError], str] = {
    BodyTooLarge: "Request is too large",
    UrlTooLong: "Request URI is too long",
    BadForm: "Parameters could not be read",
    BadJson: "Parameters could not be read",
}


def _client(request: web.Request, exc: ClientError) -> web.Response:
    message = next((m for cls, m in CLIENT_MESSAGES.items() if isinstance(exc, cls)),
                   "Bad request")
    if _is_rest(request):
        return rest_response(exc.status, message)
    return _xml(request, render.filter_error(message))


def _bug(request: web.Request, exc: Exception) -> web.Response:
    # the core logs one line (never the parameters: they may hold a password, `p`)
    if _is_rest(request):
        return rest_response(500, "Internal error")
    return _xml(request, render.filter_error("Internal error"))


mor_errors = error_middleware("mor", {
    RestError: _rest,
    UndefinedMethod: _undefined,
    MorError: _mor,
    MethodNotAllowed: _not_found,
    ClientError: _client,
    web.HTTPException: _http,
    Exception: _bug,
})
