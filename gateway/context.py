"""The gateway's shared parts, handed to every dialect when it builds its sub-applications."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .config import Settings
from .control import Control
from .directory import Directory
from .store import ChannelStore
from .switch import SwitchBackend


@dataclass
class Gateway:
    settings: Settings
    store: ChannelStore
    directory: Directory
    control: Control
    backends: dict[str, SwitchBackend] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, backends: bool = True) -> Gateway:
        directory = Directory(settings)
        store = ChannelStore(directory.attribute)
        directory.store = store
        made: dict[str, SwitchBackend] = {}
        if backends:
            import backends as switch_backends  # the package picks the kind: the core names none

            made = {b.name: switch_backends.create_backend(b, store) for b in settings.backends}
        control = Control(store, made, directory)
        return cls(settings, store, directory, control, made)


GATEWAY = web.AppKey("gateway", Gateway)
