"""FreeSWITCH ingest: the subscription names what the mapping handles, the simulator filters by
it as the switch does, and the lean decode of known channels' events changes the store exactly
as decoding the whole event does."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import orjson

from backends.esl_protocol import FrameParser, decode_event, decode_json
from backends.freeswitch import FreeSwitchBackend
from backends.freeswitch_settings import FreeSwitchOptions
from backends.fs_mapping import FsMapper
from gateway.config import BackendSettings
from gateway.demo import load_demo
from gateway.directory import Directory
from gateway.store import ChannelStore
from simswitch.fs_channel import EVENT_TYPES
from simswitch.fs_server import FreeSwitchSimulator

EXT = {"201": "acme.example.com", "202": "acme.example.com"}


def handled_by_the_mapping() -> set[str]:
    """Event types whose event changes what the mapping counts, found by feeding one of each."""
    handled = set()
    for name in EVENT_TYPES:
        mapper = FsMapper(ChannelStore(), "fs1")
        mapper.handle({"Event-Name": name, "Unique-ID": "u-new", "Old-Unique-ID": "u-old",
                       "Channel-Name": "sofia/internal/201@acme.example.com"})
        if mapper.events:
            handled.add(name)
    return handled


async def test_subscription_on_the_wire_names_exactly_the_events_the_mapping_handles() -> None:
    sim = FreeSwitchSimulator(password="ClueCon", extensions=EXT, gateways=["carrier1"])
    await sim.start()
    backend = FreeSwitchBackend(
        BackendSettings(name="fs1", type="freeswitch", port=sim.port,
                        options=FreeSwitchOptions(password="ClueCon")),
        ChannelStore())
    await backend.start()
    try:
        await asyncio.wait_for(backend.ready.wait(), 5)
        subscriptions = [c for c in sim.commands if c.split(" ", 1)[0] == "event"]
    finally:
        await backend.stop()
        await sim.stop()
    assert len(subscriptions) == 1
    _, fmt, *names = subscriptions[0].split(" ")
    assert fmt == "json" and len(names) == len(set(names))
    # BACKGROUND_JOB carries the results of bgapi commands (originate), which the session waits on
    assert set(names) == handled_by_the_mapping() | {"BACKGROUND_JOB"}
    assert "ALL" not in names and "CHANNEL_EXECUTE_COMPLETE" not in names


async def _events_seen(sim: FreeSwitchSimulator, subscription: str) -> tuple[str, list[str]]:
    """The reply to `subscription`, then the names of the events one bridged call sends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    parser = FrameParser()
    frames: list[Any] = []

    async def frame() -> Any:
        while not frames:
            frames.extend(parser.feed(await reader.read(65536)))
        return frames.pop(0)

    await frame()
    writer.write(b"auth ClueCon\n\n")
    await frame()
    writer.write(subscription.encode() + b"\n\n")
    reply = (await frame()).reply_text
    await sim.blast(1)
    writer.write(b"api version\n\n")  # answered after every event the call sent
    names = []
    while (msg := await frame()).content_type != "api/response":
        ev = decode_event(msg)
        if ev is not None:
            names.append(ev["Event-Name"])
    writer.close()
    return reply, names


async def test_simulator_filters_by_the_subscription_and_skips_unknown_names() -> None:
    sim = FreeSwitchSimulator(password="ClueCon", extensions=EXT, gateways=["carrier1"])
    await sim.start()
    try:
        everything = await _events_seen(sim, "event json ALL")
        some = await _events_seen(sim, "event json channel_create NOT_AN_EVENT CHANNEL_DESTROY")
        prefixed = await _events_seen(sim, "event plain SWITCH_EVENT_CHANNEL_ANSWER")
        none = await _events_seen(sim, "event json NOT_AN_EVENT")
    finally:
        await sim.stop()
    assert everything[0] == "+OK event listener enabled json"
    assert {"CHANNEL_CREATE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY"} <= set(everything[1])
    assert some == ("+OK event listener enabled json", ["CHANNEL_CREATE", "CHANNEL_CREATE",
                                                         "CHANNEL_DESTROY", "CHANNEL_DESTROY"])
    assert prefixed == ("+OK event listener enabled plain", ["CHANNEL_ANSWER", "CHANNEL_ANSWER"])
    assert none == ("-ERR no keywords supplied", [])


def _store() -> tuple[ChannelStore, FsMapper]:
    directory = Directory(load_demo())
    store = ChannelStore(directory.attribute)
    directory.store = store
    return store, FsMapper(store, "fs1")


def _state(store: ChannelStore) -> dict[str, dict[str, Any]]:
    return {ch.id: {f.name: getattr(ch, f.name) for f in dataclasses.fields(ch)
                    if f.name != "version"} for ch in store.by_node("fs1")}


def _same_store_either_way(bodies: list[bytes]) -> None:
    """The whole event handled, the lean decode handled, and the one-step `ingest` the
    session uses leave the same store after every event."""
    whole_store, whole = _store()
    lean_store, lean = _store()
    fused_store, fused = _store()
    for body in bodies:
        whole.handle(decode_json(body))
        lean.handle(lean.decode(body))
        ev = fused.ingest(body)
        name = orjson.loads(body)["Event-Name"]
        assert (ev is None) == (name != "BACKGROUND_JOB"), name
        assert _state(lean_store) == _state(whole_store), name
        assert _state(fused_store) == _state(whole_store), name
    assert whole.events == lean.events == fused.events


def test_lean_decode_changes_the_store_as_the_whole_event_on_recorded_traffic(
        fixtures_dir: Path) -> None:
    bodies = []
    for path in sorted((fixtures_dir / "freeswitch").glob("fs-1.11-*.server_raw.txt")):
        for msg in FrameParser().feed(path.read_bytes()):
            ev = decode_event(msg)
            if ev is not None:  # plain events too, as the json the switch would have sent
                bodies.append(msg.body if msg.content_type == "text/event-json"
                              else orjson.dumps(ev))
    assert len(bodies) > 600
    _same_store_either_way(bodies)


async def test_lean_decode_changes_the_store_as_the_whole_event_on_simulated_calls() -> None:
    sim = FreeSwitchSimulator(password="ClueCon", extensions=EXT, gateways=["carrier1"])
    await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    parser = FrameParser()
    bodies: list[bytes] = []
    try:
        for command in (b"", b"auth ClueCon\n\n", b"event json ALL\n\n"):
            writer.write(command)
            while not parser.feed(await reader.read(65536)):
                pass
        await sim.blast(20)
        writer.write(b"api version\n\n")
        done = False
        while not done:
            for msg in parser.feed(await reader.read(65536)):
                done = done or msg.content_type == "api/response"
                if msg.content_type == "text/event-json":
                    bodies.append(msg.body)
    finally:
        writer.close()
        await sim.stop()
    assert len(bodies) > 20 * 30
    _same_store_either_way(bodies)


def test_event_frames_split_anywhere_give_the_same_messages(fixtures_dir: Path) -> None:
    data = (fixtures_dir / "freeswitch" /
            "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt").read_bytes()
    whole = FrameParser().feed(data)
    for chunk in (1, 7, 4096):
        parser = FrameParser()
        pieces = [m for i in range(0, len(data), chunk) for m in parser.feed(data[i:i + chunk])]
        assert pieces == whole and parser.buffered == 0
    assert sum(m.content_type == "text/event-json" for m in whole) == 199
    assert all(isinstance(m.body, bytes) for m in whole)


def test_state_event_with_variables_is_decoded_whole() -> None:
    """A switch with `verbose_events` puts channel variables on every event; the lean decode of
    CHANNEL_STATE leaves them out, so such an event must be read whole."""
    base = {"Unique-ID": "u1", "Channel-Name": "sofia/internal/201@acme.example.com",
            "Call-Direction": "inbound", "Answer-State": "ringing"}
    create = orjson.dumps({"Event-Name": "CHANNEL_CREATE", **base, "Channel-State": "CS_INIT"})
    state = orjson.dumps({"Event-Name": "CHANNEL_STATE", **base, "Channel-State": "CS_ROUTING",
                          "variable_uuid": "u1", "variable_callgate_queue": "sales",
                          "variable_sip_from_user": "201"})
    _same_store_either_way([create, state])
    store, mapper = _store()
    mapper.handle(mapper.decode(create))
    ev = mapper.decode(state)
    assert ev["variable_callgate_queue"] == "sales"
    mapper.handle(ev)
    ch = store.get("u1")
    assert ch is not None and (ch.variables or {}).get("callgate_queue") == "sales"


def test_the_cs_init_state_before_create_inserts_nothing_but_a_later_state_does() -> None:
    """FreeSWITCH reports CS_INIT just before CHANNEL_CREATE: the row is the CREATE's, as in the
    switch's own table. A channel first seen in a later state (born before the subscription)
    is still taken from that event."""
    base = {"Channel-Name": "sofia/internal/201@acme.example.com",
            "Call-Direction": "inbound", "Answer-State": "ringing"}
    init = orjson.dumps({"Event-Name": "CHANNEL_STATE", "Unique-ID": "u1", **base,
                         "Channel-State": "CS_INIT"})
    create = orjson.dumps({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u1", **base,
                           "Channel-State": "CS_INIT", "variable_uuid": "u1",
                           "variable_sip_from_user": "201",
                           "variable_sip_from_host": "acme.example.com"})
    later = orjson.dumps({"Event-Name": "CHANNEL_STATE", "Unique-ID": "u2", **base,
                          "Channel-State": "CS_EXECUTE"})
    store, mapper = _store()
    assert mapper.ingest(init) is None and store.get("u1") is None
    mapper.ingest(create)
    ch = store.get("u1")
    assert ch is not None and ch.switch_state == "CS_INIT" and ch.account_id
    mapper.ingest(later)
    assert (u2 := store.get("u2")) is not None and u2.switch_state == "CS_EXECUTE"
    _same_store_either_way([init, create, later])


def test_create_is_decoded_with_every_header_the_new_channel_is_built_from(
        fixtures_dir: Path) -> None:
    """A CREATE's lean decode must hold everything `full_fields` (and the attribution) reads:
    the headers read while building each recorded CREATE are all in it."""
    from backends.fs_mapping import _LEAN, full_fields

    class Reads(dict[str, Any]):
        def __init__(self, ev: dict[str, Any]) -> None:
            super().__init__(ev)
            self.read: set[str] = set()

        def get(self, key: str, default: Any = None) -> Any:
            self.read.add(key)
            return super().get(key, default)

    lean_keys = _LEAN._fields[b"CHANNEL_CREATE"]
    creates = 0
    data = (fixtures_dir / "freeswitch" /
            "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt").read_bytes()
    for msg in FrameParser().feed(data):
        if msg.content_type == "text/event-json" and b'"CHANNEL_CREATE"' in msg.body[:40]:
            ev = Reads(decode_json(msg.body))
            full_fields(ev)
            assert ev.read <= lean_keys, ev.read - lean_keys
            creates += 1
    assert creates >= 2
    for direction in ("inbound", "outbound"):  # every fallback taken: each header absent
        ev = Reads({"Call-Direction": direction})
        full_fields(ev)
        assert ev.read <= lean_keys, ev.read - lean_keys
