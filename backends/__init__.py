"""Switch backends: FreeSWITCH over the Event Socket, Asterisk over AMI.

The core names no backend: it asks this package. Each kind is `backends/<kind>.py` (the
backend, a `ReconnectingBackend`) and `backends/<kind>_settings.py` (the keys only that kind
reads: `parse(section) -> options`, `DEFAULT_PORT`, `DEFAULT_RECORDINGS_DIR`), dispatched by the
`type` of its `[[backends]]` table.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import BackendSettings
    from gateway.store import ChannelStore
    from gateway.switch import SwitchBackend

#: type -> the backend class in `backends/<type>.py`; in the order check-config names them.
KINDS: dict[str, str] = {"freeswitch": "FreeSwitchBackend", "asterisk": "AsteriskBackend"}


def kinds() -> tuple[str, ...]:
    return tuple(KINDS)


def settings_module(kind: str) -> ModuleType:
    """`backends/<kind>_settings.py`; an import error propagates to the caller."""
    return importlib.import_module(f"{__name__}.{kind}_settings")


def create_backend(settings: BackendSettings, store: ChannelStore) -> SwitchBackend:
    if settings.type not in KINDS:
        raise ValueError(f"unknown backend type {settings.type}")
    module = importlib.import_module(f"{__name__}.{settings.type}")
    backend: SwitchBackend = getattr(module, KINDS[settings.type])(settings, store)
    return backend
