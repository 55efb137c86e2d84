"""The engine's only body parser was Express's `bodyParser.json()`: JSON bodies are parsed
before any auth runs, other content types leave the body empty, and a parse failure answers 400
with the JavaScript parser's message (which clients may log or match)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.context import GATEWAY
from gateway.http import BodyTooLarge, read_body, request_key

from .errors import Handler, WebitelError

BODY = request_key("webitel.body", dict)
_NO_BODY = frozenset({"HEAD", "OPTIONS"})


def _is_json(request: web.Request) -> bool:
    ctype = request.content_type.lower()
    return ctype == "application/json" or (ctype.startswith("application/")
                                           and ctype.endswith("+json"))


def _js_message(raw: str, pos: int) -> str:
    """V8's JSON.parse message for a failure at `pos` (Node 6-18 wording)."""
    if pos >= len(raw.rstrip()):
        return "Unexpected end of JSON input"
    return f"Unexpected token {raw[pos]} in JSON at position {pos}"


def parse(raw: bytes) -> dict[str, Any]:
    """The request body as the engine saw it: a JSON object, or empty."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WebitelError(400, "Unexpected token in JSON at position 0") from None
    if not text.strip():
        return {}
    stripped = text.lstrip()
    if stripped[0] not in "{[":  # body-parser's strict mode: objects and arrays only
        pos = len(text) - len(stripped)
        raise WebitelError(400, _js_message(text, pos))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WebitelError(400, _js_message(text, exc.pos)) from None
    return value if isinstance(value, dict) else {}


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    body: dict[str, Any] = {}
    if request.method not in _NO_BODY and request.can_read_body and _is_json(request):
        limit = request.app[GATEWAY].settings.gateway.max_body
        try:
            raw = await read_body(request, limit)
        except BodyTooLarge:
            raise WebitelError(413, "request entity too large") from None
        body = parse(raw)
    request[BODY] = body
    return await handler(request)


def body_of(request: web.Request) -> dict[str, Any]:
    return request.get(BODY) or {}
