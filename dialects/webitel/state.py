"""Everything the Webitel dialect keeps between requests, in one typed object built once in
`create_apps` and set on each of its applications under `STATE`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.render_cache import RenderCache

from .sessions import Sessions
from .settings import WebitelSettings

if TYPE_CHECKING:
    from .listing import Listing


@dataclass(slots=True)
class WebitelState:
    options: WebitelSettings
    sessions: Sessions
    rows: RenderCache[str]  # serialized `show channels` rows by channel version
    max_body: int  # the gateway's body limit, read once
    #: account id ("" for the whole table) -> its list kept whole (listing.py)
    lists: dict[str, Listing] = field(default_factory=dict)


STATE = web.AppKey("webitel", WebitelState)
