"""The simulated FreeSWITCH over real loopback sockets, driven like an ESL client would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from simswitch.fs_server import FreeSwitchSimulator
from simswitch.traffic import TrafficGenerator

FS = "freeswitch"
REALM = "acme.example.com"


class Client:
    """Tiny test-only ESL client: frames by Content-Length bytes, queues events apart."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r, self.w = reader, writer
        self.raw = bytearray()
        self.events: list[dict[str, str]] = []

    async def frame(self, wait: float = 2.0) -> tuple[dict[str, str], bytes]:
        head = await asyncio.wait_for(self.r.readuntil(b"\n\n"), wait)
        self.raw += head
        h = dict(line.split(": ", 1) for line in head.decode().strip("\n").split("\n"))
        body = b""
        if "Content-Length" in h:
            body = await asyncio.wait_for(self.r.readexactly(int(h["Content-Length"])), wait)
            self.raw += body
        return h, body

    async def reply(self) -> tuple[dict[str, str], bytes]:
        """Next non-event frame (events that arrive first are kept in self.events)."""
        while True:
            h, b = await self.frame()
            if not h.get("Content-Type", "").startswith("text/event"):
                return h, b
            self.events.append(decode(h, b))

    async def cmd(self, line: str, **headers: str) -> dict[str, str]:
        extra = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items())
        self.w.write(f"{line}\n{extra}\n".encode())
        return (await self.reply())[0]

    async def api(self, line: str) -> str:
        self.w.write(f"api {line}\n\n".encode())
        h, b = await self.reply()
        assert h["Content-Type"] == "api/response"
        return b.decode()

    async def collect(self, until: float = 0.3) -> list[dict[str, str]]:
        """Gather events until the line is quiet for `until` seconds."""
        try:
            while True:
                h, b = await self.frame(until)
                if h.get("Content-Type", "").startswith("text/event"):
                    self.events.append(decode(h, b))
        except TimeoutError:
            pass
        return self.events

    async def wait_for(self, pred, wait: float = 2.0) -> dict[str, str]:
        for e in self.events:
            if pred(e):
                return e
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        while True:
            h, b = await self.frame(max(0.01, end - loop.time()))
            if h.get("Content-Type", "").startswith("text/event"):
                e = decode(h, b)
                self.events.append(e)
                if pred(e):
                    return e

    def close(self) -> None:
        self.w.close()


def decode(h: dict[str, str], body: bytes) -> dict[str, str]:
    if h["Content-Type"] == "text/event-json":
        return json.loads(body)
    text, _, rest = body.decode().partition("\n\n")
    d = {k: unquote(v) for k, v in (line.split(": ", 1) for line in text.split("\n"))}
    if "Content-Length" in d:
        d["_body"] = rest
    return d


@pytest.fixture()
async def sim() -> AsyncIterator[FreeSwitchSimulator]:
    s = FreeSwitchSimulator(
        extensions={"201": REALM, "202": REALM, "203": REALM, "208": REALM, "209": REALM,
                    "301": "beta.example.com"},
        gateways=["carrier1"], busy={"209"}, no_answer={"208"}, answer_after=0.05)
    await s.start()
    yield s
    await s.stop()


async def client(sim: FreeSwitchSimulator, **kw) -> Client:
    c = Client(*await asyncio.open_connection("127.0.0.1", sim.port))
    assert (await c.frame())[0] == {"Content-Type": "auth/request"}
    if kw.get("password", "ClueCon") is not None:
        assert (await c.cmd(f"auth {kw.get('password', 'ClueCon')}"))["Reply-Text"] == \
            "+OK accepted"
    if kw.get("events", "json ALL"):
        await c.cmd(f"event {kw.get('events', 'json ALL')}")
    return c


def seq(events: list[dict[str, str]], uid: str) -> list[tuple[str, str, str]]:
    return [(e["Event-Name"], e["Channel-State"], e["Channel-State-Number"])
            for e in events if e.get("Unique-ID") == uid]


def capture_legs(fixtures_dir: Path) -> dict[str, list[dict]]:
    raw = (fixtures_dir / FS / "fs-1.11-esl_02_event_json_bridged_call.server_raw.txt").read_bytes()
    legs: dict[str, list[dict]] = {}
    i = 0
    while i < len(raw):
        j = raw.index(b"\n\n", i)
        h = dict(x.split(": ", 1) for x in raw[i:j].decode().split("\n"))
        i = j + 2
        n = int(h.get("Content-Length", 0))
        body, i = raw[i:i + n], i + n
        if body.startswith(b'{"Event-Name"'):
            d = json.loads(body)
            if "Unique-ID" in d and d["Event-Name"] != "CODEC":
                legs.setdefault(d["Unique-ID"], []).append(d)
    return legs


# ---------------------------------------------------------------- auth / framing
async def test_bad_auth_bytes_identical_to_capture(sim, fixtures_dir: Path) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    w.write(b"auth wrong\n\n")
    got = await asyncio.wait_for(r.read(), 2)
    assert got == (fixtures_dir / FS / "fs-1.11-esl_00_bad_auth.server_raw.txt").read_bytes()
    assert sim.connections == 0


async def test_command_before_auth_then_exit(sim) -> None:
    c = await client(sim, password=None, events=None)
    assert (await c.cmd("api status"))["Reply-Text"] == "-ERR command not found"
    assert (await c.cmd("auth ClueCon"))["Reply-Text"] == "+OK accepted"
    assert sim.connections == 1
    assert "FreeSWITCH (Version 1.11.1-release  64bit) is ready" in await c.api("status")
    c.w.write(b"exit\n\n")
    assert (await c.frame())[0]["Reply-Text"] == "+OK bye"
    h, body = await c.frame()
    assert h["Content-Type"] == "text/disconnect-notice" and body.startswith(b"Disconnected")
    assert await c.r.read() == b""
    assert sim.commands == ["api status", "exit"]


async def test_auth_disabled_or_password_changed_at_runtime(sim) -> None:
    sim.password = "other"
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    w.write(b"auth ClueCon\n\n")
    assert b"-ERR invalid" in await asyncio.wait_for(r.read(), 2)
    sim.password, sim.auth_enabled = "ClueCon", False
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    w.write(b"auth ClueCon\n\n")
    assert b"-ERR invalid" in await asyncio.wait_for(r.read(), 2)


async def test_subscription_replies(sim) -> None:
    c = await client(sim, events=None)
    assert (await c.cmd("event"))["Reply-Text"] == "-ERR no keywords supplied"
    assert (await c.cmd("noevents"))["Reply-Text"] == "-ERR not listening for events"
    assert (await c.cmd("event plain CHANNEL_CREATE CUSTOM sofia::register"))["Reply-Text"] == \
        "+OK event listener enabled plain"
    assert (await c.cmd("filter Event-Name CHANNEL_CREATE"))["Reply-Text"] == \
        "+OK filter added. [Event-Name]=[CHANNEL_CREATE]"
    assert (await c.cmd("nixevent CHANNEL_DESTROY"))["Reply-Text"] == "+OK events nixed"
    assert (await c.cmd("noevents"))["Reply-Text"] == "+OK no longer listening for events"
    assert (await c.cmd("bogus"))["Reply-Text"] == "-ERR command not found"
    await sim.place_call("201", "202", answer_after=None)
    assert await c.collect(0.1) == []


async def test_plain_subscription_filters_by_name_and_encodes(sim) -> None:
    c = await client(sim, events="plain CHANNEL_CREATE")
    a = await sim.place_call("201", "202", answer_after=None,
                             variables={"callgate_account_id": "a b&c"})
    await c.collect(0.15)
    assert {e["Event-Name"] for e in c.events} == {"CHANNEL_CREATE"}
    assert b"variable_callgate_account_id: a%20b%26c\n" in c.raw
    assert b"Channel-Name: sofia/internal/201%40acme.example.com\n" in c.raw
    assert c.events[0]["Unique-ID"] == a


# ---------------------------------------------------------------- call flows
async def test_internal_call_sequence_matches_capture(sim, fixtures_dir: Path) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "202")
    bridge = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE")
    b = bridge["Other-Leg-Unique-ID"]
    await sim.hangup(a)
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_STATE" and e["Unique-ID"] == a
                     and e["Channel-State"] == "CS_DESTROY")
    assert sim.channel_ids() == []

    legs = capture_legs(fixtures_dir)
    # the captured legs are loopback ones, which send no display update (CALL_UPDATE SEND)
    # the way our sofia phone legs do
    drop = {"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CALL_UPDATE"}

    def norm(evs: list[dict]) -> list[tuple[str, str, str]]:
        return [(e["Event-Name"], e["Channel-State"], e["Channel-State-Number"]) for e in evs
                if e["Event-Name"] not in drop
                and e.get("Application") not in ("set",)
                and not (e["Event-Name"] == "CHANNEL_CALLSTATE"
                         and e["Channel-Call-State"] in ("EARLY", "RINGING")
                         and e["Channel-State"] != "CS_ROUTING")]

    real_a = norm(legs["8e00ced4-f14d-4adf-9870-6b95c0899a6c"])  # inbound leg running bridge
    real_b = norm(legs["8c3aa741-decd-46e4-a0fd-76d8ac2e9cba"])  # leg dialled by bridge
    ours = [e for e in c.events if "Unique-ID" in e]
    assert norm([e for e in ours if e["Unique-ID"] == a]) == real_a
    assert norm([e for e in ours if e["Unique-ID"] == b]) == real_b


async def test_call_update_events_set_the_callee_columns(sim, fixtures_dir: Path) -> None:
    """truth() holds exactly what the CALL_UPDATE events say, under the channels-table rule."""
    c = await client(sim)

    def table_rule(e: dict[str, str]) -> dict[str, str]:  # core_event_handler, CALL_UPDATE
        return {"callee_name": e.get("Caller-Callee-ID-Name", ""),
                "callee_num": e.get("Caller-Callee-ID-Number", ""),
                "sent_callee_name": e.get("Sent-Callee-ID-Name", ""),
                "sent_callee_num": e.get("Sent-Callee-ID-Number", ""),
                "callee_direction": e.get("Direction", ""),
                "cid_name": e.get("Caller-Caller-ID-Name", ""),
                "cid_num": e.get("Caller-Caller-ID-Number", "")}

    a = await sim.place_call("201", "202")
    up = await c.wait_for(lambda e: e["Event-Name"] == "CALL_UPDATE" and e["Unique-ID"] == a)
    b = up["Bridged-To"]
    assert list(up)[13:18] == ["Direction", "Sent-Callee-ID-Name", "Sent-Callee-ID-Number",
                               "Bridged-To", "Channel-State"]
    assert (up["Direction"], up["Sent-Callee-ID-Number"], up["Caller-Callee-ID-Number"]) == \
        ("SEND", "202", "202")
    assert up["Event-Calling-Function"] == "sofia_receive_message"
    row = sim.truth()[a]
    assert {k: row[k] for k in table_rule(up)} == table_rule(up)
    assert not any(e["Event-Name"] == "CALL_UPDATE" and e["Unique-ID"] == b for e in c.events)
    assert sim.truth()[b]["callee_direction"] == ""
    # an originated loopback leg flips its caller id on answer: Direction RECV, as captured
    got = await c.api("originate loopback/9999/default &park()")
    lb = got.split()[1]
    flip = await c.wait_for(lambda e: e["Event-Name"] == "CALL_UPDATE" and e["Unique-ID"] == lb)
    raw = (fixtures_dir / FS / "fs-1.11-esl_01_event_plain_originate_park_kill.txt").read_text()
    block = raw[raw.index("Event-Name: CALL_UPDATE"):].split("\n\n", 1)[0]
    real = dict(line.split(": ", 1) for line in block.split("\n"))
    assert list(flip)[:15] == list(real)[:15]  # common headers, Direction, Channel-State
    for k in ("Direction", "Event-Calling-Function", "Channel-Call-State", "Answer-State",
              "Caller-Caller-ID-Number", "Caller-Callee-ID-Number", "variable_channel_cid_flipped",
              "variable_pre_transfer_caller_id_number"):
        assert flip[k] == unquote(real[k]), k
    assert flip["Caller-Caller-ID-Name"] == unquote(real["Caller-Caller-ID-Name"])
    row = sim.truth()[lb]
    assert {k: row[k] for k in table_rule(flip)} == table_rule(flip)
    assert row["callee_direction"] == "RECV" and row["cid_name"] == "Outbound Call"


async def test_attribution_headers(sim) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "202", variables={"callgate_account_id": "acc1",
                                                      "ecallmgr_Account-ID": "k1"})
    br = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE")
    create_a = next(e for e in c.events if e["Event-Name"] == "CHANNEL_CREATE"
                    and e["Unique-ID"] == a)
    assert create_a["Channel-Name"] == f"sofia/internal/201@{REALM}"
    assert create_a["Caller-Username"] == "201"
    assert create_a["Caller-Context"] == "default"
    assert create_a["Caller-Destination-Number"] == "202"
    assert create_a["Channel-Presence-ID"] == f"201@{REALM}"
    assert create_a["variable_sip_from_user"] == "201"
    assert create_a["variable_sip_from_host"] == REALM
    assert create_a["variable_domain_name"] == REALM
    assert create_a["variable_sip_to_user"] == "202"
    assert create_a["variable_callgate_account_id"] == "acc1"
    assert create_a["variable_ecallmgr_Account-ID"] == "k1"
    assert create_a["Call-Direction"] == "inbound" and create_a["Answer-State"] == "ringing"
    b = br["Other-Leg-Unique-ID"]
    create_b = next(e for e in c.events if e["Event-Name"] == "CHANNEL_CREATE"
                    and e["Unique-ID"] == b)
    assert create_b["Channel-Name"] == f"sofia/internal/202@{REALM}"
    assert create_b["Channel-Presence-ID"] == f"202@{REALM}"
    assert create_b["variable_dialed_user"] == "202"
    assert create_b["Other-Type"] == "originator" and create_b["Other-Leg-Unique-ID"] == a
    assert create_b["variable_callgate_account_id"] == "acc1"
    assert br["Channel-Call-UUID"] == a and br["Answer-State"] == "answered"
    truth = sim.truth()
    assert truth[a]["call_uuid"] == truth[b]["call_uuid"] == a
    assert truth[a]["callstate"] == "ACTIVE" and len(truth[a]) == 38


async def test_outbound_and_inbound_carrier_legs(sim) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "+447700900123")
    ev = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == a)
    b = sim.channel(ev["Other-Leg-Unique-ID"])
    assert b is not None and b.name == "sofia/gateway/carrier1/+447700900123"
    assert b.variables["sip_gateway_name"] == "carrier1"
    early = [e for e in c.events if e["Event-Name"] == "CHANNEL_CALLSTATE"
             and e["Channel-Call-State"] == "EARLY"]
    assert {e["Unique-ID"] for e in early} == {a, b.uuid}
    x = await sim.place_call("+37060000001", "202", answer_after=None)
    chx = sim.channel(x)
    assert chx is not None and chx.name.startswith("sofia/external/+37060000001@")
    assert chx.profile["Context"] == "public"
    ringing = sim.channel(chx.pending.uuid) if chx.pending else None
    assert ringing is not None and sim.truth()[ringing.uuid]["callstate"] == "RINGING"
    await sim.answer(x)
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == x)


async def test_hangup_of_b_leg_tears_down_a_and_cancel_while_ringing(sim) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "202")
    br = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE")
    await sim.hangup(br["Other-Leg-Unique-ID"], cause="NORMAL_CLEARING")
    assert sim.channel_ids() == []
    a2 = await sim.place_call("201", "203", answer_after=None)
    b2 = sim.channel(a2).pending.uuid
    await sim.hangup(a2)
    hb = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_HANGUP" and e["Unique-ID"] == b2)
    assert hb["Hangup-Cause"] == "ORIGINATOR_CANCEL"
    assert a != a2 and sim.channel_ids() == []


async def test_hold_unhold_and_park(sim) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "202")
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE")
    await sim.hold(a)
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_HOLD" and e["Unique-ID"] == a)
    cs = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_CALLSTATE"
                          and e["Channel-Call-State"] == "HELD")
    assert cs["Original-Channel-Call-State"] == "ACTIVE" and cs["Channel-Call-State-Number"] == "5"
    assert sim.truth()[a]["callstate"] == "HELD"
    await sim.unhold(a)
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_UNHOLD")
    assert sim.truth()[a]["callstate"] == "ACTIVE"
    assert await c.api(f"uuid_hold {a}") == "+OK Success\n"
    assert sim.channel(a).held
    assert await c.api(f"uuid_hold toggle {a}") == "+OK Success\n"
    assert not sim.channel(a).held
    await sim.park(a)
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_PARK" and e["Unique-ID"] == a)
    assert sim.truth()[a]["application"] == "park" and len(sim.channel_ids()) == 1


# ---------------------------------------------------------------- api replies
async def test_unknown_uuid_replies_like_freeswitch(sim) -> None:
    c = await client(sim, events=None)
    z = "00000000-0000-0000-0000-000000000000"
    expect = {
        f"uuid_kill {z}": "-ERR No such channel!\n",
        f"uuid_kill {z} USER_BUSY": "-ERR No such channel!\n",
        f"uuid_transfer {z} 202 XML default": "-ERR No such channel!\n",
        f"uuid_transfer {z} -bleg 202": "-ERR No such channel!\n",
        f"uuid_park {z}": "-ERR No such channel!\n",
        f"uuid_break {z}": "-ERR No such channel!\n",
        f"uuid_getvar {z} x": "-ERR No such channel!\n",
        f"uuid_setvar {z} x 1": "-ERR No such channel!\n",
        f"uuid_dump {z} json": "-ERR No such channel!\n",
        f"uuid_hold {z}": "+OK Success\n",
        f"uuid_hold off {z}": "+OK Success\n",
        f"uuid_broadcast {z} /tmp/x.wav both": "-ERR invalid uuid\n",
        f"uuid_bridge {z} {z[:-1]}1": "-ERR Invalid uuid\n",
        f"uuid_exists {z}": "false",
        "uuid_kill": "-USAGE: <uuid> [cause]\n",
        "uuid_hold": "-USAGE: [off|toggle] <uuid> [<display>]\n-ERR Operation failed\n",
        "nosuchcommand": "-ERR nosuchcommand Command not found!\n",
        "show channels as json": '{"row_count": 0}\n',
        "show channels count": "\n0 total.\n",
        "hupall": "+OK hangup all channels with cause MANAGER_REQUEST\n",
        "hupall NORMAL_CLEARING": "+OK hangup all channels with cause NORMAL_CLEARING\n",
        "version": "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n",
    }
    for line, want in expect.items():
        assert await c.api(line) == want, line


async def test_uuid_commands_on_live_channel(sim) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "202")
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE")
    assert await c.api(f"uuid_exists {a}") == "true"
    assert await c.api(f"uuid_getvar {a} channel_name") == f"sofia/internal/201@{REALM}"
    assert await c.api(f"uuid_getvar {a} nope") == "_undef_"
    assert await c.api(f"uuid_getvar {a}") == "-ERR No variable name specified!\n"
    assert await c.api(f"uuid_setvar {a} my_tag hello") == "+OK\n"
    assert await c.api(f"uuid_getvar {a} my_tag") == "hello"
    assert await c.api(f"uuid_setvar {a}") == "-ERR No variable specified\n"
    assert await c.api(f"uuid_send_dtmf {a} 12") == f"+OK {a} sent DTMF 12.\n"
    await c.wait_for(lambda e: e["Event-Name"] == "DTMF" and e["DTMF-Digit"] == "2")
    dump = json.loads(await c.api(f"uuid_dump {a} json"))
    assert dump["Event-Name"] == "CHANNEL_DATA" and dump["variable_my_tag"] == "hello"
    assert await c.api(f"uuid_break {a} all") == "+OK\n"
    assert await c.api(f"uuid_broadcast {a} playback::ivr/hi.wav aleg") == "+OK Message sent\n"
    rows = json.loads(await c.api("show channels as json"))
    assert rows["row_count"] == 2 and {r["uuid"] for r in rows["rows"]} == set(sim.truth())
    calls = json.loads(await c.api("show calls as json"))
    assert calls["row_count"] == 1 and calls["rows"][0]["b_uuid"] in sim.truth()
    assert await c.api(f"uuid_kill {a} USER_BUSY") == "+OK\n"
    h = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"
                         and e["Unique-ID"] == a)
    assert h["Hangup-Cause"] == "USER_BUSY" and h["variable_hangup_cause"] == "USER_BUSY"
    assert "kill" in " ".join(sim.commands)
    assert f"api uuid_kill {a} USER_BUSY" in sim.commands


async def test_uuid_record_replies_events_and_variables(sim) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "202")
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE")
    z = "00000000-0000-0000-0000-000000000000"
    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    assert await c.api(f"uuid_record {z} start /tmp/x.wav") == "-ERR Cannot locate session!\n"
    assert await c.api(f"uuid_record {a} start") == usage
    assert await c.api(f"uuid_record {a} rewind /tmp/x.wav") == usage
    assert await c.api(f"uuid_record {a} stop /tmp/x.wav") == "-ERR Cannot stop record session!\n"
    assert await c.api(f"uuid_record {a} start /tmp/a.wav 60") == "+OK Success\n"
    ev = await c.wait_for(lambda e: e["Event-Name"] == "RECORD_START")
    assert ev["Unique-ID"] == a and ev["Record-File-Path"] == "/tmp/a.wav"
    names = list(ev)
    assert names.index("Record-File-Path") < names.index("Channel-State")  # header first
    assert not any(k.startswith("variable_") for k in ev)  # not an extended event
    assert await c.api(f"uuid_record {a} mask /tmp/a.wav") == "+OK Success\n"
    assert await c.api(f"uuid_record {a} unmask /tmp/a.wav") == "+OK Success\n"
    assert await c.api(f"uuid_record {a} mask /tmp/other.wav") == \
        "-ERR Cannot mask recording session!\n"
    assert await c.api(f"uuid_getvar {a} record_seconds") == "_undef_"
    assert await c.api(f"uuid_record {a} stop /tmp/a.wav") == "+OK Success\n"
    ev = await c.wait_for(lambda e: e["Event-Name"] == "RECORD_STOP")
    names = list(ev)
    assert ev["Record-File-Path"] == "/tmp/a.wav"
    assert names.index("Record-File-Path") > names.index("Channel-State")  # header last
    assert await c.api(f"uuid_getvar {a} record_seconds") == "0"
    # a recording still running at hangup stops with the channel
    assert await c.api(f"uuid_record {a} start /tmp/b.wav") == "+OK Success\n"
    await sim.hangup(a)
    ev = await c.wait_for(lambda e: e["Event-Name"] == "RECORD_STOP"
                          and e["Record-File-Path"] == "/tmp/b.wav")
    assert ev["Unique-ID"] == a
    assert f"api uuid_record {a} start /tmp/a.wav 60" in sim.commands


async def test_originate_success_and_failures(sim) -> None:
    c = await client(sim)
    u = "11111111-2222-3333-4444-555555555555"
    got = await c.api(f"originate {{origination_uuid={u},callgate_account_id=acc9}}"
                      f"user/203@{REALM} &park()")
    assert got == f"+OK {u}\n"
    park = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_PARK")
    assert park["Unique-ID"] == u and park["variable_callgate_account_id"] == "acc9"
    assert park["Channel-Name"] == f"sofia/internal/203@{REALM}"
    assert await c.api(f"originate user/999@{REALM} &park()") == "-ERR USER_NOT_REGISTERED\n"
    assert await c.api(f"originate user/209@{REALM} &park()") == "-ERR USER_BUSY\n"
    assert await c.api(f"originate {{originate_timeout=0.1}}user/208@{REALM} &park()") == \
        "-ERR NO_ANSWER\n"
    assert await c.api("originate sofia/gateway/nope/123 &park()") == "-ERR INVALID_GATEWAY\n"
    assert (await c.api("originate loopback/9999/default &echo")).startswith("+OK ")
    got = await c.api(f"originate user/202@{REALM} 201 XML default")
    leg = got.split()[1]
    br = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == leg)
    assert sim.channel(br["Other-Leg-Unique-ID"]).name == f"sofia/internal/201@{REALM}"


async def test_bgapi_job_correlation(sim) -> None:
    c = await client(sim)
    job = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    h = await c.cmd(f"bgapi originate user/202@{REALM} &park()", Job_UUID=job)
    assert h == {"Content-Type": "command/reply", "Reply-Text": f"+OK Job-UUID: {job}",
                 "Job-UUID": job}
    ev = await c.wait_for(lambda e: e["Event-Name"] == "BACKGROUND_JOB")
    assert ev["Job-UUID"] == job and ev["Job-Command"] == "originate"
    assert ev["Job-Command-Arg"] == f"user/202@{REALM} &park()"
    assert ev["_body"].startswith("+OK ") and ev["_body"].strip()[4:] in sim.truth()
    h2 = await c.cmd("bgapi uuid_kill 00000000-0000-0000-0000-000000000000")
    job2 = h2["Job-UUID"]
    assert h2["Reply-Text"] == f"+OK Job-UUID: {job2}"
    ev2 = await c.wait_for(lambda e: e["Event-Name"] == "BACKGROUND_JOB"
                           and e["Job-UUID"] == job2)
    assert ev2["_body"] == "-ERR No such channel!\n" and ev2["Content-Length"] == "22"


async def test_transfers(sim) -> None:
    c = await client(sim)
    a = await sim.place_call("201", "202")
    br = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE")
    b = br["Other-Leg-Unique-ID"]
    # agent (b) transfers the caller (a) to 203
    assert await c.api(f"uuid_transfer {b} -bleg 203 XML default") == "+OK\n"
    ev = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == a
                          and e["Other-Leg-Unique-ID"] != b)
    new_b = sim.channel(ev["Other-Leg-Unique-ID"])
    assert new_b.name == f"sofia/internal/203@{REALM}" and b not in sim.truth()
    assert sim.channel(a).profile["Destination-Number"] == "203"
    assert await c.api(f"uuid_transfer {a} 999 XML default") == "+OK\n"
    h = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_HANGUP" and e["Unique-ID"] == a)
    assert h["Hangup-Cause"] == "NO_ROUTE_DESTINATION"
    await c.collect(0.05)
    assert sim.channel_ids() == []
    x = await sim.place_call("201", "202")
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == x)
    assert await c.api(f"uuid_transfer {x} -both park inline") == "+OK\n"
    await c.collect(0.05)
    assert [r["application"] for r in sim.truth().values()] == ["park", "park"]


async def test_uuid_bridge_intercept_and_attended_transfer(sim) -> None:
    c = await client(sim)
    # intercept a ringing call: the ringing phone leg hangs up PICKED_OFF
    a = await sim.place_call("201", "202", answer_after=None)
    ringing_b = sim.channel(a).pending.uuid
    got = await c.api(f"originate user/203@{REALM} &intercept({a})")
    picker = got.split()[1]
    h = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_HANGUP"
                         and e["Unique-ID"] == ringing_b)
    assert h["Hangup-Cause"] == "PICKED_OFF"
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == picker)
    assert sim.channel(a).partner.uuid == picker
    await sim.hangup(a)
    # attended transfer: 201 talks to 202, 202 consults 203, 202 hangs up -> 201 with 203
    a = await sim.place_call("201", "202")
    br = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == a)
    agent = br["Other-Leg-Unique-ID"]
    assert await c.api(f"uuid_broadcast {agent} att_xfer::user/203@{REALM}") == \
        "+OK Message sent\n"
    ev = await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE"
                          and e["Unique-ID"] == agent)
    target = ev["Other-Leg-Unique-ID"]
    await sim.hangup(agent)
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == a
                     and e["Other-Leg-Unique-ID"] == target)
    assert set(sim.channel_ids()) == {a, target}
    # uuid_bridge two parked legs
    await sim.hangup(a)
    p1 = (await c.api(f"originate user/201@{REALM} &park()")).split()[1]
    p2 = (await c.api(f"originate user/202@{REALM} &park()")).split()[1]
    assert await c.api(f"uuid_bridge {p1} {p2}") == f"+OK {p2}\n"
    assert sim.channel(p1).partner is sim.channel(p2)


async def test_sendmsg_and_uuid_broadcast_run_an_app_alike(sim) -> None:
    """Both ways of sending an app to a live leg go through one model path: the same events,
    playback runs until something else happens, transfer defaults to `XML default`."""
    c = await client(sim)
    legs = [(await c.api(f"originate user/{ext}@{REALM} &park()")).split()[1]
            for ext in ("201", "202")]
    for u in legs:
        await c.wait_for(lambda e, u=u: e["Event-Name"] == "CHANNEL_PARK" and e["Unique-ID"] == u)
    await c.collect(0.1)
    via_msg, via_api = legs

    async def sendmsg(uid: str, app: str, arg: str) -> None:
        r = await c.cmd(f"sendmsg {uid}", call_command="execute", execute_app_name=app,
                        execute_app_arg=arg)
        assert r["Reply-Text"] == "+OK"

    def trace(uid: str) -> list[tuple[str, str, str]]:
        return [(e["Event-Name"], e.get("Application", ""), e.get("Application-Data", ""))
                for e in c.events if e.get("Unique-ID") == uid]

    c.events.clear()
    await sendmsg(via_msg, "playback", "ivr/hi.wav")
    assert await c.api(f"uuid_broadcast {via_api} playback::ivr/hi.wav") == "+OK Message sent\n"
    await c.collect(0.7)  # longer than any announcement timer: nobody hangs up
    assert trace(via_msg) == trace(via_api) != []
    assert all(sim.channel(u).app == "playback" for u in legs)
    assert set(sim.channel_ids()) == set(legs)

    c.events.clear()
    await sendmsg(via_msg, "transfer", "203")
    assert await c.api(f"uuid_broadcast {via_api} transfer::203") == "+OK Message sent\n"
    for u in legs:
        await c.wait_for(lambda e, u=u: e["Event-Name"] == "CHANNEL_BRIDGE"
                         and e["Unique-ID"] == u)
        assert sim.channel(u).profile["Destination-Number"] == "203"
        assert sim.channel(u).profile["Context"] == "default"
    await sendmsg(via_msg, "hangup", "")
    assert await c.api(f"uuid_broadcast {via_api} hangup::") == "+OK Message sent\n"
    for u in legs:
        await c.wait_for(lambda e, u=u: e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"
                         and e["Unique-ID"] == u)


async def test_intercept_of_parked_call_unparks_it_first(sim) -> None:
    c = await client(sim)
    parked = (await c.api(f"originate user/201@{REALM} &park()")).split()[1]
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_PARK" and e["Unique-ID"] == parked)
    picker = (await c.api(f"originate user/203@{REALM} &intercept({parked})")).split()[1]
    await c.wait_for(lambda e: e["Event-Name"] == "CHANNEL_BRIDGE" and e["Unique-ID"] == picker)
    mine = [e["Event-Name"] for e in c.events if e.get("Unique-ID") in (parked, picker)]
    unpark = mine.index("CHANNEL_UNPARK")
    assert unpark < mine.index("CHANNEL_BRIDGE")
    assert c.events[[e.get("Event-Name") for e in c.events].index("CHANNEL_UNPARK")][
        "Unique-ID"] == parked
    assert not sim.channel(parked).parked and sim.channel(parked).partner.uuid == picker
    assert sim.truth()[parked]["call_uuid"] == picker


# ---------------------------------------------------------------- faults
async def test_drop_connections(sim) -> None:
    c = await client(sim)
    assert sim.connections == 1
    await sim.drop_connections()
    assert await asyncio.wait_for(c.r.read(), 2) == b""
    await asyncio.sleep(0.01)
    assert sim.connections == 0


async def test_stall_holds_replies_and_events(sim) -> None:
    c = await client(sim)
    sim.stall(0.3)
    c.w.write(b"api uuid_exists nope\n\n")
    await sim.place_call("201", "202", answer_after=None)
    with pytest.raises(TimeoutError):
        await c.frame(0.15)
    _, b = await c.reply()
    assert b == b"false"
    assert any(e["Event-Name"] == "CHANNEL_CREATE" for e in await c.collect(0.1))


@pytest.mark.parametrize("kind", ["bad_length", "short_body"])
async def test_send_malformed(sim, kind: str) -> None:
    c = await client(sim, events=None)
    await sim.send_malformed(kind)
    data = await asyncio.wait_for(c.r.read(200), 2)
    if kind == "bad_length":
        assert data.startswith(b"Content-Length: abc\n")
    else:
        head, _, body = data.partition(b"\n\n")
        assert b"Content-Length: 500" in head and len(body) < 500


# ---------------------------------------------------------------- load
async def test_blast_emits_full_sequences(sim) -> None:
    c = await client(sim)
    sent = await sim.blast(20)
    await c.collect(0.1)
    names = [e["Event-Name"] for e in c.events]
    assert len(names) == sent and names.count("CHANNEL_CREATE") == 40
    assert names.count("CHANNEL_DESTROY") == 40 and names.count("CHANNEL_BRIDGE") == 20
    assert sim.channel_ids() == []


async def test_traffic_generator_deterministic_and_bounded(sim) -> None:
    plans = []
    for _ in range(2):
        g = TrafficGenerator(sim, ["201", "202", "203"], ["201", "202", "203"], seed=7)
        plans.append([g.plan() for _ in range(20)])
    assert plans[0] == plans[1]
    assert {p[0] for p in plans[0]} <= {"internal", "outbound", "inbound"}
    g = TrafficGenerator(sim, ["201", "202"], ["202", "203"], calls_per_second=200,
                         hold_time=0.3, seed=1, max_calls=3, mix={"held": 0.5})
    peak = 0
    g.start()
    for _ in range(30):
        await asyncio.sleep(0.01)
        peak = max(peak, len(g.live))
    await g.stop()
    assert 1 <= peak <= 3 and len(g.placed) >= 3
    await asyncio.sleep(0.05)
    assert sim.channel_ids() == []
