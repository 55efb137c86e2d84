"""The aiohttp application: backends started and stopped with it, /healthz, /metrics, and every
enabled dialect mounted as sub-applications at its native paths, each tagged with the dialect's
name so requests are counted and logged as that dialect's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypedDict

from aiohttp import web

import dialects
import panel

from .context import GATEWAY, Gateway
from .dialect import DialectApps, Listener
from .errors import MAX_LINE
from .metrics import DIALECT
from .switch import ConnState

log = logging.getLogger("callgate.app")


async def healthz(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    report = [b.health() for b in gw.backends.values()]
    ok = all(b.state is ConnState.CONNECTED for b in gw.backends.values())
    body: dict[str, object] = {"backends": report}
    if gw.scale is not None:
        body["redis"] = gw.scale.health()
        ok = ok and gw.scale.link.up
    return web.json_response(body, status=200 if ok else 503)


def _mount(app: web.Application, gw: Gateway, name: str) -> list[Listener]:
    dsettings = gw.settings.dialects[name]
    made = dialects.load(name).create_apps(gw, dsettings)
    parts = made if isinstance(made, DialectApps) else DialectApps(mounts=made)
    for prefix, sub in parts.mounts.items():
        sub[GATEWAY] = gw
        sub[DIALECT] = name
        app.add_subapp(prefix, sub)
    for method, path, handler in parts.root:
        gw.metrics.tag_route(app.router.add_route(method, path, handler), name)
    for listener in parts.listeners:
        listener.app[GATEWAY] = gw
        listener.app[DIALECT] = name
        listener.app.middlewares.insert(0, gw.metrics.middleware)  # outermost, as on ours
    return parts.listeners


class ServerLimits(TypedDict):
    max_line_size: int


#: Request-line limit for every server the gateway runs: long enough that an over-long URL
#: reaches the dialect, which answers it natively (gateway/errors.py MAX_URL).
SERVER_LIMITS: ServerLimits = {"max_line_size": MAX_LINE}

EXTRA_LISTENERS = web.AppKey("extra_listeners", list[Listener])


def build_app(gw: Gateway, *, manage_backends: bool = True) -> web.Application:
    """The shared listener's application. Dialects with their own `listen` are left out here
    and served by `build_dialect_apps`; extra listeners the mounted dialects asked for are
    kept under `EXTRA_LISTENERS` for whoever serves the app."""
    app = web.Application(client_max_size=gw.settings.gateway.max_body,
                          middlewares=[gw.metrics.middleware])
    app[GATEWAY] = gw
    app.router.add_get("/healthz", healthz)
    panel.add_routes(app)
    app.router.add_get("/metrics", gw.metrics.handle)
    extra: list[Listener] = []
    for name, d in gw.settings.dialects.items():
        if d.enabled and not d.port:
            extra += _mount(app, gw, name)
    app[EXTRA_LISTENERS] = extra
    if manage_backends:
        app.cleanup_ctx.append(_backends_ctx)
    return app


def build_dialect_apps(gw: Gateway) -> list[tuple[str, int, web.Application]]:
    """(host, port, app) for each enabled dialect that asked for a listener of its own, and
    for each extra listener such a dialect asked for."""
    out = []
    for name, d in gw.settings.dialects.items():
        if d.enabled and d.port:
            app = web.Application(client_max_size=gw.settings.gateway.max_body,
                                  middlewares=[gw.metrics.middleware])
            app[GATEWAY] = gw
            app[DIALECT] = name
            for listener in _mount(app, gw, name):
                out.append((listener.host, listener.port, listener.app))
            out.append((d.host or gw.settings.gateway.host, d.port, app))
    return out


async def _backends_ctx(app: web.Application) -> AsyncIterator[None]:
    gw = app[GATEWAY]
    if gw.scale is not None:
        await gw.scale.start()  # RedisUnavailable: one line, before anything else starts
    for backend in gw.backends.values():
        await backend.start()
    yield
    await asyncio.gather(*(b.stop() for b in gw.backends.values()), return_exceptions=True)
    if gw.scale is not None:
        await gw.scale.stop()


async def wait_connected(gw: Gateway, wait: float = 10.0) -> bool:
    """Until every backend has connected and synced once (for the CLI and tests)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait):
            await asyncio.gather(*(b.ready.wait() for b in gw.backends.values()))
            if gw.scale is not None:  # and every node's table is in the store
                await gw.scale.wait_synced()
            return True
    return False
