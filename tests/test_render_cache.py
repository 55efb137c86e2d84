"""The render memo: one rendering per channel version, never a stale one, and no memory kept
for channels that left the store."""

from __future__ import annotations

from gateway.model import Channel, State
from gateway.render_cache import RenderCache
from gateway.store import ChannelStore


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


def test_whole_lists_are_bounded_and_a_kept_key_is_replaced_in_place() -> None:
    from gateway.render_cache import MAX_LISTS, keep_list

    lists: dict[int, str] = {}
    for i in range(MAX_LISTS):
        keep_list(lists, i, "v")
    assert keep_list(lists, 0, "new") == "new" and len(lists) == MAX_LISTS  # no drop
    keep_list(lists, MAX_LISTS, "last")
    assert lists == {MAX_LISTS: "last"}  # one more scope: the lot goes first
