"""Everything the Kazoo dialect keeps between requests, in one typed object built once in
`create_apps` and set on each of its applications under `STATE`."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field

from aiohttp import web

from gateway.context import Gateway
from gateway.tokens import TokenSigner

from .render import Items
from .settings import KazooSettings
from .verified import VerifiedTokens


@dataclass(slots=True)
class KazooState:
    gw: Gateway
    options: KazooSettings
    signer: TokenSigner
    items: Items  # per-channel rendered list/detail items
    # token fingerprint -> its exp; shared by every gateway instance
    revoked: MutableMapping[str, int] = field(default_factory=dict)
    verified: VerifiedTokens = field(default_factory=VerifiedTokens)  # token -> (exp, claims)

    @classmethod
    def build(cls, gw: Gateway, options: KazooSettings) -> KazooState:
        return cls(gw=gw, options=options,
                   signer=TokenSigner(gw.settings.gateway.token_secret, "kazoo"),
                   items=Items(gw.store, gw.directory),
                   revoked=gw.shared.map("kazoo.revoked"))


STATE = web.AppKey("kazoo", KazooState)
