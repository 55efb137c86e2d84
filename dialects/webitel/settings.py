"""`[dialects.webitel]`: list envelope, session lifetime and the expired-token status.

`expired_status` exists because the engine answered an expired token with 400 until 2017-05 and
with 401 afterwards; clients written against either may depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Section


@dataclass(frozen=True, slots=True)
class WebitelSettings:
    list_envelope: bool = True
    session_days: int = 100
    expired_status: int = 401


def parse(sec: Section) -> WebitelSettings:
    expired = sec.int("expired_status", 401)
    if expired not in (400, 401):
        sec.error("expired_status", f"expected 400 or 401, got {expired}")
        expired = 401
    return WebitelSettings(
        list_envelope=sec.bool("list_envelope", True),
        session_days=sec.int("session_days", 100, minimum=1),
        expired_status=expired,
    )
