"""`/notifications?token=...`: the original's websocket, checked against the token on open and
scoped to the agent's organization."""

from __future__ import annotations

from aiohttp import WSMsgType, web

from gateway.endpoint import Endpoint, add_endpoints

from .access import Context, token_auth
from .api_doc import SOCKET_DOCS
from .auth import ADMINISTRATOR, RECEPTIONIST
from .errors import bad_parameters
from .notify import Listener


async def notifications(request: web.Request, ctx: Context) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=30.0)
    if not ws.can_prepare(request).ok:
        raise bad_parameters("A websocket upgrade is required.")
    await ws.prepare(request)
    notifier = ctx.state.notifier
    listener = Listener(ws, ctx.agent.account_id)
    notifier.add(listener)
    try:
        async for msg in ws:  # the protocol has nothing to say upstream; read to see closes
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        notifier.remove(listener)
    return ws


def add_routes(app: web.Application) -> None:
    add_endpoints(app, [("", Endpoint(("GET",), notifications,
                                      auth=token_auth((RECEPTIONIST, ADMINISTRATOR))))],
                  docs=SOCKET_DOCS)
