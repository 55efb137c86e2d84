"""Every failure as Kazoo's error envelope (reference 2.2): typed crossbar errors, the mapping of
the gateway's command errors, and the exception map the core's error middleware answers with,
so no trace ever reaches a client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway import control
from gateway.errors import (
    BadForm,
    BadJson,
    BodyTooLarge,
    ClientError,
    ErrorAnswer,
    MethodNotAllowed,
    UrlTooLong,
    answer_status,
)
from gateway.errors import error_middleware as core_error_middleware

from .envelope import failure

REQUIRED = "Field is required but missing"


class KazooError(Exception):
    """An answer crossbar would give: HTTP status, `message`, and `data` (None = absent)."""

    def __init__(self, status: int, message: str, data: Any = None, *,
                 client_status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data
        self.client_status = client_status  # with `platform_5xx = false` (gateway/errors.py)


def invalid_credentials() -> KazooError:
    """No token, or one that fails validation (bad signature, wrong algorithm)."""
    return KazooError(401, "invalid_credentials", {"message": "invalid credentials"})


def expired_credentials() -> KazooError:
    """A token that validated but has expired or is no longer known."""
    return KazooError(401, "invalid credentials", {})


def too_many_requests() -> KazooError:
    """Crossbar's answer when the caller's bucket is empty (here: too many failed logins)."""
    return KazooError(429, "too_many_requests", {"message": "too many requests"})


def forbidden() -> KazooError:
    return KazooError(403, "forbidden", {"message": "forbidden"})


def not_found() -> KazooError:
    return KazooError(404, "not_found", {"message": "not found"})


def method_not_allowed() -> KazooError:
    return KazooError(405, "invalid_method", {"message": "method not allowed"})


def bad_identifier(ident: str) -> KazooError:
    """An unknown account, user, device or callflow id."""
    return KazooError(404, "bad_identifier", {"cause": ident, "message": "bad identifier"})


def bad_channel(uuid: str) -> KazooError:
    """A channel that is not (or no longer) in the addressed account."""
    return KazooError(404, "bad identifier", [uuid])


def invalid_data() -> KazooError:
    return KazooError(400, "invalid data")


def validation(field: str, rule: str, message: str, **extra: Any) -> KazooError:
    return KazooError(400, "validation error", {field: {rule: {"message": message, **extra}}})


def validation_errors(errors: dict[str, Any]) -> KazooError:
    return KazooError(400, "validation error", errors)


def too_large() -> KazooError:
    return KazooError(413, "request entity too large",
                      {"message": "request body exceeds the configured limit"})


def from_command(exc: control.CommandError, uuid: str) -> KazooError:
    """A switch-side failure of an action, never reported as success."""
    if isinstance(exc, control.NotFound):
        return bad_channel(uuid)
    if isinstance(exc, control.Unavailable):
        return KazooError(503, "datastore timeout", {"message": "switch unavailable"})
    if isinstance(exc, control.InvalidArgument | control.Unsupported):
        return validation("action", "invalid", exc.message)
    if isinstance(exc, control.OriginateFailed):
        return KazooError(500, "originate failed", {"cause": exc.cause}, client_status=409)
    return KazooError(500, "command failed", {"message": "the switch refused the action"},
                      client_status=409)


def uri_too_long() -> KazooError:
    return KazooError(414, "request uri too long",
                      {"message": "request URI exceeds the configured limit"})


def bad_json(exc: BadJson) -> KazooError:
    message = f"{exc.msg} around {exc.pos}" if exc.doc is not None else "body is not UTF-8"
    return validation_errors({"json": {"invalid": {"message": message, "target": "body"}}})


def _raise(make: Callable[[], KazooError]) -> ErrorAnswer:
    def answer(request: web.Request, exc: Any) -> web.Response:
        error = make()
        return failure(request, error.status, error.message, error.data)
    return answer


def _kazoo(request: web.Request, exc: KazooError) -> web.Response:
    return failure(request, answer_status(request, exc.status, exc.client_status), exc.message,
                   exc.data)


def _http(request: web.Request, exc: web.HTTPException) -> web.Response:
    return failure(request, exc.status, "generic_error", {"message": exc.reason})


def _client(request: web.Request, exc: ClientError) -> web.Response:
    return failure(request, exc.status, "generic_error", {"message": exc.reason})


def _bad_form(request: web.Request, exc: BadForm) -> web.Response:
    error = validation_errors({"body": {"invalid": {"message": exc.reason, "target": "body"}}})
    return failure(request, error.status, error.message, error.data)


def _bug(request: web.Request, exc: Exception) -> web.Response:
    return failure(request, 500, "generic_error", {"message": "unknown failure"})


#: Every failure, ours, the core's client errors and aiohttp's own, as a Kazoo error body; a
#: bug is logged once by the core and answered with no detail.
ANSWERS: dict[type[BaseException], ErrorAnswer] = {
    KazooError: _kazoo,
    BadJson: lambda request, exc: _kazoo(request, bad_json(exc)),
    BadForm: _bad_form,
    BodyTooLarge: _raise(too_large),
    UrlTooLong: _raise(uri_too_long),
    MethodNotAllowed: _raise(method_not_allowed),
    ClientError: _client,
    web.HTTPNotFound: _raise(not_found),
    web.HTTPMethodNotAllowed: _raise(method_not_allowed),
    web.HTTPRequestEntityTooLarge: _raise(too_large),
    web.HTTPException: _http,
    Exception: _bug,
}

error_middleware = core_error_middleware("kazoo", ANSWERS)
