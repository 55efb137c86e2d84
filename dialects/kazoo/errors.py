"""Every failure as Kazoo's error envelope (reference 2.2): typed crossbar errors, the mapping of
the gateway's command errors, and the middleware that guarantees no trace ever reaches a client."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway import control
from gateway.logs import brief

from .envelope import failure

log = logging.getLogger("callgate.kazoo")

REQUIRED = "Field is required but missing"


class KazooError(Exception):
    """An answer crossbar would give: HTTP status, `message`, and `data` (None = absent)."""

    def __init__(self, status: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data


def invalid_credentials() -> KazooError:
    """No token, or one that fails validation (bad signature, wrong algorithm)."""
    return KazooError(401, "invalid_credentials", {"message": "invalid credentials"})


def expired_credentials() -> KazooError:
    """A token that validated but has expired or is no longer known."""
    return KazooError(401, "invalid credentials", {})


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
        return KazooError(500, "originate failed", {"cause": exc.cause})
    return KazooError(500, "command failed", {"message": "the switch refused the action"})


#: aiohttp's own 404/405/413 answered exactly as the crossbar errors of the same status.
_HTTP_ERRORS: dict[int, Callable[[], KazooError]] = {
    404: not_found,
    405: method_not_allowed,
    413: too_large,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any exception (ours, aiohttp's 404/405/413, or a bug) leaves as a Kazoo error body."""
    try:
        return await handler(request)
    except KazooError as exc:
        return failure(request, exc.status, exc.message, exc.data)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        known = _HTTP_ERRORS.get(exc.status)
        if known is None:
            return failure(request, exc.status, "generic_error", {"message": exc.reason})
        error = known()
        return failure(request, error.status, error.message, error.data)
    except Exception as exc:  # the client must never see a trace
        log.error("kazoo: unexpected %s on %s %s", brief(exc), request.method,
                  request.rel_url.path)
        return failure(request, 500, "generic_error", {"message": "unknown failure"})
