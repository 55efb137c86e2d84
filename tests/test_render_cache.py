"""The render memo: one rendering per channel version, never a stale one, and no memory kept
for channels that left the store."""

from __future__ import annotations

import math
import random

import pytest

from gateway.model import Channel, State
from gateway.render_cache import MAX_LISTS, RenderCache, Ticking, keep_list
from gateway.store import ChannelStore
from gateway.watch import Watch


def _counting(store: ChannelStore) -> tuple[RenderCache[tuple[str, str]], list[str]]:
    calls: list[str] = []

    def render(ch: Channel) -> tuple[str, str]:
        calls.append(ch.id)
        return (ch.id, ch.state)

    return RenderCache(render, store), calls


def test_renders_once_per_version() -> None:
    store = ChannelStore()
    cache, calls = _counting(store)
    ch = store.add(Channel(id="a", node="fs1"))
    assert cache.get(ch) == ("a", "ringing")
    assert cache.get(ch) == ("a", "ringing")
    assert calls == ["a"]
    store.apply("fs1", "a", {"state": State.ANSWERED, "answered": True})
    assert cache.get(ch) == ("a", "answered")
    assert calls == ["a", "a"]
    store.apply("fs1", "a", {"state": State.ANSWERED})  # no change: no new rendering
    assert cache.get(ch) == ("a", "answered") and calls == ["a", "a"]


def test_removed_and_re_added_with_the_same_id_is_rendered_again() -> None:
    store = ChannelStore()
    cache, calls = _counting(store)
    old = store.add(Channel(id="a", node="fs1", state=State.HELD))
    assert cache.get(old) == ("a", "held")
    store.remove("a")
    new = store.add(Channel(id="a", node="fs1"))
    assert cache.get(new) == ("a", "ringing")
    assert calls == ["a", "a"]


def test_unversioned_channels_are_never_remembered() -> None:
    """A channel the store never applied a change to may be mutated freely."""
    store = ChannelStore()
    cache, calls = _counting(store)
    ch = Channel(id="loose", node="fs1")
    assert cache.get(ch) == ("loose", "ringing")
    ch.state = State.HELD
    assert cache.get(ch) == ("loose", "held")
    assert len(cache) == 0 and calls == ["loose", "loose"]


def test_stamped_lookup_for_renderings_of_several_legs() -> None:
    store = ChannelStore()
    cache: RenderCache[str] = RenderCache(None, store)
    a = store.add(Channel(id="a", node="fs1", other_leg="b"))
    b = store.add(Channel(id="b", node="fs1", other_leg="a"))
    assert cache.lookup(a, (a.version, b.version)) is None
    cache.put(a, (a.version, b.version), "row")
    assert cache.lookup(a, (a.version, b.version)) == "row"
    store.apply("fs1", "b", {"held": True})  # only the peer changed
    assert cache.lookup(a, (a.version, b.version)) is None


def test_forgets_channels_that_left_the_store() -> None:
    """Memory stays within about twice the live table however many channels came and went."""
    store = ChannelStore()
    cache, calls = _counting(store)
    live = [store.add(Channel(id=f"live{i}", node="fs1")) for i in range(10)]
    for ch in live:
        cache.get(ch)
    for i in range(5000):
        gone = store.add(Channel(id=f"gone{i}", node="fs1"))
        cache.get(gone)
        store.remove(gone.id)
        assert len(cache) <= max(1024, 2 * len(store)) + 1
    rendered = len(calls)
    for ch in live:  # the live ones survived every purge
        cache.get(ch)
    assert len(calls) == rendered


class _Kept:
    def __init__(self, name: str) -> None:
        self.name = name
        self.watch = Watch()
        self.watch.fresh = True


def test_whole_lists_are_bounded_and_a_kept_key_is_replaced_in_place() -> None:
    lists: dict[int, _Kept] = {}
    first = [keep_list(lists, i, _Kept("v")) for i in range(MAX_LISTS)]
    new = _Kept("new")
    assert keep_list(lists, 0, new) is new and len(lists) == MAX_LISTS  # no drop
    assert not first[0].watch.fresh and first[1].watch.fresh  # the replaced one is closed
    last = _Kept("last")
    keep_list(lists, MAX_LISTS, last)
    assert lists == {MAX_LISTS: last}  # one more scope: the lot goes first, watches closed
    assert not new.watch.fresh and not any(k.watch.fresh for k in first)
    assert last.watch.fresh
    assert keep_list(lists, MAX_LISTS, last) is last and last.watch.fresh  # kept again: open


@pytest.mark.parametrize("kind", [bytes, str])
def test_a_ticking_page_is_the_page_written_at_that_instant(kind: type) -> None:
    """Whatever instant it is asked at (in order, with the clock going back, right at and
    around each count's tick), the kept page equals the page written afresh then."""
    rng = random.Random(7)
    base = 1_800_000_000.0
    since = [base - rng.uniform(-3, 4000) for _ in range(40)]
    pieces = [f"<row {i}>" for i in range(41)]
    parts = [kind(p, "ascii") if kind is bytes else p for p in pieces]

    def fresh(now: float) -> object:
        out = pieces[0]
        for at, piece in zip(since, pieces[1:], strict=True):
            out += str(max(0, int(now - at))) + piece
        return out.encode() if kind is bytes else out

    page = Ticking(parts, since)
    instants = [base + rng.uniform(0, 5) for _ in range(300)]
    for at in since[:10]:  # right at, just before and just after ticks
        for k in (1, 2, 500):
            tick = at + k
            instants += [tick, math.nextafter(tick, 0), math.nextafter(tick, math.inf)]
    instants.sort()
    instants += [base + 2.5, base - 10, base + 1.0, base + 1.0]  # the clock going back
    for now in instants:
        assert page.page(now) == fresh(now), now


def test_a_ticking_page_without_counts_is_its_one_part() -> None:
    assert Ticking([b"<page/>"], []).page(5.0) == b"<page/>"
