"""Asterisk AMI framing and mapping under random and mutated bytes.

The streams are the recorded Asterisk 22 traffic (tests/fixtures/asterisk-22-real), cut at
arbitrary points and mutated: oversize messages, lines without a colon, invalid UTF-8, unknown
events, events for unknown channels, Newchannel and Hangup out of order. What must hold: the
framer raises nothing but `ProtocolError`, the mapping raises nothing at all, no channel outlives
its Hangup, and a resync from CoreShowChannels leaves exactly the switch's channels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from panoramisk.message import Message

from backends.ami_mapping import AmiMapper
from backends.ami_session import AmiFramer
from backends.base import ProtocolError
from gateway.store import INDEXED, ChannelStore
from tests.fuzz_util import AMI_DIR, CI, ami_blocks, cut, resync_cases, resync_race

NODE = "ast1"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
BLOCKS = ami_blocks([
    "ami_02_events_call_setup.server_raw.txt", "ami_03_hangup.server_raw.txt",
    "ami_04_redirect_transfer.server_raw.txt", "ami_05_park.server_raw.txt",
])
RAW = (AMI_DIR / "ami_03_hangup.server_raw.txt").read_bytes()
#: One recorded message of each event: templates for generated channel events.
TEMPLATES: dict[str, list[tuple[str, str]]] = {}
for _block in BLOCKS:
    _lines = [ln.partition(": ") for ln in _block.decode().split("\r\n") if ": " in ln]
    _fields = [(k, v) for k, _, v in _lines]
    if _fields and _fields[0][0] == "Event":
        TEMPLATES.setdefault(_fields[0][1], _fields)
CHANNEL_EVENTS = sorted({n for n, f in TEMPLATES.items() if any(k == "Uniqueid" for k, _ in f)}
                        | {"DialBegin", "DialEnd", "BridgeCreate", "BridgeDestroy", "Rename"})
_IDS = ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid", "BridgeUniqueid")


def frame(fields: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields).encode() + b"\r\n"


def event(name: str, uid: str, other: str = "") -> bytes:
    fields = TEMPLATES.get(name) or [("Event", name), ("Uniqueid", uid)]
    out = []
    for k, v in fields:
        if k in ("Uniqueid", "Linkedid"):
            v = uid
        elif k in ("DestUniqueid", "DestLinkedid"):
            v = other or uid
        elif k == "BridgeUniqueid":
            v = "bridge-" + (other or uid)[-1]
        out.append((k, v))
    return frame(out)


def run(mapper: AmiMapper, chunks: list[bytes], framer: AmiFramer | None = None) -> bool:
    """Feed the chunks; True when the stream ended in a ProtocolError (reconnect + resync).
    The mapping is called without the backend's catch-all: any exception fails the test."""
    framer = framer or AmiFramer()
    try:
        for chunk in chunks:
            for msg in framer.feed(chunk):
                if "event" in msg:
                    mapper.handle(msg)
    except ProtocolError:
        return True
    return False


def assert_no_leftovers(store: ChannelStore, mapper: AmiMapper) -> None:
    assert len(store) == 0, sorted(ch.id for ch in store)
    for name in INDEXED:
        assert store._idx[name] == {}, name
    assert not mapper.bridge_of and not mapper.outbound


# ------------------------------------------------------------------ framing
def messages(chunks: list[bytes]) -> list[dict[str, Any]]:
    framer = AmiFramer()
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        out += [dict(m) for m in framer.feed(chunk)]
    return out


WHOLE = messages([RAW])
HEAD = RAW[:5000]
HEAD_WHOLE = messages([HEAD])


def test_split_at_every_point_gives_the_same_messages() -> None:
    for i in range(len(HEAD) + 1):
        assert messages([HEAD[:i], HEAD[i:]]) == HEAD_WHOLE, i


@CI
@given(st.lists(st.integers(min_value=0, max_value=len(RAW)), max_size=400))
@example(list(range(0, 3000)))  # byte by byte through the banner and the first messages
def test_split_anywhere_gives_the_same_messages(points: list[int]) -> None:
    assert messages(cut(RAW, points)) == WHOLE


# ------------------------------------------------------------------ mutation
def _mutate(data: bytes, kind: int, pos: int, blob: bytes) -> bytes:
    pos %= len(data) + 1
    if kind == 0:  # random bytes in
        return data[:pos] + blob + data[pos:]
    if kind == 1:  # bytes out
        return data[:pos] + data[pos + len(blob) + 1:]
    if kind == 2:  # invalid UTF-8 in a value or a key
        return data[:pos] + b"\xff\xfe\xc3(" + blob + data[pos:]
    if kind == 3:  # a message larger than any AMI message
        return data[:pos] + b"Event: UserEvent\r\nPayload: " + b"x" * (300 * 1024) + data[pos:]
    if kind == 4:  # a line without a colon, a key with a space, a message with no Event
        extra = [b"garbage without colon\r\n\r\n", b"Bad Key: v\r\n\r\n",
                 b"Uniqueid: 1.1\r\n\r\n", b"\r\n\r\n\r\n"][len(blob) % 4]
        return data[:pos] + extra + data[pos:]
    if kind == 5:  # an event nobody knows, or a channel event for a channel nobody created
        name = ["NotAnEvent", "Newstate", "BridgeEnter", "Hangup", "DialBegin", "VarSet",
                "Newexten", "Hold", "Bridge", "Link", "Unlink", "Dial"][len(blob) % 12]
        extra = event(name, "fz." + blob.hex(), "fz2." + blob.hex())
        return data[:pos] + extra + data[pos:]
    # kind 6: odd values where the mapping parses them
    extra = frame([("Event", "Newchannel"), ("Uniqueid", "odd." + blob.hex()),
                   ("Timestamp", ["nan", "inf", "-1e400", "x", "1e308"][len(blob) % 5]),
                   ("ChannelState", "6"), ("Channel", "PJSIP/" + blob.hex() + "-zz")])
    extra += frame([("Event", "Hangup"), ("Uniqueid", "odd." + blob.hex()),
                    ("Cause", ["999999999999999999999", "-1", "x", ""][len(blob) % 4])])
    return data[:pos] + extra + data[pos:]


mutations = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1 << 20),
                               st.binary(max_size=24)), max_size=6)


@CI
@given(start=st.integers(0, len(BLOCKS) - 1), count=st.integers(1, 80), muts=mutations,
       points=st.lists(st.integers(0, 1 << 20), max_size=30))
@example(start=0, count=5, muts=[(3, 0, b"")], points=[5])
@example(start=0, count=5, muts=[(6, 0, b"\x01")], points=[])
def test_mutated_streams_end_only_in_protocol_error(start: int, count: int, muts: list[Any],
                                                    points: list[int]) -> None:
    data = b"".join(BLOCKS[start:start + count])
    for kind, pos, blob in muts:
        data = _mutate(data, kind, pos, blob)
    store = ChannelStore()
    mapper = AmiMapper(NODE, store)
    run(mapper, cut(BANNER + data, points))
    ids = {ch.id for ch in store} | set(mapper.bridge_of) | mapper.outbound
    run(mapper, [BANNER + b"".join(event("Hangup", uid) for uid in ids)])
    assert_no_leftovers(store, mapper)


# ------------------------------------------------------------------ lifecycle
POOL = [f"1795344478.{i}" for i in range(6)]
lifecycle = st.lists(st.tuples(st.sampled_from(CHANNEL_EVENTS), st.sampled_from(POOL),
                               st.sampled_from(POOL)), max_size=40)


@CI
@given(ops=lifecycle, points=st.lists(st.integers(0, 1 << 20), max_size=20))
@example(ops=[("Hangup", POOL[0], POOL[0]), ("Newchannel", POOL[0], POOL[0])], points=[])
@example(ops=[("DialBegin", POOL[0], POOL[1]), ("BridgeEnter", POOL[1], POOL[0])], points=[])
def test_every_hung_up_channel_leaves_the_store(ops: list[tuple[str, str, str]],
                                                points: list[int]) -> None:
    """Events in any order (Hangup before Newchannel, events for unknown or gone ids): once
    every id has hung up, nothing of any of them is left."""
    store = ChannelStore()
    mapper = AmiMapper(NODE, store)
    data = b"".join(event(name, uid, other) for name, uid, other in ops)
    assert not run(mapper, cut(BANNER + data, points))
    framer = AmiFramer()
    framer.version = "11.0.0"
    assert not run(mapper, [b"".join(event("Hangup", uid) for uid in POOL)], framer)
    assert_no_leftovers(store, mapper)


def listing(uids: list[str]) -> list[Message]:
    fields = dict(TEMPLATES.get("CoreShowChannel") or [("Event", "CoreShowChannel")])
    return [Message({**fields, "Event": "CoreShowChannel", "Uniqueid": u, "Linkedid": u,
                     "BridgeId": ""}) for u in uids]


@resync_cases(POOL)
def test_resync_leaves_exactly_the_switchs_channels(
        stale: set[str], before: set[str], ops: list[tuple[bool, str]], snap_at: int,
        reconcile_at: int) -> None:
    """A reconnect: the store holds what it knew (`stale`), the switch holds `before` and
    then creates (True) and hangs up (False) channels while CoreShowChannels is answered
    and applied. Afterwards the store equals the switch's table."""
    store = ChannelStore()
    mapper = AmiMapper(NODE, store)
    for ch in mapper.snapshot(listing(sorted(stale))):
        store.add(ch)
    framer = AmiFramer()
    framer.version = "11.0.0"

    def send(name: str) -> Callable[[str], None]:
        def one(uid: str) -> None:
            assert not run(mapper, [event(name, uid)], framer)
        return one

    truth = resync_race(
        store, NODE, before, ops, snap_at, reconcile_at,
        snapshot=listing, reconcile=lambda taken: store.reconcile(NODE, mapper.snapshot(taken)),
        create=send("Newchannel"), destroy=send("Hangup"))
    assert {ch.id for ch in store} == truth
