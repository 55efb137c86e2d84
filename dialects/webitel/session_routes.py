"""`POST /login`, `POST /logout` and `GET /api/v2/whoami`."""

from __future__ import annotations

from aiohttp import web

from gateway.credentials import same_secret

from . import auth
from .body import body_of
from .errors import CredentialsError, WebitelError, reply
from .sessions import Session


async def login(request: web.Request, _: None) -> web.Response:
    attempt = await auth.login_attempt(request, body_of(request).get("username"))
    try:
        session = auth.login(request)
    except WebitelError:
        await attempt.failed()
        raise
    await attempt.succeeded()
    return reply(session.login_body())


async def logout(request: web.Request, _: None) -> web.Response:
    token, key = auth.credentials(request)
    if not token or not key:
        raise CredentialsError
    sessions = auth.sessions_of(request)
    session = sessions.get(key)
    if session is None or not same_secret(token, session.token):
        raise WebitelError(401, "Invalid credentials.")
    sessions.remove(key)
    return reply({"status": "OK", "info": "Successful logout."})


async def whoami(request: web.Request, who: Session) -> web.Response:
    return reply(who.whoami_body())
