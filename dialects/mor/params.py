"""Request parameters as Rails merges them: the query string, then a form body on top."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from gateway.http import read_body, read_form

from .errors import PARAMS, FilterError

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def _parse(raw: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise FilterError("Parameters must be UTF-8 encoded") from None


async def read_params(request: web.Request, limit: int) -> dict[str, str]:
    """Query and body parameters (body wins, last duplicate wins); non-UTF-8 input is a MOR
    filter error; an oversize or malformed body raises the core's `BodyTooLarge`/`BadForm`,
    which MOR's error map answers in its own shape."""
    params = _parse(request.rel_url.raw_query_string)
    request[PARAMS] = params  # so an error below still honours `test=1`
    ctype = request.content_type
    if ctype == MULTIPART:
        params.update(await read_form(request))
        return params
    if not request.body_exists:  # the usual poll: parameters in the query string only
        return params
    raw = await read_body(request, limit)
    if raw and ctype in (FORM, "application/octet-stream", ""):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FilterError("Parameters must be UTF-8 encoded") from None
        params.update(_parse(text))
    return params
