"""What MOR remembers of each live call between requests (see listing.py): how it was
assembled from its legs, and its row."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.model import Channel
from gateway.store import ChannelStore

from . import rows
from .calls import Call

#: Calls remembered before the first purge of ended ones.
_MIN_MEMO = 1024


class Assembly:
    """One call as last assembled: the versions of its bucket's legs (and of the A-leg's
    peer when that peer is outside the bucket), the call, and its row for the id it was
    built with."""

    __slots__ = ("bucket", "cached", "call", "n", "outside_peer", "peer_version", "stamp")

    def __init__(self, bucket: Iterable[Channel], stamp: tuple[int, ...], call: Call,
                 outside_peer: bool, peer_version: int) -> None:
        self.bucket = bucket
        self.stamp = stamp
        self.call = call
        self.outside_peer = outside_peer
        self.peer_version = peer_version
        self.n = 0
        self.cached: rows.Cached | None = None


class CallMemo:
    """Assemblies by call key; those of ended calls are dropped in amortized passes."""

    __slots__ = ("_limit", "_store", "entries")

    def __init__(self, store: ChannelStore) -> None:
        self._store = store
        self.entries: dict[str, Assembly] = {}
        self._limit = _MIN_MEMO

    def put(self, key: str, entry: Assembly) -> None:
        entries = self.entries
        if key not in entries and len(entries) >= self._limit:
            by_call = self._store.by_call
            for ended in [k for k in entries if not any(by_call(k))]:
                del entries[ended]  # in place: a list being made holds this dict
            self._limit = max(_MIN_MEMO, 2 * len(entries))
        entries[key] = entry
