"""FreeSWITCH's reply texts (mod_commands.c), rendered from normalized results and typed errors
so that a Webitel client reads the same `info` whichever switch ran the command."""

from __future__ import annotations

import logging
import re

from gateway.control import (
    CommandError,
    InvalidArgument,
    NotFound,
    OriginateFailed,
    Rejected,
    Unavailable,
)

from .errors import WebitelError

log = logging.getLogger("callgate.webitel")

NO_SUCH_CHANNEL = "-ERR No such channel!\n"
HOLD_OK = "+OK Success\n"
HOLD_FAILED = "-ERR Operation failed\n"
KILL_OK = "+OK\n"
ESL_UNDEFINED = "ESL response undefined"  # what the engine said when no reply came back
_CAUSE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def ok(info: str) -> dict[str, str]:
    return {"status": "OK", "info": info}


def new_leg(uuid: str) -> str:
    return f"+OK {uuid}\n"


def hupall(cause: str, domain: str | None) -> str:
    if domain is None:
        return f"+OK hangup all channels with cause {cause}\n"
    return f"+OK hangup all channels matching [domain_name]=[{domain}] with cause: {cause}\n"


def _unavailable(exc: CommandError) -> WebitelError:
    log.warning("webitel: switch unavailable: %s", exc.message)
    return WebitelError(500, ESL_UNDEFINED)


def kill_error(exc: CommandError) -> WebitelError:
    if isinstance(exc, Unavailable):
        return _unavailable(exc)
    return WebitelError(500, NO_SUCH_CHANNEL)  # uuid_kill's only failure


def hold_error(exc: CommandError) -> WebitelError | None:
    """None when the answer is FreeSWITCH's `+OK Success` for a uuid it does not know."""
    if isinstance(exc, NotFound):
        return None
    if isinstance(exc, Unavailable):
        return _unavailable(exc)
    return WebitelError(400, HOLD_FAILED)


def originate_error(exc: CommandError) -> WebitelError:
    """`-ERR <HANGUP_CAUSE>\n`, as originate prints when the new leg fails."""
    if isinstance(exc, Unavailable):
        return _unavailable(exc)
    if isinstance(exc, NotFound):
        return WebitelError(500, NO_SUCH_CHANNEL)
    if isinstance(exc, InvalidArgument):
        return WebitelError(500, "Bad parameters")
    if isinstance(exc, OriginateFailed) and _CAUSE.match(exc.cause):
        return WebitelError(500, f"-ERR {exc.cause}\n")
    if isinstance(exc, Rejected) and _CAUSE.match(exc.message):
        return WebitelError(500, f"-ERR {exc.message}\n")
    return WebitelError(500, "-ERR NORMAL_TEMPORARY_FAILURE\n")
