"""The per-request pipeline in crossbar's order (reference 1.2), so which error wins is the same
as on Kazoo: bad JSON 400, early token check 401, 405, account id 404, 401, 403, then handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.context import GATEWAY, Gateway
from gateway.http import BadJson, BodyTooLarge, parse_json, read_body

from . import errors
from .auth import Principal, authenticate, find_token, may_access
from .envelope import ALLOWED, cors_headers, request_id

TUNNELLED = ("PUT", "DELETE", "PATCH")


@dataclass
class Crossbar:
    """One request as crossbar's cb_context sees it."""

    request: web.Request
    gw: Gateway
    method: str
    body: dict[str, Any]
    principal: Principal | None = None
    account_id: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Any:
        return self.body.get("data")

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


async def _parse_body(request: web.Request, gw: Gateway) -> dict[str, Any]:
    try:
        raw = await read_body(request, gw.settings.gateway.max_body)
    except BodyTooLarge:
        raise errors.too_large() from None
    try:
        body = parse_json(raw, blank={})
    except BadJson as exc:
        message = f"{exc.msg} around {exc.pos}" if exc.doc is not None else "body is not UTF-8"
        raise errors.validation_errors({"json": {"invalid": {
            "message": message, "target": "body"}}}) from None
    if not isinstance(body, dict):
        raise errors.validation_errors({"json": {"invalid": {
            "message": "body must be a JSON object", "target": "body"}}})
    return {str(k).lower(): v for k, v in body.items()}


def endpoint(allowed: tuple[str, ...], handler: Handler, *, authenticated: bool = True,
             account: bool = False) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap `handler` in the crossbar pipeline for a resource allowing `allowed` methods."""

    async def run(request: web.Request) -> web.StreamResponse:
        gw = request.app[GATEWAY]
        request_id(request)
        request[ALLOWED] = allowed
        if request.method == "OPTIONS":  # CORS preflight: always allowed, no auth
            return web.Response(status=200, headers={
                **cors_headers(request, allowed), "X-Request-ID": request_id(request)})
        body = await _parse_body(request, gw)
        method = request.method
        verb = body.get("verb") or request.query.get("verb")
        if method == "POST" and isinstance(verb, str) and verb.upper() in TUNNELLED:
            method = verb.upper()
        elif method == "HEAD" and "GET" in allowed:
            method = "GET"  # aiohttp drops the body of the GET answer
        cb = Crossbar(request, gw, method, body, params=dict(request.match_info))
        token = find_token(request, body) if authenticated else ""
        if token:  # early authenticate: a bad or expired token fails before the method check
            cb.principal = authenticate(gw, request, token)
        if method not in allowed:
            raise errors.method_not_allowed()
        if account:
            cb.account_id = _valid_account(gw, cb.params["account_id"])
        if authenticated:
            if cb.principal is None:
                raise errors.invalid_credentials()
            if account and not may_access(gw, cb.principal, cb.account_id):
                raise errors.forbidden()
        return await handler(cb)

    return run


def _valid_account(gw: Gateway, account_id: str) -> str:
    if len(account_id) != 32:
        raise errors.KazooError(404, "bad identifier",
                                {"message": f"invalid account_id '{account_id[:64]}'"})
    if gw.directory.account(account_id) is None:
        raise errors.bad_identifier(account_id)
    return account_id
