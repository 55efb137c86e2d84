"""The gateway's shared parts, handed to every dialect when it builds its sub-applications."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from .audit import AuditLog
from .config import Settings
from .control import Control
from .directory import Directory
from .metrics import Metrics
from .scale.shared import MemoryShared, SharedState
from .store import ChannelStore
from .switch import SwitchBackend
from .throttle import LoginGuard, SharedBuckets, guard_of

if TYPE_CHECKING:
    from .scale.cluster import Cluster


@dataclass
class Gateway:
    settings: Settings
    store: ChannelStore
    directory: Directory
    control: Control
    backends: dict[str, SwitchBackend] = field(default_factory=dict)
    # what dialects grant (sessions, tokens, assignments): in Redis with `redis_url`, else memory
    shared: SharedState = field(default_factory=MemoryShared)
    scale: Cluster | None = None  # with `redis_url`: leases, node streams, shared state
    logins: LoginGuard = field(default_factory=LoginGuard)  # failed-login throttle
    audit: AuditLog | None = None  # the command trail, when `audit_log` is set
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
        audit = AuditLog(settings.gateway.audit_log) if settings.gateway.audit_log else None
        control = Control(store, made, directory, audit=audit)
        gw = cls(settings, store, directory, control, made, logins=guard_of(settings.gateway),
                 audit=audit)
        if settings.gateway.redis_url:
            gw._scale_out(backends)
        return gw

    def _scale_out(self, backends: bool) -> None:
        """Several instances over one Redis: each backend keeps a command connection only; the
        lease holder of a node opens its event connection."""
        import backends as switch_backends

        from .scale.cluster import Cluster

        by_name = {b.name: b for b in self.settings.backends}
        for backend in self.backends.values():
            backend.subscribe_events = False  # type: ignore[attr-defined]

        def events_backend(node: str) -> SwitchBackend:
            return switch_backends.create_backend(by_name[node], self.store)

        g = self.settings.gateway
        self.scale = Cluster(g.redis_url, self.store, list(by_name) if backends else [],
                             events_backend, lease_ttl=g.redis_lease_ttl)
        self.shared = self.scale.shared
        self.logins.buckets = SharedBuckets(self.shared)  # failures count on every instance


GATEWAY = web.AppKey("gateway", Gateway)
