"""One-line descriptions of unexpected exceptions for logs: what and where, never a stack
trace (operators' logs are shipped and read widely) and never the exception's arguments, which
may carry request parameters such as passwords."""

from __future__ import annotations

import os
import traceback


def brief(exc: BaseException) -> str:
    """`KeyError at fs_mapping.py:212 in _bridge`."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {os.path.basename(last.filename)}:{last.lineno} in {last.name}"
