"""play and break on Asterisk against the simulated switch over loopback: nobody is left alone
in a Dial bridge (which would hang them up), break rejoins exactly the pair the gateway took
apart, and a break with nothing of ours playing is refused before anything is sent. Also through
the Kazoo dialect, on the demo's Asterisk phone 205."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from backends.asterisk import AsteriskBackend
from gateway.config import Settings
from gateway.control import InvalidArgument, Rejected
from gateway.model import Channel, State
from simswitch.ami_server import AsteriskSimulator
from tests.demo_ids import ACME
from tests.harness import live_gateway, until
from tests.test_asterisk_backend import call, connected


@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    async with AsteriskSimulator(extensions={"201": "", "202": ""}) as s:
        yield s


@pytest.fixture
async def backend(sim: AsteriskSimulator) -> AsyncIterator[AsteriskBackend]:
    async with connected(sim) as b:
        yield b


def sent(sim: AsteriskSimulator, since: int) -> list[dict[str, str]]:
    """The actions that reached the switch since `since`, without their ActionIDs (panoramisk
    adds `Async: false` to each)."""
    return [{k: v for k, v in a.items() if k != "ActionID"} for a in sim.actions[since:]]


def setvar(ch: Channel, media: str) -> dict[str, str]:
    return {"Action": "Setvar", "Async": "false", "Channel": ch.name,
            "Variable": "PLAYBACK_MEDIA", "Value": media}


def redirect(ch: Channel, exten: str, extra: Channel | None = None,
             extra_exten: str = "") -> dict[str, str]:
    out = {"Action": "Redirect", "Async": "false", "Channel": ch.name, "Exten": exten,
           "Context": "from-internal", "Priority": "1"}
    if extra is not None:
        out.update(ExtraChannel=extra.name, ExtraExten=extra_exten, ExtraContext="from-internal",
                   ExtraPriority="1")
    return out


def bridge(one: Channel, two: Channel) -> dict[str, str]:
    return {"Action": "Bridge", "Async": "false", "Channel1": one.name, "Channel2": two.name,
            "Tone": "no"}


def running(sim: AsteriskSimulator, ch: Channel) -> tuple[str, str]:
    """What the switch itself says the channel is doing."""
    row = sim.truth().get(ch.id, {})
    return row.get("Application", ""), row.get("ApplicationData", "")


async def rejoined(b: AsteriskBackend, sim: AsteriskSimulator, one: Channel,
                   two: Channel) -> None:
    await until(lambda: one.other_leg == two.id and two.other_leg == one.id)
    assert one.answered and two.answered and State.ANSWERED == one.state == two.state
    assert not one.held and not two.held
    assert sim.truth()[one.id]["BridgeId"] == sim.truth()[two.id]["BridgeId"] != ""


async def test_play_one_leg_keeps_partner_on_hold_and_break_rejoins(
        backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, b = await call(backend, sim)
    n = len(sim.actions)
    res = await backend.play(a, "hello-world")
    assert res.detail == "Dual Redirect successful"
    assert sent(sim, n) == [setvar(a, "hello-world"), redirect(a, "playback", b, "moh")]
    await until(lambda: a.application == "Playback" and b.application == "MusicOnHold")
    assert a.application_data == "hello-world" and a.other_leg == b.other_leg == ""
    assert running(sim, a) == ("Playback", "hello-world")
    assert running(sim, b) == ("MusicOnHold", "default")
    await asyncio.sleep(0.1)
    assert a.id in backend.store and b.id in backend.store  # nobody was hung up
    assert {a.id, b.id} <= set(sim.channel_ids())
    n = len(sim.actions)
    res = await backend.break_media(a)
    assert res.detail == "Channels have been bridged"
    assert sent(sim, n) == [bridge(a, b)]
    await rejoined(backend, sim, a, b)
    n = len(sim.actions)
    with pytest.raises(Rejected, match="nothing this gateway started is playing"):
        await backend.break_media(a)  # the play is over
    assert sent(sim, n) == []


async def test_play_bleg_and_break_from_either_side(backend: AsteriskBackend,
                                                    sim: AsteriskSimulator) -> None:
    a, b = await call(backend, sim)
    n = len(sim.actions)
    await backend.play(a, "custom/welcome", leg="bleg")
    assert sent(sim, n) == [setvar(b, "custom/welcome"), redirect(b, "playback", a, "moh")]
    await until(lambda: running(sim, b) == ("Playback", "custom/welcome")
                and running(sim, a)[0] == "MusicOnHold")
    n = len(sim.actions)
    await backend.break_media(b)  # the partner's side knows the pair too
    assert sent(sim, n) == [bridge(a, b)]
    await rejoined(backend, sim, a, b)


async def test_play_both_legs(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, b = await call(backend, sim)
    n = len(sim.actions)
    await backend.play(a, "tt-monkeys", leg="both")
    assert sent(sim, n) == [setvar(a, "tt-monkeys"), setvar(b, "tt-monkeys"),
                            redirect(a, "playback", b, "playback")]
    await until(lambda: running(sim, a) == running(sim, b) == ("Playback", "tt-monkeys"))
    # a second play while the first runs keeps the same pair
    n = len(sim.actions)
    await backend.play(a, "beep")
    assert sent(sim, n) == [setvar(a, "beep"), redirect(a, "playback", b, "moh")]
    await until(lambda: running(sim, a) == ("Playback", "beep")
                and running(sim, b)[0] == "MusicOnHold")
    n = len(sim.actions)
    await backend.break_media(a)
    assert sent(sim, n) == [bridge(a, b)]
    await rejoined(backend, sim, a, b)


async def test_play_on_held_call_and_break_clears_hold(backend: AsteriskBackend,
                                                       sim: AsteriskSimulator) -> None:
    a, b = await call(backend, sim)
    await backend.hold(a)
    await until(lambda: a.other_leg == "" and running(sim, a)[0] == "MusicOnHold")
    n = len(sim.actions)
    with pytest.raises(Rejected):
        await backend.break_media(a)  # music on hold is a hold, not a play: unhold ends it
    await backend.play(a, "hello-world")  # the held partner is still the pair
    assert sent(sim, n) == [setvar(a, "hello-world"), redirect(a, "playback", b, "moh")]
    await until(lambda: running(sim, a) == ("Playback", "hello-world"))
    await backend.break_media(a)
    assert sent(sim, n)[-1] == bridge(a, b)
    await rejoined(backend, sim, a, b)
    with pytest.raises(Rejected):
        await backend.unhold(a)  # break ended the hold too


async def test_play_on_unbridged_channel(backend: AsteriskBackend,
                                         sim: AsteriskSimulator) -> None:
    uid = await sim.place_call("201", "moh")  # a caller alone in music on hold
    await until(lambda: (c := backend.store.get(uid)) is not None
                and c.application == "MusicOnHold")
    a = backend.store.get(uid)
    assert a is not None
    n = len(sim.actions)
    with pytest.raises(Rejected):
        await backend.play(a, "hello-world", leg="bleg")
    assert sent(sim, n) == []
    await backend.play(a, "hello-world", leg="both")  # both, alone: just this channel
    assert sent(sim, n) == [setvar(a, "hello-world"), redirect(a, "playback")]
    await until(lambda: running(sim, a) == ("Playback", "hello-world")
                and a.application == "Playback")
    n = len(sim.actions)
    res = await backend.break_media(a)  # back to the extension it was in
    assert res.detail == "Redirect successful"
    assert sent(sim, n) == [redirect(a, "moh")]
    await until(lambda: running(sim, a)[0] == "MusicOnHold" and a.application == "MusicOnHold")
    assert a.id in backend.store
    with pytest.raises(Rejected):
        await backend.break_media(a)


async def test_break_with_nothing_playing_sends_nothing(backend: AsteriskBackend,
                                                        sim: AsteriskSimulator) -> None:
    a, b = await call(backend, sim)
    n = len(sim.actions)
    for ch in (a, b):
        with pytest.raises(Rejected) as exc:
            await backend.break_media(ch)
        assert "cannot interrupt" in exc.value.message
    for media in ("a,b", "x\r\nAction: Hangup", "", "../etc/passwd", "${EVIL}"):
        with pytest.raises(InvalidArgument):
            await backend.play(a, media)
    with pytest.raises(InvalidArgument):
        await backend.play(a, "beep", leg="self")
    assert sent(sim, n) == []
    assert a.other_leg == b.id  # untouched


async def test_break_after_partner_hung_up(backend: AsteriskBackend,
                                           sim: AsteriskSimulator) -> None:
    a, b = await call(backend, sim)
    await backend.play(a, "hello-world")
    await until(lambda: running(sim, b)[0] == "MusicOnHold")
    await sim.hangup(b.id)
    await until(lambda: b.id not in backend.store)
    n = len(sim.actions)
    with pytest.raises(Rejected, match="gone"):
        await backend.break_media(a)
    assert sent(sim, n) == []
    assert running(sim, a) == ("Playback", "hello-world")  # still up, still playing


# ------------------------------------------------------------------ through Kazoo
def kazoo_only(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dialects={"kazoo": settings.dialects["kazoo"]})


async def test_kazoo_play_and_break_on_an_asterisk_channel() -> None:
    from tests.test_kazoo_live import act, login

    async with live_gateway(switches=("ast1",), edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        uid = await live.ast.place_call("205", "+447700900123", answer_after=0.05)

        def ready() -> bool:
            ch = live.gw.store.get(uid)
            peer = live.gw.store.get(ch.other_leg) if ch and ch.other_leg else None
            return bool(ch and ch.answered and peer and peer.answered)

        await live.until(ready)
        a = live.gw.store.get(uid)
        assert a is not None and a.account_id == ACME
        peer = live.gw.store.get(a.other_leg)
        assert peer is not None
        status, doc = await act(live, alice, uid, json.dumps({"data": {"action": "break"}}))
        assert status == 500 and doc["data"] == {"message": "the switch refused the action"}
        n = len(live.ast.actions)
        status, doc = await act(live, alice, uid, json.dumps(
            {"action": "metaflow", "data": {"module": "play",
                                            "data": {"id": "media_id", "leg": "self"}}}),
                                method="PUT")
        assert (status, doc["data"]) == (201, "metaflow sent"), doc
        assert sent(live.ast, n) == [setvar(a, "media_id"), {
            **redirect(a, "playback", peer, "moh"), "Context": "default",
            "ExtraContext": "default"}]
        await live.until(lambda: running(live.ast, a) == ("Playback", "media_id"))
        assert peer.id in live.gw.store  # the trunk leg waits on hold, not hung up
        n = len(live.ast.actions)
        status, doc = await act(live, alice, uid, json.dumps({"data": {"action": "break"}}))
        assert (status, doc["data"]) == (200, "break initiated")
        assert sent(live.ast, n) == [bridge(a, peer)]
        await live.until(lambda: a.other_leg == peer.id and peer.other_leg == a.id)
