"""call-flow-control's status documents, and the middleware that answers every failure with one.

The original answers every outcome with `{"status": ..., "description": ...}` using six fixed
status strings; clients branch on `status`, so nothing may escape as an HTML page or a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.control import (
    CommandError,
    InvalidArgument,
    NotFound,
    OriginateFailed,
    Unsupported,
)
from gateway.http import BodyTooLarge
from gateway.logs import brief

log = logging.getLogger("callgate.callflow")

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
                 http: int | None = None, body: dict[str, Any] | None = None) -> None:
        super().__init__(description or status)
        self.status = status
        self.description = description
        self.http = http or _HTTP.get(status, 400)
        self.body = body

    def document(self) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        doc: dict[str, Any] = {"status": self.status}
        if self.description is not None:
            doc["description"] = self.description
        return doc


def not_authorized() -> CallflowError:
    return CallflowError(NOT_AUTHORIZED)  # the original sends no description here


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
        return CallflowError(UNHANDLED, f"Originate failed: {exc.cause}")
    return CallflowError(UNHANDLED, "PBX failure: the switch did not carry out the command")


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


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.method == "OPTIONS":  # CORS preflight, for any path
            response: web.StreamResponse = web.Response(status=200)
        else:
            response = await handler(request)
    except CallflowError as exc:
        response = json_response(exc.document(), exc.http)
    except BodyTooLarge:
        response = json_response(
            {"status": BAD_PARAMETERS, "description": "Request body too large."}, 413)
    except web.HTTPException as exc:
        if exc.status == 405:
            doc = {"status": BAD_PARAMETERS, "description": f"Method {request.method} not allowed."}
        elif exc.status == 404:
            doc = {"status": NOT_FOUND, "description": "No such resource."}
        elif exc.status < 400:
            raise
        else:
            doc = {"status": BAD_PARAMETERS, "description": exc.reason}
        response = json_response(doc, exc.status)
    except Exception as exc:  # never a trace: log the type and path only (the token is a query)
        log.error("callflow: unexpected %s on %s %s", brief(exc), request.method,
                  request.path)
        response = json_response({"status": UNHANDLED}, 500)
    cors(request, response)
    return response
