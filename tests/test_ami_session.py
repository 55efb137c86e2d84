"""The panoramisk-based AMI session against the simulated Asterisk: login, framing, and the
four panoramisk 1.4 defects, each shown to exist and shown to be handled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from panoramisk.actions import Action
from panoramisk.message import Message

from backends.ami_session import AmiFramer, AmiSession
from backends.base import AuthFailed, ProtocolError
from gateway.control import CommandTimeout, Unavailable
from simswitch.ami_server import AsteriskSimulator


@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    s = AsteriskSimulator(extensions={"201": "", "202": ""}, trunks=["carrier2"],
                          login_failure_delay=0.05)
    await s.start()
    yield s
    await s.stop()


@contextlib.asynccontextmanager
async def session(sim: AsteriskSimulator, *, secret: str = "s3cret", md5: bool = True,
                  ping_interval: float = 0.0, events: list[Message] | None = None
                  ) -> AsyncIterator[AmiSession]:
    got = events if events is not None else []
    s = AmiSession("127.0.0.1", sim.port, "gateway", secret, on_event=got.append, md5=md5,
                   command_timeout=2.0, ping_interval=ping_interval, ping_timeout=0.3)
    try:
        await s.connect()
        yield s
    finally:
        await s.close()


# ------------------------------------------------------------------ framing
def test_framer_on_real_capture(fixtures_dir: Path) -> None:
    data = (fixtures_dir / "asterisk-22-real/ami_05_park.server_raw.txt").read_bytes()
    framer = AmiFramer()
    msgs = [m for i in range(0, len(data), 7) for m in framer.feed(data[i:i + 7])]
    assert framer.version == "11.0.0"
    assert len(msgs) == data.count(b"\r\n\r\n")
    park = [m for m in msgs if m.get("Message", "").startswith("Park successful")]
    assert park and park[0]["Message"] == "Park successful"  # the stray LF is stripped


def test_framer_lists_garbage_and_oversize() -> None:
    framer = AmiFramer(max_message=1000)
    (m,) = framer.feed(b"Asterisk Call Manager/11.0.0\r\nEvent: X\r\nChanVariable: a=1\r\n"
                       b"ChanVariable: b=2\r\n\r\n")
    assert m["ChanVariable"] == ["a=1", "b=2"]
    with pytest.raises(ProtocolError):
        framer.feed(b"\x00\xff\xfe garbage without colon\r\n\x1b[31m\r\n\r\n")
    with pytest.raises(ProtocolError):
        AmiFramer(max_message=1000).feed(b"Asterisk Call Manager/11.0.0\r\n" + b"A: x" * 400)
    with pytest.raises(ProtocolError):
        AmiFramer().feed(b"SSH-2.0-OpenSSH_9.6\r\n")


# ------------------------------------------------------------------ login
@pytest.mark.parametrize("md5", [True, False])
async def test_login_plain_and_md5(sim: AsteriskSimulator, md5: bool) -> None:
    async with session(sim, md5=md5) as s:
        assert s.version == "11.0.0"
        reply = await s.send({"Action": "Ping"})
        assert isinstance(reply, Message) and reply["Ping"] == "Pong"
        assert sim.actions[-1]["Action"] == "Ping"


@pytest.mark.parametrize("md5", [True, False])
async def test_wrong_secret_raises_auth_failed(sim: AsteriskSimulator, md5: bool) -> None:
    with pytest.raises(AuthFailed):
        async with session(sim, secret="wrong", md5=md5):
            pass


# ------------------------------------------------------------------ defect 1
async def test_defect1_exists_in_panoramisk() -> None:
    """Without an Async key a "successfully queued" reply raises inside panoramisk."""
    action = Action({"Action": "PlayDTMF"})
    with pytest.raises(KeyError):
        action.add_message(Message({"Response": "Success",
                                    "Message": "DTMF successfully queued"}))


async def test_defect1_successfully_queued_keeps_connection(sim: AsteriskSimulator) -> None:
    await sim.place_call("201", "202", answer_after=0.05)
    await asyncio.sleep(0.2)
    name = next(iter(sim.truth().values()))["Channel"]
    async with session(sim) as s:
        reply = await s.send({"Action": "PlayDTMF", "Channel": name, "Digit": "5"})
        assert isinstance(reply, Message) and reply["Message"] == "DTMF successfully queued"
        assert sim.actions[-1]["Async"] == "false"
        assert s.connected
        assert (await s.send({"Action": "Ping"}))["Ping"] == "Pong"  # type: ignore[index]


# ------------------------------------------------------------------ defect 2
async def test_defect2_pending_action_fails_and_is_never_resent(sim: AsteriskSimulator) -> None:
    async with session(sim) as s:
        sim.stall(0.3)  # the switch hangs: our Hangup gets no reply
        task = asyncio.create_task(s.send({"Action": "Hangup", "Channel": "PJSIP/201-x"}))
        while not any(a.get("Action") == "Hangup" for a in sim.actions):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await sim.drop_connections()
        with pytest.raises(Unavailable):
            await task
        with pytest.raises(ConnectionError):
            await s.wait_closed()
    await asyncio.sleep(0.35)
    async with session(sim) as again:  # a new login (and FullyBooted) replays nothing
        await again.send({"Action": "Ping"})
        await asyncio.sleep(0.1)
    assert [a["Action"] for a in sim.actions].count("Hangup") == 1


async def test_action_timeout_is_forgotten(sim: AsteriskSimulator) -> None:
    async with session(sim) as s:
        sim.stall(0.4)
        with pytest.raises(CommandTimeout):
            await s.send({"Action": "Ping"}, timeout=0.1)
        assert s._protocol is not None and not s._protocol.responses
        await asyncio.sleep(0.4)  # the late reply arrives and is dropped harmlessly
        assert s.connected
        assert (await s.send({"Action": "Ping"}))["Ping"] == "Pong"  # type: ignore[index]


async def test_send_when_closed_is_unavailable(sim: AsteriskSimulator) -> None:
    async with session(sim) as s:
        pass
    with pytest.raises(Unavailable):
        await s.send({"Action": "Ping"})


# ------------------------------------------------------------------ defect 3
async def test_defect3_watchdog_detects_silent_switch(sim: AsteriskSimulator) -> None:
    async with session(sim, ping_interval=0.1) as s:
        await asyncio.sleep(0.3)
        assert s.pongs >= 1
        sim.stall(5.0)
        async with asyncio.timeout(2.0):
            with pytest.raises(TimeoutError):
                await s.wait_closed()


async def test_half_close_ends_session(sim: AsteriskSimulator) -> None:
    async with session(sim) as s:
        await sim.half_close()
        async with asyncio.timeout(2.0):
            with pytest.raises(ConnectionError):
                await s.wait_closed()


@pytest.mark.parametrize("fault", ["send_garbage", "send_oversize"])
async def test_garbage_and_oversize_end_session(sim: AsteriskSimulator, fault: str) -> None:
    async with session(sim) as s:
        await getattr(sim, fault)()
        async with asyncio.timeout(2.0):
            with pytest.raises(ProtocolError):
                await s.wait_closed()


# ------------------------------------------------------------------ defect 4
async def test_defect4_events_with_our_actionid_reach_callbacks(sim: AsteriskSimulator) -> None:
    events: list[Message] = []
    async with session(sim, events=events) as s:
        reply = await s.send({"Action": "Originate", "Channel": "PJSIP/201",
                              "Application": "MusicOnHold", "Data": "default",
                              "Async": "true", "ChannelId": "orig-1"})
        assert isinstance(reply, list) and reply[-1]["Event"] == "OriginateResponse"
        action_id = reply[0]["ActionID"]
        dispatched = [e for e in events if e.get("Event") == "OriginateResponse"]
        assert dispatched and dispatched[0]["ActionID"] == action_id
        assert dispatched[0]["Uniqueid"] == "orig-1"
        listing = await s.send({"Action": "CoreShowChannels"})
        assert isinstance(listing, list) and listing[1]["Uniqueid"] == "orig-1"
        assert any(e.get("Event") == "CoreShowChannel" for e in events)


def test_our_message_is_panoramisk_message_with_the_same_store_and_lookups() -> None:
    """`AmiMessage` fills panoramisk's own case-insensitive store directly: it must read back
    exactly as panoramisk's `Message` built from the same headers (this fails if a panoramisk
    release changes that store)."""
    from panoramisk.message import Message

    from backends.ami_session import AmiMessage, parse_block

    headers = {"Response": "Success", "ActionID": "a1", "Message": "ok",
               "ChanVariable": ["a=1", "b=2"]}
    ours, theirs = AmiMessage(headers, "body"), Message(headers, "body")
    assert isinstance(ours, Message) and ours._store == theirs._store
    for key in ("actionid", "ACTIONID", "Message", "ChanVariable", "missing", "content"):
        assert ours.get(key) == theirs.get(key) and ours.get(key, "d") == theirs.get(key, "d")
    assert (ours.id, ours.success, ours.content, ours.message, dict(ours)) == (
        theirs.id, theirs.success, theirs.content, theirs.message, dict(theirs))
    parsed = parse_block(b"Event: Hangup\r\nUniqueid: 1.2\r\nCause-txt: Normal Clearing")
    assert parsed is not None and parsed.get("uniqueid") == "1.2" and parsed.event == "Hangup"
