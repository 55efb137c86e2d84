"""Webitel dialect: the 2015-2017 Webitel engine's REST API (`/login`, `/logout`, `/api/v2`,
`/api/v1`) over the channel store, with FreeSWITCH's own row and reply formats."""

from __future__ import annotations

from gateway.config import DialectSettings
from gateway.context import Gateway
from gateway.dialect import DialectApps
from gateway.render_cache import RenderCache
from gateway.tokens import TokenSigner

from . import scope
from .api_doc import API
from .auth import root_user
from .render import row_json
from .routes import api_app, login_app, logout_app
from .sessions import ISSUER, Sessions
from .settings import WebitelSettings
from .state import STATE, WebitelState
from .ws.hub import Hub
from .ws.socket import ws_handler

#: the OpenAPI document's title, security and shared schemas (gateway/openapi.py)
OPENAPI = API


def create_apps(gw: Gateway, dialect_settings: DialectSettings) -> DialectApps:
    options: WebitelSettings = dialect_settings.options
    signer = TokenSigner(gw.settings.gateway.token_secret, ISSUER)
    state = WebitelState(
        options=options,
        sessions=Sessions(signer, options.session_days, gw.shared),
        # the realm comes from the channel's account, which the directory keeps fixed
        rows=RenderCache(lambda ch: row_json(ch, scope.realm_of(gw, ch)), gw.store),
        max_body=gw.settings.gateway.max_body,
    )
    hub = Hub(gw)
    state.sessions.on_remove.append(hub.session_ended)
    apps = {"/login": login_app(), "/logout": logout_app(), "/api": api_app()}
    for app in apps.values():
        app[STATE] = state
    # a sub-application's shutdown runs with its parent's: every socket closes at once
    apps["/api"].on_shutdown.append(hub.shutdown)
    # the engine upgraded any path of its port; on a shared listener only `/` is Webitel's
    path = "/{tail:.*}" if dialect_settings.port else "/"
    return DialectApps(mounts=apps, root=[("GET", path, ws_handler(state, hub, gw))])


def demo_lines(gw: Gateway) -> list[str]:
    root = root_user(gw.directory)
    root_password = root.password if root is not None else "<root password>"
    login = ("{\"username\":\"alice@acme.example.com\",\"password\":\"demo-alice\"}")
    return [
        f"logins: root / {root_password} (all domains), alice@acme.example.com / demo-alice "
        "(Acme admin), erin@beta.example.com / demo-erin (Beta admin)",
        f"eval $(curl -s -XPOST -H 'Content-Type: application/json' -d '{login}' {{BASE}}/login"
        " | python3 -c \"import json,sys;s=json.load(sys.stdin);"
        "print('T='+s['token'],'K='+s['key'])\")",
        "curl -s -H \"X-Access-Token: $T\" -H \"X-Key: $K\" {BASE}/api/v2/channels",
        "WebSocket API (engine v3): upgrade at {BASE}/ (ws://), then "
        "{\"exec-uuid\":\"1\",\"exec-func\":\"auth\",\"exec-args\":"
        "{\"account\":\"alice@acme.example.com\",\"secret\":\"demo-alice\"}}",
    ]
