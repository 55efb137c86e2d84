"""`POST /login`, `POST /logout` and `GET /api/v2/whoami`."""

from __future__ import annotations

from aiohttp import web

from . import auth
from .errors import CredentialsError, WebitelError, reply


async def login(request: web.Request) -> web.Response:
    return reply(auth.login(request).login_body())


async def logout(request: web.Request) -> web.Response:
    token, key = auth.credentials(request)
    if not token or not key:
        raise CredentialsError
    sessions = auth.sessions_of(request)
    session = sessions.get(key)
    if session is None or not auth.same(session.token, token):
        raise WebitelError(401, "Invalid credentials.")
    sessions.remove(key)
    return reply({"status": "OK", "info": "Successful logout."})


async def whoami(request: web.Request) -> web.Response:
    return reply(auth.principal(request).whoami_body())
