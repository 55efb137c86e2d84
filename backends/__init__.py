"""Switch backends: FreeSWITCH over the Event Socket, Asterisk over AMI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import BackendSettings
    from gateway.store import ChannelStore

    from .base import SwitchBackend


def create_backend(settings: BackendSettings, store: ChannelStore) -> SwitchBackend:
    if settings.type == "freeswitch":
        from .freeswitch import FreeSwitchBackend

        return FreeSwitchBackend(settings, store)
    if settings.type == "asterisk":
        from .asterisk import AsteriskBackend

        return AsteriskBackend(settings, store)
    raise ValueError(f"unknown backend type {settings.type}")
