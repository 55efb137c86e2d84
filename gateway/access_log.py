"""One line per HTTP request at INFO, in aiohttp's access-log style, with every secret a URL
may carry replaced by `***`: the dialects take tokens, session keys and password hashes in the
query string (Kazoo `auth_token`, Webitel `access_token`/`x_key`, MOR `hash`/`p`, call-flow
`token`), and a JWT may sit in a path segment. Logs are shipped and read widely."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

log = logging.getLogger("callgate.access")

#: Query parameters whose value is a credential, compared case-insensitively.
SECRET_PARAMS = frozenset({
    "token", "auth_token", "access_token", "x_key", "x-key", "hash", "p", "password", "pass",
    "key", "secret", "api_key", "apikey", "credentials",
})

REDACTED = "***"

#: A path this long is cut in the log (the URL limit lets 100 KB reach the dialects).
MAX_LOGGED = 2048

# header.payload.signature in base64url; the header is JSON, so it opens with `{"` = `eyJ`
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _secret_segment(segment: str) -> bool:
    return segment.startswith("eyJ") and _JWT.fullmatch(segment) is not None


def _name(raw: str) -> str:
    """A query parameter's name as the dialects read it: unescaped, compared lower-case."""
    return (unquote_plus(raw) if "%" in raw or "+" in raw else raw).lower()


def redact(target: str) -> str:
    """The request target as sent, with secret query values and JWT path segments hidden.

    Works on the raw text (nothing decoded, so nothing the client escaped is unescaped into the
    log); a parameter's name is decoded only to compare it."""
    path, sep, query = target.partition("?")
    if "eyJ" in path:
        path = "/".join(REDACTED if _secret_segment(s) else s for s in path.split("/"))
    if sep and query:
        parts = query.split("&")
        for i, part in enumerate(parts):
            name, eq, value = part.partition("=")
            if (eq and value and _name(name) in SECRET_PARAMS) or (
                    value.startswith("eyJ") and _secret_segment(value)):
                parts[i] = f"{name}={REDACTED}"
            elif not eq and _secret_segment(name):
                parts[i] = REDACTED
        query = "&".join(parts)
    out = f"{path}{sep}{query}"
    return out if len(out) <= MAX_LOGGED else out[:MAX_LOGGED] + "..."


def line(dialect: str, remote: str | None, method: str, target: str, version: tuple[int, int],
         status: int, seconds: float) -> str:
    """`kazoo 127.0.0.1 "GET /v2/accounts?auth_token=*** HTTP/1.1" 200 0.001234s`."""
    return (f'{dialect} {remote or "-"} "{method} {redact(target)} '
            f'HTTP/{version[0]}.{version[1]}" {status} {seconds:.6f}s')
