"""What a node stream entry may carry, and how an instance applies one (no Redis needed: the
entries are fed to the applier directly, as its reader would)."""

from __future__ import annotations

import json

import pytest

from gateway.model import Channel, Initial, State, Waiting
from gateway.scale import records
from gateway.scale.cluster import Cluster
from gateway.store import ChannelStore


def test_a_channel_round_trips_without_its_local_fields() -> None:
    ch = Channel(id="u1", node="fs1", name="sofia/internal/201@acme", state=State.HELD,
                 answered=True, created=1700000000.5, initial=Initial("A", "201"),
                 variables={"callgate_account_id": "x"}, waiting=Waiting.QUEUE,
                 account_id="acct", version=7)
    data = json.loads(json.dumps(records.dump(ch)))
    assert "account_id" not in data and "version" not in data and "node" not in data
    back = records.load(data)
    assert back["state"] is State.HELD and back["waiting"] is Waiting.QUEUE
    assert back["initial"] == Initial("A", "201", "", "", "", "")
    assert back["created"] == 1700000000.5 and back["variables"] == {"callgate_account_id": "x"}


@pytest.mark.parametrize("record", [
    [1], {"nope": 1}, {"answered": "yes"}, {"created": "now"}, {"created": True},
    {"state": "dancing"}, {"initial": [1, 2]}, {"variables": {"a": 1}}, {"name": 5},
    {"account_id": "someone-else"}, {"node": "fs9"},
])
def test_malformed_records_are_refused_whole(record: object) -> None:
    with pytest.raises(records.BadRecord):
        records.load(record)


def entry(kind: str, seq: int, epoch: str = "e1", **body: object) -> bytes:
    return json.dumps({"v": 1, "n": "fs1", "o": "other", "e": epoch, "s": seq, "k": kind,
                       **body}).encode()


async def test_applier_upserts_removes_and_a_dump_leaves_no_ghost() -> None:
    store = ChannelStore()
    cluster = Cluster("redis://127.0.0.1:1/0", store, ["fs1"], lambda n: None)  # type: ignore[arg-type,return-value]
    node = cluster.nodes["fs1"]
    cluster._entry(node, entry("up", 1, id="a", f={"name": "x", "answered": True}))
    cluster._entry(node, entry("up", 2, id="b", f={"name": "y"}))
    cluster._entry(node, entry("up", 3, id="a", f={"state": "held"}))
    assert store.get("a") is not None and store.get("a").state is State.HELD  # type: ignore[union-attr]
    cluster._entry(node, entry("rm", 4, id="b"))
    assert "b" not in store
    # a channel the stream never removed (missed entries) is gone after the next dump
    cluster._entry(node, entry("up", 5, id="ghost", f={}))
    cluster._entry(node, entry("dump", 9, epoch="e2", ch=[{"id": "c", "name": "z"}]))
    assert {ch.id for ch in store.by_node("fs1")} == {"c"}
    assert node.synced.is_set()
    # a forged entry changes nothing, and neither does our own echo
    for data in (b"\xff", entry("up", 10, epoch="e2", id="c", f={"held": "x"}),
                 json.dumps({"v": 1, "n": "fs1", "o": cluster.instance, "e": "e2", "s": 11,
                             "k": "rm", "id": "c"}).encode()):
        cluster._entry(node, data)
    assert {ch.id for ch in store.by_node("fs1")} == {"c"}
