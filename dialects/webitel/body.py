"""The engine's only body parser was Express's `bodyParser.json()`: JSON bodies are parsed
before any auth runs, other content types leave the body empty, and a parse failure answers 400
with the JavaScript parser's message (which clients may log or match)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import Handler
from gateway.http import BadJson, parse_json, read_body, request_key

from .errors import WebitelError
from .state import STATE

BODY = request_key("webitel.body", dict)
_NO_BODY = frozenset({"HEAD", "OPTIONS"})
_NESTING_START = frozenset("{[ \t\r\n")


def _is_json(request: web.Request) -> bool:
    ctype = request.content_type.lower()
    return ctype == "application/json" or (ctype.startswith("application/")
                                           and ctype.endswith("+json"))


def _js_message(raw: str, pos: int) -> str:
    """V8's JSON.parse message for a failure at `pos` (Node 6-18 wording)."""
    if pos >= len(raw.rstrip()):
        return "Unexpected end of JSON input"
    return f"Unexpected token {raw[pos]} in JSON at position {pos}"


def _strict(text: str) -> None:
    """body-parser's strict mode, checked before JSON.parse: only an object or an array."""
    stripped = text.lstrip()
    if stripped and stripped[0] not in "{[":
        pos = len(text) - len(stripped)
        raise WebitelError(400, _js_message(text, pos))


def parse(raw: bytes) -> dict[str, Any]:
    """The request body as the engine saw it: a JSON object, or empty.

    The strict-mode check runs only once the body failed to parse or parsed to a scalar, which
    is exactly when it can fire, so its message wins as it does before Node's JSON.parse.
    """
    try:
        value = parse_json(raw, blank={})
    except BadJson as exc:
        if exc.doc is None:
            raise WebitelError(400, "Unexpected token in JSON at position 0") from None
        if not exc.doc.strip():
            return {}  # blank but for non-ASCII spaces, taken as blank before any parsing
        if exc.pos == 0 and exc.doc[:1] in _NESTING_START:
            # no syntax error sits at 0 on a bracket or a space: the body nests deeper than
            # the decoder goes, which has no JavaScript message; the error map answers it
            raise
        _strict(exc.doc)
        raise WebitelError(400, _js_message(exc.doc, exc.pos)) from None
    if isinstance(value, dict):
        return value
    if not isinstance(value, list):
        _strict(raw.decode("utf-8"))  # a scalar, which strict mode refused before parsing
    return {}


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    body: dict[str, Any] = {}
    if request.method not in _NO_BODY and request.can_read_body and _is_json(request):
        body = parse(await read_body(request, request.app[STATE].max_body))
    request[BODY] = body
    return await handler(request)


def body_of(request: web.Request) -> dict[str, Any]:
    return request.get(BODY) or {}
