"""The aiohttp application: backends started and stopped with it, /healthz, /metrics, and every
enabled dialect mounted as sub-applications at its native paths, each tagged with the dialect's
name so requests are counted and logged as that dialect's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TypedDict

from aiohttp import web

import dialects
import panel

from . import logs, openapi
from .context import GATEWAY, Gateway
from .dialect import DialectApps, Listener
from .errors import MAX_LINE, PLATFORM_5XX
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


#: dialect name -> its sub-applications by prefix, on the listener that serves it
DIALECT_MOUNTS = web.AppKey("dialect_mounts", dict[str, dict[str, web.Application]])
#: dialect name -> its OpenAPI document, written once on first request
OPENAPI_DOCS = web.AppKey("openapi_docs", dict[str, bytes])


async def openapi_doc(request: web.Request) -> web.Response:
    """`/openapi/<dialect>.json`: the document built from the dialect's registered routes."""
    name = request.match_info["dialect"]
    mounts = request.app[DIALECT_MOUNTS].get(name)
    api = getattr(dialects.load(name), "OPENAPI", None) if mounts is not None else None
    if mounts is None or not isinstance(api, openapi.Api):
        raise web.HTTPNotFound(text=f"no OpenAPI document for {name[:64]!r}\n")
    cache = request.app[OPENAPI_DOCS]
    if name not in cache:
        cache[name] = json.dumps(openapi.document(api, mounts, name), indent=1).encode()
    return web.Response(body=cache[name], content_type="application/json")


def _mount(app: web.Application, gw: Gateway, name: str) -> list[Listener]:
    dsettings = gw.settings.dialects[name]
    parts: DialectApps = dialects.load(name).create_apps(gw, dsettings)
    if DIALECT_MOUNTS in app:
        app[DIALECT_MOUNTS][name] = dict(parts.mounts)
    for prefix, sub in parts.mounts.items():
        sub[GATEWAY] = gw
        sub[DIALECT] = name
        sub[PLATFORM_5XX] = gw.settings.gateway.platform_5xx
        app.add_subapp(prefix, sub)
    for method, path, handler in parts.root:
        gw.metrics.tag_route(app.router.add_route(method, path, handler), name)
    for listener in parts.listeners:
        listener.app[GATEWAY] = gw
        listener.app[DIALECT] = name
        listener.app[PLATFORM_5XX] = gw.settings.gateway.platform_5xx
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
    logs.quiet_bad_http()
    app = web.Application(client_max_size=gw.settings.gateway.max_body,
                          middlewares=[gw.metrics.middleware])
    app[GATEWAY] = gw
    app[PLATFORM_5XX] = gw.settings.gateway.platform_5xx
    app.router.add_get("/healthz", healthz)
    app[DIALECT_MOUNTS] = {}
    app[OPENAPI_DOCS] = {}
    app.router.add_get("/openapi/{dialect}.json", openapi_doc)
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
    logs.quiet_bad_http()
    out = []
    for name, d in gw.settings.dialects.items():
        if d.enabled and d.port:
            app = web.Application(client_max_size=gw.settings.gateway.max_body,
                                  middlewares=[gw.metrics.middleware])
            app[GATEWAY] = gw
            app[DIALECT] = name
            app[PLATFORM_5XX] = gw.settings.gateway.platform_5xx
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
