"""`[dialects.webitel]`: list envelope and session lifetime."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import Section


@dataclass(frozen=True, slots=True)
class WebitelSettings:
    list_envelope: bool = True
    session_days: int = 100


def parse(sec: Section) -> WebitelSettings:
    return WebitelSettings(
        list_envelope=sec.bool("list_envelope", True),
        session_days=sec.int("session_days", 100, minimum=1),
    )
