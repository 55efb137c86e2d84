"""`[dialects.webitel]`: list envelope, session lifetime, the expired-token status and the
WebSocket API's limits.

`expired_status` exists because the engine answered an expired token with 400 until 2017-05 and
with 401 afterwards; clients written against either may depend on it. `socket_timeout_unauthorized`
and `max_socket_per_user` are the engine's `application:socketTimeUnauthorized` (seconds, 5 in
its shipped config) and `maxSocketPerUser` (10; root is exempt).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Section


@dataclass(frozen=True, slots=True)
class WebitelSettings:
    list_envelope: bool = True
    session_days: int = 100
    expired_status: int = 401
    socket_timeout_unauthorized: float = 5.0
    max_socket_per_user: int = 10
    socket_queue: int = 1000  # frames waiting for one socket before it is closed as too slow


def parse(sec: Section) -> WebitelSettings:
    expired = sec.int("expired_status", 401)
    if expired not in (400, 401):
        sec.error("expired_status", f"expected 400 or 401, got {expired}")
        expired = 401
    return WebitelSettings(
        list_envelope=sec.bool("list_envelope", True),
        session_days=sec.int("session_days", 100, minimum=1),
        expired_status=expired,
        socket_timeout_unauthorized=sec.float("socket_timeout_unauthorized", 5.0, minimum=0.01),
        max_socket_per_user=sec.int("max_socket_per_user", 10, minimum=1),
        socket_queue=sec.int("socket_queue", 1000, minimum=1),
    )
