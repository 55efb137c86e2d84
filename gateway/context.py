"""The gateway's shared parts, handed to every dialect when it builds its sub-applications."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .audit import AuditLog
from .config import Settings
from .control import Control
from .directory import Directory
from .store import ChannelStore
from .switch import SwitchBackend
from .throttle import LoginGuard, guard_of


@dataclass
class Gateway:
    settings: Settings
    store: ChannelStore
    directory: Directory
    control: Control
    backends: dict[str, SwitchBackend] = field(default_factory=dict)
    logins: LoginGuard = field(default_factory=LoginGuard)  # failed-login throttle
    audit: AuditLog | None = None  # the command trail, when `audit_log` is set

    @classmethod
    def build(cls, settings: Settings, backends: bool = True) -> Gateway:
        directory = Directory(settings)
        store = ChannelStore(directory.attribute)
        directory.store = store
        made: dict[str, SwitchBackend] = {}
        if backends:
            import backends as switch_backends  # the package picks the kind: the core names none

            made = {b.name: switch_backends.create_backend(b, store) for b in settings.backends}
        audit = AuditLog(settings.gateway.audit_log) if settings.gateway.audit_log else None
        control = Control(store, made, directory, audit=audit)
        return cls(settings, store, directory, control, made, guard_of(settings.gateway), audit)


GATEWAY = web.AppKey("gateway", Gateway)
