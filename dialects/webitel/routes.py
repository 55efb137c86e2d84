"""URL -> endpoint for the three sub-applications the engine's paths need: `/login`, `/logout`
and `/api` (v2 behind the token guard, v1 behind root's Basic auth).

Every resource is a `gateway.endpoint.Endpoint`. Express answered an unknown path and a wrong
method alike (404 `"<url> not found."`), and the engine's guard ran before routing, so under
`/api/v2` and `/api/v1` auth comes first and every other path is an endpoint with no methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from gateway.endpoint import Endpoint, add_endpoints

from . import channels, session_routes
from .api_doc import API_DOCS, LOGIN_DOCS, LOGOUT_DOCS
from .auth import authenticate_v1, authenticate_v2, no_auth
from .body import body_middleware
from .cors import preflight_middleware
from .errors import webitel_errors

C = TypeVar("C")
Handle = Callable[[web.Request, C], Awaitable[web.StreamResponse]]
Auth = Callable[[web.Request], Awaitable[C]]


def _app() -> web.Application:
    return web.Application(middlewares=[webitel_errors(), preflight_middleware, body_middleware])


def _by_method(handlers: Mapping[str, Handle[C]]) -> Handle[C]:
    async def handle(request: web.Request, context: C) -> web.StreamResponse:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request, context)
    return handle


def endpoint(auth: Auth[C], handlers: Mapping[str, Handle[C]]) -> Endpoint[C]:
    """One path's methods, each with its handler; auth before the method check."""
    return Endpoint(tuple(handlers), _by_method(handlers), auth, auth_first=True)


def _nothing(auth: Auth[Any]) -> Endpoint[Any]:
    """Every other path: auth as its prefix demands, then Express's 404."""
    return endpoint(auth, {})


def _rest() -> list[tuple[str, Endpoint[Any]]]:
    return [("/{tail:.*}", _nothing(no_auth))]


def login_app() -> web.Application:
    app = _app()
    add_endpoints(app, [("", endpoint(no_auth, {"POST": session_routes.login})), *_rest()],
                  docs=LOGIN_DOCS)
    return app


def logout_app() -> web.Application:
    app = _app()
    add_endpoints(app, [("", endpoint(no_auth, {"POST": session_routes.logout})), *_rest()],
                  docs=LOGOUT_DOCS)
    return app


def _channel_routes(v: str, auth: Auth[Any]) -> list[tuple[str, Endpoint[Any]]]:
    return [
        (f"/{v}/channels/domain/{{domain}}",
         endpoint(auth, {"DELETE": channels.hangup_domain})),
        (f"/{v}/channels/{{id}}", endpoint(auth, {
            "DELETE": channels.hangup, "PUT": channels.set_state, "PATCH": channels.set_state})),
    ]


def api_app() -> web.Application:
    app = _app()
    v2, v1 = authenticate_v2, authenticate_v1
    add_endpoints(app, [
        ("/v2/whoami", endpoint(v2, {"GET": session_routes.whoami})),
        ("/v2/channels", endpoint(v2, {"GET": channels.list_channels,
                                       "POST": channels.originate})),
        *_channel_routes("v2", v2),
        ("/v2/channels/{id}/eavesdrop", endpoint(v2, {"POST": channels.eavesdrop})),
        ("/v2/accounts/{id}/spy", endpoint(v2, {"POST": channels.spy})),
        ("/v1/channels", endpoint(v1, {"POST": channels.originate,
                                       "DELETE": channels.hangup_everything})),
        *_channel_routes("v1", v1),
        ("/v2", _nothing(v2)), ("/v2/{tail:.*}", _nothing(v2)),
        ("/v1", _nothing(v1)), ("/v1/{tail:.*}", _nothing(v1)),
        ("", _nothing(no_auth)), *_rest(),
    ], docs=API_DOCS)
    return app
