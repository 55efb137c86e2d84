"""Who is calling: `/login` credentials, the `/api/v2` token guard (the engine's 2017 order of
checks, each with its own body) and `/api/v1` Basic auth for root.

A Webitel login is `root` (the first superduper_admin user, with that user's password) or
`<username>@<realm of the user's account>`; the realm is the Webitel domain, i.e. the tenant.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from aiohttp import web

from gateway.audit import set_actor
from gateway.config import UserSettings
from gateway.context import GATEWAY
from gateway.credentials import same_secret
from gateway.directory import Directory
from gateway.throttle import Attempt

from .acl import ROOT, role_for
from .body import body_of
from .errors import CredentialsError, WebitelError
from .sessions import BadToken, Session, Sessions, now_ms
from .state import STATE


def sessions_of(request: web.Request) -> Sessions:
    return request.app[STATE].sessions


def _first(value: Any) -> str:
    """A credential as a string; a repeated query key or a JSON non-string is not one."""
    return value if isinstance(value, str) else ""


def credentials(request: web.Request) -> tuple[str, str]:
    """(token, key) from body, then query, then headers: the engine's order."""
    body, query = body_of(request), request.query
    token = (_first(body.get("access_token")) or query.get("access_token", "")
             or request.headers.get("X-Access-Token", ""))
    key = (_first(body.get("x_key")) or query.get("x_key", "")
           or request.headers.get("X-Key", ""))
    return token, key


def _password_ok(user: UserSettings | None, password: Any) -> bool:
    if user is None or not user.password or not isinstance(password, str):
        return False
    return same_secret(password, user.password)


def _a1_ok(user: UserSettings, name: str, realm: str, password: Any) -> bool:
    """The engine's own check for an imported account: its directory `a1-hash` against
    md5("<ext>:<domain>:<password>")."""
    if not user.a1_hash or not isinstance(password, str):
        return False
    given = hashlib.md5(f"{name}:{realm}:{password}".encode("utf-8", "surrogatepass"))
    return same_secret(given.hexdigest(), user.a1_hash)


TOO_MANY = "Too many failed logins, try again later"


async def login_attempt(request: web.Request, username: Any) -> Attempt:
    """The throttle's buckets for a login as `username`; raises the engine's error body with
    429 while the client's address or that login is locked (the right password included)."""
    name = username if isinstance(username, str) else ""
    attempt = await request.app[GATEWAY].logins.attempt(request, "webitel", name)
    if attempt.locked:
        raise WebitelError(429, TOO_MANY)
    return attempt


def root_user(directory: Directory) -> UserSettings | None:
    supers = directory.superduper_users()
    return supers[0] if supers else None


def login(request: web.Request) -> Session:
    body = body_of(request)
    token_acl, fields = identify(request.app[GATEWAY].directory, body.get("username"),
                                 body.get("password"))
    return sessions_of(request).issue(token_acl, **fields)


def identify(directory: Directory, username: Any,
             password: Any) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """(the token's acl, the session's fields) for `username`/`password` by the REST login's
    rules, which the WebSocket `auth` with `account`+`secret` shares; raises the login's
    errors."""
    if not isinstance(username, str) or not username:
        raise CredentialsError
    if username == "root":
        if not _password_ok(root_user(directory), password):
            raise WebitelError(401, "secret incorrect")
        return ROOT.token_acl, dict(username="root", domain="", account_id="",
                                    role_name=ROOT.name, role=ROOT.value, acl=ROOT.acl)
    name, _, realm = username.partition("@")
    account = directory.account_by_realm(realm) if name and realm else None
    user = directory.user_in_account(account.id, name) if account is not None else None
    if account is None or user is None:
        raise WebitelError(401, "-ERR User not found\n")
    if not (_password_ok(user, password) or _a1_ok(user, name, realm, password)):
        raise WebitelError(401, "secret incorrect")
    role = role_for(user.role)
    # a superduper admin is system-wide whichever login it uses
    domain, account_id = ("", "") if role.name == "root" else (account.realm, account.id)
    return role.token_acl, dict(username=username, domain=domain, account_id=account_id,
                                role_name=role.name, role=role.value, acl=role.acl,
                                user_id=user.id)


async def authenticate_v2(request: web.Request) -> Session:
    """The 2017 guard (the v2 endpoints' `auth`): each failing step answers its own
    documented body."""
    token, key = credentials(request)
    state = request.app[STATE]
    return session_for(state.sessions, token, key, state.options.expired_status)


def session_for(sessions: Sessions, token: str, key: str, expired_status: int) -> Session:
    """The session a token and key open, or the guard's error for the first failing check."""
    if not token:
        raise WebitelError(401, "Invalid token")
    try:
        claims = sessions.decode(token)
    except BadToken:
        raise WebitelError(401, "Invalid token") from None
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp <= now_ms():
        raise WebitelError(expired_status, "Token Expired")
    if claims.get("v") == 2 and claims.get("t") == "domain":
        raise WebitelError(401, "Not found token")  # no domain tokens are ever issued here
    if not key:
        raise WebitelError(401, "Invalid Token or Key")
    session = sessions.get(key)
    if session is None or not same_secret(token, session.token):
        raise WebitelError(401, "Invalid User")
    set_actor("webitel", session.user_id or session.username, session.username,
              session.account_id)
    return session


async def authenticate_v1(request: web.Request) -> Session:
    """HTTP Basic `root:<root password>` (the v1 endpoints' `auth`); the principal is root."""
    gw = request.app[GATEWAY]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    user, sep, password = decoded.partition(":")
    if scheme.lower() != "basic" or not sep:
        raise WebitelError(401, "Invalid credentials")
    attempt = await login_attempt(request, user)
    if user != "root" or not _password_ok(root_user(gw.directory), password):
        await attempt.failed()
        raise WebitelError(401, "Invalid credentials")
    await attempt.succeeded()
    set_actor("webitel", "root", "root")
    return Session(key="", username="root", domain="", account_id="", role_name=ROOT.name,
                   role=ROOT.value, acl=ROOT.acl, expires=0, token="")


async def no_auth(request: web.Request) -> None:
    """`/login` and `/logout` check credentials in their handlers, as the engine did."""
    return None
