"""The resources beside `/call`: peers, channels, users, state reload, active recordings and the
debug routes, of the June 2014 Ada server and the Dart server (reference sections 5 and 7).

All are token-checked and scoped to the agent's organization like `/call`, including the
original's public `/debug/*` routes: they list phones and channels, which are tenant data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.endpoint import Endpoint, add_endpoints

from .access import Context, Groups, token_auth
from .api_doc import RESOURCE_DOCS
from .auth import ADMINISTRATOR, RECEPTIONIST, Agent
from .errors import UNHANDLED, CallflowError, bad_parameters, not_found
from .params import CALL_ID
from .peers import Directory
from .state import STATE

ANYONE = (RECEPTIONIST, ADMINISTRATOR)
RECEPTIONISTS = (RECEPTIONIST,)
ADMINISTRATORS = (ADMINISTRATOR,)

Answer = dict[str, Any] | list[Any]
Handler = Callable[[web.Request, Agent, Directory], Awaitable[Answer]]


def endpoint(method: str, handler: Handler, groups: Groups = ANYONE) -> Endpoint[Context]:
    async def handle(request: web.Request, ctx: Context) -> web.StreamResponse:
        return web.json_response(await handler(request, ctx.agent, ctx.state.directory))
    return Endpoint((method,), handle, auth=token_auth(groups))


def _name(request: web.Request, key: str) -> str:
    value = request.match_info[key]
    if not CALL_ID.match(value):
        raise bad_parameters(f"Invalid {key}.")
    return value


# ------------------------------------------------------------------ peers
async def peers(_r: web.Request, agent: Agent, d: Directory) -> Answer:
    """Dart `GET /peer`: a bare list."""
    return [d.peer(dev) for dev in d.devices(agent)]


async def peer(r: web.Request, agent: Agent, d: Directory) -> Answer:
    name = _name(r, "peerid")
    dev = d.device(agent, name)
    if dev is None:
        raise not_found(f"No peer with name {name}")
    return d.peer(dev)


async def peer_list(_r: web.Request, agent: Agent, d: Directory) -> Answer:
    """Ada `GET /peer/list` and `/debug/peer/list`: `{"peers": [...]}` plus the status."""
    return {"peers": [d.legacy_peer(dev) for dev in d.devices(agent)], "status": "ok"}


# --------------------------------------------------------------- channels
async def channels(_r: web.Request, agent: Agent, d: Directory) -> Answer:
    """Dart `GET /channel`: a bare list of `{"variables": {...}}`."""
    return [d.channel_map(ch) for ch in d.view.calls_of(agent)]


async def channel(r: web.Request, agent: Agent, d: Directory) -> Answer:
    cid = _name(r, "chanid")
    ch = d.view.visible(agent, cid)
    if ch is None:
        raise not_found(f"No channel with id {cid}")
    return d.channel_map(ch)


async def debug_channels(_r: web.Request, agent: Agent, d: Directory) -> Answer:
    """Ada `/debug/channel/list` answered 500 "Not implemented"; a list is what a debugging
    desk wants, in the Ada envelope."""
    return {"channels": [d.channel_map(ch) for ch in d.view.calls_of(agent)], "status": "ok"}


# ------------------------------------------------------------------ users
async def users(_r: web.Request, agent: Agent, d: Directory) -> Answer:
    return {"users": d.users(agent), "status": "ok"}


async def profile(_r: web.Request, agent: Agent, d: Directory) -> Answer:
    return {**d.profile(agent), "status": "ok"}


async def pause(_r: web.Request, _a: Agent, _d: Directory) -> Answer:
    """The original's stub, kept: clients already handle its answer."""
    raise CallflowError(UNHANDLED, http=500, body={"status": "Not implemented"},
                        client_http=404)


# ------------------------------------------------------ state, recordings
async def reload(r: web.Request, agent: Agent, _d: Directory) -> Answer:
    """Dart `POST /state/reload` answers `{}`. The store is kept current by the switches'
    events and re-synced on reconnect, so only the dialect's derived call states of the
    caller's organization are re-evaluated (nothing is asked of the switch, and no other
    tenant's socket hears anything)."""
    r.app[STATE].notifier.reload(agent.account_id)
    return {}


async def recordings(_r: web.Request, agent: Agent, d: Directory) -> Answer:
    """Dart `GET /activerecording`: a bare list of the organization's active recordings."""
    return d.recordings(agent)


async def recording(r: web.Request, agent: Agent, d: Directory) -> Answer:
    cid = _name(r, "cid")
    ch = d.view.visible(agent, cid)
    found = d.recording(ch) if ch is not None else None
    if found is None:
        raise not_found(f"No active recording on channel {cid}")
    return found


# ------------------------------------------------------------------ debug
async def debug_contact(_r: web.Request, _a: Agent, _d: Directory) -> Answer:
    raise not_found("callgate has no contact server.")


async def debug_tokens(_r: web.Request, _a: Agent, _d: Directory) -> Answer:
    """The original listed its test tokens; callgate's tokens are real credentials."""
    return {"tokens": [], "status": "ok"}


# ----------------------------------------------------------------- mounting
def apps(make: Callable[[], web.Application]) -> dict[str, web.Application]:
    """One sub-application per top-level path; `make` gives each the dialect's state."""
    table: dict[str, list[tuple[str, Endpoint[Context]]]] = {
        "/peer": [("", endpoint("GET", peers)),
                  ("/list", endpoint("GET", peer_list)),
                  ("/{peerid}", endpoint("GET", peer))],
        "/channel": [("", endpoint("GET", channels)),
                     ("/{chanid}", endpoint("GET", channel))],
        "/users": [("", endpoint("GET", profile, RECEPTIONISTS)),
                   ("/list", endpoint("GET", users, ADMINISTRATORS)),
                   ("/pause", endpoint("GET", pause, RECEPTIONISTS))],
        "/state": [("/reload", endpoint("POST", reload))],
        "/activerecording": [("", endpoint("GET", recordings)),
                             ("/{cid}", endpoint("GET", recording))],
        "/debug": [("/channel/list", endpoint("GET", debug_channels)),
                   ("/contact", endpoint("GET", debug_contact)),
                   ("/peer/list", endpoint("GET", peer_list)),
                   ("/token/dummy_list", endpoint("GET", debug_tokens))],
    }
    mounted = {}
    for prefix, routes in table.items():
        app = make()
        add_endpoints(app, routes, docs=RESOURCE_DOCS[prefix])
        mounted[prefix] = app
    return mounted


__all__ = ["apps"]
