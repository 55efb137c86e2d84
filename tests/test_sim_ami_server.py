"""The simulated Asterisk over real loopback sockets, compared with the Asterisk 22 captures."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simswitch.ami_server import AsteriskSimulator
from simswitch.ami_wire import BANNER, encode, parse_stream

EXTS = {"401": "acct-gamma", "402": "acct-gamma", "501": "acct-delta", "601": "", "602": ""}
Msg = list[tuple[str, str]]


class Client:
    """Tiny test-only AMI client: raw bytes out, parsed messages in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = b""
        self.n = 0
        self.seen: list[Msg] = []

    @classmethod
    async def connect(cls, sim: AsteriskSimulator) -> Client:
        r, w = await asyncio.open_connection("127.0.0.1", sim.port)
        c = cls(r, w)
        c.buf = await asyncio.wait_for(r.readexactly(len(BANNER)), 2)
        return c

    def send(self, action: str, **headers: str) -> str:
        self.n += 1
        aid = headers.pop("ActionID", f"{action.lower()}-{self.n}")
        fields = [("Action", action), ("ActionID", aid)]
        for k, v in headers.items():
            for part in v if isinstance(v, list) else [v]:
                fields.append((k, part))
        self.writer.write(encode(fields))
        return aid

    async def message(self, wait: float = 2.0) -> Msg:
        while b"\r\n\r\n" not in self.buf:
            chunk = await asyncio.wait_for(self.reader.read(65536), wait)
            if not chunk:
                raise EOFError
            self.buf += chunk
        block, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return parse_stream(block + b"\r\n\r\n")[0]

    async def until(self, pred, wait: float = 3.0) -> tuple[list[Msg], Msg]:
        """Read until ``pred(dict(msg))``; returns everything seen and the matching message."""
        seen: list[Msg] = []
        deadline = time.monotonic() + wait
        while True:
            m = await self.message(max(deadline - time.monotonic(), 0.01))
            seen.append(m)
            if pred(dict(m)):
                return seen, m

    async def reply(self, aid: str) -> dict[str, str]:
        _, m = await self.until(lambda d: d.get("ActionID") == aid and "Response" in d
                                and "Event" not in d)
        return dict(m)

    async def login(self, events: str = "on") -> None:
        aid = self.send("Login", Username="gateway", Secret="s3cret", Events=events)
        assert (await self.reply(aid))["Message"] == "Authentication accepted"

    async def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    s = AsteriskSimulator(username="gateway", secret="s3cret", port=0, system_name="sim-ast1",
                          extensions=EXTS, trunks=["carrier2"], login_failure_delay=0.1,
                          channelvars=["callgate_account_id"], busy=["601"], no_answer=["602"])
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def cli(sim: AsteriskSimulator) -> AsyncIterator[Client]:
    c = await Client.connect(sim)
    await c.login()
    await c.until(lambda d: d.get("Event") == "FullyBooted")
    yield c
    await c.close()


def real_messages(fixtures_dir: Path, name: str) -> list[Msg]:
    return parse_stream((fixtures_dir / f"asterisk-22-real/{name}.server_raw.txt").read_bytes())


def first_real(fixtures_dir: Path, name: str, event: str) -> Msg:
    return next(m for m in real_messages(fixtures_dir, name) if dict(m).get("Event") == event)


def keys(m: Msg) -> list[str]:
    return [k for k, _ in m]


def events(msgs: list[Msg]) -> list[tuple[str, str]]:
    return [(dict(m)["Event"], dict(m).get("Channel", dict(m).get("DestChannel", "")))
            for m in msgs if "Event" in dict(m) and dict(m)["Event"] not in ("VarSet",)]


# ---- login ------------------------------------------------------------------------------------
async def test_login_bytes_match_capture(sim: AsteriskSimulator) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    w.write(b"Action: Login\r\nActionID: login-1\r\nUsername: gateway\r\nSecret: s3cret\r\n"
            b"Events: on\r\n\r\n")
    want = (BANNER + b"Response: Success\r\nActionID: login-1\r\nMessage: Authentication "
            b"accepted\r\n\r\nEvent: FullyBooted\r\nPrivilege: system,all\r\nUptime: ")
    got = await asyncio.wait_for(r.readuntil(b"Uptime: "), 2)
    assert got == want
    rest = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 2)
    assert rest.endswith(b"\r\nStatus: Fully Booted\r\n\r\n") and b"LastReload: " in rest
    w.close()


async def test_bad_login_delays_then_closes(sim: AsteriskSimulator, fixtures_dir: Path) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    w.write(b"Action: Login\r\nActionID: login-1\r\nUsername: gateway\r\nSecret: wrong\r\n\r\n")
    t0 = time.monotonic()
    data = await asyncio.wait_for(r.read(), 3)  # read to EOF: the server closes
    assert time.monotonic() - t0 >= 0.09
    assert data == (fixtures_dir / "asterisk-22-real/ami_00_bad_login.server_raw.txt").read_bytes()


async def test_runtime_secret_change_fails_auth(sim: AsteriskSimulator) -> None:
    sim.secret = "rotated"
    c = await Client.connect(sim)
    aid = c.send("Login", Username="gateway", Secret="s3cret")
    assert (await c.reply(aid))["Message"] == "Authentication failed"
    with pytest.raises(EOFError):
        await c.message()


async def test_permission_denied_then_md5_login_and_logoff(sim: AsteriskSimulator) -> None:
    c = await Client.connect(sim)
    r = await c.reply(c.send("Ping", ActionID="ping-1"))
    assert r == {"Response": "Error", "ActionID": "ping-1", "Message": "Permission denied"}
    ch = await c.reply(c.send("Challenge", AuthType="MD5"))
    key = hashlib.md5((ch["Challenge"] + "s3cret").encode()).hexdigest()
    aid = c.send("Login", AuthType="MD5", Username="gateway", Key=key, Events="off")
    assert (await c.reply(aid))["Message"] == "Authentication accepted"
    aid = c.send("Ping")
    seen, m = await c.until(lambda d: d.get("ActionID") == aid)
    assert seen == [m]  # Events off: nothing (no FullyBooted) came before the reply
    r = dict(m)
    assert list(r) == ["Response", "ActionID", "Ping", "Timestamp"] and r["Ping"] == "Pong"
    again = await c.reply(c.send("Login", Username="gateway", Secret="s3cret"))
    assert again["Message"] == "Already authenticated"
    bye = await c.reply(c.send("Logoff"))
    assert bye["Response"] == "Goodbye" and bye["Message"] == "Thanks for all the fish."
    with pytest.raises(EOFError):
        await c.message()


async def test_md5_login_with_wrong_key_fails(sim: AsteriskSimulator) -> None:
    c = await Client.connect(sim)
    await c.reply(c.send("Challenge", AuthType="MD5"))
    aid = c.send("Login", AuthType="MD5", Username="gateway", Key="0" * 32)
    assert (await c.reply(aid))["Message"] == "Authentication failed"


async def test_unknown_and_missing_action(cli: Client, sim: AsteriskSimulator) -> None:
    r = await cli.reply(cli.send("NoSuchAction"))
    assert r["Message"] == ("Invalid/unknown command: NoSuchAction. Use Action: ListCommands "
                            "to show available commands.")
    cli.writer.write(b"ActionID: x1\r\nFoo: bar\r\n\r\n")
    assert (await cli.reply("x1"))["Message"] == "Missing action in request"
    assert any(a.get("Action") == "NoSuchAction" for a in sim.actions)


# ---- call events ------------------------------------------------------------------------------
async def test_internal_call_event_order(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.05,
                             variables={"callgate_account_id": "acc-1"})
    seen, _ = await cli.until(lambda d: d.get("Event") == "BridgeEnter"
                              and d.get("Uniqueid") == a)
    ev = events(seen)
    assert ev == [
        ("Newchannel", "PJSIP/401-00000001"), ("Newexten", "PJSIP/401-00000001"),
        ("Newchannel", "PJSIP/402-00000002"), ("Newexten", "PJSIP/402-00000002"),
        ("NewCallerid", "PJSIP/402-00000002"), ("NewConnectedLine", "PJSIP/402-00000002"),
        ("DialBegin", "PJSIP/401-00000001"), ("NewConnectedLine", "PJSIP/401-00000001"),
        ("Newstate", "PJSIP/402-00000002"), ("DialState", "PJSIP/401-00000001"),
        ("Newstate", "PJSIP/402-00000002"), ("DialEnd", "PJSIP/401-00000001"),
        ("Newstate", "PJSIP/401-00000001"), ("BridgeCreate", ""),
        ("Newexten", "PJSIP/402-00000002"), ("BridgeEnter", "PJSIP/402-00000002"),
        ("BridgeEnter", "PJSIP/401-00000001")]
    first = dict(seen[0])
    assert first["AccountCode"] == "acct-gamma" and first["CallerIDName"] == "<unknown>"
    assert first["Uniqueid"] == a and a.startswith("sim-ast1-")
    varset = next(dict(m) for m in seen if dict(m).get("Event") == "VarSet")
    assert varset["Variable"] == "callgate_account_id" and varset["Value"] == "acc-1"
    assert ("ChanVariable", "callgate_account_id=acc-1") in seen[-1]
    b = next(u for u in sim.channel_ids() if u != a)
    assert sim.truth()[b]["Linkedid"] == a and sim.truth()[b]["ChannelStateDesc"] == "Up"
    assert sim.truth()[a]["BridgeId"] == sim.truth()[b]["BridgeId"] != ""

    await sim.hangup(b, cause="NORMAL_CLEARING")
    seen, _ = await cli.until(lambda d: d.get("Event") == "Hangup" and d.get("Uniqueid") == a)
    assert [e for e, _ in events(seen)] == ["HangupRequest", "BridgeLeave", "BridgeLeave",
                                            "BridgeDestroy", "SoftHangupRequest", "Hangup",
                                            "Hangup"]
    hang = dict(seen[-1])
    assert hang["Cause"] == "16" and hang["Cause-txt"] == "Normal Clearing"
    assert sim.channel_ids() == []


async def test_event_header_sets_match_capture(cli: Client, sim: AsteriskSimulator,
                                               fixtures_dir: Path) -> None:
    await sim.place_call("401", "402", answer_after=0.01)
    seen, _ = await cli.until(lambda d: d.get("Event") == "BridgeEnter"
                              and d.get("BridgeNumChannels") == "2")
    ours = {dict(m)["Event"]: m for m in seen}
    for name, ev in [("ami_01_login_originate_coreshowchannels", "Newchannel"),
                     ("ami_01_login_originate_coreshowchannels", "BridgeEnter"),
                     ("ami_01_login_originate_coreshowchannels", "BridgeCreate"),
                     ("ami_01_login_originate_coreshowchannels", "DialEnd"),
                     ("ami_01_login_originate_coreshowchannels", "Newstate"),
                     ("ami_01_login_originate_coreshowchannels", "NewCallerid"),
                     ("ami_02_events_call_setup", "DialState")]:
        real = first_real(fixtures_dir, name, ev)
        real_keys = keys(real) if ev != "DialState" else keys(real)[4:]
        mine = keys(ours[ev]) if ev != "DialState" else keys(ours[ev])[4:]
        if ev == "DialState":  # ours carries the caller snapshot too (Dial, not Originate)
            mine = [k for k in mine if k.startswith("Dest") or k == "DialStatus"]
        assert mine == real_keys, ev
    await sim.hangup(sim.channel_ids()[0])
    seen, _ = await cli.until(lambda d: d.get("Event") == "Hangup")
    real = first_real(fixtures_dir, "ami_01_login_originate_coreshowchannels", "Hangup")
    assert keys(seen[-1]) == keys(real)


async def test_outbound_inbound_and_cancel(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "+447700900123", answer_after=None)
    inbound = await sim.place_call("+37060000001", "402", answer_after=None)
    names = {v["Channel"] for v in sim.truth().values()}
    assert any(n.startswith("PJSIP/carrier2-") for n in names)
    tin = sim.truth()[inbound]
    assert tin["Context"] == "from-trunk" and tin["CallerIDNum"] == "+37060000001"
    await sim.answer(inbound)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d.get("Uniqueid") == inbound)
    await sim.hangup(a, cause=16)  # caller gives up while the trunk leg rings
    seen, _ = await cli.until(lambda d: d.get("Event") == "Hangup" and d.get("Uniqueid") == a)
    dial_end = next(dict(x) for x in seen if dict(x).get("Event") == "DialEnd")
    assert dial_end["DialStatus"] == "CANCEL"


async def test_unknown_destination_hangs_up_cause_1(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "999")
    _, m = await cli.until(lambda d: d.get("Event") == "Hangup" and d.get("Uniqueid") == a)
    assert dict(m)["Cause"] == "1"


async def test_hold_unhold_and_park(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d.get("Uniqueid") == a)
    await sim.hold(a)
    seen, _ = await cli.until(lambda d: d.get("Event") == "MusicOnHoldStart")
    assert [dict(m)["Event"] for m in seen] == ["Hold", "MusicOnHoldStart"]
    await sim.unhold(a)
    await cli.until(lambda d: d.get("Event") == "MusicOnHoldStop")
    space = await sim.park(a)
    seen, m = await cli.until(lambda d: d.get("Event") == "ParkedCall")
    assert dict(m)["ParkingSpace"] == str(space) == "701"
    assert dict(m)["ParkeeUniqueid"] == a and dict(m)["Parkinglot"] == "default"
    aid = cli.send("ParkedCalls")
    seen, _ = await cli.until(lambda d: d.get("Event") == "ParkedCallsComplete")
    items = [dict(x) for x in seen if dict(x).get("Event") == "ParkedCall"
             and dict(x).get("ActionID") == aid]
    assert len(items) == 1 and "Privilege" not in items[0]
    assert sim.truth()[a]["Application"] == "Park" and len(sim.channel_ids()) == 1


async def test_park_timeout_comes_back_to_the_parker(cli: Client, sim: AsteriskSimulator,
                                                     fixtures_dir: Path) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    b = next(u for u in sim.channel_ids() if u != a)
    r = await cli.reply(cli.send("Park", Channel=sim.truth()[b]["Channel"],
                                 TimeoutChannel=sim.truth()[a]["Channel"], Timeout="1000"))
    assert r["Response"] == "Success"
    await cli.until(lambda d: d.get("Event") == "Hangup" and d.get("Uniqueid") == a)
    seen, begin = await cli.until(lambda d: d.get("Event") == "DialBegin")
    names = [dict(m)["Event"] for m in seen]
    t = names.index("ParkedCallTimeOut")
    assert names[t - 5:t] == ["VarSet"] * 5  # PARKING_SPACE .. BRIDGE_FEATURES, as captured
    assert names[t + 1:t + 4] == ["MusicOnHoldStop", "BridgeLeave", "Newexten"]
    real = [dict(m)["Event"] for m in real_messages(fixtures_dir, "ami_05_park")
            if "Event" in dict(m) and dict(m)["Event"] not in ("DeviceStateChange",)]
    rt = real.index("ParkedCallTimeOut")
    assert real[rt - 5:rt + 4] == names[t - 5:t + 4]
    ne = dict(seen[t + 3])
    assert (ne["Context"], ne["Exten"], ne["Application"], ne["AppData"]) == \
        ("park-dial", "PJSIP_401", "Dial", "PJSIP/401,30")
    d = dict(begin)
    assert d["Uniqueid"] == b and d["DestChannel"].startswith("PJSIP/401-")
    assert sim.truth()[d["DestUniqueid"]]["ChannelStateDesc"] == "Ringing"
    await sim.answer(d["DestUniqueid"])
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    assert set(sim.channel_ids()) == {b, d["DestUniqueid"]} and not sim.model.parked


# ---- actions ----------------------------------------------------------------------------------
async def test_coreshowchannels_list_shape(cli: Client, sim: AsteriskSimulator,
                                           fixtures_dir: Path) -> None:
    await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    aid = cli.send("CoreShowChannels", ActionID="coreshowchannels-3")
    seen, done = await cli.until(lambda d: d.get("Event") == "CoreShowChannelsComplete")
    mine = [m for m in seen if dict(m).get("ActionID") == aid]
    real = [m for m in real_messages(fixtures_dir, "ami_01_login_originate_coreshowchannels")
            if dict(m).get("ActionID") == "coreshowchannels-3"]
    assert keys(mine[0]) == keys(real[0])  # Response, ActionID, EventList, Message
    assert dict(mine[0])["Message"] == "Channels will follow"
    assert keys(mine[1]) == keys(real[1])  # CoreShowChannel item, no Privilege
    assert keys(done) == keys(real[-1]) and dict(done)["ListItems"] == "2"
    assert len(mine) == 4


async def test_hangup_action(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    name = sim.truth()[a]["Channel"]
    r = await cli.reply(cli.send("Hangup", Channel=name, Cause="17"))
    assert r["Message"] == "Channel Hungup"
    seen, _ = await cli.until(lambda d: d.get("Event") == "Hangup" and d.get("Uniqueid") == a)
    assert dict(seen[0])["Event"] == "SoftHangupRequest" and dict(seen[0])["Cause"] == "17"
    r = await cli.reply(cli.send("Hangup", Channel="PJSIP/nosuch-1"))
    assert r == {"Response": "Error", "ActionID": r["ActionID"], "Message": "No such channel"}
    assert (await cli.reply(cli.send("Hangup")))["Message"] == "No channel specified"
    await sim.place_call("401", "402", answer_after=None)
    aid = cli.send("Hangup", Channel="/^PJSIP\\//")
    assert (await cli.reply(aid))["Message"] == "Channels hung up will follow"
    _, done = await cli.until(lambda d: d.get("Event") == "ChannelsHungupListComplete")
    assert dict(done)["ListItems"] == "2"


async def test_mixmonitor_start_stop_and_errors(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    name = sim.truth()[a]["Channel"]
    aid = cli.send("MixMonitor", Channel=name, File="/tmp/rec-a.wav", Options="b")
    assert await cli.reply(aid) == {"Response": "Success", "ActionID": aid}
    seen, start = await cli.until(lambda d: d.get("Event") == "MixMonitorStart")
    assert dict(start)["Uniqueid"] == a and dict(start)["Privilege"] == "call,all"
    assert ("MIXMONITOR_FILENAME", "/tmp/rec-a.wav") in [
        (dict(m)["Variable"], dict(m)["Value"]) for m in seen if dict(m).get("Event") == "VarSet"]
    r = await cli.reply(cli.send("Getvar", Channel=name, Variable="MIXMONITOR_FILENAME"))
    assert r["Value"] == "/tmp/rec-a.wav"
    aid = cli.send("StopMixMonitor", Channel=name)
    assert await cli.reply(aid) == {"Response": "Success", "ActionID": aid}
    _, stop = await cli.until(lambda d: d.get("Event") == "MixMonitorStop")
    assert dict(stop)["Uniqueid"] == a
    # option i(VAR): the id lands in VAR and in the reply, and StopMixMonitor can name it
    r = await cli.reply(cli.send("MixMonitor", Channel=name, File="/tmp/b.wav", Options="i(MID)"))
    mid = r["MixMonitorID"]
    assert list(r) == ["Response", "ActionID", "MixMonitorID"]
    r = await cli.reply(cli.send("Getvar", Channel=name, Variable="MID"))
    assert r["Value"] == mid
    r = await cli.reply(cli.send("StopMixMonitor", Channel=name, MixMonitorID="0xnope"))
    assert r["Response"] == "Error" and r["Message"] == "Could not stop monitoring channel"
    assert (await cli.reply(cli.send("StopMixMonitor", Channel=name, MixMonitorID=mid)))[
        "Response"] == "Success"
    r = await cli.reply(cli.send("StopMixMonitor", Channel=name))
    assert r["Message"] == "Could not stop monitoring channel"
    for action in ("MixMonitor", "StopMixMonitor"):
        r = await cli.reply(cli.send(action, Channel="PJSIP/nosuch-1", File="/tmp/x.wav"))
        assert r == {"Response": "Error", "ActionID": r["ActionID"], "Message": "No such channel"}
        assert (await cli.reply(cli.send(action)))["Message"] == "No channel specified"
    assert [x["Action"] for x in sim.actions].count("MixMonitor") == 4


async def test_redirect_bridge_dtmf_vars_command(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    b = next(u for u in sim.channel_ids() if u != a)
    an, bn = sim.truth()[a]["Channel"], sim.truth()[b]["Channel"]
    assert (await cli.reply(cli.send("Setvar", Channel=an, Variable="X", Value="1")))[
        "Message"] == "Variable Set"
    g = await cli.reply(cli.send("Getvar", Channel=an, Variable="X"))
    assert (g["Variable"], g["Value"]) == ("X", "1")
    assert (await cli.reply(cli.send("Getvar", Channel="nope", Variable="X")))[
        "Message"] == "No such channel"
    dtmf = await cli.reply(cli.send("PlayDTMF", Channel=an, Digit="5", Async="false"))
    assert dtmf["Message"] == "DTMF successfully queued"
    assert (await cli.reply(cli.send("PlayDTMF", Channel="nope", Digit="1")))[
        "Message"] == "Channel not found"
    out = await cli.reply(cli.send("Command", Command="core show channels"))
    assert out["Message"] == "Command output follows"
    # dual redirect of both legs: partner kept alive, each runs moh
    r = await cli.reply(cli.send("Redirect", Channel=an, ExtraChannel=bn, Context="from-internal",
                                 Exten="moh", Priority="1"))
    assert r["Message"] == "Dual Redirect successful"
    await cli.until(lambda d: d.get("Event") == "BridgeDestroy")
    assert {v["Application"] for v in sim.truth().values()} == {"MusicOnHold"}
    r = await cli.reply(cli.send("Bridge", Channel1=an, Channel2=bn))
    assert r["Message"] == "Channels have been bridged"
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    r = await cli.reply(cli.send("Bridge", Channel1="PJSIP/x-1", Channel2=bn))
    assert r["Message"] == "Channel1 does not exist: PJSIP/x-1"
    r = await cli.reply(cli.send("Redirect", Channel=bn, Context="from-internal", Exten="999",
                                 Priority="1"))
    assert r["Message"] == "Redirect successful"
    _, m = await cli.until(lambda d: d.get("Event") == "Hangup" and d.get("Uniqueid") == b)
    assert dict(m)["Cause"] == "1"
    r = await cli.reply(cli.send("Redirect", Channel="gone", Context="x", Exten="1"))
    assert r["Message"] == "Channel does not exist: gone"


async def test_command_output_lines(cli: Client, sim: AsteriskSimulator) -> None:
    await sim.place_call("401", "moh")
    aid = cli.send("Command", Command="core show channels concise")
    _, m = await cli.until(lambda d: d.get("ActionID") == aid)
    outs = [v for k, v in m if k == "Output"]
    assert len(outs) == 1 and outs[0].startswith("PJSIP/401-00000001!from-internal!moh!")
    aid = cli.send("Command", Command="")
    _, m = await cli.until(lambda d: d.get("ActionID") == aid)
    assert dict(m)["Message"] == "No command provided"


async def test_park_action_reply_has_stray_lf(sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await asyncio.sleep(0.05)
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    w.write(b"Action: Login\r\nUsername: gateway\r\nSecret: s3cret\r\nEvents: off\r\n\r\n")
    await r.readuntil(b"accepted\r\n\r\n")
    name = sim.truth()[a]["Channel"].encode()
    w.write(b"Action: Park\r\nActionID: park-4\r\nChannel: " + name + b"\r\n\r\n")
    got = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 2)
    assert got == b"Response: Success\r\nActionID: park-4\r\nMessage: Park successful\n\r\n\r\n"
    w.close()


async def test_blind_and_attended_transfer(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    b = next(u for u in sim.channel_ids() if u != a)
    r = await cli.reply(cli.send("BlindTransfer", Channel=sim.truth()[b]["Channel"],
                                 Context="from-internal", Exten="501"))
    assert r["Message"] == "Transfer succeeded"
    _, bt = await cli.until(lambda d: d.get("Event") == "BlindTransfer")
    assert dict(bt)["TransfereeUniqueid"] == a and dict(bt)["Extension"] == "501"
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2"
                    and d.get("Uniqueid") == a)
    c = next(u for u in sim.channel_ids() if u != a)
    assert sim.truth()[c]["AccountCode"] == "acct-delta"
    r = await cli.reply(cli.send("Atxfer", Channel=sim.truth()[a]["Channel"],
                                 Context="from-internal", Exten="402", Async="false"))
    assert r["Message"] == "Atxfer successfully queued"
    _, at = await cli.until(lambda d: d.get("Event") == "AttendedTransfer")
    d = dict(at)
    assert d["Result"] == "Success" and d["TransfereeUniqueid"] == c and d["DestType"] == "Bridge"
    _, m = await cli.until(lambda x: x.get("Event") == "Hangup")
    assert dict(m)["Uniqueid"] == a
    r = await cli.reply(cli.send("Atxfer", Channel="nope", Exten="1"))
    assert r["Message"] == "Channel specified does not exist"


# ---- originate --------------------------------------------------------------------------------
async def originate(cli: Client, **h: str) -> tuple[dict[str, str], dict[str, str]]:
    aid = cli.send("Originate", Async="true", **h)
    seen, r = await cli.until(lambda d: d.get("ActionID") == aid and "Event" not in d)
    more, m = await cli.until(lambda d: d.get("Event") == "OriginateResponse"
                              and d.get("ActionID") == aid, wait=3)
    cli.seen = seen + more
    return dict(r), dict(m)


async def test_originate_reasons(cli: Client, sim: AsteriskSimulator,
                                 fixtures_dir: Path) -> None:
    r, ok = await originate(cli, Channel="PJSIP/401", Application="Wait", Data="600",
                            ChannelId="gw-test-a-0001", Variable="callgate_account_id=a1,x=2",
                            CallerID='"Gateway Test" <5551000>')
    assert r["Message"] == "Originate successfully queued"
    assert ok["Response"] == "Success" and ok["Reason"] == "4"
    assert ok["Uniqueid"] == "gw-test-a-0001" and ok["CallerIDName"] == "Gateway Test"
    real = first_real(fixtures_dir, "ami_01_login_originate_coreshowchannels",
                      "OriginateResponse")
    assert list(ok) == keys(real)
    assert sim.truth()["gw-test-a-0001"]["ChanVariable"] == "callgate_account_id=a1"
    _, busy = await originate(cli, Channel="PJSIP/601", Application="Wait", Data="1")
    assert (busy["Response"], busy["Reason"], busy["Uniqueid"]) == ("Failure", "5", "<unknown>")
    _, noans = await originate(cli, Channel="PJSIP/602", Application="Wait", Data="1",
                               Timeout="200")
    assert (noans["Response"], noans["Reason"]) == ("Failure", "3")
    _, bad = await originate(cli, Channel="PJSIP/777", Application="Wait", Data="1")
    assert (bad["Response"], bad["Reason"]) == ("Failure", "0")
    r = await cli.reply(cli.send("Originate", Channel="PJSIP/401", Exten="999",
                                 Context="from-internal", Priority="1", Async="true"))
    assert r == {"Response": "Error", "ActionID": r["ActionID"],
                 "Message": "Extension does not exist."}
    r = await cli.reply(cli.send("Originate", Channel="nonsense", Application="Wait"))
    assert r["Message"] == "Invalid channel"


async def test_originate_sync_and_local(cli: Client, sim: AsteriskSimulator) -> None:
    aid = cli.send("Originate", Channel="PJSIP/401", Exten="402", Context="from-internal",
                   Priority="1", Async="false")
    r = await cli.reply(aid)
    assert r["Message"] == "Originate successfully queued"
    aid = cli.send("Originate", Channel="PJSIP/601", Application="Wait", Async="false")
    assert (await cli.reply(aid))["Message"] == "Originate failed"
    _, ok = await originate(cli, Channel="Local/402@from-internal", Application="Wait",
                            Data="600", ChannelId="loc-1", OtherChannelId="loc-2")
    assert ok["Channel"].startswith("Local/402@from-internal-") and ok["Channel"].endswith(";1")
    assert ok["Uniqueid"] == "loc-1" and sim.truth()["loc-2"]["Linkedid"] == "loc-1"


async def test_originate_spy_and_pickup(cli: Client, sim: AsteriskSimulator) -> None:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    _, ok = await originate(cli, Channel="PJSIP/501", Application="ChanSpy",
                            Data=f"{sim.truth()[a]['Channel']},qEb")
    spy = next(dict(m) for m in cli.seen if dict(m).get("Event") == "ChanSpyStart")
    assert spy["SpyeeUniqueid"] == a and spy["SpyerUniqueid"] == ok["Uniqueid"]
    ringing_caller = await sim.place_call("401", "402", answer_after=None)
    callee = next(u for u, v in sim.truth().items() if v["ChannelStateDesc"] == "Ringing")
    await originate(cli, Channel="PJSIP/501", Application="PickupChan",
                            Data=sim.truth()[callee]["Channel"])
    pick = next(dict(m) for m in cli.seen if dict(m).get("Event") == "Pickup")
    assert pick["TargetUniqueid"] == callee
    assert any(dict(m).get("Event") == "BridgeEnter" and dict(m)["Uniqueid"] == ringing_caller
               for m in cli.seen)
    assert callee not in sim.truth()


async def test_events_off_and_mask(cli: Client, sim: AsteriskSimulator) -> None:
    r = await cli.reply(cli.send("Events", EventMask="off"))
    assert r["Events"] == "Off"
    await sim.place_call("401", "moh")
    aid = cli.send("Ping")
    seen, r = await cli.until(lambda d: d.get("ActionID") == aid)  # keeps what came before
    assert dict(r)["Ping"] == "Pong"
    assert [dict(m) for m in seen if "Event" in dict(m)] == []
    r = await cli.reply(cli.send("Events", EventMask="dialplan"))
    assert r["Events"] == "On"
    await sim.place_call("402", "moh")
    _, m = await cli.until(lambda d: "Event" in d)
    assert dict(m)["Privilege"] == "dialplan,all"


# ---- faults and scale -------------------------------------------------------------------------
async def test_faults(sim: AsteriskSimulator) -> None:
    c = await Client.connect(sim)
    await c.login()
    assert sim.connections == 1
    sim.stall(0.2)
    t0 = time.monotonic()
    aid = c.send("Ping")
    await c.until(lambda d: d.get("ActionID") == aid)
    assert time.monotonic() - t0 >= 0.15
    await sim.send_garbage()
    await sim.send_oversize(100_000)
    data = b""
    while b"Oversize" not in data or not data.endswith(b"\r\n\r\n"):
        data += await asyncio.wait_for(c.reader.read(1 << 20), 2)
    await sim.half_close()
    assert await asyncio.wait_for(c.reader.read(), 2) == b""
    await sim.drop_connections()
    c2 = await Client.connect(sim)
    await c2.login()
    await sim.drop_connections()
    with pytest.raises((EOFError, ConnectionError)):
        while True:
            await c2.message()
    await asyncio.sleep(0.01)
    assert sim.connections == 0


async def test_blast(cli: Client, sim: AsteriskSimulator) -> None:
    n = await sim.blast(200)
    assert n == 200 and sim.channel_ids() == []
    hangups = 0
    while hangups < 400:
        m = await cli.message()
        hangups += dict(m).get("Event") == "Hangup"


async def test_panoramisk_accepts_our_bytes(sim: AsteriskSimulator) -> None:
    from panoramisk import Manager

    await sim.place_call("401", "402", answer_after=0.01)
    await asyncio.sleep(0.05)
    mgr = Manager(host="127.0.0.1", port=sim.port, username="gateway", secret="s3cret",
                  ping_delay=60, loop=asyncio.get_running_loop())
    await asyncio.wait_for(mgr.connect(), 3)
    try:
        res = await asyncio.wait_for(mgr.send_action({"Action": "CoreShowChannels"}), 3)
        assert isinstance(res, list)
        items = [m for m in res if m.get("Event") == "CoreShowChannel"]
        assert len(items) == 2 and {i.AccountCode for i in items} == {"acct-gamma"}
        assert res[-1].get("Event") == "CoreShowChannelsComplete"
    finally:
        mgr.close()


# ---- playback / music on hold: Redirect out of a bridge, as captured ----------------------------
def redirect_shape(msgs: list[Msg], until_event: str = "BridgeDestroy") -> list[tuple[str, int]]:
    """(event, role) from a Redirect's reply on: role 1 is the first channel named, 2 the
    second; repeated Newexten of one channel (its dialplan steps) counted once; stops at
    `until_event`. Channel-less and non-call events (DeviceStateChange...) are left out."""
    roles: dict[str, int] = {}
    out: list[tuple[str, int]] = []
    for m in msgs:
        d = dict(m)
        event = d.get("Event", "")
        if event == until_event:
            out.append((event, 0))
            break
        if not event or "Channel" not in d or event.startswith("MusicOnHold"):
            continue
        role = roles.setdefault(d["Channel"], len(roles) + 1)
        if event == "Newexten" and out and out[-1] == (event, role):
            continue
        out.append((event, role))
    return out


def real_after_reply(fixtures_dir: Path, action_id: str) -> list[Msg]:
    msgs = real_messages(fixtures_dir, "ami_04_redirect_transfer")
    start = next(i for i, m in enumerate(msgs) if dict(m).get("ActionID") == action_id)
    return msgs[start + 1:]


async def bridged_pair(cli: Client, sim: AsteriskSimulator) -> tuple[str, str, str, str]:
    a = await sim.place_call("401", "402", answer_after=0.01)
    await cli.until(lambda d: d.get("Event") == "BridgeEnter" and d["BridgeNumChannels"] == "2")
    b = next(u for u in sim.channel_ids() if u != a)
    return a, b, sim.truth()[a]["Channel"], sim.truth()[b]["Channel"]


async def test_dual_redirect_to_playback_and_moh_in_captured_order(
        cli: Client, sim: AsteriskSimulator, fixtures_dir: Path) -> None:
    a, b, an, bn = await bridged_pair(cli, sim)
    await cli.reply(cli.send("Setvar", Channel=an, Variable="PLAYBACK_MEDIA", Value="hello"))
    aid = cli.send("Redirect", Channel=an, Context="from-internal", Exten="playback",
                   Priority="1", ExtraChannel=bn, ExtraContext="from-internal",
                   ExtraExten="moh", ExtraPriority="1")
    await cli.reply(aid)
    seen, _ = await cli.until(lambda d: d.get("Event") == "BridgeDestroy")
    assert redirect_shape(seen) == redirect_shape(real_after_reply(fixtures_dir, "redirect-9"))
    goto = [dict(m) for m in seen if dict(m).get("Event") == "Newexten"]
    # the goto is announced at priority 1 still naming the old application, as captured
    assert [(g["Channel"], g["Exten"], g["Priority"], g["Application"]) for g in goto[:2]] == [
        (an, "playback", "1", "Dial"), (bn, "moh", "1", "AppDial")]
    assert [(g["Channel"], g["Priority"], g["Application"], g["AppData"]) for g in goto[2:]] == [
        (an, "2", "Playback", "hello"), (bn, "2", "MusicOnHold", "default")]
    assert [dict(m)["Channel"] for m in seen if dict(m)["Event"] == "MusicOnHoldStart"] == [bn]
    assert not any(dict(m)["Event"].endswith("Hangup") for m in seen)
    truth = sim.truth()
    assert (truth[a]["Application"], truth[a]["ApplicationData"]) == ("Playback", "hello")
    assert truth[b]["Application"] == "MusicOnHold" and truth[a]["BridgeId"] == ""
    # Bridge brings the pair back: Playback simply ends, music on hold stops
    assert (await cli.reply(cli.send("Bridge", Channel1=an, Channel2=bn, Tone="no")))[
        "Message"] == "Channels have been bridged"
    seen, _ = await cli.until(lambda d: d.get("Event") == "BridgeEnter"
                              and d["BridgeNumChannels"] == "2")
    assert [dict(m)["Channel"] for m in seen if dict(m)["Event"] == "MusicOnHoldStop"] == [bn]
    assert sim.truth()[a]["BridgeId"] == sim.truth()[b]["BridgeId"] != ""


async def test_single_redirect_out_of_bridge_in_captured_order(
        cli: Client, sim: AsteriskSimulator, fixtures_dir: Path) -> None:
    a, b, _an, bn = await bridged_pair(cli, sim)
    await cli.reply(cli.send("Redirect", Channel=bn, Context="from-internal", Exten="playback",
                             Priority="1"))
    seen, _ = await cli.until(lambda d: d.get("Event") == "Hangup" and d["Uniqueid"] == a)
    assert redirect_shape(seen) == redirect_shape(real_after_reply(fixtures_dir, "redirect-4"))
    assert (sim.truth()[b]["Application"], sim.truth()[b]["ApplicationData"]) == ("Playback", "")
    assert a not in sim.truth()  # the partner left alone in the Dial bridge was hung up


async def test_playback_extension_is_configurable() -> None:
    async with AsteriskSimulator(extensions={"401": ""}, playback_exten="announce") as sim:
        c = await Client.connect(sim)
        await c.login()
        await sim.place_call("401", "announce", variables={"PLAYBACK_MEDIA": "custom/hi"})
        _, m = await c.until(lambda d: d.get("Event") == "Newexten"
                             and d["Application"] == "Playback")
        assert (dict(m)["Exten"], dict(m)["Priority"], dict(m)["AppData"]) == (
            "announce", "2", "custom/hi")
        await sim.place_call("401", "playback")  # no such extension on this switch
        _, m = await c.until(lambda d: d.get("Event") == "Hangup")
        assert dict(m)["Cause"] == "1"
        await c.close()
