"""Kazoo crossbar `channels` API (4.3 flavour) over the gateway's live channel table."""

from __future__ import annotations

from aiohttp import web

from gateway.config import DialectSettings
from gateway.context import Gateway
from gateway.dialect import DialectApps, Listener

from .api_doc import API
from .blackhole import listener_app
from .errors import error_middleware
from .routes import v1_routes, v2_routes
from .settings import KazooSettings
from .state import STATE, KazooState

#: The blackhole listener's name; demo lines write `{kazoo-blackhole}` where its bound
#: `host:port` goes.
SOCKET = "kazoo-blackhole"
#: the OpenAPI document's title, security and shared schemas (gateway/openapi.py)
OPENAPI = API


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
    listeners = []
    if options.socket_listen is not None:
        host, port = options.socket_listen
        listeners.append(Listener(SOCKET, host, port, listener_app(state)))
    return DialectApps(mounts={"/v2": v2, "/v1": v1}, listeners=listeners)


def demo_lines(gw: Gateway) -> list[str]:
    acme = gw.directory.account_by_name("Acme")
    acme_id = acme.id if acme else "{ACCOUNT_ID}"
    md5 = "$(printf %s 'alice:demo-alice' | md5sum | cut -d' ' -f1)"
    lines = [
        "Kazoo crossbar (/v2): users admin/demo-admin (Root Telco, superduper), "
        "alice/demo-alice (Acme), erin/demo-erin (Beta); password hash = md5('user:password')",
        f"  TOKEN=$(curl -s -X PUT {{BASE}}/v2/user_auth -H 'Content-Type: application/json' "
        f"-d '{{\"data\":{{\"credentials\":\"'{md5}'\",\"account_name\":\"Acme\"}}}}' "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"auth_token\"])')",
        f"  curl -s -H \"X-Auth-Token: $TOKEN\" {{BASE}}/v2/accounts/{acme_id}/channels",
    ]
    options = gw.settings.dialect("kazoo")
    if isinstance(options, KazooSettings) and options.socket_listen is not None:
        lines.append("  live call events (blackhole websocket; Monster UI `socket`: "
                     f"ws://{{{SOCKET}}}):")
        lines.append(f"  python3 -m dialects.kazoo.socket_client ws://{{{SOCKET}}} \"$TOKEN\" "
                     f"{acme_id} 'call.*.*'")
    return lines
