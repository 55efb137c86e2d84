"""Backends tell what a leg waits in (`Channel.waiting`) from their own application names, so
call-flow-control reads a queue, a parking lot or a greeting without knowing any switch's
vocabulary. Checked on recorded traffic of both switches and on their snapshot paths."""

from __future__ import annotations

from pathlib import Path

from panoramisk.message import Message

from backends.ami_mapping import AmiMapper, clean
from backends.ami_mapping import waiting_of as ami_waiting
from backends.ami_session import AmiFramer
from backends.esl_protocol import FrameParser, decode_event
from backends.fs_mapping import FsMapper, row_to_channel
from backends.fs_mapping import waiting_of as fs_waiting
from gateway.model import Waiting
from gateway.store import ChannelStore


def _seen(store: ChannelStore, seen: set[tuple[str, Waiting]]) -> None:
    seen.update((ch.application, ch.waiting) for ch in store.all())


def test_freeswitch_capture_marks_valet_park_and_greeting(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "freeswitch"
           / "fs-1.11-esl_03_transfer_bridge_valetpark.server_raw.txt").read_bytes()
    store = ChannelStore()
    mapper = FsMapper(store, "fs1")
    seen: set[tuple[str, Waiting]] = set()
    for msg in FrameParser().feed(raw):
        ev = decode_event(msg)
        if ev is not None:
            mapper.handle(ev)
            _seen(store, seen)
    assert ("valet_park", Waiting.PARK) in seen
    assert ("playback", Waiting.GREETING) in seen
    assert ("park", Waiting.NONE) in seen  # the switch's own park is not a desk's lot
    assert all(w is fs_waiting(app) for app, w in seen)  # never stale after a new app


def test_freeswitch_show_channels_row() -> None:
    def row(app: str) -> Waiting:
        return row_to_channel({"uuid": "u1", "application": app}, "fs1").waiting

    assert (row("fifo"), row("callcenter"), row("valet_park")) == \
        (Waiting.QUEUE, Waiting.QUEUE, Waiting.PARK)
    assert (row("playback"), row("speak"), row("play_and_get_digits")) == \
        (Waiting.GREETING,) * 3
    assert (row("park"), row("bridge"), row("")) == (Waiting.NONE,) * 3


def test_asterisk_capture_marks_the_queue(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "asterisk-22-real" / "ami_06_misc_actions.server_raw.txt").read_bytes()
    framer = AmiFramer()
    store = ChannelStore()
    mapper: AmiMapper | None = None
    seen: set[tuple[str, Waiting]] = set()
    for msg in framer.feed(raw):
        if mapper is None:
            mapper = AmiMapper("ast1", store, version=framer.version or "")
        if clean(msg.get("Event")) not in ("CoreShowChannel", "CoreShowChannelsComplete"):
            mapper.handle(msg)
            _seen(store, seen)
    assert ("Queue", Waiting.QUEUE) in seen
    assert ("Wait", Waiting.NONE) in seen
    assert all(w is ami_waiting(app) for app, w in seen)


def test_asterisk_newexten_and_snapshot() -> None:
    store = ChannelStore()
    mapper = AmiMapper("ast1", store)
    base = {"Channel": "PJSIP/201-00000001", "ChannelState": "6", "ChannelStateDesc": "Up",
            "CallerIDNum": "201", "CallerIDName": "", "ConnectedLineNum": "",
            "ConnectedLineName": "", "AccountCode": "", "Context": "from-internal",
            "Exten": "500", "Priority": "1", "Uniqueid": "1.1", "Linkedid": "1.1"}
    mapper.handle(Message({"Event": "Newchannel", **base}))
    for app, want in (("Playback", Waiting.GREETING), ("queue", Waiting.QUEUE),
                      ("Dial", Waiting.NONE)):
        mapper.handle(Message({"Event": "Newexten", **base, "Application": app,
                               "AppData": "x"}))
        ch = store.get("1.1")
        assert ch is not None and ch.waiting is want, app

    listed = mapper.snapshot([Message({"Event": "CoreShowChannel", **base,
                                       "Application": "Queue", "ApplicationData": "support",
                                       "Duration": "00:00:05"})])
    assert [(clean(c.application), c.waiting) for c in listed] == [("Queue", Waiting.QUEUE)]
