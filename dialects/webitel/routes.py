"""URL -> handler for the three sub-applications the engine's paths need: `/login`, `/logout`
and `/api` (v2 behind the token guard, v1 behind root's Basic auth)."""

from __future__ import annotations

from aiohttp import web

from . import channels, session_routes
from .auth import guard_middleware
from .body import body_middleware
from .cors import cors_middleware
from .errors import error_middleware, not_found

MIDDLEWARES = (cors_middleware, error_middleware, body_middleware)


async def unknown(request: web.Request) -> web.Response:
    raise not_found(request)


def _app(*extra: object) -> web.Application:
    return web.Application(middlewares=[*MIDDLEWARES, *extra])  # type: ignore[list-item]


def _catch_rest(app: web.Application) -> None:
    """Every other path or method under the prefix: Express's 404 (it has no 405)."""
    app.router.add_route("*", "", unknown)
    app.router.add_route("*", "/{tail:.*}", unknown)


def login_app() -> web.Application:
    app = _app()
    app.router.add_post("", session_routes.login)
    _catch_rest(app)
    return app


def logout_app() -> web.Application:
    app = _app()
    app.router.add_post("", session_routes.logout)
    _catch_rest(app)
    return app


def _channel_routes(r: web.UrlDispatcher, v: str) -> None:
    r.add_post(f"/{v}/channels", channels.originate)
    r.add_delete(f"/{v}/channels/domain/{{domain}}", channels.hangup_domain)
    r.add_delete(f"/{v}/channels/{{id}}", channels.hangup)
    r.add_put(f"/{v}/channels/{{id}}", channels.set_state)
    r.add_patch(f"/{v}/channels/{{id}}", channels.set_state)


def api_app() -> web.Application:
    app = _app(guard_middleware)
    r = app.router
    r.add_get("/v2/whoami", session_routes.whoami)
    r.add_get("/v2/channels", channels.list_channels)
    _channel_routes(r, "v2")
    r.add_post("/v2/channels/{id}/eavesdrop", channels.eavesdrop)
    r.add_post("/v2/accounts/{id}/spy", channels.spy)
    _channel_routes(r, "v1")
    r.add_delete("/v1/channels", channels.hangup_everything)
    _catch_rest(app)
    return app
