"""The live channel table: indexes for microsecond list queries, and a change bus.

Every list a dialect serves is one dictionary lookup in an index (account, owner, device, node,
call), never a scan and never a question to the switch. Channels are mutated only through
`apply`/`add`/`remove`/`reconcile`, so the indexes and the subscribers always agree with the table,
and each change bumps the channel's `version`, which render caches key on, and stales the
watches (gateway/watch.py) that whole-list memos armed on the channel or its index buckets.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from .model import ATTRIBUTION_INPUTS, CHANNEL_FIELDS, INDEXED, Channel
from .watch import Watch, Watches

log = logging.getLogger("callgate.store")

Attributor = Callable[[Channel], None]

#: One counter for every store: a channel's version is never reused, not even by a channel
#: re-added under the same id, so a cached rendering cannot match the wrong incarnation.
_next_version = itertools.count(1).__next__


class ChangeKind(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    RESYNC = "resync"  # the subscriber fell behind: re-read a snapshot


@dataclass(slots=True)
class Change:
    kind: ChangeKind
    channel: Channel | None
    before: dict[str, Any] = field(default_factory=dict)  # old values of the fields that changed


_RESYNC = Change(ChangeKind.RESYNC, None)
# bound once: `apply` asks both for every changed channel
_EMPTY: Mapping[str, Channel] = MappingProxyType({})
_ATTRIBUTION_DISJOINT = ATTRIBUTION_INPUTS.isdisjoint
_INDEXED_DISJOINT = frozenset(INDEXED).isdisjoint


class Subscription:
    """A bounded queue of changes; a subscriber that cannot keep up is told to resync.

    Ingest never waits on a subscriber: on overflow the queue is emptied and a single RESYNC
    change is left, after which the subscriber re-reads the store and carries on.
    """

    def __init__(self, store: ChannelStore, maxsize: int) -> None:
        self._store = store
        self._queue: asyncio.Queue[Change] = asyncio.Queue(maxsize)
        self.overflows = 0

    def _push(self, change: Change) -> None:
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflows += 1
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_RESYNC)

    async def get(self) -> Change:
        return await self._queue.get()

    def get_nowait(self) -> Change | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._store._subscribers.discard(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Change:
        return await self.get()


class _Resync:
    """Ids an event touched or removed while a node's snapshot was in flight."""

    __slots__ = ("removed", "touched")

    def __init__(self) -> None:
        self.touched: set[str] = set()
        self.removed: set[str] = set()


class ChannelStore:
    """Channels by id, plus one index per field in `INDEXED`."""

    def __init__(self, attribute: Attributor | None = None) -> None:
        self._channels: dict[str, Channel] = {}
        self._idx: dict[str, dict[str, dict[str, Channel]]] = {name: {} for name in INDEXED}
        self._subscribers: set[Subscription] = set()
        self._resyncs: dict[str, _Resync] = {}
        self._attribute = attribute
        self._watches = Watches()

    # ----------------------------------------------------------------- reads
    def __len__(self) -> int:
        return len(self._channels)

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._channels

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._channels.values()))

    def get(self, channel_id: str) -> Channel | None:
        return self._channels.get(channel_id)

    def peer(self, ch: Channel) -> Channel | None:
        """The leg `ch` is bridged to or being connected with (its `other_leg`), if live."""
        return self._channels.get(ch.other_leg) if ch.other_leg else None

    def all(self) -> Iterable[Channel]:
        return self._channels.values()

    def bucket(self, index: str, key: str) -> Mapping[str, Channel]:
        """The index's live bucket for `key` (id -> channel; read it, never change it): a memo
        of a whole list checks it against the versions it was built from."""
        return self._idx[index].get(key) or _EMPTY

    def _lookup(self, index: str, key: str) -> Iterable[Channel]:
        bucket = self._idx[index].get(key)
        return bucket.values() if bucket else ()

    def by_account(self, account_id: str) -> Iterable[Channel]:
        return self._lookup("account_id", account_id)

    def by_owner(self, owner_id: str) -> Iterable[Channel]:
        return self._lookup("owner_id", owner_id)

    def by_device(self, device_id: str) -> Iterable[Channel]:
        return self._lookup("authorizing_id", device_id)

    def by_node(self, node: str) -> Iterable[Channel]:
        return self._lookup("node", node)

    def by_call(self, call_id: str) -> Iterable[Channel]:
        return self._lookup("call_id", call_id)

    def count_by_node(self, node: str) -> int:
        bucket = self._idx["node"].get(node)
        return len(bucket) if bucket else 0

    def watch(self, watch: Watch, ids: Iterable[str] = (),
              buckets: Iterable[tuple[str, str]] = (), everything: bool = False) -> Watch:
        """Arm `watch` (gateway/watch.py): it goes stale when a channel of `ids` is added,
        changed or removed, when a channel enters or leaves a bucket (index name, key), or,
        with `everything`, on any change."""
        return self._watches.register(watch, ids, buckets, everything)

    # ------------------------------------------------------------- bus
    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subscribers.add(sub)
        return sub

    def _publish(self, change: Change) -> None:
        """Hand a change to every subscriber. `apply`, the per-event path, builds its `Change`
        only when `_subscribers` is non-empty: whatever must see every change subscribes."""
        for sub in self._subscribers:
            sub._push(change)

    # ----------------------------------------------------------- index upkeep
    def _index(self, ch: Channel) -> None:
        watches = self._watches
        for name in INDEXED:
            key = getattr(ch, name)
            if key:
                self._idx[name].setdefault(key, {})[ch.id] = ch
                if watches.live:
                    watches.bucket(name, key)

    def _unindex(self, ch: Channel) -> None:
        watches = self._watches
        for name in INDEXED:
            key = getattr(ch, name)
            if key:
                if watches.live:
                    watches.bucket(name, key)
                bucket = self._idx[name].get(key)
                if bucket is not None:
                    bucket.pop(ch.id, None)
                    if not bucket:
                        del self._idx[name][key]

    def _reindex(self, ch: Channel, before: Mapping[str, Any]) -> None:
        watches = self._watches
        for name in INDEXED:
            if name not in before:
                continue
            old, new = before[name], getattr(ch, name)
            if watches.live:
                if old:
                    watches.bucket(name, old)
                if new:
                    watches.bucket(name, new)
            if old:
                bucket = self._idx[name].get(old)
                if bucket is not None:
                    bucket.pop(ch.id, None)
                    if not bucket:
                        del self._idx[name][old]
            if new:
                self._idx[name].setdefault(new, {})[ch.id] = ch

    def _run_attribution(self, ch: Channel, before: dict[str, Any]) -> None:
        if self._attribute is None:
            return
        old = (ch.account_id, ch.owner_id, ch.authorizing_id, ch.authorizing_type, ch.agent_id)
        self._attribute(ch)
        new = (ch.account_id, ch.owner_id, ch.authorizing_id, ch.authorizing_type, ch.agent_id)
        if old != new:
            for name, o, n in zip(
                ("account_id", "owner_id", "authorizing_id", "authorizing_type", "agent_id"),
                old,
                new,
                strict=True,
            ):
                if o != n and name not in before:
                    before[name] = o

    # ------------------------------------------------------------- writes
    def add(self, ch: Channel) -> Channel:
        """Insert a channel (replacing one with the same id)."""
        existing = self._channels.get(ch.id)
        if existing is not None:
            self._unindex(existing)
        self._run_attribution(ch, {})
        ch.version = _next_version()
        self._channels[ch.id] = ch
        self._index(ch)
        if self._watches.live:
            self._watches.channel(ch.id)
        self._touch(ch.node, ch.id)
        self._publish(Change(ChangeKind.ADDED, ch))
        if ch.account_id:
            self._propagate_account(ch)
        return ch

    def apply(self, node: str, channel_id: str, changes: Mapping[str, Any]) -> Channel:
        """Create or update a channel from the fields one switch event carries.

        This runs for every switch event, so the common cases stay short: nothing changed
        (no `before` dict is built), no index key changed (no re-index), nobody subscribed
        (no `Change` is built), no resync in flight (nothing to record)."""
        ch = self._channels.get(channel_id)
        if ch is None:
            ch = Channel(id=channel_id, node=node)
            for k, v in changes.items():
                setattr(ch, k, v)
            return self.add(ch)
        before: dict[str, Any] | None = None
        for k, v in changes.items():
            old = getattr(ch, k)
            if old != v:
                if before is None:
                    before = {}
                before[k] = old
                setattr(ch, k, v)
        if self._resyncs:
            self._touch(node, channel_id)
        if before is None:
            return ch
        if not _ATTRIBUTION_DISJOINT(before):
            self._run_attribution(ch, before)
        ch.version = _next_version()
        watches = self._watches
        if watches.live and (channel_id in watches.ids or watches.everything):
            watches.channel(channel_id)
        if not _INDEXED_DISJOINT(before):
            self._reindex(ch, before)
        if self._subscribers:
            self._publish(Change(ChangeKind.UPDATED, ch, before))
        if "account_id" in before and ch.account_id:
            self._propagate_account(ch)
        return ch

    def _propagate_account(self, ch: Channel) -> None:
        """Legs of the same call that were unattributed may now inherit the account."""
        if self._attribute is None or not ch.call_id:
            return
        for leg in list(self.by_call(ch.call_id)):
            if leg is not ch and not leg.account_id:
                before: dict[str, Any] = {}
                self._run_attribution(leg, before)
                if before:
                    leg.version = _next_version()
                    if self._watches.live:
                        self._watches.channel(leg.id)
                    self._reindex(leg, before)
                    self._publish(Change(ChangeKind.UPDATED, leg, before))

    def update(self, channel_id: str, **changes: Any) -> Channel | None:
        ch = self._channels.get(channel_id)
        if ch is None:
            return None
        return self.apply(ch.node, channel_id, changes)

    def remove(self, channel_id: str) -> Channel | None:
        ch = self._channels.pop(channel_id, None)
        if ch is None:
            return None
        self._unindex(ch)
        if self._watches.live:
            self._watches.channel(channel_id)
        rs = self._resyncs.get(ch.node)
        if rs is not None:
            rs.removed.add(channel_id)
        self._publish(Change(ChangeKind.REMOVED, ch))
        return ch

    def forget(self, node: str, channel_id: str) -> None:
        """Record that the switch destroyed a channel we never saw (matters during a resync)."""
        rs = self._resyncs.get(node)
        if rs is not None:
            rs.removed.add(channel_id)

    def _touch(self, node: str, channel_id: str) -> None:
        if self._resyncs:
            rs = self._resyncs.get(node)
            if rs is not None:
                rs.touched.add(channel_id)

    # ------------------------------------------------------------ resync
    def begin_resync(self, node: str) -> None:
        """Start recording what events do to `node` until `reconcile` takes the snapshot."""
        self._resyncs[node] = _Resync()

    def reconcile(self, node: str, snapshot: Iterable[Channel]) -> tuple[int, int, int]:
        """Make the node's channels equal to the switch's snapshot; events seen since
        `begin_resync` are newer than the snapshot and win over it. Returns (added, updated,
        removed)."""
        rs = self._resyncs.pop(node, None) or _Resync()
        seen: set[str] = set()
        added = updated = removed = 0
        for snap in snapshot:
            seen.add(snap.id)
            if snap.id in rs.removed or snap.id in rs.touched:
                continue
            current = self._channels.get(snap.id)
            if current is None:
                self.add(snap)
                added += 1
                continue
            changes = {
                name: value
                for name in _RESYNCED
                if (value := getattr(snap, name)) != getattr(current, name) and _known(value)
            }
            if changes:
                self.apply(node, snap.id, changes)
                updated += 1
        for ch in list(self.by_node(node)):
            if ch.id not in seen and ch.id not in rs.touched:
                self.remove(ch.id)
                removed += 1
        log.info("resync %s: %d added, %d updated, %d removed", node, added, updated, removed)
        return added, updated, removed


def _known(value: Any) -> bool:
    """A snapshot's empty string or zero time means "not reported", not "cleared"."""
    if isinstance(value, bool):
        return True
    return value not in ("", None, (), 0.0)


#: Fields a snapshot does not know better than our events (attribution is re-derived).
_KEEP_ON_RESYNC = frozenset(
    {"id", "node", "account_id", "owner_id", "authorizing_id", "authorizing_type", "agent_id",
     "version"}
)
_RESYNCED = tuple(name for name in CHANNEL_FIELDS if name not in _KEEP_ON_RESYNC)
