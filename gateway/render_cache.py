"""A per-dialect memo of channel renderings, valid while the channel's `version` is unchanged.

Lists are polled far more often than channels change, and the store bumps `Channel.version` on
every change it applies (versions are never reused, not even for a channel re-added under the
same id), so a rendering made at one version is exact until the next bump. Renderings must be
pure of time: whatever depends on the clock (elapsed seconds, durations) is added per request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, MutableMapping
from operator import attrgetter
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from .model import Channel
from .watch import Watch

if TYPE_CHECKING:
    from .store import ChannelStore

T = TypeVar("T")
K = TypeVar("K")


class Kept(Protocol):
    """A whole list a dialect keeps, with the store watch that says when it went stale."""

    @property
    def watch(self) -> Watch: ...


L = TypeVar("L", bound=Kept)

#: Whole lists a dialect keeps (one per scope: an account, an organization, a MOR user);
#: past this many the lot is dropped and rebuilt on demand.
MAX_LISTS = 256
_VERSION = attrgetter("version")


def versions(channels: Iterable[Channel]) -> tuple[int, ...]:
    """The channels' versions, in order: what a memo of a whole list is stamped with. Equal
    tuples are the same channels, each unchanged, since a version is never reused."""
    return tuple(map(_VERSION, channels))


def keep_list(lists: MutableMapping[K, L], key: K, value: L) -> L:
    """Remember a whole list under `key`, dropping every list first once `MAX_LISTS` are
    kept (scopes are few, and a list is cheap to make again). A list replaced or dropped has
    its watch closed, so the store forgets it."""
    old = lists.get(key)
    if old is None and len(lists) >= MAX_LISTS:
        for dropped in lists.values():
            dropped.watch.close()
        lists.clear()
    elif old is not None and old is not value:
        old.watch.close()
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


S = TypeVar("S", str, bytes)
INF = float("inf")


class Ticking(Generic[S]):
    """A kept page whose only moving parts are whole seconds since given instants (MOR's
    `duration`, Kazoo's `elapsed_s`): the static `parts` with each count written between
    them. A page written at `now` is exact until the first of its counts ticks, so it is kept
    until then: polls in between cost a clock comparison, whatever the page's size."""

    __slots__ = ("_format", "_join", "_page", "_until", "_written", "_zero", "parts", "since")

    def __init__(self, parts: list[S], since: list[float]) -> None:
        """`len(parts) == len(since) + 1`: parts[0], count 0, parts[1], ... parts[-1]."""
        self.parts: list[S] = parts
        self.since = since
        empty = parts[0][:0]
        self._join: Callable[[list[S]], S] = empty.join
        self._format: Callable[[int], S] = (empty + b"%d" if isinstance(empty, bytes)
                                            else empty + "%d").__mod__
        self._zero: S = self._format(0)
        self._page: S = empty
        self._written = self._until = 0.0

    def page(self, now: float) -> S:
        if self._written <= now < self._until:
            return self._page
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        counts: list[S] = []
        until = INF
        zero, fmt = self._zero, self._format
        for at in self.since:
            s = int(now - at)
            if s > 0:
                counts.append(fmt(s))
                tick = at + s + 1
            else:
                counts.append(zero)
                tick = at + 1
            if tick < until:
                until = tick
        out = parts * 2  # any list of the right length, overwritten below
        del out[len(parts) * 2 - 1:]
        out[0::2] = parts
        out[1::2] = counts
        page = self._join(out)
        # a microsecond early, so that rounding in `at + s + 1` never keeps a count past its tick
        self._page, self._written, self._until = page, now, until - 1e-6
        return page

