"""Whole-list memos told by the store when they go stale, instead of re-checking every leg.

A dialect keeps each scope's list whole (render_cache.keep_list). Checking it against the
versions of every leg it was made from costs a read of each leg per poll, and at 100 legs that
read dominated the request. Here the memo hands the store a `Watch` with what it was made from:
channel ids (present or not) and index buckets (an account, a device, a call). The store clears
`fresh` the moment one of those channels is added, changed or removed, or a channel enters or
leaves one of those buckets; a poll reads one attribute.

Watches are one-shot: firing drops them from the registry, and the memo that finds its watch
stale rebuilds and registers a new one. Registrations of stale watches are pruned when a set
grows, and `close()` marks a discarded memo's watch stale so it is pruned too; ids and buckets
that never change again (a peer id that never appears) are swept once the registry has doubled.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import INDEXED

#: A registry set is pruned of stale watches when it reaches this size.
_PRUNE_AT = 8
#: The registry is swept of sets holding only stale watches when it holds this many ids and
#: buckets, and then again each time it has doubled.
_MIN_SWEEP = 4096


class Watch:
    """One memo's freshness: True from registration until something it watches changes."""

    __slots__ = ("fresh",)

    def __init__(self) -> None:
        self.fresh = False

    def close(self) -> None:
        """The memo is discarded: its registrations may be pruned."""
        self.fresh = False


def _add(table: dict[str, set[Watch]], key: str, watch: Watch) -> None:
    found = table.get(key)
    if found is None:
        table[key] = {watch}
        return
    if len(found) >= _PRUNE_AT:
        found = table[key] = {w for w in found if w.fresh}
    found.add(watch)


def _fire(found: set[Watch] | None) -> None:
    if found:
        for watch in found:
            watch.fresh = False


class Watches:
    """The store's registry (gateway/store.py calls `channel`/`bucket` on every change once
    anything is registered; `live` says whether anything ever was)."""

    __slots__ = ("_sweep_at", "buckets", "everything", "ids", "live")

    def __init__(self) -> None:
        self.ids: dict[str, set[Watch]] = {}
        self.buckets: dict[str, dict[str, set[Watch]]] = {name: {} for name in INDEXED}
        self.everything: set[Watch] = set()
        self.live = False
        self._sweep_at = _MIN_SWEEP

    def register(self, watch: Watch, ids: Iterable[str] = (),
                 buckets: Iterable[tuple[str, str]] = (), everything: bool = False) -> Watch:
        """Arm `watch` on channel ids, (index, key) buckets, or every change of the table."""
        self.live = True
        watch.fresh = True
        table = self.ids
        for channel_id in ids:
            _add(table, channel_id, watch)
        for name, key in buckets:
            _add(self.buckets[name], key, watch)
        if everything:
            if len(self.everything) >= _PRUNE_AT:
                self.everything = {w for w in self.everything if w.fresh}
            self.everything.add(watch)
        if len(table) >= self._sweep_at:
            self._sweep()
        return watch

    def _sweep(self) -> None:
        tables = [self.ids, *self.buckets.values()]
        for table in tables:
            for key in [k for k, found in table.items() if not any(w.fresh for w in found)]:
                del table[key]
        self._sweep_at = max(_MIN_SWEEP, 2 * sum(map(len, tables)))

    def channel(self, channel_id: str) -> None:
        """The channel `channel_id` was added, changed or removed."""
        _fire(self.ids.pop(channel_id, None))
        if self.everything:
            _fire(self.everything)
            self.everything = set()

    def bucket(self, name: str, key: str) -> None:
        """A channel entered or left the `name` index's bucket `key`."""
        _fire(self.buckets[name].pop(key, None))

    def __len__(self) -> int:
        """Registrations held (to show the registry stays bounded)."""
        return (sum(map(len, self.ids.values())) + len(self.everything)
                + sum(len(s) for table in self.buckets.values() for s in table.values()))
