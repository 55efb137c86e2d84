"""What MOR remembers of each live call between requests (see listing.py): how it was
assembled from its legs, and its row."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.model import Channel
from gateway.render_cache import Ticking
from gateway.store import ChannelStore
from gateway.watch import Watch

from . import render, rows
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


#: The largest page kept as a template (an admin's list of a big table splices from the rows).
MAX_TEMPLATE = 1 << 20

_LIVE: type = type({}.values())


def live(bucket: Iterable[Channel]) -> bool:
    """A live view of one of the store's index buckets (what `by_call` hands out), not a
    copy: only such a view keeps telling what the bucket holds now."""
    return isinstance(bucket, _LIVE)


def peer_version(store: ChannelStore, a: Channel) -> int:
    peer = store.peer(a)
    return peer.version if peer is not None else 0


def seconds_text(elapsed: float) -> bytes:
    """`duration`: whole seconds, never negative."""
    seconds = int(elapsed)
    return b"%d" % seconds if seconds > 0 else b"0"


class ScopeList:
    """One scope's list as last made, armed with a store watch (gateway/watch.py) on
    everything it was made from: the scope's buckets and legs, the call bucket and legs of every
    call they make (hidden ones included), and the A-legs' peers outside their buckets; and the
    hide window. While the watch is fresh and the window holds, the calls, their assembly, ids
    and rows are those of `found`, and without filters the page is `template` with each
    answered call's `duration` written in between its pieces."""

    __slots__ = ("cutoff", "found", "oldest", "template", "watch")

    def __init__(self, store: ChannelStore, scope_buckets: Iterable[tuple[str, str]] | None,
                 legs: Iterable[Channel], assembled: list[Assembly],
                 found: list[tuple[int, Assembly]], cutoff: float | None,
                 oldest: float) -> None:
        """`scope_buckets` None: the scope is the whole table, and any change stales it."""
        self.found = found
        self.cutoff = cutoff
        self.oldest = oldest  # the oldest visible call's start: it is the first to hide
        self.template: Ticking[bytes] | None = None
        self.watch = Watch()
        if scope_buckets is None:
            store.watch(self.watch, everything=True)
            return
        ids = {ch.id for ch in legs}
        buckets = list(scope_buckets)
        for entry in assembled:
            buckets.append(("call_id", entry.call.key))
            ids.update(ch.id for ch in entry.bucket)
            if entry.outside_peer:
                ids.add(entry.call.a.other_leg)
        store.watch(self.watch, ids, buckets)

    def holds(self, cutoff: float | None) -> bool:
        if cutoff is not None and self.cutoff is not None and (
                cutoff < self.cutoff or self.oldest < cutoff):
            return False  # a call crosses the hide window (or the clock went back)
        return self.watch.fresh

    def keep_template(self, show_provider: bool) -> None:
        """Merge the static bytes between durations (every row is built at this point)."""
        if not self.found:
            self.template = Ticking([render.NO_DATA], [])
            return
        parts: list[bytes] = []
        answered_at: list[float] = []
        run = [render.PAGE_OPEN]
        size = 0
        for n, entry in self.found:
            cached = entry.cached
            if cached is None or entry.n != n:
                return
            head, tail = cached.made[show_provider] or cached.pieces(show_provider)
            size += len(head) + len(tail)
            run.append(head)
            if tail:
                parts.append(b"".join(run))
                run = [tail]
                answered_at.append(cached.row.answered_at)
        if size > MAX_TEMPLATE:
            return
        run.append(render.PAGE_CLOSE)
        parts.append(b"".join(run))
        self.template = Ticking(parts, answered_at)
