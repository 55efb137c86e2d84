"""Webitel dialect: the 2015-2017 Webitel engine's REST API (`/login`, `/logout`, `/api/v2`,
`/api/v1`) over the channel store, with FreeSWITCH's own row and reply formats."""

from __future__ import annotations

from aiohttp import web

from gateway.config import DialectSettings
from gateway.context import Gateway

from .auth import SESSIONS, root_user
from .routes import api_app, login_app, logout_app
from .sessions import Sessions


def create_apps(gw: Gateway, dialect_settings: DialectSettings) -> dict[str, web.Application]:
    options = dialect_settings.options
    gw.extras.setdefault(
        SESSIONS, Sessions(gw.settings.gateway.token_secret, options.session_days))
    return {"/login": login_app(), "/logout": logout_app(), "/api": api_app()}


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
    ]
