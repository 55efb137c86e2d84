"""Crossbar's reply envelope (reference 2.1-2.3): the keys, headers and CORS every Kazoo client
expects on every answer, success or error, so the two paths cannot drift apart."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.http import request_key

VERSION = "4.3.142"
GREGORIAN_OFFSET = 62167219200  # seconds from 0000-01-01 to 1970-01-01 (Erlang calendar)

#: Kazoo's node: URL-safe base64 of the MD5 of the Erlang node name, without padding.
NODE = base64.urlsafe_b64encode(
    hashlib.md5(f"crossbar@{socket.gethostname()}".encode()).digest()
).decode().rstrip("=")

CORS_ALLOW_HEADERS = (
    "content-type, depth, user-agent, x-http-method-override, x-file-size, x-requested-with, "
    "if-modified-since, x-file-name, cache-control, x-auth-token, x-kazoo-cluster-id, if-match"
)
CORS_EXPOSE_HEADERS = (
    "content-type, x-auth-token, x-request-id, x-kazoo-cluster-id, location, etag, etag"
)

REQUEST_ID = request_key("kazoo.request_id", str)
TOKEN = request_key("kazoo.token", str)
ALLOWED = request_key("kazoo.allowed", tuple)


def gregorian(unix_seconds: float) -> int:
    return int(unix_seconds) + GREGORIAN_OFFSET


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_id(request: web.Request) -> str:
    """The client's X-Request-ID verbatim (as Kazoo reuses it), else 32 random hex chars."""
    rid = request.get(REQUEST_ID)
    if rid is None:
        given = request.headers.get("X-Request-ID", "").strip()
        rid = given[:128] if given and given.isprintable() else uuid.uuid4().hex
        request[REQUEST_ID] = rid
    return rid


def cors_headers(request: web.Request, allowed: tuple[str, ...] | None = None) -> dict[str, str]:
    methods = allowed or request.get(ALLOWED) or ("GET", "POST", "PUT", "DELETE", "OPTIONS")
    if "OPTIONS" not in methods:
        methods = (*methods, "OPTIONS")
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
        "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
        "Access-Control-Max-Age": "86400",
    }


def _wants_cors(request: web.Request) -> bool:
    return "Origin" in request.headers or any(
        h.lower().startswith("access-control-request-") for h in request.headers
    )


def _pretty(request: web.Request) -> bool:
    return (request.headers.get("X-Pretty-Print", "").lower() == "true"
            or request.query.get("pretty_print", "").lower() == "true")


def respond(request: web.Request, status: int, envelope: dict[str, Any], *,
            error: bool = False) -> web.Response:
    """Serialize an envelope with Kazoo's headers: X-Request-ID always, CORS when asked for
    and on every error."""
    return _reply(request, status, _dumps(envelope, _pretty(request)), error=error)


def _dumps(envelope: dict[str, Any], pretty: bool) -> str:
    return json.dumps(envelope, indent=2 if pretty else None, sort_keys=True)


def _reply(request: web.Request, status: int, text: str, *, error: bool = False
           ) -> web.Response:
    headers = {"X-Request-ID": request_id(request)}
    if error or _wants_cors(request):
        headers.update(cors_headers(request))
    return web.Response(status=status, text=text, content_type="application/json",
                        headers=headers)


def _success(request: web.Request, data: Any, auth_token: str | None) -> dict[str, Any]:
    return {
        "auth_token": auth_token if auth_token is not None else request.get(TOKEN, ""),
        "data": data,
        "node": NODE,
        "request_id": request_id(request),
        "status": "success",
        "timestamp": iso_now(),
        "version": VERSION,
    }


def success(request: web.Request, data: Any, *, status: int = 200,
            auth_token: str | None = None) -> web.Response:
    return respond(request, status, _success(request, data, auth_token))


def success_json(request: web.Request, data_json: Callable[[bool], str]) -> web.Response:
    """`success` of a `data` that `data_json(pretty)` serializes itself (lists splice cached
    items): the rest of the envelope is dumped as `success` does and `data` put in its place.
    Only `auth_token` sorts before `data`, and a string cannot hold an unescaped quote, so
    the first `"data": null` is the key's."""
    pretty = _pretty(request)
    head, _, tail = _dumps(_success(request, None, None), pretty).partition('"data": null')
    return _reply(request, 200, f'{head}"data": {data_json(pretty)}{tail}')


def failure(request: web.Request, status: int, message: str, data: Any = None) -> web.Response:
    """Kazoo 4.3's error envelope: `error` is the status code as a string; `auth_token` is the
    literal "undefined" when the client sent none."""
    envelope: dict[str, Any] = {
        "auth_token": request.get(TOKEN) or "undefined",
        "error": str(status),
        "message": message,
        "node": NODE,
        "request_id": request_id(request),
        "status": "error",
        "timestamp": iso_now(),
        "version": VERSION,
    }
    if data is not None:
        envelope["data"] = data
    return respond(request, status, envelope, error=True)


def now() -> float:
    return time.time()
