"""The gateway's shared parts, handed to every dialect when it builds its sub-applications."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .config import Settings
from .control import Control
from .directory import Directory
from .metrics import Metrics
from .store import ChannelStore
from .switch import SwitchBackend


@dataclass
class Gateway:
    settings: Settings
    store: ChannelStore
    directory: Directory
    control: Control
    backends: dict[str, SwitchBackend] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # per-dialect shared state (sessions...)
    metrics: Metrics = field(init=False)  # its own registry: a process may run many gateways

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.store, self.backends, self.control)

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
