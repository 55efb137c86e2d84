"""The gateway's shared parts, handed to every dialect when it builds its sub-applications."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .config import Settings
from .control import Control
from .directory import Directory
from .store import ChannelStore

if TYPE_CHECKING:
    from backends.base import SwitchBackend


@dataclass
class Gateway:
    settings: Settings
    store: ChannelStore
    directory: Directory
    control: Control
    backends: dict[str, SwitchBackend] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # per-dialect shared state (sessions...)

    @classmethod
    def build(cls, settings: Settings, backends: bool = True) -> Gateway:
        directory = Directory(settings)
        store = ChannelStore(directory.attribute)
        directory.store = store
        made: dict[str, SwitchBackend] = {}
        if backends:
            from backends import create_backend

            made = {b.name: create_backend(b, store) for b in settings.backends}
        control = Control(store, made, directory)
        return cls(settings, store, directory, control, made)


GATEWAY = web.AppKey("gateway", Gateway)
