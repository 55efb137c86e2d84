"""The simulator's ESL encoder against recorded FreeSWITCH 1.11 bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simswitch import esl_wire as wire
from simswitch.fs_model import SHOW_COLUMNS, SwitchModel

FS = "freeswitch"


def frames(path: Path) -> list[tuple[dict[str, str], bytes]]:
    """Split a server_raw capture into (headers, body) frames, counting bytes."""
    raw = path.read_bytes()
    out, i = [], 0
    while i < len(raw):
        j = raw.index(b"\n\n", i)
        head = dict(line.split(": ", 1) for line in raw[i:j].decode().split("\n"))
        i = j + 2
        body = b""
        if "Content-Length" in head:
            n = int(head["Content-Length"])
            body, i = raw[i:i + n], i + n
        out.append((head, body))
    return out


def plain_keys(body: bytes) -> list[str]:
    return [line.split(": ", 1)[0] for line in body.decode().split("\n") if ": " in line]


def first_event(fr: list, name: str, fmt: str = "plain") -> tuple[dict, bytes]:
    for head, body in fr:
        if fmt == "plain" and body.startswith(f"Event-Name: {name}\n".encode()):
            return head, body
        if fmt == "json" and body.startswith(f'{{"Event-Name":"{name}"'.encode()):
            return head, body
    raise AssertionError(name)


def shape(keys: list[str]) -> list[str]:
    """Header order with variable_* collapsed (variable sets differ by channel type)."""
    out: list[str] = []
    for k in keys:
        k2 = "variable_*" if k.startswith("variable_") else k
        if not out or out[-1] != k2:
            out.append(k2)
    return out


@pytest.fixture()
def model() -> tuple[SwitchModel, list[wire.Event]]:
    events: list[wire.Event] = []
    m = SwitchModel(hostname="sim-fs1", extensions={"201": "acme.example.com",
                    "202": "acme.example.com"}, gateways=["carrier1"], emit=events.append)
    return m, events


def test_url_encode_matches_switch_url_encode() -> None:
    assert wire.url_encode("2026-11-22 10:49:06") == "2026-11-22%2010%3A49%3A06"
    assert wire.url_encode("Sun, 22 Nov") == "Sun,%2022%20Nov"
    assert wire.url_encode("fd00::2") == "fd00%3A%3A2"
    assert wire.url_encode("tone_stream://%(500,0,800)") == "tone_stream%3A//%25(500,0,800)"
    assert wire.url_encode("a%41b") == "a%41b"  # existing %XX passes through
    assert wire.url_encode('"x" <y>') == "%22x%22%20%3Cy%3E"
    assert wire.url_encode("Jürgen\n") == "J%C3%BCrgen%0A"
    assert wire.url_encode("ARRAY::9999|:9999") == "ARRAY%3A%3A9999%7C%3A9999"
    assert wire.url_encode("'()*!$-._~/,") == "'()*!$-._~/,"


def test_capture_values_round_trip_through_encoder(fixtures_dir: Path) -> None:
    """Every decoded value of a real plain event re-encodes to the exact recorded bytes."""
    from urllib.parse import unquote
    fr = frames(fixtures_dir / FS / "fs-1.11-esl_05_sip_calls_with_asterisk.server_raw.txt")
    _, body = first_event(fr, "CHANNEL_CREATE")
    for line in body.decode().split("\n"):
        if ": " in line:
            value = line.split(": ", 1)[1]
            if "%25" not in value:
                assert wire.url_encode(unquote(value)) == value


def test_auth_and_disconnect_bytes_identical(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / FS / "fs-1.11-esl_00_bad_auth.server_raw.txt").read_bytes()
    ours = wire.AUTH_REQUEST + wire.command_reply("-ERR invalid") + wire.DISCONNECT_NOTICE
    assert ours == raw
    raw_ok = (fixtures_dir / FS / "fs-1.11-esl_00b_command_before_auth.server_raw.txt").read_bytes()
    assert raw_ok.startswith(wire.AUTH_REQUEST + wire.command_reply("-ERR command not found")
                             + wire.command_reply("+OK accepted"))
    assert raw_ok.endswith(wire.command_reply("+OK bye") + wire.DISCONNECT_NOTICE)


def test_api_and_bgapi_reply_framing(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / FS / "fs-1.11-esl_01_event_plain_originate_park_kill.server_raw.txt"
           ).read_bytes()
    assert wire.api_response("-ERR No such channel!\n") in raw
    assert wire.api_response('{"row_count": 0}\n') in raw
    assert wire.api_response("+OK\n") in raw
    raw2 = (fixtures_dir / FS / "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt"
            ).read_bytes()
    job = "239f4a73-45c0-4b07-829f-d8ba35b725fc"
    assert wire.command_reply(f"+OK Job-UUID: {job}", job_uuid=job) in raw2
    assert wire.command_reply("+OK event listener enabled json") in raw2


@pytest.mark.parametrize("name", ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP"])
def test_plain_event_header_order_matches_capture(
    fixtures_dir: Path, model: tuple[SwitchModel, list[wire.Event]], name: str,
) -> None:
    m, events = model
    fr = frames(fixtures_dir / FS / "fs-1.11-esl_05_sip_calls_with_asterisk.server_raw.txt")
    head, body = first_event(fr, name)
    ch = m.start_inbound("201", "202", realm=None, variables={})
    m.mark_answered(ch)
    m.hangup(ch)
    ev = next(e for e in events if e.name == name and e.get("Unique-ID") == ch.uuid)
    frame = ev.plain_frame()
    ohead, obody = frame.split(b"\n\n", 1)
    assert list(dict(x.split(": ") for x in ohead.decode().split("\n"))) == list(head)
    assert int(ohead.split(b"\n")[0].split(b": ")[1]) == len(obody)
    assert obody.endswith(b"\n\n") and body.endswith(b"\n\n")
    real, ours = shape(plain_keys(body)), shape(plain_keys(obody))
    # same header sequence once optional caller-profile fields absent on one side are dropped
    common = [k for k in ours if k in real]
    assert common == [k for k in real if k in ours]
    assert set(real) - set(ours) <= {"Caller-Callee-ID-Name", "Caller-Callee-ID-Number"}


def test_json_event_matches_capture_shape(
    fixtures_dir: Path, model: tuple[SwitchModel, list[wire.Event]],
) -> None:
    m, events = model
    fr = frames(fixtures_dir / FS / "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt")
    head, body = first_event(fr, "CHANNEL_BRIDGE", "json")
    a = m.start_inbound("201", "202", realm=None, variables={"callgate_account_id": "acc 1"})
    b = m.bridge_out(a, "user/202@acme.example.com", answer_after=None)
    assert b is not None
    m.answer(b)
    ev = next(e for e in events if e.name == "CHANNEL_BRIDGE")
    ohead, obody = ev.json_frame().split(b"\n\n", 1)
    assert ohead.decode().split("\n") == [f"Content-Length: {len(obody)}",
                                          "Content-Type: text/event-json"]
    assert list(head) == ["Content-Length", "Content-Type"]
    real = shape(list(json.loads(body)))
    ours = shape(list(json.loads(obody)))
    common = [k for k in ours if k in real]
    assert common == [k for k in real if k in ours]
    assert set(real) <= set(ours)  # every header the real switch sends, Caller-* included
    d = json.loads(obody)
    assert d["Other-Type"] == "originatee" and d["Other-Leg-Unique-ID"] == b.uuid
    assert d["variable_callgate_account_id"] == "acc 1"  # json: values are not URL-encoded
    assert d["Bridge-A-Unique-ID"] == a.uuid and d["Bridge-B-Unique-ID"] == b.uuid


def test_plain_event_with_body_and_json_body(fixtures_dir: Path) -> None:
    ev = wire.Event([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", "j1"),
                     ("Job-Command", "originate"), ("Job-Command-Arg", "{a=b}user/1 &park()")],
                    body="+OK ü\n")
    head, body = ev.plain_frame().split(b"\n\n", 1)
    assert int(head.split(b"\n")[0][16:]) == len(body)
    assert body.endswith(b"Job-Command-Arg: %7Ba%3Db%7Duser/1%20%26park()\n"
                         b"Content-Length: 7\n\n+OK \xc3\xbc\n")
    d = json.loads(ev.json_frame().split(b"\n\n", 1)[1])
    assert d["Content-Length"] == "7" and d["_body"] == "+OK ü\n"
    # the recorded FS 1.7 job event has the same nesting
    raw = (fixtures_dir / FS / "switchio-eventstream2.txt").read_bytes()
    assert b"%20%26park()\nContent-Length: 41\n\n+OK 8de782e0" in raw


def test_show_channels_columns_in_real_order(fixtures_dir: Path, model) -> None:
    m, _ = model
    fr = frames(fixtures_dir / FS / "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt")
    real = next(json.loads(b) for _, b in fr if b.startswith(b'{"row_count":4'))
    assert tuple(real["rows"][0]) == SHOW_COLUMNS and len(SHOW_COLUMNS) == 38
    assert m.show_channels_json() == '{"row_count": 0}\n'
    m.start_inbound("201", "202", realm=None, variables={})
    text = m.show_channels_json()
    assert text.startswith('{"row_count":1,"rows":[{"uuid":') and not text.endswith("\n")
    row = json.loads(text)["rows"][0]
    assert tuple(row) == SHOW_COLUMNS and all(isinstance(v, str) for v in row.values())


async def test_read_command_parses_headers_body_and_cr() -> None:
    import asyncio
    r = asyncio.StreamReader()
    r.feed_data(b"\nbgapi status\r\nJob-UUID: abc\r\n\r\nsendevent X\nContent-Length: 3\n\nxyz")
    r.feed_eof()
    c1 = await wire.read_command(r)
    assert c1 is not None and c1.line == "bgapi status" and c1.headers == {"Job-UUID": "abc"}
    c2 = await wire.read_command(r)
    assert c2 is not None and c2.body == "xyz"
    assert await wire.read_command(r) is None


@given(st.lists(st.tuples(st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
                          st.text(st.characters(exclude_categories=["Cs"]), max_size=20)),
                max_size=6))
@settings(max_examples=300, deadline=None)
def test_json_object_writes_what_the_per_key_writer_writes(pairs: list[tuple[str, str]]) -> None:
    """The orjson path (no repeated key) gives the text the cJSON-style writer gives: the same
    escapes, control characters and non-ASCII as they are."""
    from simswitch.esl_wire import json_object, json_str

    slow = "{" + ",".join(f"{json_str(k)}:{json_str(v)}" for k, v in pairs) + "}"
    assert json_object(pairs) == slow
