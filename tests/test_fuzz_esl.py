"""FreeSWITCH Event Socket framing and mapping under random and mutated bytes.

The streams are the recorded switch traffic (tests/fixtures/freeswitch), cut at arbitrary
points and mutated: bad Content-Length, header blocks without an end, invalid UTF-8, values of
the wrong JSON type, unknown events, events for unknown channels, CREATE and DESTROY out of
order. What must hold: nothing but `ProtocolError` (or the switch's own goodbye) ends a session,
no channel outlives its DESTROY, and a resync leaves exactly the switch's channels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from backends.base import ProtocolError
from backends.esl_protocol import MAX_HEADER_BLOCK, FrameParser, Message
from backends.esl_session import EslSession, _Protocol
from backends.freeswitch import FreeSwitchBackend
from backends.freeswitch_settings import FreeSwitchOptions
from backends.fs_mapping import FsMapper, row_to_channel
from gateway.config import BackendSettings
from gateway.store import INDEXED, ChannelStore
from simswitch.fs_server import FreeSwitchSimulator
from tests.fuzz_util import CI, FS_DIR, cut, esl_event_frames, resync_cases, resync_race

NODE = "fs1"
FRAMES = esl_event_frames([
    "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt",
    "fs-1.11-esl_01_event_plain_originate_park_kill.server_raw.txt",
    "fs-1.11-esl_03_transfer_bridge_valetpark.server_raw.txt",
])
RAW = (FS_DIR / "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt").read_bytes()
#: One recorded json event of each name: templates for generated channel events.
TEMPLATES: dict[str, dict[str, Any]] = {}
for _frame in FRAMES:
    _body = _frame[_frame.index(b"\n\n") + 2:]
    if _body.startswith(b"{"):
        TEMPLATES.setdefault(orjson.loads(_body)["Event-Name"], orjson.loads(_body))
LIFECYCLE = sorted(n for n in TEMPLATES if n.startswith(("CHANNEL_", "CALL_")))
ENDED = (ProtocolError, ConnectionResetError)  # what may end a session: reconnect + resync


class _Sink:
    """The socket's write side: commands go nowhere, close is remembered."""

    closed = False

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def feed(loop: asyncio.AbstractEventLoop, mapper: FsMapper,
         chunks: list[bytes]) -> BaseException | None:
    """The chunks through a real session (framing, dispatch, the mapper's one-step ingest as
    the backend wires it, with no catch-all around the mapper); returns what ended the
    session, if anything."""

    async def run() -> BaseException | None:
        session = EslSession(mapper.handle, ingest=mapper.ingest)
        session._transport = _Sink()  # type: ignore[assignment]
        session._running = True
        protocol = _Protocol(session)
        for chunk in chunks:
            while chunk and session.is_open:
                # as asyncio reads: into the room the protocol gives, which stays exported
                # until `buffer_updated` returns (so the buffer must not be resized in it)
                room = protocol.get_buffer(-1)
                n = min(len(room), len(chunk))
                room[:n] = chunk[:n]
                chunk = chunk[n:]
                protocol.buffer_updated(n)
                del room
            if not session.is_open:
                break
        return session.error

    return loop.run_until_complete(run())


def assert_ended_cleanly(error: BaseException | None) -> None:
    assert error is None or isinstance(error, ENDED), repr(error)


def frame(ev: dict[str, Any]) -> bytes:
    body = orjson.dumps(ev)
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(body) + body


def event(name: str, uid: str, other: str = "") -> bytes:
    ev = dict(TEMPLATES.get(name) or TEMPLATES["CHANNEL_STATE"])
    ev.update({"Event-Name": name, "Unique-ID": uid, "Channel-Call-UUID": uid})
    if name == "CHANNEL_UUID":
        ev.update({"Old-Unique-ID": uid, "Unique-ID": other or uid})
    for key in ("Other-Leg-Unique-ID", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID"):
        if key in ev:
            ev[key] = other if key != "Bridge-A-Unique-ID" else uid
    return frame(ev)


def assert_no_leftovers(store: ChannelStore) -> None:
    assert len(store) == 0, sorted(ch.id for ch in store)
    for name in INDEXED:
        assert store._idx[name] == {}, name


# ------------------------------------------------------------------ framing
def messages(parser: FrameParser, chunks: list[bytes]) -> list[Message]:
    out: list[Message] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out


WHOLE = messages(FrameParser(), [RAW])
HEAD = RAW[:6000]
HEAD_WHOLE = messages(FrameParser(), [HEAD])


def test_split_at_every_point_gives_the_same_frames() -> None:
    for i in range(len(HEAD) + 1):
        assert messages(FrameParser(), [HEAD[:i], HEAD[i:]]) == HEAD_WHOLE, i


@CI
@given(st.lists(st.integers(min_value=0, max_value=len(RAW)), max_size=400))
@example([1])
@example(list(range(0, 4000, 1)))  # byte by byte through the first frames
def test_split_anywhere_gives_the_same_frames(points: list[int]) -> None:
    assert messages(FrameParser(), cut(RAW, points)) == WHOLE


# ------------------------------------------------------------------ mutation
#: Headers the mapping reads (identity, names, times, peers): where a wrong type hurts most.
_READ_KEYS = ["Event-Name", "Unique-ID", "Channel-Name", "Call-Direction", "Answer-State",
              "Caller-Channel-Created-Time", "Channel-State", "Channel-Call-State",
              "Other-Leg-Unique-ID", "Caller-Caller-ID-Number", "variable_sip_from_user",
              "Hangup-Cause", "Channel-Call-UUID", "Old-Unique-ID", "Application",
              "variable_current_application", "Job-UUID", "Bridge-A-Unique-ID"]
_BAD_LENGTHS = [b"-1", b"abc", b"", b"1e3", b"99999999999999999999", b"0x10", b" 12", b"\xff"]


def _mutate(data: bytes, kind: int, pos: int, blob: bytes) -> bytes:
    pos %= len(data) + 1
    if kind == 0:  # random bytes in
        return data[:pos] + blob + data[pos:]
    if kind == 1:  # bytes out
        return data[:pos] + data[pos + len(blob) + 1:]
    if kind == 2:  # a Content-Length that lies or is not a number
        at = data.find(b"Content-Length: ", pos)
        if at < 0:
            return data
        end = data.index(b"\n", at)
        told = data[at + 16:end]
        bad = _BAD_LENGTHS[len(blob) % len(_BAD_LENGTHS)] if len(blob) % 3 else str(
            int(told if told.isdigit() else 0) + len(blob) - 8).encode()
        return data[:at + 16] + bad + data[end:]
    if kind == 3:  # invalid UTF-8 inside a frame
        return data[:pos] + b"\xff\xfe\xc3(" + blob + data[pos:]
    if kind == 4:  # a header block that never ends
        return data[:pos] + b"X-Junk: " + b"a" * (MAX_HEADER_BLOCK + 10) + data[pos:]
    if kind == 6:  # an event nobody subscribed to, or for a channel nobody created
        name = ["NOT_AN_EVENT", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CUSTOM", ""][len(blob) % 5]
        extra = frame({"Event-Name": name, "Unique-ID": blob.hex() or "x"})
        return data[:pos] + extra + data[pos:]
    # kind 7: a frame that is not an event at all
    extra = [b"Content-Type: command/reply\nReply-Text: +OK\n\n",
             b"Content-Type: log/data\nContent-Length: 3\n\nabc",
             b"Content-Type: text/disconnect-notice\nContent-Length: 0\n\n",
             b"no colon here\n\n"][len(blob) % 4]
    return data[:pos] + extra + data[pos:]


_WRONG: list[Any] = [[1, 2], {}, None, 12, True, [""], 1.5]


def _retype(frames: list[bytes], which: int, key: int, wrong: int) -> list[bytes]:
    """One json event with one header the mapping reads given a value of the wrong type,
    framed correctly: the framing is fine, the content is not what FreeSWITCH writes."""
    json_at = [i for i, f in enumerate(frames) if f.endswith(b"}")]
    if not json_at:
        return frames
    i = json_at[which % len(json_at)]
    ev = orjson.loads(frames[i][frames[i].index(b"\n\n") + 2:])
    ev[_READ_KEYS[key % len(_READ_KEYS)]] = _WRONG[wrong % len(_WRONG)]
    return [*frames[:i], frame(ev), *frames[i + 1:]]


mutations = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 1 << 20),
                               st.binary(max_size=24)), max_size=6)
retypes = st.lists(st.tuples(st.integers(0, 1 << 10), st.integers(0, 63), st.integers(0, 63)),
                   max_size=3)


@CI
@given(start=st.integers(0, len(FRAMES) - 1), count=st.integers(1, 60), muts=mutations,
       points=st.lists(st.integers(0, 1 << 20), max_size=30), wrong=retypes)
@example(start=0, count=1, muts=[], points=[], wrong=[(0, 0, 0)])  # Event-Name: [1, 2]
@example(start=0, count=9, muts=[], points=[], wrong=[(3, 2, 3)])  # Channel-Name: 12
@example(start=0, count=1, muts=[], points=[], wrong=[(0, 0, 5)])  # Event-Name: [""]
@example(start=0, count=9, muts=[], points=[], wrong=[(3, 10, 5)])  # sip_from_user: [""]
@example(start=0, count=5, muts=[(2, 0, b"a")], points=[7], wrong=[])
@example(start=0, count=3, muts=[(4, 10, b"")], points=[3], wrong=[])
def test_mutated_streams_end_only_in_protocol_error(loop: asyncio.AbstractEventLoop, start: int,
                                                    count: int, muts: list[Any],
                                                    points: list[int],
                                                    wrong: list[tuple[int, int, int]]) -> None:
    frames = FRAMES[start:start + count]
    for which, key, value in wrong:
        frames = _retype(frames, which, key, value)
    data = b"".join(frames)
    for kind, pos, blob in muts:
        data = _mutate(data, kind, pos, blob)
    store = ChannelStore()
    mapper = FsMapper(store, NODE)
    assert_ended_cleanly(feed(loop, mapper, cut(data, points)))
    # the switch destroys every channel it ever named: none may be left behind
    ids = {ch.id for ch in store}
    destroys = b"".join(event("CHANNEL_DESTROY", uid) for uid in ids)
    assert feed(loop, mapper, [destroys]) is None
    assert_no_leftovers(store)


# ------------------------------------------------------------------ lifecycle
POOL = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(6)]
lifecycle = st.lists(st.tuples(st.sampled_from(LIFECYCLE), st.sampled_from(POOL),
                               st.sampled_from(POOL)), max_size=40)


@CI
@given(ops=lifecycle, points=st.lists(st.integers(0, 1 << 20), max_size=20))
@example(ops=[("CHANNEL_DESTROY", POOL[0], POOL[0]), ("CHANNEL_CREATE", POOL[0], POOL[0])],
         points=[])
@example(ops=[("CHANNEL_CREATE", POOL[0], POOL[1]), ("CHANNEL_UUID", POOL[0], POOL[1]),
              ("CHANNEL_ANSWER", POOL[0], POOL[1])], points=[])
def test_every_destroyed_channel_leaves_the_store(loop: asyncio.AbstractEventLoop,
                                                 ops: list[tuple[str, str, str]],
                                                 points: list[int]) -> None:
    """Events in any order (DESTROY before CREATE, events for unknown or destroyed ids,
    renames): once every id is destroyed, nothing of any of them is left."""
    store = ChannelStore()
    mapper = FsMapper(store, NODE)
    data = b"".join(event(name, uid, other) for name, uid, other in ops)
    assert feed(loop, mapper, cut(data, points)) is None
    data = b"".join(event("CHANNEL_DESTROY", uid) for uid in POOL)
    assert feed(loop, mapper, [data]) is None
    assert_no_leftovers(store)


@resync_cases(POOL)
def test_resync_leaves_exactly_the_switchs_channels(
        loop: asyncio.AbstractEventLoop, stale: set[str], before: set[str],
        ops: list[tuple[bool, str]], snap_at: int, reconcile_at: int) -> None:
    """A reconnect: the store holds what it knew (`stale`), the switch holds `before` and
    then creates (True) and destroys (False) channels while the snapshot is taken and
    applied. Afterwards the store equals the switch's table."""
    store = ChannelStore()
    mapper = FsMapper(store, NODE)
    for uid in stale:
        store.add(row_to_channel({"uuid": uid}, NODE))

    def send(name: str) -> Callable[[str], None]:
        def one(uid: str) -> None:
            assert feed(loop, mapper, [event(name, uid)]) is None
        return one

    truth = resync_race(
        store, NODE, before, ops, snap_at, reconcile_at, snapshot=list,
        reconcile=lambda ids: store.reconcile(NODE, [row_to_channel({"uuid": u}, NODE)
                                                     for u in ids]),
        create=send("CHANNEL_CREATE"), destroy=send("CHANNEL_DESTROY"))
    assert {ch.id for ch in store} == truth


# ------------------------------------------------------------------ over a socket
async def test_an_untrustworthy_event_makes_the_backend_resync() -> None:
    """A well-framed event with an id that is not a string (what the first mutation example
    found): the backend drops the connection, reconnects, and its store is the switch's."""
    sim = FreeSwitchSimulator(extensions={"201": "acme.example.com", "202": "acme.example.com"})
    await sim.start()
    be = FreeSwitchBackend(BackendSettings(name=NODE, type="freeswitch", port=sim.port,
                                           options=FreeSwitchOptions(password="ClueCon"),
                                           backoff_initial=0.01, backoff_max=0.05),
                           ChannelStore())
    await be.start()
    try:
        async with asyncio.timeout(10):
            await be.ready.wait()
            a = await sim.place_call("201", "202", answer_after=0.05)
            while be.store.get(a) is None:  # noqa: ASYNC110 - the store has no waiter
                await asyncio.sleep(0.01)
            before = be.connects
            bad = frame({**TEMPLATES["CHANNEL_ANSWER"], "Unique-ID": [a]})
            ghost = event("CHANNEL_CREATE", "never-on-the-switch")
            for s in list(sim.sessions):
                s.writer.write(bad + ghost)
            while not (be.connects > before and be.ready.is_set()):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            truth = set(sim.channel_ids())
            while {ch.id for ch in be.store} != truth:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            assert be.store.get("never-on-the-switch") is None and a in truth
    finally:
        await be.stop()
        await sim.stop()
