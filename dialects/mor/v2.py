"""MOR X18's REST service under `/billing/api/v2`: Basic login to a 15-minute JWT, then DELETE
active calls by their `active_calls_get` id (or all of them), scoped like the XML API.

It is JSON and uses real HTTP statuses; MOR says global API settings do not apply to it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiohttp import web

from gateway.audit import set_actor
from gateway.context import Gateway
from gateway.control import CommandError, NotFound, Unavailable
from gateway.directory import User
from gateway.endpoint import Endpoint, add_endpoints

from . import calls
from .api_doc import REST_DOCS
from .auth import TOKEN_TTL, basic_login, bearer_user, issue_token
from .errors import RestError
from .filters import _int
from .routes import ANY_METHOD, visible_calls
from .scope import Scope
from .state import STATE, MorState

NOT_FOUND = "Active call was not found"


@dataclass(frozen=True, slots=True)
class Bearer:
    """A v2 request with a valid token: MOR's state and the token's user."""

    state: MorState
    user: User


def _state(request: web.Request) -> MorState:
    """MOR's state, when the REST service is on (MOR answers 404 for it otherwise)."""
    state = request.app[STATE]
    if not state.options.rest_api:
        raise RestError(404, "Not found")
    return state


async def _open(request: web.Request) -> MorState:
    return _state(request)


async def _bearer(request: web.Request) -> Bearer:
    state = _state(request)
    user = bearer_user(state, request)
    set_actor("mor", user.id, user.username, user.account)
    return Bearer(state, user)


def _now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


async def login(request: web.Request, state: MorState) -> web.Response:
    user = await basic_login(state.gw, request)
    token, expires = issue_token(state, user)
    return web.json_response({"token": token, "token_type": "Bearer",
                              "expires_in": TOKEN_TTL, "expires_at": expires})


async def _hang_up(gw: Gateway, call: calls.Call) -> None:
    """The A-leg takes its bridged B-leg with it; if it is already gone, the B-leg."""
    try:
        await gw.control.hangup(call.a.id)
    except NotFound:
        if call.b is None:
            raise
        await gw.control.hangup(call.b.id)


def _failure(exc: CommandError) -> RestError:
    if isinstance(exc, NotFound):
        return RestError(404, NOT_FOUND)
    if isinstance(exc, Unavailable):
        return RestError(503, "Switch is not available")
    return RestError(502, "Call could not be hung up", client_status=409)


async def drop_one(request: web.Request, who: Bearer) -> web.Response:
    gw = who.state.gw
    n = _int(request.match_info["id"])
    key = who.state.call_ids.key_for(n) if n is not None else None
    legs = calls.legs_of(gw.store, key) if key else []
    if not legs or not Scope(gw, who.user).sees_any(legs):
        raise RestError(404, NOT_FOUND)  # another tenant's call does not exist for you
    try:
        await _hang_up(gw, calls.make_call(key or "", legs, gw.store))
    except CommandError as exc:
        raise _failure(exc) from None
    return web.json_response({"status": "hung_up", "hung_up_call": n,
                              "hung_up_at": _now_text()})


async def drop_all(request: web.Request, who: Bearer) -> web.Response:
    gw = who.state.gw
    found = visible_calls(who.state, Scope(gw, who.user), now=time.time())
    results = await asyncio.gather(*(_hang_up(gw, c) for _, c in found),
                                   return_exceptions=True)
    done = [n for (n, _), r in zip(found, results, strict=True) if r is None]
    failed = [r for r in results if isinstance(r, BaseException)]
    for r in failed:
        if not isinstance(r, CommandError):
            raise r
    if failed and not done:
        raise _failure(failed[0])  # type: ignore[arg-type]
    return web.json_response({"status": "hung_up", "hung_up_calls": len(done),
                              "hung_up_call_ids": done, "hung_up_at": _now_text()})


async def not_found(request: web.Request, state: MorState) -> web.Response:
    raise RestError(404, "Not found")


def add_routes(app: web.Application) -> None:
    """A path or verb the service does not have is Rails' 404, in the service's JSON."""
    drop_all_ = Endpoint(("DELETE",), drop_all, _bearer)
    add_endpoints(app, [
        ("/v2/authentication/login", Endpoint(("POST",), login, _open)),
        ("/v2/active_calls/{id}", Endpoint(("DELETE",), drop_one, _bearer)),
        ("/v2/active_calls", drop_all_),
        ("/v2/active_calls/", drop_all_),
        ("/v2/{tail:.*}", Endpoint(ANY_METHOD, not_found, _open)),
    ], docs=REST_DOCS)
