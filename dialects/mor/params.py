"""Request parameters as Rails merges them: a form, multipart or JSON body, then the query
string on top (Rails' `request_parameters.merge(query_parameters)`: the query wins)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from gateway.http import BadJson, parse_json, read_body, read_form

from .errors import PARAMS, FilterError

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
#: The media types Rails' JSON parameter parser reads (`Mime[:json]` and its synonyms).
JSON_TYPES = ("application/json", "text/x-json", "application/jsonrequest")


#: Query strings parsed before: a billing system polls with the same one all day. Bounded in
#: entries and in the length of what is kept; values are read, never changed.
_QUERIES: dict[str, dict[str, str]] = {}
_MAX_QUERIES = 1024
_MAX_KEPT_QUERY = 1024


def _query(raw: str) -> dict[str, str]:
    found = _QUERIES.get(raw)
    if found is None:
        found = _parse(raw)  # a FilterError is raised each time, never kept
        if len(raw) <= _MAX_KEPT_QUERY:
            if len(_QUERIES) >= _MAX_QUERIES:
                _QUERIES.clear()
            _QUERIES[raw] = found
    return found


def _parse(raw: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise FilterError("Parameters must be UTF-8 encoded") from None


def _scalar(value: Any) -> str | None:
    """A JSON value as the text a form would have carried; None for what no form field can
    be (objects, arrays, null), which MOR's methods then see as absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _json_params(raw: bytes) -> dict[str, str]:
    """A JSON object's top-level members with a scalar value. Another JSON value (Rails files
    it under `_json`) carries no MOR parameter; malformed or too deeply nested JSON is
    `BadJson`, which MOR answers "Parameters could not be read"."""
    try:
        doc = parse_json(raw, blank={})
    except BadJson:
        raise
    except ValueError:  # e.g. an integer literal longer than Python reads
        raise BadJson("unreadable number", 0, None) from None
    if not isinstance(doc, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in doc.items():
        text = _scalar(value)
        if text is not None:
            out[key] = text
    return out


async def _body_params(request: web.Request, limit: int) -> dict[str, str]:
    ctype = request.content_type
    if ctype == MULTIPART:
        return await read_form(request)
    if not request.body_exists:  # the usual poll: parameters in the query string only
        return {}
    raw = await read_body(request, limit)
    if not raw:
        return {}
    if ctype in JSON_TYPES:
        return _json_params(raw)
    if ctype in (FORM, "application/octet-stream", ""):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FilterError("Parameters must be UTF-8 encoded") from None
        return _parse(text)
    return {}


async def read_params(request: web.Request, limit: int) -> dict[str, str]:
    """Body parameters (form, multipart or a JSON object), then the query string's on top;
    within one source the last duplicate wins. Non-UTF-8 input is a MOR filter error; an
    oversize or malformed body raises the core's `BodyTooLarge`/`BadForm`/`BadJson`, which
    MOR's error map answers in its own shape."""
    query = _query(request.rel_url.raw_query_string)
    request[PARAMS] = query  # so an error below still honours `test=1`
    params = await _body_params(request, limit)
    params.update(query)  # a new dict: the kept query is never changed
    request[PARAMS] = params
    return params
