"""The panel's routes on the main listener: its static files (a fixed list, read from the
package, so no path ever reaches the file system), and two small JSON helpers."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from aiohttp import web

from gateway.context import GATEWAY, Gateway
from gateway.credentials import same_secret
from gateway.errors import ClientError
from gateway.http import parse_json, read_body

#: Every file the page loads, with its type. Anything else under /panel/ is a 404.
FILES = {
    "index.html": "text/html",
    "panel.css": "text/css",
    "panel.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}

#: The page may load and connect to this origin only; no inline script or style, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

MAX_BODY = 4096
#: At most this many hostnames per `/panel/nodes` question.
MAX_HOSTNAMES = 64


def _load() -> dict[str, bytes]:
    static = resources.files("panel").joinpath("static")
    return {name: static.joinpath(name).read_bytes() for name in FILES}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                        headers=SECURITY_HEADERS)


async def _redirect(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/panel/", headers=SECURITY_HEADERS)


def _files_handler(files: dict[str, bytes]) -> Any:
    async def serve(request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        if name not in files:
            raise web.HTTPNotFound(headers=SECURITY_HEADERS)
        return web.Response(body=files[name], content_type=FILES[name],
                            charset="utf-8" if FILES[name].startswith("text/") else None,
                            headers=SECURITY_HEADERS)
    return serve


def login_name(gw: Gateway, username: str, password: str) -> tuple[int, dict[str, str]]:
    """The Webitel login (`<username>@<realm>`, or `root` for the superduper user) of the one
    directory user with this username and password. The realm is told only to whoever knows
    the password, so the answer reveals no more than `/login` itself does."""
    directory = gw.directory
    matched = [u for u in directory.users_by_username(username)
               if u.password and same_secret(password, u.password)]
    if not matched:
        return 401, {"error": "Wrong username or password."}
    if len(matched) > 1:
        return 409, {"error": "This username exists in several accounts: "
                              "type your account's realm too."}
    user = matched[0]
    supers = directory.superduper_users()
    if supers and supers[0].id == user.id:
        return 200, {"login": "root"}
    account = directory.account(user.account)
    if account is None or not account.realm:
        return 409, {"error": "Your account has no realm to sign in with."}
    return 200, {"login": f"{user.username}@{account.realm}"}


async def signin_name(request: web.Request) -> web.Response:
    try:
        body = parse_json(await read_body(request, MAX_BODY), blank={})
    except ClientError:
        return _json({"error": "Bad request."}, 400)
    username = body.get("username") if isinstance(body, dict) else None
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(username, str) or not username or not isinstance(password, str):
        return _json({"error": "Type a username and a password."}, 400)
    gw = request.app[GATEWAY]
    # it checks a password, so it is a login like any other: the same throttle
    attempt = await gw.logins.attempt(request, "panel", username)
    if attempt.locked:
        return _json({"error": "Too many failed sign-ins: try again later."}, 429)
    status, answer = login_name(gw, username, password)
    if status == 200:
        await attempt.succeeded()
    return _json(answer, status)


def node_of_hostname(gw: Gateway, hostname: str) -> str:
    """The backend whose channels report `hostname` (FreeSWITCH's switch name), or whose node
    name it is (Asterisk channels without a SystemName carry the node)."""
    if hostname in gw.backends:
        return hostname
    for name in gw.backends:
        if any(ch.hostname == hostname for ch in gw.store.by_node(name)):
            return name
    return ""


async def nodes(request: web.Request) -> web.Response:
    """`?hostname=H&hostname=...` -> `{H: node}`: only for hostnames the page already holds (from
    its own channel list), so no switch name is told that a caller did not already know."""
    gw = request.app[GATEWAY]
    asked = request.query.getall("hostname", [])[:MAX_HOSTNAMES]
    found = {h: node for h in asked if (node := node_of_hostname(gw, h))}
    return _json({"nodes": found})


def add_routes(app: web.Application) -> None:
    """Mount the panel on `app` (the main listener)."""
    serve = _files_handler(_load())
    app.router.add_get("/panel", _redirect)
    app.router.add_get("/panel/", serve)
    app.router.add_post("/panel/signin-name", signin_name)
    app.router.add_get("/panel/nodes", nodes)
    app.router.add_get("/panel/{name}", serve)
