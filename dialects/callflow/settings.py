"""`[dialects.callflow]`: where agent tokens are checked, and how long an agent's phone may ring."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Section


@dataclass(frozen=True, slots=True)
class CallflowSettings:
    auth_server: str = ""  # "" = static per-user `callflow_token`s
    token_cache_seconds: float = 30.0
    originate_timeout: float = 5.0  # the original's originate_timeout: phones auto-answer


def parse(sec: Section) -> CallflowSettings:
    server = sec.str("auth_server", "").rstrip("/")
    if server and not server.startswith(("http://", "https://")):
        sec.error("auth_server", f'expected an http(s) URL, got "{server}"')
    return CallflowSettings(
        auth_server=server,
        token_cache_seconds=sec.float("token_cache_seconds", 30.0, minimum=0.0),
        originate_timeout=sec.float("originate_timeout", 5.0, minimum=0.1),
    )
