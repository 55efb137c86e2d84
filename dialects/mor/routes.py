"""`/billing/api/<method>`: MOR's request filters in its order, then the method.

Order (X8 before_filters): API allowed, GET allowed, the user and its key, the hash, the method.
Each method is an `Endpoint` whose `auth` runs those filters; any verb reaches them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import hdrs, web

from gateway.audit import set_actor
from gateway.directory import User
from gateway.endpoint import Endpoint, add_endpoints

from . import calls, filters, listing, render
from .api_doc import XML_DOCS
from .auth import (
    api_keys,
    authenticate,
    check_password,
    find_users,
    hash_matches,
    signature,
)
from .errors import FilterError, UndefinedMethod
from .params import read_params
from .scope import Scope
from .state import STATE, MorState

Params = dict[str, str]

#: MOR's answer to a login from an address it is throttling (its own words, whatever the
#: configured window); and the filter error a hash-signed method answers while locked.
LOGIN_WAIT = "Please wait 10 seconds before trying to login again"
HASH_WAIT = "Too many failed attempts, please wait before trying again"

#: What the hash of a hash-signed method covers.
SIGNED_BY_U = ("u",)

#: The XML API answers every verb (GET only when allowed); Rails routes them all to it.
ANY_METHOD = tuple(sorted(hdrs.METH_ALL))


@dataclass(slots=True)
class Api:
    """A request past MOR's filters: its state, merged parameters and, once the hash is
    checked, the user."""

    state: MorState
    params: Params
    user: User | None = None


async def api_filters(request: web.Request) -> Api:
    """The filters every XML method runs first: parameters read, API allowed, GET allowed."""
    state = request.app[STATE]
    params = await read_params(request, state.max_body)
    opts = state.options
    if not opts.allow_api:
        raise FilterError("API Requests are disabled")
    if request.method in ("GET", "HEAD") and not opts.allow_get:
        raise FilterError("GET Requests are disabled")
    return Api(state, params)


async def hash_signed(request: web.Request) -> Api:
    """The filters, then the user and the hash over `u`."""
    api = await api_filters(request)
    api.user = await signed_user(request, api)
    set_actor("mor", api.user.id, api.user.username, api.user.account)
    return api


async def signed_user(request: web.Request, api: Api) -> User:
    """`authenticate` behind the login throttle: a wrong hash or an unknown user counts as a
    failed login of the client's address and of `u`; while locked even a right hash is
    refused with MOR's own filter error. A signature that passed before (a poller's) is
    admitted by the throttle without being counted, and refused the same while locked."""
    state, login = api.state, api.params.get("u", "")
    known = state.signed.get(signature(api.params, SIGNED_BY_U))
    if known is not None:
        if not await state.gw.logins.admit(request, "mor", login):
            raise FilterError(HASH_WAIT)
        return known
    attempt = await state.gw.logins.attempt(request, "mor", login)
    if attempt.locked:
        raise FilterError(HASH_WAIT)
    # a failure raises, leaving the attempt counted; a success wipes the counts
    user = authenticate(state.gw, state.options, api.params, SIGNED_BY_U, state.signed)
    await attempt.succeeded()
    return user


def _answer(api: Api, body: bytes) -> web.Response:
    return render.respond(body, api.state.options, inline=api.params.get("test") == "1")


def visible_calls(state: MorState, scope: Scope, *, now: float
                  ) -> list[tuple[int, calls.Call]]:
    """The calls with a leg in scope, numbered, oldest first; calls older than the hide
    window are left out as MOR's GUI does."""
    found = calls.group(state.gw.store, scope.channels())
    hours = state.options.hide_calls_older_than_hours
    if hours:
        cutoff = now - hours * 3600
        found = [c for c in found if not c.a.created or c.a.created >= cutoff]
    found.sort(key=lambda c: (c.a.created, c.a.id))
    ids = state.call_ids
    return sorted(((ids.id_for(c.key), c) for c in found), key=lambda pair: pair[0])


async def active_calls_get(request: web.Request, api: Api) -> web.Response:
    """The page is spliced from each call's cached piece (listing.py); per request only
    scoping, the filters, the durations and the envelope are computed."""
    state = api.state
    assert api.user is not None
    scope = Scope(state.gw, api.user)
    wanted = filters.parse(state, scope, api.params)
    return _answer(api, listing.page(state, scope, wanted, time.time()))


async def user_login(request: web.Request, api: Api) -> web.Response:
    """`u` + `p`; a `hash` (over u, p) is checked only when sent, as X8 does not require one."""
    state, params = api.state, api.params
    opts = state.options
    login, password = params.get("u", ""), params.get("p", "")
    attempt = await state.gw.logins.attempt(request, "mor", login)
    if attempt.locked:
        return _answer(api, render.action("login", [
            ("status", "failed"), ("status_message", LOGIN_WAIT)]))
    user = next((u for u in find_users(state.gw, login) if check_password(u, password)), None)
    if user is None:
        await attempt.failed()
        return _answer(api, render.action("login", [("status", "failed"),
                                                    ("status_message", "Login failed")]))
    given = params.get("hash", "")
    if given and not opts.disable_hash_checking:
        keys = api_keys(state.gw, opts, user)
        if not keys:
            raise FilterError("API must have Secret Key")
        if not hash_matches(opts, given, (login, password), keys):
            await attempt.failed()
            raise FilterError("Incorrect hash")
    await attempt.succeeded()
    return _answer(api, render.action("login", [
        ("status", "ok"), ("user_id", user.number),
        ("status_message", "Successfully logged in")]))


async def user_logout(request: web.Request, api: Api) -> web.Response:
    state = api.state
    if not find_users(state.gw, api.params.get("u", "")):
        return _answer(api, render.action("logout", [("status", "failed")]))
    await signed_user(request, api)
    return _answer(api, render.action("logout", [("status", "ok")]))


async def undefined(request: web.Request, api: Api) -> web.Response:
    raise UndefinedMethod(request.match_info.get("method", ""))


def add_routes(app: web.Application) -> None:
    calls_get = Endpoint(ANY_METHOD, active_calls_get, hash_signed)
    login = Endpoint(ANY_METHOD, user_login, api_filters)
    logout = Endpoint(ANY_METHOD, user_logout, api_filters)
    other = Endpoint(ANY_METHOD, undefined, api_filters)
    add_endpoints(app, [
        ("/active_calls_get", calls_get),
        ("/user_login", login),
        ("/login", login),
        ("/user_logout", logout),
        ("/logout", logout),
        ("/{method:[^/]*}", other),
        ("", other),
    ], docs=XML_DOCS)
