"""Request parameters as Rails merges them: the query string, then a form body on top."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from gateway.http import BodyTooLarge, read_body

from .errors import PARAMS, FilterError

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def _parse(raw: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise FilterError("Parameters must be UTF-8 encoded") from None


async def read_params(request: web.Request, limit: int) -> dict[str, str]:
    """Query and body parameters (body wins, last duplicate wins); oversize or non-UTF-8
    input becomes a MOR filter error instead of a server error."""
    params = _parse(request.rel_url.raw_query_string)
    request[PARAMS] = params  # so an error below still honours `test=1`
    ctype = request.content_type
    try:
        if ctype == MULTIPART:
            if request.content_length is not None and request.content_length > limit:
                raise BodyTooLarge
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            raw = await read_body(request, limit)
            if raw and ctype in (FORM, "application/octet-stream", ""):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise FilterError("Parameters must be UTF-8 encoded") from None
                params.update(_parse(text))
    except (BodyTooLarge, web.HTTPRequestEntityTooLarge):
        raise FilterError("Request is too large") from None
    except UnicodeDecodeError:
        raise FilterError("Parameters must be UTF-8 encoded") from None
    return params
