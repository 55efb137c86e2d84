"""Legs to MOR calls: MOR keeps one `activecalls` row per call (A-leg with its bridged B-leg),
numbered by an auto-increment id; we group legs by call id and remember one integer per call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.model import Channel, State
from gateway.store import ChannelStore


@dataclass(slots=True)
class Call:
    key: str
    a: Channel
    b: Channel | None
    legs: list[Channel]


def call_key(ch: Channel) -> str:
    if ch.call_id:
        return ch.call_id
    return min(ch.id, ch.other_leg) if ch.other_leg else ch.id


def legs_of(store: ChannelStore, key: str) -> list[Channel]:
    legs = [ch for ch in store.by_call(key) if ch.state is not State.HUNGUP]
    if legs:
        return legs
    first = store.get(key)
    if first is None or first.state is State.HUNGUP:
        return []
    legs = [first]
    peer = store.peer(first)
    if peer is not None and peer.state is not State.HUNGUP:
        legs.append(peer)
    return legs


def _order(ch: Channel) -> tuple[float, str]:
    return (ch.created or float("inf"), ch.id)


def make_call(key: str, legs: list[Channel], store: ChannelStore) -> Call:
    """The A-leg is the leg that started the call (its id is the call id on both switches),
    else the one that came into the switch, else the oldest."""
    by_id = {ch.id: ch for ch in legs}
    a = by_id.get(key)
    if a is None:
        inbound = [ch for ch in legs if ch.direction == "inbound"]
        a = min(inbound or legs, key=_order)
    b = by_id.get(a.other_leg) if a.other_leg else None
    if b is None:
        peer = store.peer(a)
        b = peer if peer is not None and peer.state is not State.HUNGUP else None
    if b is None:
        rest = [ch for ch in legs if ch is not a]
        b = min(rest, key=_order) if rest else None
    return Call(key, a, b, legs)


def group(store: ChannelStore, legs: Iterable[Channel]) -> list[Call]:
    calls: list[Call] = []
    seen: set[str] = set()
    for ch in legs:
        if ch.state is State.HUNGUP:
            continue
        key = call_key(ch)
        if key in seen:
            continue
        seen.add(key)
        members = legs_of(store, key) or [ch]
        calls.append(make_call(key, members, store))
    return calls


class CallIds:
    """A stable integer per call, like MOR's `activecalls.id`; ids of ended calls are
    forgotten in amortized passes so the map stays the size of the live table."""

    def __init__(self, store: ChannelStore) -> None:
        self._store = store
        self.by_key: dict[str, int] = {}  # read-only outside this class
        self._keys: dict[int, str] = {}
        self._next = 1
        self._prune_at = 1024

    def id_for(self, key: str) -> int:
        found = self.by_key.get(key)
        if found is not None:
            return found
        if len(self.by_key) >= self._prune_at:
            self._prune()
        n = self._next
        self._next += 1
        self.by_key[key] = n
        self._keys[n] = key
        return n

    def key_for(self, call_id: int) -> str | None:
        return self._keys.get(call_id)

    def _prune(self) -> None:
        for key, n in list(self.by_key.items()):
            if not legs_of(self._store, key):
                del self.by_key[key]
                del self._keys[n]
        self._prune_at = max(1024, 2 * len(self.by_key))
