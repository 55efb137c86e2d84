"""One-line descriptions of unexpected exceptions for logs: what and where, never a stack
trace (operators' logs are shipped and read widely) and never the exception's arguments, which
may carry request parameters such as passwords."""

from __future__ import annotations

import logging
import os
import traceback

from aiohttp.http_exceptions import HttpProcessingError


def brief(exc: BaseException) -> str:
    """`KeyError at fs_mapping.py:212 in _bridge`."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {os.path.basename(last.filename)}:{last.lineno} in {last.name}"


class BadHttpFilter(logging.Filter):
    """aiohttp's server logs a request it could not parse (a NUL or control byte in a header,
    a malformed request line) at ERROR with a stack trace, before any dialect sees it. That is
    a client's mistake, not ours: one INFO line, no trace, and nothing of the request (its
    header may be a credential)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "unparseable HTTP request from %s refused with %s (%s)"
            record.args = (remote, exc.code, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_bad_http() -> None:
    """Install `BadHttpFilter` on aiohttp's server logger (once)."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadHttpFilter) for f in logger.filters):
        logger.addFilter(BadHttpFilter())
