"""URL -> handler for `/v2` (and the `/v1` tombstone), each wrapped in the crossbar pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from gateway.endpoint import add_endpoints
from gateway.model import Channel

from . import accounts, actions, errors, metaflow, render, tokens
from .api_doc import DOCS
from .auth import (
    Principal,
    account_info,
    check_credentials,
    require,
)
from .crossbar import Crossbar, resource
from .envelope import REQUEST_ID, TOKEN, success, success_json

ANY = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD")
READ = ("GET",)  # the directory is configured, not edited over the API: writes get 405
CSV_TYPES = ("text/csv", "text/comma-separated-values", "application/octet-stream")


# ------------------------------------------------------------------------------ auth
def _auth_data(cb: Crossbar) -> dict:
    data = cb.data
    if data is None:
        raise errors.validation("data", "required", errors.REQUIRED)
    if not isinstance(data, dict):
        raise errors.validation("data", "type", "Value did not match type(s): object",
                                target=["object"])
    return data


def _string(data: dict, key: str, low: int, high: int) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        if value is None:
            raise errors.validation(key, "required", errors.REQUIRED)
        raise errors.validation(key, "type", "Value did not match type(s): string",
                                target=["string"])
    if len(value) < low:
        raise errors.validation(key, "minLength", f"String must be at least {low} characters",
                                target=low)
    if len(value) > high:
        raise errors.validation(key, "maxLength",
                                f"String must not be more than {high} characters", target=high)
    return value


def _issued(cb: Crossbar, account_id: str, owner_id: str, method: str) -> web.Response:
    gw = cb.gw
    token = tokens.issue(cb.state, account_id, owner_id, method)
    cb.request[TOKEN] = token
    account = gw.directory.account(account_id)
    assert account is not None
    return success(cb.request, account_info(gw, account, owner_id), status=201,
                   auth_token=token)


async def user_auth(cb: Crossbar) -> web.Response:
    data = _auth_data(cb)
    credentials = _string(data, "credentials", 1, 64)
    method = data.get("method", "md5")
    if method not in ("md5", "sha"):
        raise errors.validation("method", "enum", "Value not found in enumerated list of values",
                                target=["md5", "sha"])
    directory = cb.gw.directory
    if "phone_number" in data:
        did = directory.did(_string(data, "phone_number", 1, 64))
        account = directory.account(did.account) if did is not None else None
    elif "account_realm" in data or "realm" in data:
        key = "account_realm" if "account_realm" in data else "realm"
        account = directory.account_by_realm(_string(data, key, 4, 253))
    elif "account_name" in data:
        account = directory.account_by_name(_string(data, "account_name", 1, 128))
    else:
        raise errors.validation("account_name", "required", errors.REQUIRED)
    attempt = await cb.gw.logins.attempt(cb.request, "kazoo", account.id if account else "")
    if attempt.locked:
        raise errors.too_many_requests()
    user = check_credentials(cb.gw, [account] if account else [], credentials, method)
    if user is None:
        await attempt.failed()
        raise errors.invalid_credentials()
    await attempt.succeeded()
    return _issued(cb, user.account, user.id, "cb_user_auth")


async def api_auth(cb: Crossbar) -> web.Response:
    data = _auth_data(cb)
    api_key = _string(data, "api_key", 64, 64)
    attempt = await cb.gw.logins.attempt(cb.request, "kazoo")
    if attempt.locked:
        raise errors.too_many_requests()
    account = cb.gw.directory.account_by_api_key(api_key)
    if account is None:
        await attempt.failed()
        raise errors.KazooError(404, "bad identifier", [api_key])
    await attempt.succeeded()
    return _issued(cb, account.id, "", "cb_api_auth")


async def token_auth(cb: Crossbar) -> web.Response:
    principal = require(cb.principal)
    if cb.method == "DELETE":
        tokens.revoke(cb.state, principal.token, int(principal.claims["exp"]))
        return success(cb.request, {})
    return success(cb.request, principal.claims)


# ----------------------------------------------------------------------------- lists
def _wants_csv(cb: Crossbar) -> bool:
    accept = cb.request.query.get("accept") or cb.body.get("accept")
    if isinstance(accept, str) and accept:
        return accept.lower() in ("csv", *CSV_TYPES)
    header = cb.request.headers.get("Accept", "")
    types = [part.split(";")[0].strip().lower() for part in header.split(",")]
    return bool(types) and types[0] in CSV_TYPES


def _items(cb: Crossbar) -> render.Items:
    return cb.state.items


def _list(cb: Crossbar, channels: Iterable[Channel]) -> web.Response:
    if not _wants_csv(cb):
        return success_json(cb.request, lambda pretty: render.listing_json(
            channels, cb.gw.directory, _items(cb), pretty))
    return _csv(cb, channels)


def _csv(cb: Crossbar, channels: Iterable[Channel]) -> web.Response:
    rows = render.listing(channels, cb.gw.directory, _items(cb))
    name = (cb.request.headers.get("X-File-Name") or cb.request.query.get("file_name")
            or "channels.csv")
    name = "".join(c for c in name if c.isalnum() or c in "._-")[:100] or "channels.csv"
    return web.Response(
        text=render.to_csv(rows), content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "X-Request-ID": cb.request[REQUEST_ID]})


async def system_channels(cb: Crossbar) -> web.Response:
    principal: Principal = require(cb.principal)
    if not principal.superduper:
        raise errors.forbidden()
    if not cb.state.options.system_wide_channels_list:
        # Kazoo sends the query without an Account-ID, ecallmgr rejects it: this exact 500
        raise errors.KazooError(500, "could not reach ecallmgr channels", {},
                                client_status=403)
    return _list(cb, cb.gw.store.all())


async def account_channels(cb: Crossbar) -> web.Response:
    """What panels poll: the account's list, kept whole as a template (render.account_json)."""
    bucket = cb.gw.store.bucket("account_id", cb.account_id)
    if _wants_csv(cb):
        return _csv(cb, bucket.values())
    return success_json(cb.request, lambda pretty: render.account_json(
        cb.account_id, bucket, cb.gw.directory, _items(cb), pretty))


async def user_channels(cb: Crossbar) -> web.Response:
    devices = cb.gw.directory.devices_of_owner(cb.user(cb.params["user_id"]).id)
    return _list(cb, (ch for d in devices for ch in cb.gw.store.by_device(d.id)
                      if ch.account_id == cb.account_id))


async def device_channels(cb: Crossbar) -> web.Response:
    device_id = cb.device(cb.params["device_id"]).id
    return _list(cb, (ch for ch in cb.gw.store.by_device(device_id)
                      if ch.account_id == cb.account_id))


# ---------------------------------------------------------------------------- one channel
def _channel(cb: Crossbar) -> Channel:
    uuid = cb.params["uuid"]
    ch = cb.gw.store.get(uuid)
    if ch is None or ch.account_id != cb.account_id:
        raise errors.bad_channel(uuid)
    return ch


async def channel(cb: Crossbar) -> web.Response:
    ch = _channel(cb)
    if cb.method == "GET":
        return success(cb.request, render.detail(ch, cb.gw.directory, items=_items(cb)))
    if cb.method == "POST":
        return await _post_action(cb, ch)
    return await _put_metaflow(cb, ch)


async def _post_action(cb: Crossbar, ch: Channel) -> web.Response:
    action = cb.lookup("action")
    if action == "metaflow":  # the docs' "Transfer" example posts a metaflow: run it
        return await _metaflow(cb, ch, status=200)
    runner = actions.POST_ACTIONS.get(action) if isinstance(action, str) else None
    if runner is None:
        raise errors.invalid_data()
    await runner(cb, ch, cb.lookup)
    return success(cb.request, f"{action} initiated")


async def _put_metaflow(cb: Crossbar, ch: Channel) -> web.Response:
    if cb.lookup("action", envelope_first=True) != "metaflow":
        raise errors.invalid_data()
    return await _metaflow(cb, ch, status=201)


async def _metaflow(cb: Crossbar, ch: Channel, *, status: int) -> web.Response:
    flow = metaflow.validate(metaflow.unwrap(cb.data if cb.data is not None else {}))
    await actions.run_metaflow(cb, ch, flow)
    return success(cb.request, "metaflow sent", status=status)


# ----------------------------------------------------------------------------- fallbacks
async def unknown(cb: Crossbar) -> web.Response:
    raise errors.not_found()


async def gone(request: web.Request) -> web.Response:
    raise errors.KazooError(
        410, "API version 1 is not supported. Please upgrade your code to use version 2.", {})


def v2_routes(app: web.Application) -> None:
    acct = "/accounts/{account_id}"
    add_endpoints(app, [
        ("/user_auth", resource(("PUT",), user_auth, authenticated=False)),
        ("/api_auth", resource(("PUT",), api_auth, authenticated=False)),
        ("/token_auth", resource(("GET", "DELETE"), token_auth)),
        ("/channels", resource(("GET",), system_channels)),
        ("/channels/{uuid}", resource(ANY, unknown)),
        (f"{acct}/channels", resource(("GET",), account_channels, account=True)),
        (f"{acct}/channels/{{uuid}}",
         resource(("GET", "PUT", "POST"), channel, account=True)),
        (f"{acct}/users/{{user_id}}/channels",
         resource(("GET",), user_channels, account=True)),
        (f"{acct}/devices/{{device_id}}/channels",
         resource(("GET",), device_channels, account=True)),
        (f"{acct}/children", resource(READ, accounts.children, account=True)),
        (f"{acct}/users", resource(READ, accounts.users, account=True)),
        (f"{acct}/users/{{user_id}}", resource(READ, accounts.user, account=True)),
        (f"{acct}/devices", resource(READ, accounts.devices, account=True)),
        (f"{acct}/devices/{{device_id}}", resource(READ, accounts.device, account=True)),
        (acct, resource(READ, accounts.account, account=True)),
        (f"{acct}/{{tail:.*}}", resource(ANY, unknown, account=True)),
        ("", resource(ANY, unknown)),
        ("/{tail:.*}", resource(ANY, unknown)),
    ], docs=DOCS)


def v1_routes(app: web.Application) -> None:
    app.router.add_route("*", "", gone)
    app.router.add_route("*", "/{tail:.*}", gone)
