"""The call-flow-control dialect (AdaHeads): receptionists' call control over REST at `/call`
and call events over a websocket at `/notifications`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.config import DialectSettings
from gateway.context import Gateway
from gateway.dialect import DialectApps

from . import resources, routes, sockets
from .api_doc import API
from .auth import TokenAuth
from .calls import Calls
from .commands import Commands
from .errors import middlewares
from .notify import Notifier
from .peers import Directory
from .render import View
from .settings import CallflowSettings
from .state import STATE, CallflowState

#: the OpenAPI document's title, security and shared schemas (gateway/openapi.py)
OPENAPI = API


def build_state(gw: Gateway, options: CallflowSettings) -> CallflowState:
    def remote(channel_id: str, agent: int | None) -> None:
        """Another gateway instance assigned (or released) a call."""
        calls.remote()
        if agent is not None:
            calls.current[agent] = channel_id
        else:
            for number in [n for n, cid in calls.current.items() if cid == channel_id]:
                del calls.current[number]
        notifier.touch(channel_id)

    calls = Calls(gw.directory, assigned=gw.shared.map("callflow.assigned", on_remote=remote))
    view = View(gw, calls)
    notifier = Notifier(gw.store, calls, view)
    return CallflowState(
        options=options, max_body=gw.settings.gateway.max_body,
        auth=TokenAuth(gw, options), calls=calls, view=view,
        commands=Commands(gw, calls, view, notifier, options.originate_timeout),
        notifier=notifier, directory=Directory(gw, view))


def create_apps(gw: Gateway, dialect_settings: DialectSettings) -> DialectApps:
    options = dialect_settings.options or CallflowSettings()
    state = build_state(gw, options)

    def make() -> web.Application:
        app = web.Application(middlewares=middlewares(), client_max_size=state.max_body)
        app[STATE] = state
        return app

    call = make()
    routes.add_routes(call)
    events = make()
    sockets.add_routes(events)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        state.notifier.start()
        yield
        await state.notifier.stop()
        await state.auth.close()

    events.cleanup_ctx.append(lifecycle)
    return DialectApps(mounts={"/call": call, "/notifications": events,
                               **resources.apps(make)})


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
