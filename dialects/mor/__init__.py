"""The MOR (Kolmisoft) dialect: the XML API's `active_calls_get`, `user_login`/`user_logout`
and the X18 REST drop-calls service, all under `/billing/api`."""

from __future__ import annotations

from aiohttp import web

from gateway.config import DialectSettings
from gateway.context import Gateway
from gateway.dialect import DialectApps

from . import routes, v2
from .api_doc import API
from .auth import sha1_hex
from .errors import mor_errors
from .settings import MorSettings
from .state import STATE, build_state

#: the OpenAPI document's title, security and shared schemas (gateway/openapi.py)
OPENAPI = API


def create_apps(gw: Gateway, dialect_settings: DialectSettings) -> DialectApps:
    options = dialect_settings.options
    if not isinstance(options, MorSettings):
        options = MorSettings()
    app = web.Application(middlewares=[mor_errors],
                          client_max_size=gw.settings.gateway.max_body)
    app[STATE] = build_state(gw, options)
    v2.add_routes(app)  # before the catch-all method route
    routes.add_routes(app)
    return DialectApps(mounts={"/billing/api": app})


def demo_lines(gw: Gateway) -> list[str]:
    opts = gw.settings.dialect("mor")
    key = opts.api_secret if opts is not None else ""
    return [
        f"MOR: POST {{BASE}}/billing/api/active_calls_get, hash = sha1(u + API key); "
        f"admin key {key!r}, users admin/alice/bob..., passwords demo-<username>",
        f"  curl -X POST '{{BASE}}/billing/api/active_calls_get?u=admin"
        f"&hash={sha1_hex('admin' + key)}'",
        "  curl -X POST -u alice:demo-alice {BASE}/billing/api/v2/authentication/login",
    ]
