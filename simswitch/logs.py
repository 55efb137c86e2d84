"""One-line descriptions of unexpected exceptions for the simulators' logs: what and where,
never a stack trace nor the exception's arguments. The simulators keep their own copy so they
import nothing of the gateway they are the oracle for."""

from __future__ import annotations

import os
import traceback


def brief(exc: BaseException) -> str:
    """`KeyError at fs_api.py:212 in _uuid_kill`."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {os.path.basename(last.filename)}:{last.lineno} in {last.name}"
