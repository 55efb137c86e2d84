"""MOR's per-gateway state: its options and everything it remembers between requests, in one
typed object built once by `create_apps` and read by handlers as `request.app[STATE]`."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from gateway.context import Gateway
from gateway.directory import User
from gateway.render_cache import RenderCache
from gateway.tokens import TokenSigner

from .calls import CallIds
from .memo import CallMemo, ScopeList
from .rows import Cached
from .settings import MorSettings

#: What MOR's own v2 tokens carry in `iss` (and what ours must carry to be accepted).
ISSUER = "Flash Calls API"


@dataclass(slots=True)
class MorState:
    """The settings, the token signer, the call ids and the caches of the list (rows by
    A-leg, call assemblies by call key, whole lists by scope), one per gateway."""

    gw: Gateway
    options: MorSettings
    signer: TokenSigner
    call_ids: CallIds
    rows: RenderCache[Cached]
    calls: CallMemo
    #: the last list of each scope (listing.py), by (scope key, provider shown)
    lists: dict[tuple[object, ...], ScopeList]
    max_body: int
    #: signatures that passed, by `auth.signature`
    signed: dict[tuple[str, ...], User] = field(default_factory=dict)
    #: backend name -> MOR server id, and the ids `s_server` may name
    servers: dict[str, int] = field(default_factory=dict)


def build_state(gw: Gateway, options: MorSettings) -> MorState:
    return MorState(
        gw=gw, options=options,
        signer=TokenSigner(gw.settings.gateway.token_secret, ISSUER),
        call_ids=CallIds(gw.store),
        rows=RenderCache(None, gw.store),
        calls=CallMemo(gw.store),
        lists={},
        max_body=gw.settings.gateway.max_body,
        servers={b.name: b.server_id for b in gw.settings.backends},
    )


STATE = web.AppKey("mor", MorState)
