"""Kazoo crossbar `channels` API (4.3 flavour) over the gateway's live channel table."""

from __future__ import annotations

from aiohttp import web

from gateway.config import DialectSettings
from gateway.context import Gateway
from gateway.dialect import DialectApps

from .errors import error_middleware
from .routes import v1_routes, v2_routes
from .settings import KazooSettings
from .state import STATE, KazooState


def create_apps(gw: Gateway, dialect_settings: DialectSettings) -> DialectApps:
    options = dialect_settings.options
    if not isinstance(options, KazooSettings):
        options = KazooSettings()
    state = KazooState.build(gw, options)
    v2 = web.Application(middlewares=[error_middleware],
                         client_max_size=gw.settings.gateway.max_body)
    v2_routes(v2)
    v1 = web.Application(middlewares=[error_middleware])
    v1_routes(v1)
    for app in (v2, v1):
        app[STATE] = state
    return DialectApps(mounts={"/v2": v2, "/v1": v1})


def demo_lines(gw: Gateway) -> list[str]:
    acme = gw.directory.account_by_name("Acme")
    acme_id = acme.id if acme else "{ACCOUNT_ID}"
    md5 = "$(printf %s 'alice:demo-alice' | md5sum | cut -d' ' -f1)"
    return [
        "Kazoo crossbar (/v2): users admin/demo-admin (Root Telco, superduper), "
        "alice/demo-alice (Acme), erin/demo-erin (Beta); password hash = md5('user:password')",
        f"  TOKEN=$(curl -s -X PUT {{BASE}}/v2/user_auth -H 'Content-Type: application/json' "
        f"-d '{{\"data\":{{\"credentials\":\"'{md5}'\",\"account_name\":\"Acme\"}}}}' "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"auth_token\"])')",
        f"  curl -s -H \"X-Auth-Token: $TOKEN\" {{BASE}}/v2/accounts/{acme_id}/channels",
    ]
