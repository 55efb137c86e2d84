"""call-flow-control's status documents, and the error map that answers every failure with one.

The original answers every outcome with `{"status": ..., "description": ...}` using six fixed
status strings; clients branch on `status`, so nothing may escape as an HTML page or a trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.control import (
    CommandError,
    InvalidArgument,
    NotFound,
    OriginateFailed,
    Unavailable,
    Unsupported,
)
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

OK = "ok"
BAD_PARAMETERS = "bad parameters"
NOT_AUTHORIZED = "not authorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not found"
UNHANDLED = "unhandled exception"

_HTTP = {BAD_PARAMETERS: 400, NOT_AUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404,
         UNHANDLED: 500}


class CallflowError(Exception):
    """An answer other than success, already in the platform's words."""

    def __init__(self, status: str, description: str | None = None, *,
                 http: int | None = None, body: dict[str, Any] | None = None,
                 client_http: int | None = None) -> None:
        super().__init__(description or status)
        self.status = status
        self.description = description
        self.http = http or _HTTP.get(status, 400)
        self.body = body
        self.client_http = client_http  # with `platform_5xx = false` (gateway/errors.py)

    def document(self) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        doc: dict[str, Any] = {"status": self.status}
        if self.description is not None:
            doc["description"] = self.description
        return doc


def not_authorized() -> CallflowError:
    return CallflowError(NOT_AUTHORIZED)  # the original sends no description here


def too_many_failures() -> CallflowError:
    """Too many unknown tokens from the client's address: the status clients already handle
    (re-authenticate), with HTTP 429 and a description saying why."""
    return CallflowError(NOT_AUTHORIZED, "too many failed attempts, try again later", http=429)


def bad_parameters(description: str) -> CallflowError:
    return CallflowError(BAD_PARAMETERS, description)


def not_found(description: str) -> CallflowError:
    return CallflowError(NOT_FOUND, description)


def belongs_to(call_id: str, agent_number: int) -> CallflowError:
    """The seed's 403 for a call that another agent holds."""
    return CallflowError(FORBIDDEN, f"Call|{call_id} belongs to {agent_number}")


def not_assigned(call_id: str) -> CallflowError:
    """The original's 403 for a call nobody holds (hangup handler wording)."""
    return CallflowError(FORBIDDEN, f"{call_id} not assigned to you.")


def from_command(exc: CommandError, missing: str) -> CallflowError:
    """A typed control error in the platform's shape; `missing` describes a vanished call."""
    if isinstance(exc, NotFound):
        return not_found(missing)
    if isinstance(exc, InvalidArgument | Unsupported):
        return bad_parameters(exc.message)
    if isinstance(exc, OriginateFailed):
        return CallflowError(UNHANDLED, f"Originate failed: {exc.cause}", client_http=409)
    # a switch that is down or silent stays a 500 either way; a refusal is the request's
    refused = None if isinstance(exc, Unavailable) else 409
    return CallflowError(UNHANDLED, "PBX failure: the switch did not carry out the command",
                         client_http=refused)


def cors(request: web.Request, response: web.StreamResponse) -> None:
    """As the original: echo the Origin, with credentials, for GET and POST."""
    origin = request.headers.get("Origin")
    if origin and not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Max-Age"] = "86400"


def json_response(doc: dict[str, Any], http: int = 200) -> web.Response:
    return web.json_response(doc, status=http)


def _native(request: web.Request, exc: CallflowError) -> web.Response:
    return json_response(exc.document(), answer_status(request, exc.http, exc.client_http))


def _bad(description: str, http: int) -> web.Response:
    return json_response({"status": BAD_PARAMETERS, "description": description}, http)


def _too_large(_request: web.Request, _exc: Exception) -> web.Response:
    return _bad("Request body too large.", 413)


def _method(request: web.Request, _exc: Exception) -> web.Response:
    return _bad(f"Method {request.method} not allowed.", 405)


def _no_resource(_request: web.Request, _exc: Exception) -> web.Response:
    return json_response({"status": NOT_FOUND, "description": "No such resource."}, 404)


def _http(_request: web.Request, exc: web.HTTPException) -> web.Response:
    return _bad(exc.reason, exc.status)


def _client(_request: web.Request, exc: ClientError) -> web.Response:
    return _bad(exc.reason[:1].upper() + exc.reason[1:] + ".", exc.status)


def _unhandled(_request: web.Request, _exc: Exception) -> web.Response:
    """The core has logged the type and path (never the query: it holds the token)."""
    return json_response({"status": UNHANDLED}, 500)


#: Every failure, answered with a status document (gateway/errors.py picks the nearest class).
ANSWERS: dict[type[BaseException], ErrorAnswer] = {
    CallflowError: _native,
    BodyTooLarge: _too_large,
    web.HTTPRequestEntityTooLarge: _too_large,
    MethodNotAllowed: _method,
    web.HTTPMethodNotAllowed: _method,
    web.HTTPNotFound: _no_resource,
    web.HTTPException: _http,
    BadJson: lambda _r, _e: _bad("Malformed JSON body.", 400),
    BadForm: lambda _r, _e: _bad("Malformed form body.", 400),
    UrlTooLong: lambda _r, _e: _bad("Request URI too long.", 414),
    ClientError: _client,
    Exception: _unhandled,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A CORS preflight is answered for any path (the CORS headers come from `cors`)."""
    if request.method == "OPTIONS":
        return web.Response(status=200)
    return await handler(request)


def middlewares() -> list[Any]:
    """The error map's middleware (with CORS on every answer), then the preflight."""
    return [error_middleware("callflow", ANSWERS, finish=cors), preflight]
