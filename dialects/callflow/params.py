"""Request parameters: the query string merged with a form-encoded body, as the original read
both, and the validators that turn garbled input into a `bad parameters` document."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from aiohttp import web

from gateway.http import read_body, read_form

from .errors import bad_parameters

CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
EXTENSION = re.compile(r"^[A-Za-z0-9+*#._-]{3,64}$")
CONTEXT = re.compile(r"^(\d{1,9})@(\d{1,9})$")
NO_CALL_ID = "Invalid or no call ID supplied"


async def params(request: web.Request, max_body: int) -> dict[str, str]:
    """A multipart body is read as a form too (its text fields); other bodies are ignored."""
    values = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "multipart/form-data":
            values.update(await read_form(request))
            return values
        raw = await read_body(request, max_body)
        if request.content_type in ("application/x-www-form-urlencoded", "text/plain", ""):
            try:
                values.update(parse_qsl(raw.decode(), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError):
                raise bad_parameters("Malformed form body.") from None
    return values


def call_id(value: str | None) -> str:
    if not value or not CALL_ID.match(value):
        raise bad_parameters(NO_CALL_ID)
    return value


def context(value: str | None) -> tuple[int, int]:
    """`<contact_id>@<reception_id>`, two integers."""
    if value is None or value == "":
        raise bad_parameters("Missing required context parameter.")
    m = CONTEXT.match(value)
    if m is None:
        raise bad_parameters(f"Malformed context: {value[:100]}")
    return int(m.group(1)), int(m.group(2))


def extension(value: str) -> str:
    if not EXTENSION.match(value):
        raise bad_parameters(f"Invalid extension: {value[:64]}")
    return value
