"""Store watches: a watch stays fresh only while nothing it watches has changed, whatever the
store does (add, apply, attribution, re-index, remove, rename, reconcile), and the registry
stays the size of what is watched however often lists are rebuilt."""

from __future__ import annotations

import random

from gateway.model import INDEXED, Channel, State
from gateway.store import ChannelStore
from gateway.watch import Watch
from tests.demo_ids import ACME, BETA, DEV201
from tests.test_store import _leg, _store  # the demo directory's store, and a leg of it

USERS = [("201", "acme.example.com"), ("202", "acme.example.com"),
         ("301", "beta.example.com"), ("999", "nowhere.example.com")]


Snapshot = tuple[tuple[int, ...], tuple[tuple[str, ...], ...]]


def _snapshot(store: ChannelStore, ids: list[str], buckets: list[tuple[str, str]]) -> Snapshot:
    """What a watch on `ids` and `buckets` guards: each id's version (0 when absent) and each
    bucket's members in order (a memo watches its members' ids for their versions)."""
    versions = tuple(ch.version if (ch := store.get(i)) is not None else 0 for i in ids)
    members = tuple(tuple(store.bucket(name, key)) for name, key in buckets)
    return versions, members


def test_fresh_means_unchanged_under_random_store_traffic() -> None:
    """Hundreds of watches over random ids and buckets, thousands of random operations: after
    each one, every watch still fresh must see exactly what it was armed on. Watches that fire
    are re-armed, as a memo rebuilt on its next poll would be."""
    rng = random.Random(1)
    store = _store()
    ids = [f"leg{i}" for i in range(30)]
    calls = [f"call{i}" for i in range(6)]
    keys = {"account_id": [ACME, BETA, ""],
            "owner_id": ["", "x"], "authorizing_id": [DEV201, ""], "node": ["fs1", "fs2"],
            "call_id": calls}

    def random_watch() -> tuple[Watch, list[str], list[tuple[str, str]], Snapshot]:
        w_ids = rng.sample(ids, rng.randint(0, 4))
        w_buckets = [(name, rng.choice([k for k in keys[name] if k] or ["fs1"]))
                     for name in rng.sample(INDEXED, rng.randint(0, 2))]
        watch = store.watch(Watch(), w_ids, w_buckets)
        return watch, w_ids, w_buckets, _snapshot(store, w_ids, w_buckets)

    watches = [random_watch() for _ in range(200)]
    fired = 0
    for step in range(4000):
        uid = rng.choice(ids)
        op = rng.random()
        if op < 0.15:
            user, realm = rng.choice(USERS)
            store.add(_leg(uid, user, realm, call_id=rng.choice(calls)))
        elif op < 0.6:
            change = rng.choice([
                {"state": rng.choice(list(State))}, {"held": rng.random() < 0.5},
                {"call_id": rng.choice(calls)}, {"destination": rng.choice("123")},
                dict(zip(("username", "realm"), rng.choice(USERS), strict=True)),
                {"other_leg": rng.choice(ids)}, {"node": rng.choice(["fs1", "fs2"])}])
            store.apply("fs1", uid, change)
        elif op < 0.75:
            store.remove(uid)
        elif op < 0.85:  # a rename, as the FreeSWITCH mapping does it
            ch = store.remove(uid)
            if ch is not None:
                ch.id = rng.choice(ids)
                store.add(ch)
        elif op < 0.9:
            store.begin_resync("fs1")
            snap = [_leg(i, *rng.choice(USERS), call_id=rng.choice(calls),
                         destination=rng.choice("45"))
                    for i in rng.sample(ids, 10)]
            store.reconcile("fs1", snap)
        else:  # a channel with no account yet, attributed when its call gets one
            store.add(Channel(id=uid, node="fs1", call_id=rng.choice(calls)))
        for n, (watch, w_ids, w_buckets, snap) in enumerate(watches):
            if watch.fresh:
                assert _snapshot(store, w_ids, w_buckets) == snap, (step, w_ids, w_buckets)
            else:
                fired += 1
                watches[n] = random_watch()
    assert fired > 1000  # the traffic did reach the watches


def test_each_kind_of_change_stales_a_watch() -> None:
    store = _store()
    store.add(_leg("a", call_id="c1"))

    def armed(ids: list[str] = [], buckets: list[tuple[str, str]] = []) -> Watch:  # noqa: B006
        return store.watch(Watch(), ids, buckets)

    unchanged = armed(["a"], [("call_id", "c1")])
    store.apply("fs1", "a", {"destination": ""})  # equal value: no change
    assert unchanged.fresh
    changed = armed(["a"])
    store.apply("fs1", "a", {"held": True})
    assert not changed.fresh
    # a new leg joins the call: only the bucket tells
    joined = armed(["a"], [("call_id", "c1")])
    store.add(_leg("b", "202", call_id="c1"))
    assert not joined.fresh
    # an absent peer appearing
    peer = armed(["p"])
    store.add(_leg("p", "202"))
    assert not peer.fresh
    # a leg moving to another account leaves one bucket and enters another
    left, entered = armed([], [("account_id", ACME)]), armed(
        [], [("account_id", BETA)])
    store.apply("fs1", "p", {"username": "301", "realm": "beta.example.com"})
    assert not left.fresh and not entered.fresh
    # attribution alone: an unattributed leg inherits the account when its call gets one
    store.add(Channel(id="u", node="fs1", call_id="c9"))
    orphan = armed(["u"])
    store.add(_leg("w", call_id="c9"))
    assert store.get("u").account_id == ACME  # type: ignore[union-attr]
    assert not orphan.fresh
    gone = armed(["a"])
    store.remove("a")
    assert not gone.fresh
    everything = store.watch(Watch(), everything=True)
    store.apply("fs1", "p", {"destination": "7"})
    assert not everything.fresh
    quiet = armed(["b"], [("node", "fs1")])
    store.add(Channel(id="elsewhere", node="fs2"))
    assert quiet.fresh  # nothing it watches


def test_the_registry_stays_bounded_while_lists_are_rebuilt() -> None:
    """A list rebuilt 10,000 times (another leg of its account keeps changing) while one leg
    never changes: the unchanged leg's registrations do not pile up."""
    store = _store()
    store.add(_leg("steady", call_id="c1"))
    store.add(_leg("busy", "202", call_id="c1"))
    kept: Watch | None = None
    for i in range(10_000):
        if kept is None or not kept.fresh:
            if kept is not None:
                kept.close()
            kept = store.watch(Watch(), ["steady", "busy"], [("account_id", ACME)])
        store.apply("fs1", "busy", {"destination": str(i)})
    assert len(store._watches) < 20
    # and watches of lists dropped without firing are pruned once closed
    for _ in range(1000):
        store.watch(Watch(), ["steady"]).close()
    assert len(store._watches) < 20


def test_ids_that_never_appear_are_swept() -> None:
    """Memos that watched peers that never turned up, then were dropped: the registry does not
    keep those ids."""
    store = _store()
    for i in range(20_000):
        store.watch(Watch(), [f"phantom{i}"]).close()
    live = store.watch(Watch(), ["kept"])
    assert len(store._watches.ids) < 10_000
    assert live.fresh and "kept" in store._watches.ids
    store.add(_leg("kept"))
    assert not live.fresh
