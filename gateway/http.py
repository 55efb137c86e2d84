"""Request-body helpers every dialect uses, so size limits, JSON and form decoding are handled
once.

Each dialect maps the exceptions (gateway/errors.py) to its own platform's error body: `BadJson`
carries the decoder's message and position because Kazoo and Webitel both put them on the wire."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web

from .errors import BadForm, BadJson, BodyTooLarge

__all__ = ["BadForm", "BadJson", "BodyTooLarge", "parse_json", "read_body", "read_form",
           "request_key"]

T = TypeVar("T")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes without reading them all into memory."""
    if not request.body_exists:  # a poll's GET: nothing to wait for
        return b""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes, blank: Any = None) -> Any:
    """The JSON value of `raw`, or `blank` for a body of ASCII whitespace (apart from a JSON
    `null`); raises `BadJson`.

    Strictly UTF-8 (RFC 8259 section 8.1; what Kazoo's jiffy and the engine's body-parser read):
    `json.loads` on bytes would guess UTF-16/32 and accept bodies both platforms refuse.
    """
    if not raw.strip():
        return blank
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson("not UTF-8", exc.start, None) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadJson(exc.msg, exc.pos, text) from None
    except RecursionError:  # nested deeper than the decoder goes: a client error, not a bug
        raise BadJson("nested too deeply", 0, text) from None


async def read_form(request: web.Request) -> dict[str, str]:
    """The url-encoded or multipart form's text fields; raises `BadForm` for a body that does
    not parse and `BodyTooLarge` past the application's `client_max_size`."""
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge from None
    except (ValueError, AssertionError, RuntimeError, UnicodeDecodeError, LookupError):
        raise BadForm from None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def request_key(name: str, kind: type[T]) -> Any:
    """A typed per-request storage key (`web.RequestKey` where aiohttp has it), so dialects
    keep request state without clashing names and without aiohttp's NotAppKeyWarning."""
    factory = getattr(web, "RequestKey", None)
    return factory(name, kind) if factory is not None else name
