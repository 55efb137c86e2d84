"""`/notifications?token=...`: the original's websocket, checked against the token on open and
scoped to the agent's organization."""

from __future__ import annotations

from aiohttp import WSMsgType, web

from .auth import ADMINISTRATOR, RECEPTIONIST, authenticate
from .errors import bad_parameters
from .notify import Listener, Notifier
from .routes import AUTH

NOTIFIER: web.AppKey[Notifier] = web.AppKey("callflow.notifier", Notifier)


async def notifications(request: web.Request) -> web.StreamResponse:
    agent = await authenticate(request.app[AUTH], request.query.get("token", ""),
                               (RECEPTIONIST, ADMINISTRATOR))
    ws = web.WebSocketResponse(heartbeat=30.0)
    if not ws.can_prepare(request).ok:
        raise bad_parameters("A websocket upgrade is required.")
    await ws.prepare(request)
    notifier = request.app[NOTIFIER]
    listener = Listener(ws, agent.account_id)
    notifier.add(listener)
    try:
        async for msg in ws:  # the protocol has nothing to say upstream; read to see closes
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        notifier.remove(listener)
    return ws


def add_routes(app: web.Application) -> None:
    app.router.add_get("", notifications)
