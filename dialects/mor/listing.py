"""`active_calls_get`'s list at the cost of the calls in scope, not of the table: each call's
assembly (which legs, which is A and B) is remembered under the versions of the legs it was
made from, its row and page piece under the versions of its two legs and its id, so a request
that finds nothing changed only walks the scope, checks versions, applies the filters and
splices cached bytes around each answered call's `duration`.

Versions are never reused (gateway/store.py), so equal versions mean the same legs in the same
state; a leg leaving the store shows as a changed call bucket or a missing peer.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from gateway.model import Channel, State
from gateway.store import ChannelStore

from . import calls, rows
from .filters import Filters
from .memo import Assembly, CallMemo
from .state import MorState

HUNGUP = State.HUNGUP
_version = attrgetter("version")
_LIVE: type = type({}.values())


def _peer_version(store: ChannelStore, a: Channel) -> int:
    peer = store.peer(a)
    return peer.version if peer is not None else 0


def _assemble(store: ChannelStore, memo: CallMemo, key: str, ch: Channel) -> Assembly:
    """The call of `key` exactly as `calls.group` makes it; remembered when it was made from
    its bucket of the store's call index and possibly the A-leg's peer.

    The entry keeps the bucket as the store hands it out, a live view of the index's dict: a
    bucket that empties is dropped from the index and stays empty, so the view's versions
    always tell whether the call's legs are still those it was made from. Anything else (a
    copy) is not remembered."""
    bucket = store.by_call(key)
    stamp = tuple(map(_version, bucket))
    members = calls.legs_of(store, key) or [ch]
    call = calls.make_call(key, members, store)
    a = call.a
    outside = bool(a.other_leg) and all(leg.id != a.other_leg for leg in members)
    entry = Assembly(bucket, stamp, call, outside, _peer_version(store, a) if outside else 0)
    if isinstance(bucket, _LIVE) and a.version in stamp:
        memo.put(key, entry)
    return entry


def _row(state: MorState, entry: Assembly, n: int) -> rows.Cached:
    """The call's row for id `n`: kept on the assembly, else from the rows cache (a call
    re-assembled without a change to its two legs keeps its row), else built."""
    call = entry.call
    a, b = call.a, call.b
    # a row reads its two legs (the directory and settings are fixed) and its number
    stamp = (a.version, b.version if b is not None else 0, n)
    cache = state.rows
    cached = cache.lookup(a, stamp)
    if cached is None:
        cached = cache.put(a, stamp, rows.Cached(
            rows.build(state.gw, state.options, call, n, state.servers)))
    entry.n, entry.cached = n, cached
    return cached


def page_pieces(state: MorState, memo: CallMemo, legs: Iterable[Channel], wanted: Filters,
                show_provider: bool, now: float) -> list[bytes]:
    """The `<active_call>` pieces of the calls with a leg in `legs`, in id order, durations
    written in: what `calls.group`, `routes.visible_calls` and `rows` give, from memos."""
    store = state.gw.store
    peer_version = _peer_version
    ids = state.call_ids
    known_id = ids.by_key.get
    entries = memo.entries
    hours = state.options.hide_calls_older_than_hours
    cutoff = now - hours * 3600 if hours else None
    seen: set[str] = set()
    found: list[tuple[int, Assembly]] = []
    new: list[tuple[float, str, str, Assembly]] = []
    for ch in legs:
        if ch.state is HUNGUP:
            continue
        key = ch.call_id or calls.call_key(ch)
        if key in seen:
            continue
        seen.add(key)
        entry = entries.get(key)
        if entry is None or entry.stamp != tuple(map(_version, entry.bucket)) or (
                entry.outside_peer and peer_version(store, entry.call.a) != entry.peer_version):
            entry = _assemble(store, memo, key, ch)
        a = entry.call.a
        if cutoff is not None and a.created and a.created < cutoff:
            continue  # older than the hide window, as MOR's GUI hides it
        n = known_id(key)
        if n is None:
            new.append((a.created, a.id, key, entry))
        else:
            found.append((n, entry))
    if new:  # ids are handed out oldest call first, as MOR's auto-increment would
        new.sort(key=lambda t: (t[0], t[1]))
        found += [(ids.id_for(key), entry) for _, _, key, entry in new]
    found.sort()  # by id; ids are unique, so entries are never compared
    filtering = wanted.active
    out: list[bytes] = []
    add = out.append
    for n, entry in found:
        cached = entry.cached
        if cached is None or entry.n != n:
            cached = _row(state, entry, n)
        if filtering and not wanted.matches(cached.row):
            continue
        head, tail = cached.made[show_provider] or cached.pieces(show_provider)
        add(head)
        if tail:
            seconds = int(now - cached.row.answered_at)
            add(b"%d" % seconds if seconds > 0 else b"0")
            add(tail)
    return out
