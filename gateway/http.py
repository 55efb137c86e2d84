"""Request-body helpers every dialect uses, so size limits and JSON errors are handled once;
each dialect turns these exceptions into its own platform's error body."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class BodyTooLarge(Exception):
    pass


class BadJson(Exception):
    pass


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes without reading them all into memory."""
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


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadJson from None


def request_key(name: str, kind: type[T]) -> Any:
    """A typed per-request storage key (`web.RequestKey` where aiohttp has it), so dialects
    keep request state without clashing names and without aiohttp's NotAppKeyWarning."""
    factory = getattr(web, "RequestKey", None)
    return factory(name, kind) if factory is not None else name
