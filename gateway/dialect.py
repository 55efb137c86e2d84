"""What a dialect package hands the core: the sub-applications it mounts, the routes it needs
at the root of a listener, and any listener of its own. The core mounts whatever it is given
and never names a dialect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

RootHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Listener:
    """An extra socket a dialect serves apart from its HTTP paths (Kazoo's blackhole).
    `port` 0 takes a free port; `bound` is filled in with the real one once listening."""

    name: str
    host: str
    port: int
    app: web.Application
    bound: int = 0


@dataclass(slots=True)
class DialectApps:
    mounts: dict[str, web.Application] = field(default_factory=dict)  # prefix -> sub-app
    root: list[tuple[str, str, RootHandler]] = field(default_factory=list)  # (method, path, h)
    listeners: list[Listener] = field(default_factory=list)
