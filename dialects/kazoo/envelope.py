"""Crossbar's reply envelope (reference 2.1-2.3): the keys, headers and CORS every Kazoo client
expects on every answer, success or error, so the two paths cannot drift apart."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote  # json.dumps of a str (ASCII)
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


#: The last second `iso_now` formatted, and its text (the format has whole seconds).
_iso_second: tuple[int, str] = (0, "")


def iso_now() -> str:
    global _iso_second
    second = int(time.time())
    if _iso_second[0] != second:
        _iso_second = (second, datetime.fromtimestamp(second, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"))
    return _iso_second[1]


def request_id(request: web.Request) -> str:
    """The client's X-Request-ID verbatim (as Kazoo reuses it), else 32 random hex chars."""
    rid = request.get(REQUEST_ID)
    if rid is None:
        given = request.headers.get("X-Request-ID", "").strip()
        rid = given[:128] if given and given.isprintable() else secrets.token_hex(16)
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


def _reply(request: web.Request, status: int, text: str | bytes, *, error: bool = False
           ) -> web.Response:
    """`text` may come encoded already (a list spliced from cached bytes): the same answer,
    without a second copy of a large body."""
    headers = {"X-Request-ID": request_id(request)}
    if error or _wants_cors(request):
        headers.update(cors_headers(request))
    body = text if isinstance(text, bytes) else text.encode("utf-8")
    return web.Response(status=status, body=body, content_type="application/json",
                        charset="utf-8", headers=headers)


def _success(request: web.Request, data: Any, auth_token: str | None) -> dict[str, Any]:
    return _success_envelope(auth_token if auth_token is not None else request.get(TOKEN, ""),
                             data, request_id(request), iso_now())


def _success_envelope(auth_token: Any, data: Any, rid: Any, timestamp: Any) -> dict[str, Any]:
    return {
        "auth_token": auth_token,
        "data": data,
        "node": NODE,
        "request_id": rid,
        "status": "success",
        "timestamp": timestamp,
        "version": VERSION,
    }


#: The per-request values of `_success_envelope`, in their (sorted) key order, and what
#: `_dumps` writes for each in a template (a string with a NUL in it, which JSON always
#: escapes, so nothing else in the envelope can read the same).
_SLOTS = ("auth_token", "data", "rid", "timestamp")
_SLOT = re.compile(r'"\\u0000(\w+)"')


def _success_template(pretty: bool) -> tuple[str, ...]:
    """`_dumps` of a success envelope cut around its per-request values: literal text at even
    positions, a value's name at odd ones."""
    text = _dumps(_success_envelope(*(f"\0{name}" for name in _SLOTS)), pretty)
    parts = tuple(_SLOT.split(text))
    assert parts[1::2] == _SLOTS, parts
    return parts


_TEMPLATES = {pretty: tuple(part.encode("ascii") for part in _success_template(pretty))
              for pretty in (False, True)}


def success(request: web.Request, data: Any, *, status: int = 200,
            auth_token: str | None = None) -> web.Response:
    return respond(request, status, _success(request, data, auth_token))


def success_json(request: web.Request, data_json: Callable[[bool], str | bytes]
                 ) -> web.Response:
    """`success` of a `data` that `data_json(pretty)` serializes itself (lists splice cached
    items), as text or as its UTF-8 bytes: the rest of the envelope is the template `_dumps`
    wrote once, with the three per-request strings quoted as `_dumps` quotes them (ASCII)."""
    pretty = _pretty(request)
    data = data_json(pretty)
    b = _TEMPLATES[pretty]
    return _reply(request, 200, b"".join((
        b[0], _quote(request.get(TOKEN, "")).encode("ascii"), b[2],
        data if isinstance(data, bytes) else data.encode("utf-8"), b[4],
        _quote(request_id(request)).encode("ascii"), b[6],
        _quote(iso_now()).encode("ascii"), b[8])))


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
