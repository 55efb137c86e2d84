"""A per-dialect memo of channel renderings, valid while the channel's `version` is unchanged.

Lists are polled far more often than channels change, and the store bumps `Channel.version` on
every change it applies (versions are never reused, not even for a channel re-added under the
same id), so a rendering made at one version is exact until the next bump. Renderings must be
pure of time: whatever depends on the clock (elapsed seconds, durations) is added per request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, MutableMapping
from operator import attrgetter
from typing import TYPE_CHECKING, Generic, TypeVar

from .model import Channel

if TYPE_CHECKING:
    from .store import ChannelStore

T = TypeVar("T")
K = TypeVar("K")

#: Whole lists a dialect keeps (one per scope: an account, an organization, a MOR user);
#: past this many the lot is dropped and rebuilt on demand.
MAX_LISTS = 256
_VERSION = attrgetter("version")


def versions(channels: Iterable[Channel]) -> tuple[int, ...]:
    """The channels' versions, in order: what a memo of a whole list is stamped with. Equal
    tuples are the same channels, each unchanged, since a version is never reused."""
    return tuple(map(_VERSION, channels))


def keep_list(lists: MutableMapping[K, T], key: K, value: T) -> T:
    """Remember a whole list under `key`, dropping every list first once `MAX_LISTS` are
    kept (scopes are few, and a list is cheap to make again)."""
    if key not in lists and len(lists) >= MAX_LISTS:
        lists.clear()
    lists[key] = value
    return value

#: Entries kept before the first purge, so small stores never purge.
_MIN_LIMIT = 1024


class RenderCache(Generic[T]):
    """`render(channel)` memoized per channel id; entries of channels that left the store are
    dropped in amortized passes once the memo outgrows twice the live table."""

    __slots__ = ("_entries", "_limit", "_render", "_store")

    def __init__(self, render: Callable[[Channel], T] | None, store: ChannelStore) -> None:
        """`render` may be None for a memo used only through `lookup`/`put`."""
        self._render = render
        self._store = store
        self._entries: dict[str, tuple[Hashable, T]] = {}
        self._limit = _MIN_LIMIT

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, ch: Channel) -> T:
        hit = self._entries.get(ch.id)
        if hit is not None and hit[0] == ch.version:
            return hit[1]
        assert self._render is not None, "a lookup/put memo has no renderer"
        return self.put(ch, ch.version, self._render(ch))

    def lookup(self, ch: Channel, stamp: Hashable) -> T | None:
        """For renderings with inputs beyond `ch` (a MOR call reads two legs): the value
        stored under `ch` with an equal `stamp`, which must include `ch.version` and every
        other input's (e.g. the peer leg's version)."""
        hit = self._entries.get(ch.id)
        return hit[1] if hit is not None and hit[0] == stamp else None

    def put(self, ch: Channel, stamp: Hashable, value: T) -> T:
        """Remember `value` for `ch` at `stamp`; a channel the store never versioned (0) may
        still change behind its back, so it is not remembered."""
        if ch.version:
            entries = self._entries
            if ch.id not in entries and len(entries) >= self._limit:
                self._purge()
            entries[ch.id] = (stamp, value)
        return value

    def _purge(self) -> None:
        store = self._store
        self._entries = {k: v for k, v in self._entries.items() if k in store}
        self._limit = max(_MIN_LIMIT, 2 * len(store), 2 * len(self._entries))
