"""ESL framing against the recorded FreeSWITCH bytes, and against frames built to break it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from backends.base import ProtocolError
from backends.esl_protocol import (
    FrameParser,
    Message,
    decode_event,
    decode_json,
    decode_plain,
    encode_command,
)

#: file -> (messages, content-type counts) as counted by hand from the .txt transcripts
EXPECTED = {
    "fs-1.11-esl_00_bad_auth": (3, {"auth/request": 1, "command/reply": 1,
                                    "text/disconnect-notice": 1}),
    "fs-1.11-esl_00b_command_before_auth": (6, {"auth/request": 1, "command/reply": 3,
                                                "api/response": 1, "text/disconnect-notice": 1}),
    "fs-1.11-esl_01_event_plain_originate_park_kill": (72, {
        "auth/request": 1, "command/reply": 3, "api/response": 11, "text/event-plain": 56,
        "text/disconnect-notice": 1}),
    "fs-1.11-esl_02_event_json_bridged_call": (213, {
        "auth/request": 1, "command/reply": 4, "text/event-json": 199, "api/response": 8,
        "text/disconnect-notice": 1}),
    "fs-1.11-esl_03_transfer_bridge_valetpark": (364, {
        "auth/request": 1, "command/reply": 3, "api/response": 24, "text/event-plain": 335,
        "text/disconnect-notice": 1}),
    "fs-1.11-esl_04_misc_api_sip_loopback": (45, {
        "auth/request": 1, "command/reply": 8, "api/response": 19, "text/event-plain": 16,
        "text/disconnect-notice": 1}),
    "fs-1.11-esl_05_sip_calls_with_asterisk": (36, {
        "auth/request": 1, "command/reply": 3, "text/event-plain": 23, "api/response": 8,
        "text/disconnect-notice": 1}),
}


def _frames(data: bytes, chunk: int | None = None) -> list[Message]:
    parser = FrameParser()
    if chunk is None:
        out = parser.feed(data)
    else:
        out = []
        for i in range(0, len(data), chunk):
            out += parser.feed(data[i:i + chunk])
    assert parser.buffered == 0, "bytes left over after the last frame"
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_capture_frames_completely(fixtures_dir: Path, name: str) -> None:
    data = (fixtures_dir / "freeswitch" / f"{name}.server_raw.txt").read_bytes()
    msgs = _frames(data)
    count, types = EXPECTED[name]
    assert len(msgs) == count
    assert Counter(m.content_type for m in msgs) == types
    # byte-exact lengths: re-serialising every frame gives the capture back
    rebuilt = b"".join(
        b"".join(f"{k}: {v}\n".encode() for k, v in m.headers.items()) + b"\n" + m.body
        for m in msgs
    )
    assert len(rebuilt) == len(data)
    for m in msgs:
        if "Content-Length" in m.headers:
            assert len(m.body) == int(m.headers["Content-Length"])
        ev = decode_event(m)
        if ev is not None:
            assert ev["Event-Name"]


@pytest.mark.parametrize("chunk", [1, 7, 1500])
def test_split_reads_give_the_same_frames(fixtures_dir: Path, chunk: int) -> None:
    data = (fixtures_dir / "freeswitch" /
            "fs-1.11-esl_01_event_plain_originate_park_kill.server_raw.txt").read_bytes()
    whole = _frames(data)
    split = _frames(data, chunk)
    assert [(m.headers, m.body) for m in split] == [(m.headers, m.body) for m in whole]


def test_auth_and_replies_from_captures(fixtures_dir: Path) -> None:
    bad = _frames((fixtures_dir / "freeswitch" / "fs-1.11-esl_00_bad_auth.server_raw.txt")
                  .read_bytes())
    assert bad[0].content_type == "auth/request"
    assert bad[1].reply_text == "-ERR invalid"
    assert bad[2].text().startswith("Disconnected, goodbye.")
    first = _frames((fixtures_dir / "freeswitch" /
                     "fs-1.11-esl_01_event_plain_originate_park_kill.server_raw.txt").read_bytes())
    assert first[1].reply_text == "+OK accepted"
    empty = [m for m in first if m.body == b'{"row_count": 0}\n']
    assert len(empty) == 1 and empty[0].headers["Content-Length"] == "17"
    assert any(m.text() == "-ERR No such channel!\n" for m in first)


def test_plain_values_decoded_per_value(fixtures_dir: Path) -> None:
    data = (fixtures_dir / "freeswitch" /
            "fs-1.11-esl_01_event_plain_originate_park_kill.server_raw.txt").read_bytes()
    events = [decode_event(m) for m in _frames(data) if m.content_type == "text/event-plain"]
    ev = events[0]
    assert ev is not None
    assert ev["FreeSWITCH-IPv6"] == "fd00::2"
    assert ev["Event-Date-GMT"] == "Sun, 22 Nov 2026 10:49:06 GMT"


def test_plain_and_json_agree_on_the_same_kind_of_event(fixtures_dir: Path) -> None:
    d = fixtures_dir / "freeswitch"
    plain = [decode_event(m) for m in
             _frames((d / "fs-1.11-esl_01_event_plain_originate_park_kill.server_raw.txt")
                     .read_bytes())]
    js = [decode_event(m) for m in
          _frames((d / "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt").read_bytes())]
    p = next(e for e in plain if e and e["Event-Name"] == "CHANNEL_CREATE")
    j = next(e for e in js if e and e["Event-Name"] == "CHANNEL_CREATE")
    assert p["Event-Date-Local"].count(":") == j["Event-Date-Local"].count(":") == 2
    assert p["Caller-Channel-Created-Time"].isdigit() and j["Caller-Channel-Created-Time"].isdigit()


def test_multibyte_value_and_byte_counted_length() -> None:
    name = "Jürgen Müller ☎"
    encoded = "J%C3%BCrgen%20M%C3%BCller%20%E2%98%8E"
    body = (f"Event-Name: CHANNEL_CREATE\nCaller-Caller-ID-Name: {encoded}\n"
            "Caller-Callee-ID-Name: _undef_\nEvil: a%0AUnique-ID%3A%20forged\n\n").encode()
    js = ('{"Event-Name":"CHANNEL_ANSWER","Caller-Caller-ID-Name":"' + name + '"}').encode()
    wire = (b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body
            + b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(js) + js)
    assert len(js) > len(js.decode())  # characters and bytes differ
    msgs = FrameParser().feed(wire)
    assert len(msgs) == 2
    plain = decode_event(msgs[0])
    assert plain is not None
    assert plain["Caller-Caller-ID-Name"] == name
    assert plain["Caller-Callee-ID-Name"] == ""
    assert plain["Evil"] == "a\nUnique-ID: forged"  # an encoded newline forges no header
    assert "Unique-ID" not in plain
    assert decode_event(msgs[1]) == {"Event-Name": "CHANNEL_ANSWER",
                                     "Caller-Caller-ID-Name": name}


def test_switchio_stream_nested_background_job_body(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "freeswitch" / "switchio-eventstream2.txt").read_bytes()
    # the switchio project cut its capture into read-sized chunks joined by "--", anywhere: as
    # a line of its own, inside a header name ("Event---Name"), inside a value ("+OK --Job")
    assert raw.count(b"--") == 3
    data = (raw.replace(b"\n\n--\n", b"\n\n").replace(b"Event---Name", b"Event-Name")
            .replace(b"+OK --Job", b"+OK Job"))
    msgs = FrameParser().feed(data)
    events = [e for e in map(decode_event, msgs) if e is not None]
    reply = msgs[0]
    assert reply.reply_text.startswith("+OK Job-UUID: ")
    assert reply.headers["Job-UUID"] == reply.reply_text.split()[-1]
    jobs = [e for e in events if e["Event-Name"] == "BACKGROUND_JOB"]
    assert jobs, "no BACKGROUND_JOB decoded"
    job = jobs[0]
    assert job["_body"].startswith("+OK ")
    assert job["Content-Length"] == str(len(job["_body"].encode()))
    assert job["Job-Command-Arg"].startswith("{originate_timeout=60,origination_caller_id_name=")
    assert " &park()" in job["Job-Command-Arg"]
    assert any(e["Event-Name"] == "CHANNEL_PARK" and e.get("variable_uuid") for e in events)


@pytest.mark.parametrize("wire", [
    b"Content-Length: abc\nContent-Type: text/event-plain\n\nEvent-Name: X\n\n",
    b"Content-Length: -5\nContent-Type: api/response\n\n",
    b"this is not a header\n\n",
    b"Content-Type: api/response\nContent-Length: 99999999999\n\n",
])
def test_malformed_frames_raise(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(wire)


def test_oversize_and_unterminated_frames_raise() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameParser(max_frame=1024).feed(b"Content-Type: api/response\nContent-Length: 1025\n\n")
    with pytest.raises(ProtocolError, match="terminator"):
        FrameParser().feed(b"X-Header: " + b"a" * 70_000)


def test_bad_event_bodies_raise() -> None:
    with pytest.raises(ProtocolError):
        decode_json(b"{not json")
    with pytest.raises(ProtocolError):
        decode_json(b"[1, 2]")
    with pytest.raises(ProtocolError):
        decode_plain(b"Event-Name: X\nno separator here\n\n")
    with pytest.raises(ProtocolError):
        decode_plain(b"Event-Name: BACKGROUND_JOB\nContent-Length: 50\n\n+OK short")


def test_encode_command_refuses_line_breaks() -> None:
    assert encode_command("bgapi status", {"Job-UUID": "j1"}) == b"bgapi status\nJob-UUID: j1\n\n"
    with pytest.raises(ValueError):
        encode_command("api uuid_kill x\n\napi hupall")
    with pytest.raises(ValueError):
        encode_command("bgapi status", {"Job-UUID": "j\nx"})


def test_reads_straight_into_the_buffer_grow_for_a_large_frame_and_give_the_room_back() -> None:
    """As asyncio's buffered protocol reads: into the room `get_buffer` gives, which stays
    exported while `buffer_updated` frames it. A 3 MiB body between small frames arrives whole,
    the buffer grows for it and shrinks back once it has gone."""
    from backends.esl_protocol import READ_SIZE

    big = b"x" * (3 << 20)
    small = b"Content-Type: api/response\nContent-Length: 3\n\n+OK"
    wire = (small + b"Content-Type: api/response\nContent-Length: %d\n\n" % len(big) + big
            + small * 1000)
    parser = FrameParser()
    out: list[Message] = []
    sizes = []
    rest = memoryview(wire)
    while rest:
        room = parser.get_buffer(-1)
        n = min(len(room), len(rest), 70_000)  # reads that end anywhere, mid-frame included
        room[:n] = rest[:n]
        rest = rest[n:]
        out += parser.buffer_updated(n)
        del room
        sizes.append(len(parser._buf))
    assert [m.body for m in out] == [b"+OK", big] + [b"+OK"] * 1000
    assert parser.buffered == 0
    assert max(sizes) > len(big) and parser.get_buffer(-1).nbytes <= READ_SIZE
