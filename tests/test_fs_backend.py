"""The FreeSWITCH backend against the simulator on real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from backends.base import ConnState
from backends.freeswitch import FreeSwitchBackend
from backends.freeswitch_settings import FreeSwitchOptions
from gateway.config import BackendSettings
from gateway.context import Gateway
from gateway.control import (
    CommandTimeout,
    Endpoint,
    InvalidArgument,
    NotFound,
    OriginateFailed,
    Unavailable,
)
from gateway.demo import load_demo
from gateway.model import State
from gateway.store import ChannelStore
from simswitch.fs_server import FreeSwitchSimulator
from tests.harness import until

EXT = {"201": "acme.example.com", "202": "acme.example.com", "203": "acme.example.com",
       "301": "beta.example.com"}




@contextlib.asynccontextmanager
async def running(password: str = "ClueCon", store: ChannelStore | None = None,
                  **opts: float) -> AsyncIterator[tuple[FreeSwitchSimulator, FreeSwitchBackend]]:
    sim = FreeSwitchSimulator(password="ClueCon", extensions=EXT, gateways=["carrier1"])
    await sim.start()
    settings = BackendSettings(name="fs1", type="freeswitch", port=sim.port,
                               options=FreeSwitchOptions(password=password),
                               backoff_initial=0.05, backoff_max=0.2,
                               command_timeout=opts.get("command_timeout", 2.0),
                               ping_interval=opts.get("ping_interval", 10.0))
    be = FreeSwitchBackend(settings, store if store is not None else ChannelStore())
    await be.start()
    try:
        yield sim, be
    finally:
        await be.stop()
        await sim.stop()


def equals_truth(sim: FreeSwitchSimulator, be: FreeSwitchBackend) -> bool:
    truth = sim.truth()
    mine = {c.id: c for c in be.store.by_node("fs1")}
    if set(truth) != set(mine):
        return False
    return all(
        (r["name"], r["state"], r["callstate"], r["dest"], r["application"])
        == (mine[u].name, mine[u].switch_state, mine[u].callstate, mine[u].destination,
            mine[u].application)
        for u, r in truth.items()
    )


async def test_auth_failure_backs_off_then_connects() -> None:
    async with running(password="wrong") as (sim, be):
        await until(lambda: be.state == ConnState.AUTH_FAILED)
        assert "refused" in be.last_error and "wrong" not in be.last_error
        await until(lambda: be.backoff.attempt >= 2)  # retried...
        # the switch refused every attempt: no session was ever authenticated or counted
        assert (be.state, be.connects, sim.connections) == (ConnState.AUTH_FAILED, 0, 0)
        assert be.backoff.attempt <= 10  # ...with backoff: not hammering
        be.settings = dataclasses.replace(be.settings, options=FreeSwitchOptions("ClueCon"))
        await asyncio.wait_for(be.ready.wait(), 3)
        assert be.state == ConnState.CONNECTED
        assert be.health()["state"] == "connected"


async def test_call_lifecycle_in_store() -> None:
    async with running() as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        a = await sim.place_call("201", "202", answer_after=None)
        await until(lambda: len(be.store) == 2)
        ch = be.store.get(a)
        assert ch is not None and ch.state is State.RINGING
        assert (ch.username, ch.realm, ch.direction) == ("201", "acme.example.com", "inbound")
        b_id = next(c.id for c in be.store.all() if c.id != a)
        assert be.store.get(b_id).username == "202"  # type: ignore[union-attr]
        await sim.answer(a)
        await until(lambda: ch.state is State.ANSWERED and ch.other_leg == b_id)
        b = be.store.get(b_id)
        assert b is not None and b.other_leg == a and b.call_id == ch.call_id == a
        assert ch.answered_at >= ch.created > 0
        await sim.hold(a)
        await until(lambda: ch.state is State.HELD and ch.held)
        await sim.unhold(a)
        await until(lambda: ch.state is State.ANSWERED and not ch.held)
        await sim.park(a)
        await until(lambda: ch.state is State.PARKED and ch.other_leg == "")
        await until(lambda: equals_truth(sim, be))
        await sim.hangup(a)
        await until(lambda: len(be.store) == 0)


async def test_resync_after_drop_during_churn_matches_truth() -> None:
    async with running() as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        doomed = [await sim.place_call("201", "202", answer_after=0.05) for _ in range(3)]
        await until(lambda: len(be.store) == 6)
        await sim.drop_connections()
        await until(lambda: be.state != ConnState.CONNECTED, 2)
        for uid in doomed[:2]:
            await sim.hangup(uid)  # gone while we were away: must not stay as ghosts
        for _ in range(4):
            await sim.place_call("203", "201", answer_after=0.05)  # new while away
        await asyncio.sleep(0.1)
        await until(lambda: be.state == ConnState.CONNECTED and be.ready.is_set())
        await until(lambda: equals_truth(sim, be))
        assert be.connects == 2
        assert len(be.store) == len(sim.truth()) == 10


async def test_commands_reach_switch_and_map_replies() -> None:
    async with running() as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        a = await sim.place_call("201", "202", answer_after=0.05)
        await until(lambda: (c := be.store.get(a)) is not None and c.state is State.ANSWERED)
        ch = be.store.get(a)
        assert ch is not None
        assert (await be.hold(ch)).ok
        assert (await be.unhold(ch)).ok
        assert (await be.send_dtmf(ch, "12#")).ok
        assert (await be.play(ch, "/tmp/x.wav", leg="both")).ok
        assert (await be.break_media(ch)).ok
        for line in (f"uuid_hold {a}", f"uuid_hold off {a}", f"uuid_send_dtmf {a} 12#",
                     f"uuid_broadcast {a} /tmp/x.wav both", f"uuid_break {a} all"):
            assert f"api {line}" in sim.commands
        ghost = type(ch)(id="00000000-0000-0000-0000-000000000000", node="fs1")
        for call in (be.hangup(ghost), be.park(ghost), be.transfer(ghost, "201"),
                     be.break_media(ghost), be.play(ghost, "x.wav"), be.bridge(ghost, ch)):
            with pytest.raises(NotFound):
                await call
        assert (await be.hold(ghost)).ok  # FreeSWITCH says +OK Success for unknown uuids
        with pytest.raises(InvalidArgument):
            await be.transfer(ch, "203 XML evil")
        with pytest.raises(InvalidArgument):
            await be.send_dtmf(ch, "1\n2")
        assert (await be.transfer(ch, "203", leg="bleg")).ok
        assert f"api uuid_transfer {a} -bleg 203 XML default" in sim.commands
        await until(lambda: a not in be.store)  # its peer left the bridge, so it hung up
        b = await sim.place_call("202", "201", answer_after=None)
        await until(lambda: b in be.store)
        assert (await be.hangup(be.store.get(b), "USER_BUSY")).ok  # type: ignore[arg-type]
        assert f"api uuid_kill {b} USER_BUSY" in sim.commands
        await until(lambda: b not in be.store)


async def test_originate_eavesdrop_intercept() -> None:
    async with running() as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        uid = "11111111-2222-3333-4444-555555555555"
        r = await be.originate(Endpoint("device", "201", "acme.example.com"), "202",
                               caller_id_number="100", caller_id_name="Front Desk",
                               channel_id=uid, variables={"callgate_account_id": "acc"})
        assert r.ok and r.channel_id == uid
        line = next(c for c in sim.commands if c.startswith("bgapi originate"))
        assert line.startswith(f"bgapi originate {{origination_uuid={uid},"
                               "origination_caller_id_number=100,")
        assert "origination_caller_id_name='Front Desk'" in line
        assert line.endswith("}user/201@acme.example.com 202 XML default")
        await until(lambda: uid in be.store)
        assert be.store.get(uid).variables == {"callgate_account_id": "acc"}  # type: ignore
        with pytest.raises(OriginateFailed) as err:
            await be.originate(Endpoint("device", "999", "acme.example.com"), "202")
        assert err.value.cause == "USER_NOT_REGISTERED"
        target = be.store.get(uid)
        assert target is not None
        spy = await be.eavesdrop(target, Endpoint("device", "203", "acme.example.com"),
                                 mode="whisper")
        assert spy.ok and spy.channel_id
        cmd = [c for c in sim.commands if "&eavesdrop(" in c][-1]
        assert "eavesdrop_whisper_aleg=true" in cmd and cmd.endswith(f"&eavesdrop({uid})")
        ring = await sim.place_call("202", "201", answer_after=None)
        await until(lambda: ring in be.store)
        grab = await be.intercept(be.store.get(ring), Endpoint("device", "203"))  # type: ignore
        assert grab.ok
        assert any(c.endswith(f"user/203 &intercept({ring})") for c in sim.commands)


async def test_malformed_and_oversize_frames_reset_and_resync() -> None:
    async with running(command_timeout=0.5, ping_interval=0.3) as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        a = await sim.place_call("201", "202", answer_after=0.05)
        await until(lambda: equals_truth(sim, be) and len(be.store) == 2)
        for kind in ("bad_length", "short_body"):
            before = be.connects
            await sim.send_malformed(kind)
            if kind == "short_body":
                with contextlib.suppress(Unavailable):
                    await be.api("status")  # its reply is swallowed by the short body
            await until(lambda b=before: be.connects == b + 1 and be.ready.is_set())
            assert be.store.get(a) is not None
            await until(lambda: equals_truth(sim, be))
        be.mapper.handle({"Event-Name": "CHANNEL_STATE"})  # no uuid: ignored, no crash
        assert be.state == ConnState.CONNECTED


async def test_unavailable_when_down_and_in_flight() -> None:
    async with running(command_timeout=0.3) as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        a = await sim.place_call("201", "202", answer_after=0.05)
        await until(lambda: a in be.store)
        ch = be.store.get(a)
        assert ch is not None
        sim.stall(1.0)
        with pytest.raises(CommandTimeout):
            await be.park(ch)
        await sim.wait_unstalled()
        sim.stall(5.0)
        task = asyncio.create_task(be.park(ch))
        await asyncio.sleep(0.05)
        await sim.drop_connections()
        with pytest.raises(Unavailable):
            await task
        sim._unstall()
        await sim.stop()
        await until(lambda: be.state != ConnState.CONNECTED)
        t0 = time.monotonic()
        with pytest.raises(Unavailable):
            await be.hangup(ch)
        assert time.monotonic() - t0 < 0.05
        assert sum(1 for c in sim.commands if c == f"api uuid_park {a}") == 2  # not replayed


async def test_attribution_with_demo_directory() -> None:
    gw = Gateway.build(load_demo(), backends=False)
    alice = next(u for u in gw.settings.users if u.username == "alice")
    acme = alice.account
    dev = next(d for d in gw.settings.devices if d.sip_username == "201")
    async with running(store=gw.store) as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        a = await sim.place_call("201", "301", answer_after=None)
        await until(lambda: a in gw.store)
        ch = gw.store.get(a)
        assert ch is not None
        assert (ch.account_id, ch.owner_id, ch.authorizing_id) == (acme, alice.id, dev.id)
        assert ch in list(gw.store.by_account(acme))
        beta_leg = next(c for c in gw.store.all() if c.id != a)
        assert beta_leg.account_id != acme  # erin's phone stays in Beta: no cross-tenant pull
        assert all(c.id != beta_leg.id for c in gw.store.by_account(acme))


async def test_pipelined_api_replies_in_order_and_a_silent_switch_times_out() -> None:
    """A resync's `uuid_dump`s go out `window` at a time; replies pair with their commands in
    order, the switch sees each command once, a stalled switch gives `CommandTimeout`, and the
    late replies do not shift the pairing of the next command."""
    async with running(command_timeout=0.3) as (sim, be):
        await asyncio.wait_for(be.ready.wait(), 3)
        calls = [await sim.place_call("201", "202", answer_after=0.05) for _ in range(5)]
        await until(lambda: len(be.store) == 10)
        esl = be._live()
        ids = [ch.id for ch in be.store.by_node("fs1")] + ["no-such-uuid"]
        before = len(sim.commands)
        cmds = [f"uuid_getvar {uid} uuid" for uid in ids] * 40  # 440 commands, window 16
        replies = [r async for r in esl.api_each(cmds, window=16, wait=2.0)]
        assert replies == [uid if uid != "no-such-uuid" else "-ERR No such channel!\n"
                           for uid in ids] * 40
        assert sim.commands[before:] == [f"api {c}" for c in cmds]
        sim.stall(1.5)
        t0 = time.monotonic()
        with pytest.raises(CommandTimeout):
            [r async for r in esl.api_each(cmds[:50], window=8, wait=0.2)]
        assert time.monotonic() - t0 < 1.2  # the timeout, not the end of the stall
        await sim.wait_unstalled()
        assert await esl.api(f"uuid_getvar {calls[0]} uuid") == calls[0]
