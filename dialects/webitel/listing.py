"""`show channels as json` of a scope, kept whole while the store's watch on what it was made
from stays fresh (gateway/watch.py): a desk's poll costs one flag read. A row is fixed while
its channel is unchanged (no column reads the clock), so an account's list depends only on its
bucket's membership and its legs; the whole table's list on every change."""

from __future__ import annotations

from gateway.context import Gateway
from gateway.render_cache import keep_list
from gateway.watch import Watch

from .render import listing_json
from .state import WebitelState


class Listing:
    __slots__ = ("text", "watch")

    def __init__(self, text: str, watch: Watch) -> None:
        self.text = text
        self.watch = watch


def listing(gw: Gateway, state: WebitelState, account: str | None) -> str:
    """The list of `account`'s channels, or of every channel for None, oldest first."""
    key = account if account is not None else ""
    kept = state.lists.get(key)
    if kept is not None and kept.watch.fresh:
        return kept.text
    store = gw.store
    channels = store.by_account(account) if account is not None else store.all()
    ordered = sorted(channels, key=lambda ch: ch.created)
    text = listing_json([state.rows.get(ch) for ch in ordered], state.options.list_envelope)
    if account is None:
        watch = store.watch(Watch(), everything=True)
    else:
        watch = store.watch(Watch(), [ch.id for ch in ordered], [("account_id", account)])
    keep_list(state.lists, key, Listing(text, watch))
    return text
