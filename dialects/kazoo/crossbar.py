"""The per-request pipeline in crossbar's order (reference 1.2), on the core's `Endpoint`, so
which error wins is the same as on Kazoo: bad JSON 400, early token check 401, 405, account id
404, 401, 403, then handler. A CORS preflight (OPTIONS) is answered before any of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.context import Gateway
from gateway.directory import Device, User
from gateway.endpoint import Endpoint
from gateway.http import BodyTooLarge, parse_json, read_body

from . import errors
from .auth import Principal, authenticate, find_token, may_access
from .envelope import ALLOWED, cors_headers, request_id
from .state import STATE, KazooState

TUNNELLED = ("PUT", "DELETE", "PATCH")
PREFLIGHT = "OPTIONS"


@dataclass
class Crossbar:
    """One request as crossbar's cb_context sees it: the context every Kazoo handler gets."""

    request: web.Request
    state: KazooState
    method: str
    body: dict[str, Any]
    principal: Principal | None = None
    account_id: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def gw(self) -> Gateway:
        return self.state.gw

    @property
    def data(self) -> Any:
        return self.body.get("data")

    def user(self, user_id: str) -> User:
        """The account's user `user_id`; another account's is Kazoo's bad identifier, as an
        unknown one is, so no tenant learns another's ids."""
        found = self.gw.directory.user(user_id)
        if found is None or found.account != self.account_id:
            raise errors.bad_identifier(user_id)
        return found

    def device(self, device_id: str) -> Device:
        """The account's device `device_id`, as `user` finds a user."""
        found = self.gw.directory.device(device_id)
        if found is None or found.account != self.account_id:
            raise errors.bad_identifier(device_id)
        return found

    def lookup(self, key: str, *, envelope_first: bool = False) -> Any:
        """A request parameter: `data`, then query string, then envelope (PUT metaflow reads
        the envelope first)."""
        data = self.data if isinstance(self.data, dict) else {}
        order = (self.body, data, self.request.query) if envelope_first else (
            data, self.request.query, self.body)
        for source in order:
            if key in source:
                return source[key]
        return None


Handler = Callable[[Crossbar], Awaitable[web.StreamResponse]]


async def _parse_body(request: web.Request, state: KazooState) -> dict[str, Any]:
    """The JSON object body, keys lower-cased; a body that is not JSON raises the core's
    `BadJson`, answered by the error map as crossbar's 400."""
    try:
        raw = await read_body(request, state.gw.settings.gateway.max_body)
    except BodyTooLarge:
        raise errors.too_large() from None
    body = parse_json(raw, blank={})
    if not isinstance(body, dict):
        raise errors.validation_errors({"json": {"invalid": {
            "message": "body must be a JSON object", "target": "body"}}})
    return {str(k).lower(): v for k, v in body.items()}


def _effective_method(request: web.Request, body: dict[str, Any], allowed: tuple[str, ...]
                      ) -> str:
    """The tunnelled `verb` of a POST; a HEAD is served as the GET it mirrors."""
    method = request.method
    verb = body.get("verb") or request.query.get("verb")
    if method == "POST" and isinstance(verb, str) and verb.upper() in TUNNELLED:
        return verb.upper()
    if method == "HEAD" and "GET" in allowed:
        return "GET"  # aiohttp drops the body of the GET answer
    return method


def resource(allowed: tuple[str, ...], handler: Handler, *, authenticated: bool = True,
             account: bool = False) -> Endpoint[Crossbar]:
    """`handler` behind crossbar's checks, for a resource allowing `allowed` methods."""

    async def auth(request: web.Request) -> Crossbar:
        state = request.app[STATE]
        request_id(request)
        request[ALLOWED] = allowed
        if request.method == PREFLIGHT:  # CORS preflight: always allowed, no auth
            return Crossbar(request, state, PREFLIGHT, {})
        body = await _parse_body(request, state)
        cb = Crossbar(request, state, _effective_method(request, body, allowed), body,
                      params=dict(request.match_info))
        token = find_token(request, body) if authenticated else ""
        if token:  # early authenticate: a bad or expired token fails before the method check
            cb.principal = authenticate(state, request, token)
        return cb

    async def authorize(cb: Crossbar) -> None:
        if cb.method == PREFLIGHT:
            return
        if account:
            cb.account_id = _valid_account(cb.state, cb.params["account_id"])
        if authenticated:
            if cb.principal is None:
                raise errors.invalid_credentials()
            if account and not may_access(cb.state, cb.principal, cb.account_id):
                raise errors.forbidden()

    async def handle(request: web.Request, cb: Crossbar) -> web.StreamResponse:
        if cb.method == PREFLIGHT:
            return web.Response(status=200, headers={
                **cors_headers(request, allowed), "X-Request-ID": request_id(request)})
        return await handler(cb)

    return Endpoint((*allowed, PREFLIGHT), handle, auth, authorize, auth_first=True,
                    method_of=lambda request, cb: cb.method)


def _valid_account(state: KazooState, account_id: str) -> str:
    if len(account_id) != 32:
        raise errors.KazooError(404, "bad identifier",
                                {"message": f"invalid account_id '{account_id[:64]}'"})
    if state.gw.directory.account(account_id) is None:
        raise errors.bad_identifier(account_id)
    return account_id
