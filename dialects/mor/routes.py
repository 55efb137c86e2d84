"""`/billing/api/<method>`: MOR's request filters in its order, then the method.

Order (X8 before_filters): API allowed, GET allowed, the user and its key, the hash, the method.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.context import GATEWAY, Gateway
from gateway.render_cache import RenderCache

from . import calls, filters, render, rows
from .auth import api_keys, authenticate, check_password, find_users, hash_matches
from .errors import FilterError, UndefinedMethod
from .params import read_params
from .scope import Scope
from .settings import MorSettings
from .throttle import LoginThrottle

Params = dict[str, str]
Method = Callable[[web.Request, Gateway, MorSettings, Params], Awaitable[bytes]]


def call_ids(gw: Gateway) -> calls.CallIds:
    ids = gw.extras.get("mor.call_ids")
    if ids is None:
        ids = gw.extras["mor.call_ids"] = calls.CallIds(gw.store)
    return ids


def visible_calls(gw: Gateway, opts: MorSettings, scope: Scope, *, now: float
                  ) -> list[tuple[int, calls.Call]]:
    """The calls with a leg in scope, numbered, oldest first; calls older than the hide
    window are left out as MOR's GUI does."""
    found = calls.group(gw.store, scope.channels())
    hours = opts.hide_calls_older_than_hours
    if hours:
        cutoff = now - hours * 3600
        found = [c for c in found if not c.a.created or c.a.created >= cutoff]
    found.sort(key=lambda c: (c.a.created, c.a.id))
    ids = call_ids(gw)
    return sorted(((ids.id_for(c.key), c) for c in found), key=lambda pair: pair[0])


async def active_calls_get(request: web.Request, gw: Gateway, opts: MorSettings,
                           params: Params) -> bytes:
    user = authenticate(gw, opts, params, ("u",))
    scope = Scope(gw, user)
    wanted = filters.parse(gw, opts, scope, params)
    now = time.time()
    servers = {b.name: b.server_id for b in gw.settings.backends}
    cache = _rows(gw)
    show_provider = scope.is_admin
    fragments: list[bytes] = []
    timed: list[tuple[int, int, str]] = []
    for n, call in visible_calls(gw, opts, scope, now=now):
        a, b = call.a, call.b
        # a row reads its two legs (the directory and settings are fixed) and its number
        stamp = (a.version, b.version if b is not None else 0, n)
        cached = cache.lookup(a, stamp)
        if cached is None:
            cached = cache.put(a, stamp, rows.Cached(rows.build(gw, opts, call, n, servers)))
        if wanted.matches(cached.row):
            duration = cached.duration(now)
            if duration is not None:
                timed.append((len(fragments), rows.DURATION_AT, duration))
            fragments.append(cached.xml(show_provider))
    return render.active_calls_of(fragments, timed)


def _rows(gw: Gateway) -> RenderCache[rows.Cached]:
    """Rows by A-leg, kept while the stamp of their legs holds (see `active_calls_get`)."""
    cache = gw.extras.get("mor.rows")
    if cache is None:
        cache = gw.extras["mor.rows"] = RenderCache(None, gw.store)
    return cache


def _throttle(gw: Gateway) -> LoginThrottle:
    throttle = gw.extras.get("mor.login_throttle")
    if throttle is None:
        throttle = gw.extras["mor.login_throttle"] = LoginThrottle()
    return throttle


async def user_login(request: web.Request, gw: Gateway, opts: MorSettings,
                     params: Params) -> bytes:
    """`u` + `p`; a `hash` (over u, p) is checked only when sent, as X8 does not require one."""
    address = request.remote or ""
    throttle = _throttle(gw)
    if throttle.blocked(address):
        return render.action("login", [
            ("status", "failed"),
            ("status_message", "Please wait 10 seconds before trying to login again")])
    login, password = params.get("u", ""), params.get("p", "")
    user = next((u for u in find_users(gw, login) if check_password(u, password)), None)
    if user is None:
        throttle.failed(address)
        return render.action("login", [("status", "failed"),
                                       ("status_message", "Login failed")])
    given = params.get("hash", "")
    if given and not opts.disable_hash_checking:
        keys = api_keys(gw, opts, user)
        if not keys:
            raise FilterError("API must have Secret Key")
        if not hash_matches(opts, given, (login, password), keys):
            raise FilterError("Incorrect hash")
    throttle.succeeded(address)
    return render.action("login", [("status", "ok"), ("user_id", user.number),
                                   ("status_message", "Successfully logged in")])


async def user_logout(request: web.Request, gw: Gateway, opts: MorSettings,
                      params: Params) -> bytes:
    if not find_users(gw, params.get("u", "")):
        return render.action("logout", [("status", "failed")])
    authenticate(gw, opts, params, ("u",))
    return render.action("logout", [("status", "ok")])


METHODS: dict[str, Method] = {
    "active_calls_get": active_calls_get,
    "user_login": user_login,
    "login": user_login,
    "user_logout": user_logout,
    "logout": user_logout,
}


async def api(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    opts: MorSettings = gw.settings.dialect("mor")
    params = await read_params(request, gw.settings.gateway.max_body)
    if not opts.allow_api:
        raise FilterError("API Requests are disabled")
    if request.method in ("GET", "HEAD") and not opts.allow_get:
        raise FilterError("GET Requests are disabled")
    name = request.match_info.get("method", "")
    method = METHODS.get(name)
    if method is None:
        raise UndefinedMethod(name)
    body = await method(request, gw, opts, params)
    return render.respond(body, opts, inline=params.get("test") == "1")


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/{method:[^/]*}", api)
    app.router.add_route("*", "", api)
