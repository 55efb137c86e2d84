"""The live table: indexes agree with the channels, the bus never blocks ingest, and reconcile
after a reconnect leaves no ghost and loses no event that raced the snapshot."""

from __future__ import annotations

import pytest

from backends.ami_mapping import AmiMapper
from backends.fs_mapping import row_to_channel
from gateway.config import load
from gateway.demo import DEMO_CONFIG
from gateway.directory import Directory
from gateway.model import Channel, State, derive_state
from gateway.store import ChangeKind, ChannelStore
from tests.demo_ids import ACME, ALICE, BETA
from tests.demo_ids import DEV201 as D201


def _store() -> ChannelStore:
    directory = Directory(load(DEMO_CONFIG))
    store = ChannelStore(directory.attribute)
    directory.store = store
    return store


def _leg(uid: str, user: str = "201", realm: str = "acme.example.com", **kw: object) -> Channel:
    return Channel(id=uid, node=kw.pop("node", "fs1"), username=user, realm=realm,  # type: ignore[arg-type]
                   name=f"sofia/internal/{user}@{realm}", **kw)  # type: ignore[arg-type]


def test_indexes_follow_every_change() -> None:
    store = _store()
    store.add(_leg("a", call_id="c1"))
    assert [c.id for c in store.by_account(ACME)] == ["a"]
    assert [c.id for c in store.by_owner(ALICE)] == ["a"]
    assert [c.id for c in store.by_device(D201)] == ["a"]
    assert [c.id for c in store.by_node("fs1")] == ["a"]
    assert [c.id for c in store.by_call("c1")] == ["a"]
    # the phone turns out to be Beta's 301: every index moves
    store.apply("fs1", "a", {"username": "301", "realm": "beta.example.com"})
    assert list(store.by_account(ACME)) == [] and list(store.by_owner(ALICE)) == []
    assert [c.id for c in store.by_account(BETA)] == ["a"]
    store.apply("fs1", "a", {"call_id": "c2"})
    assert list(store.by_call("c1")) == [] and [c.id for c in store.by_call("c2")] == ["a"]
    store.remove("a")
    assert len(store) == 0
    assert all(not idx for idx in store._idx.values())  # no empty buckets left behind


def test_apply_publishes_only_real_changes_with_before_values() -> None:
    store = _store()
    sub = store.subscribe()
    store.apply("fs1", "a", {"username": "201", "realm": "acme.example.com"})
    added = sub.get_nowait()
    assert added is not None and added.kind is ChangeKind.ADDED and added.channel.account_id == ACME
    store.apply("fs1", "a", {"state": State.RINGING})  # no change: nothing published
    assert sub.get_nowait() is None
    store.apply("fs1", "a", {"state": State.ANSWERED, "answered": True})
    upd = sub.get_nowait()
    assert upd is not None and upd.kind is ChangeKind.UPDATED
    assert upd.before == {"state": State.RINGING, "answered": False}
    store.remove("a")
    gone = sub.get_nowait()
    assert gone is not None and gone.kind is ChangeKind.REMOVED and gone.channel.id == "a"


def test_slow_subscriber_gets_resync_and_never_blocks_ingest() -> None:
    store = _store()
    slow = store.subscribe(maxsize=5)
    fast = store.subscribe(maxsize=10_000)
    for i in range(100):
        store.add(_leg(f"c{i}"))
    assert len(store) == 100
    assert slow.overflows > 0
    first = slow.get_nowait()
    assert first is not None and first.kind is ChangeKind.RESYNC
    assert fast.pending() == 100 and fast.overflows == 0
    pending, overflows = slow.pending(), slow.overflows
    slow.close()
    store.add(_leg("more"))  # a closed subscription receives nothing more
    assert (slow.pending(), slow.overflows) == (pending, overflows)
    assert fast.pending() == 101


def test_unattributed_channel_is_in_no_tenant_index() -> None:
    store = _store()
    store.add(Channel(id="x", node="fs1", name="sofia/external/+15551234@1.2.3.4"))
    assert store.get("x").account_id == ""
    assert all(not bucket for bucket in store._idx["account_id"].values())


def test_leg_inherits_account_of_its_call() -> None:
    store = _store()
    # the carrier leg arrives first and is unattributable on its own
    store.add(Channel(id="b", node="fs1", name="sofia/gateway/carrier1/+447700900123",
                      gateway="carrier1", call_id="call-1"))
    assert store.get("b").account_id == ""
    store.add(_leg("a", call_id="call-1"))
    assert store.get("b").account_id == ACME
    assert store.get("b").owner_id == ""  # an account, not alice's phone
    assert {c.id for c in store.by_account(ACME)} == {"a", "b"}


def test_reconcile_removes_ghosts_adds_missing_updates_changed() -> None:
    store = _store()
    store.add(_leg("keep", state=State.RINGING))
    store.add(_leg("ghost"))
    store.add(_leg("other-node", node="fs2"))
    sub = store.subscribe()
    snapshot = [_leg("keep", state=State.ANSWERED, answered=True), _leg("new", user="202")]
    added, updated, removed = store.reconcile("fs1", snapshot)
    assert (added, updated, removed) == (1, 1, 1)
    assert set(c.id for c in store.by_node("fs1")) == {"keep", "new"}
    assert store.get("keep").state is State.ANSWERED
    assert store.get("other-node") is not None  # another switch's channels are untouched
    kinds = sorted(ch.kind for ch in iter(sub.get_nowait, None))
    assert kinds == [ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.UPDATED]


def test_events_during_resync_win_over_the_snapshot() -> None:
    store = _store()
    store.add(_leg("held-before"))
    store.add(_leg("hung-up-during"))
    store.begin_resync("fs1")
    # while `show channels` is in flight, events keep arriving:
    store.apply("fs1", "created-during", {"username": "202", "realm": "acme.example.com"})
    store.apply("fs1", "held-before", {"state": State.HELD, "held": True})
    store.remove("hung-up-during")
    store.forget("fs1", "born-and-died-during")
    # the snapshot was taken before those events
    snapshot = [_leg("held-before", state=State.ANSWERED), _leg("hung-up-during"),
                _leg("born-and-died-during")]
    store.reconcile("fs1", snapshot)
    assert set(c.id for c in store.by_node("fs1")) == {"held-before", "created-during"}
    assert store.get("held-before").state is State.HELD


def test_version_bumps_on_every_applied_change_and_never_repeats() -> None:
    """Render caches trust `version`: every change the store applies must move it, a no-op
    must not, and a channel re-added under the same id must not meet its old version."""
    store = _store()
    a = store.add(_leg("a", call_id="c1"))
    v1 = a.version
    assert v1 > 0
    store.apply("fs1", "a", {"username": "201"})  # nothing changes
    assert a.version == v1
    store.apply("fs1", "a", {"held": True})
    v2 = a.version
    assert v2 > v1
    # attribution alone: an unattributed leg of the call inherits the account
    b = store.add(Channel(id="b", node="fs1", call_id="c2"))
    vb = b.version
    assert not b.account_id
    store.apply("fs1", "b", {"call_id": "c1"})
    assert b.account_id == ACME and b.version > vb
    store.remove("a")
    again = store.add(_leg("a", call_id="c1"))
    assert again.version not in (0, v1, v2)
    # a reconcile that changes a field bumps it too; one that changes nothing does not
    v3 = again.version
    store.begin_resync("fs1")
    store.reconcile("fs1", [_leg("a", call_id="c1", destination="999"),
                            Channel(id="b", node="fs1", call_id="c1")])
    assert again.destination == "999" and again.version > v3
    vb = b.version
    store.begin_resync("fs1")
    store.reconcile("fs1", [_leg("a", call_id="c1"), Channel(id="b", node="fs1", call_id="c1")])
    assert b.version == vb


@pytest.mark.parametrize(("flags", "state"), [
    ({"hungup": True, "held": True, "parked": True, "answered": True, "early": True},
     State.HUNGUP),
    ({"held": True, "parked": True, "answered": True, "early": True}, State.HELD),
    ({"parked": True, "answered": True, "early": True}, State.PARKED),
    ({"parked": True}, State.PARKED),  # parked while still ringing
    ({"answered": True, "early": True}, State.ANSWERED),
    ({"early": True}, State.EARLY),
    ({}, State.RINGING),
])
def test_derive_state_one_rule(flags: dict[str, bool], state: State) -> None:
    args = {"hungup": False, "held": False, "parked": False, "answered": False, "early": False}
    assert derive_state(**{**args, **flags}) is state


def test_both_backends_derive_state_by_the_shared_rule() -> None:
    """Asterisk rows and FreeSWITCH snapshot rows agree with derive_state: parked while
    ringing is parked, held beats parked."""
    ami = AmiMapper("ast1", ChannelStore())
    assert ami._state(None, {"answered": False, "held": False, "parked": True})["state"] \
        is State.PARKED
    assert ami._state(None, {"answered": True, "held": True, "parked": True})["state"] \
        is State.HELD
    row = row_to_channel({"uuid": "x", "callstate": "RINGING", "application": "park"}, "fs1")
    assert row.state is State.PARKED
    row = row_to_channel({"uuid": "x", "callstate": "HELD", "application": "park"}, "fs1")
    assert row.state is State.HELD
