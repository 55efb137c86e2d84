"""`[dialects.callflow]`: where agent tokens are checked."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Section


@dataclass(frozen=True, slots=True)
class CallflowSettings:
    auth_server: str = ""  # "" = static per-user `callflow_token`s
    token_cache_seconds: float = 30.0


def parse(sec: Section) -> CallflowSettings:
    return CallflowSettings(
        auth_server=sec.str("auth_server", "").rstrip("/"),
        token_cache_seconds=sec.float("token_cache_seconds", 30.0, minimum=0.0),
    )
