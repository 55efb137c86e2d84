"""The call-flow-control dialect (AdaHeads): receptionists' call control over REST at `/call`
and call events over a websocket at `/notifications`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.config import DialectSettings
from gateway.context import Gateway

from . import resources, routes, sockets
from .auth import TokenAuth
from .calls import Calls
from .commands import Commands
from .errors import error_middleware
from .notify import Notifier
from .peers import Directory
from .render import View
from .settings import CallflowSettings


def _shared(gw: Gateway, options: CallflowSettings) -> tuple[TokenAuth, Commands, Notifier]:
    """One set per gateway, however many times the apps are built."""
    if "callflow.commands" not in gw.extras:
        calls = Calls(gw.directory)
        view = View(gw, calls)
        notifier = Notifier(gw.store, calls, view)
        gw.extras["callflow.calls"] = calls
        gw.extras["callflow.directory"] = Directory(gw, view)
        gw.extras["callflow.notifier"] = notifier
        gw.extras["callflow.auth"] = TokenAuth(gw, options)
        gw.extras["callflow.commands"] = Commands(gw, calls, view, notifier,
                                                  options.originate_timeout)
    return (gw.extras["callflow.auth"], gw.extras["callflow.commands"],
            gw.extras["callflow.notifier"])


def create_apps(gw: Gateway, dialect_settings: DialectSettings) -> dict[str, web.Application]:
    options = dialect_settings.options or CallflowSettings()
    auth, commands, notifier = _shared(gw, options)
    max_body = gw.settings.gateway.max_body

    call = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    call[routes.AUTH] = auth
    call[routes.COMMANDS] = commands
    routes.add_routes(call)

    events = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    events[routes.AUTH] = auth
    events[sockets.NOTIFIER] = notifier
    sockets.add_routes(events)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        notifier.start()
        yield
        await notifier.stop()
        await auth.close()

    events.cleanup_ctx.append(lifecycle)

    def resource_app() -> web.Application:
        app = web.Application(middlewares=[error_middleware], client_max_size=max_body)
        app[routes.AUTH] = auth
        app[resources.DIRECTORY] = gw.extras["callflow.directory"]
        app[resources.NOTIFIER] = notifier
        return app

    return {"/call": call, "/notifications": events, **resources.apps(resource_app)}


def demo_lines(gw: Gateway) -> list[str]:
    tokens = [f"{u.username}={u.callflow_token} ({u.role})"
              for u in gw.directory.users.values() if u.callflow_token]
    first = next((u.callflow_token for u in gw.directory.users.values()
                  if u.callflow_token and u.role == "agent"), "TOKEN")
    return [
        "call-flow-control: token query parameter; " + ", ".join(tokens),
        f"  curl '{{BASE}}/call/list?token={first}'",
        f"  curl -X POST '{{BASE}}/call/pickup?token={first}'",
        f"  websocket: {{BASE}}/notifications?token={first} (ws://)",
    ]
