"""`active_calls_get`'s list at the cost of the calls in scope, not of the table: each call's
assembly (which legs, which is A and B) is remembered under the versions of the legs it was
made from, its row and page piece under the versions of its two legs and its id, and each
scope's whole list under a store watch on everything it was made from (memo.ScopeList). A
request that finds nothing changed reads the watch, applies the filters and splices cached
bytes around each answered call's `duration` (kept until one of them ticks); a change costs
the changed calls.

Versions are never reused (gateway/store.py), so equal versions mean the same legs in the same
state; a leg leaving the store shows as a changed call bucket or a missing peer.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.model import Channel, State
from gateway.render_cache import keep_list, versions
from gateway.store import ChannelStore

from . import calls, render, rows
from .filters import Filters
from .memo import (
    Assembly,
    CallMemo,
    ScopeList,
    live,
    peer_version,
    seconds_text,
)
from .scope import Scope
from .state import MorState

HUNGUP = State.HUNGUP
INF = float("inf")



def _assemble(store: ChannelStore, memo: CallMemo, key: str, ch: Channel) -> Assembly:
    """The call of `key` exactly as `calls.group` makes it; remembered when it was made from
    its bucket of the store's call index and possibly the A-leg's peer.

    The entry keeps the bucket as the store hands it out, a live view of the index's dict: a
    bucket that empties is dropped from the index and stays empty, so the view's versions
    always tell whether the call's legs are still those it was made from. Anything else (a
    copy) is not remembered."""
    bucket = store.by_call(key)
    stamp = versions(bucket)
    members = calls.legs_of(store, key) or [ch]
    call = calls.make_call(key, members, store)
    a = call.a
    outside = bool(a.other_leg) and all(leg.id != a.other_leg for leg in members)
    entry = Assembly(bucket, stamp, call, outside, peer_version(store, a) if outside else 0)
    if live(bucket) and a.version in stamp:
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


def _collect(state: MorState, legs: Iterable[Channel], cutoff: float | None
             ) -> tuple[list[Assembly], list[tuple[int, Assembly]], bool, float]:
    """Every call of `legs` (hidden ones too), and the visible ones as (id, assembly) in id
    order, as `calls.group` and `routes.visible_calls` give them; whether every call is
    remembered (so the whole list may be), and the oldest visible call's start."""
    store = state.gw.store
    memo = state.calls
    ids = state.call_ids
    known_id = ids.by_key.get
    entries = memo.entries
    seen: set[str] = set()
    assembled: list[Assembly] = []
    found: list[tuple[int, Assembly]] = []
    new: list[tuple[float, str, str, Assembly]] = []
    whole = True
    oldest = INF
    for ch in legs:
        if ch.state is HUNGUP:
            continue
        key = ch.call_id or calls.call_key(ch)
        if key in seen:
            continue
        seen.add(key)
        entry = entries.get(key)
        if entry is None or entry.stamp != versions(entry.bucket) or (
                entry.outside_peer and peer_version(store, entry.call.a) != entry.peer_version):
            entry = _assemble(store, memo, key, ch)
            whole = whole and entries.get(key) is entry
        assembled.append(entry)
        created = entry.call.a.created
        if created and cutoff is not None:
            if created < cutoff:
                continue  # older than the hide window, as MOR's GUI hides it
            oldest = min(oldest, created)
        n = known_id(key)
        if n is None:
            new.append((created, entry.call.a.id, key, entry))
        else:
            found.append((n, entry))
    if new:  # ids are handed out oldest call first, as MOR's auto-increment would
        new.sort(key=lambda t: (t[0], t[1]))
        found += [(ids.id_for(key), entry) for _, _, key, entry in new]
    found.sort()  # by id; ids are unique, so entries are never compared
    return assembled, found, whole, oldest


def _render(state: MorState, found: list[tuple[int, Assembly]], wanted: Filters,
            show_provider: bool, now: float) -> list[bytes]:
    """The rows' pieces that pass the filters, durations written in."""
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
            add(seconds_text(now - cached.row.answered_at))
            add(tail)
    return out


def page(state: MorState, scope: Scope, wanted: Filters, now: float) -> bytes:
    """The whole `active_calls_get` page for `scope`, filtered."""
    store = state.gw.store
    hours = state.options.hide_calls_older_than_hours
    cutoff = now - hours * 3600 if hours else None
    show_provider = scope.is_admin
    key = (scope.key, show_provider)
    lists = state.lists
    kept = lists.get(key)
    if kept is not None and kept.holds(cutoff):
        if kept.template is not None and not wanted.active:
            return kept.template.page(now)
        found = kept.found
    else:
        assembled, found, whole, oldest = _collect(state, scope.channels(), cutoff)
        old = lists.pop(key, None)  # outdated; kept again below if it can be
        if old is not None:
            old.watch.close()
        kept = None
        if whole:
            kept = keep_list(lists, key, ScopeList(store, scope.buckets(), scope.channels(),
                                                   assembled, found, cutoff, oldest))
    pieces = _render(state, found, wanted, show_provider, now)
    if kept is not None and kept.template is None:
        kept.keep_template(show_provider)  # every row is built now
    if not pieces:
        return render.NO_DATA
    return b"".join([render.PAGE_OPEN, *pieces, render.PAGE_CLOSE])
