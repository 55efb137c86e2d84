"""The Asterisk backend against the simulated Asterisk over loopback: every command with its
success and error replies and the exact action that reached the switch, faults, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from backends.asterisk import AsteriskBackend
from backends.asterisk_settings import AsteriskOptions
from gateway.config import BackendSettings
from gateway.control import (
    Endpoint,
    InvalidArgument,
    NotFound,
    OriginateFailed,
    Rejected,
)
from gateway.model import Channel, State
from gateway.store import ChannelStore
from simswitch.ami_server import AsteriskSimulator
from tests.demo_ids import ACME
from tests.harness import live_gateway, until


@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    s = AsteriskSimulator(extensions={"201": "", "202": "", "203": "", "204": ""},
                          trunks=["carrier2"], login_failure_delay=0.05, busy=["203"],
                          no_answer=["204"])
    await s.start()
    yield s
    await s.stop()


def settings(port: int, **kw: Any) -> BackendSettings:
    options = AsteriskOptions(username="gateway", secret="s3cret", hold_context="from-internal")
    base: dict[str, Any] = dict(name="ast1", type="asterisk", port=port, options=options,
                                context="from-internal", backoff_initial=0.05, backoff_max=0.2,
                                command_timeout=2.0, ping_interval=0.3)
    base.update(kw)
    return BackendSettings(**base)


@contextlib.asynccontextmanager
async def connected(sim: AsteriskSimulator, **kw: Any) -> AsyncIterator[AsteriskBackend]:
    """A backend on `sim` (settings `kw`), connected and synced; stopped on the way out."""
    b = AsteriskBackend(settings(sim.port, **kw), ChannelStore())
    await b.start()
    try:
        await asyncio.wait_for(b.ready.wait(), 3)
        yield b
    finally:
        await b.stop()


@pytest.fixture
async def backend(sim: AsteriskSimulator) -> AsyncIterator[AsteriskBackend]:
    async with connected(sim) as b:
        yield b


def matches_truth(b: AsteriskBackend, sim: AsteriskSimulator) -> bool:
    truth = sim.truth()
    if set(truth) != {c.id for c in b.store.by_node("ast1")}:
        return False
    return all(b.store.get(u).name == t["Channel"]  # type: ignore[union-attr]
               and b.store.get(u).switch_state == t["ChannelStateDesc"]  # type: ignore[union-attr]
               for u, t in truth.items())


async def call(b: AsteriskBackend, sim: AsteriskSimulator, caller: str = "201",
               callee: str = "202") -> tuple[Channel, Channel]:
    a_id = await sim.place_call(caller, callee, answer_after=0.02)
    await until(lambda: (a := b.store.get(a_id)) is not None and a.other_leg != ""
                and a.state == State.ANSWERED and b.store.get(a.other_leg) is not None)
    a = b.store.get(a_id)
    assert a is not None
    peer = b.store.get(a.other_leg)
    assert peer is not None
    return a, peer


def last(sim: AsteriskSimulator, action: str) -> dict[str, str]:
    return [a for a in sim.actions if a["Action"] == action][-1]


def ghost(name: str = "PJSIP/201-0000ffff") -> Channel:
    return Channel(id="gone", node="ast1", name=name)


# ------------------------------------------------------------------ commands
async def test_hangup(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, b_leg = await call(backend, sim)
    res = await backend.hangup(a, "USER_BUSY")
    assert res.ok and res.detail == "Channel Hungup"
    sent = last(sim, "Hangup")
    assert (sent["Channel"], sent["Cause"], sent["Async"]) == (a.name, "17", "false")
    await until(lambda: a.id not in backend.store and b_leg.id not in backend.store)
    with pytest.raises(NotFound):
        await backend.hangup(ghost())
    with pytest.raises(InvalidArgument):
        await backend.hangup(a, "NOT_A_CAUSE")


async def test_transfer_legs(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, b_leg = await call(backend, sim)
    await backend.transfer(a, "moh", leg="both")
    sent = last(sim, "Redirect")
    assert sent["Channel"] == a.name and sent["ExtraChannel"] == b_leg.name
    assert (sent["Exten"], sent["Context"], sent["Priority"]) == ("moh", "from-internal", "1")
    a, b_leg = await call(backend, sim)
    await backend.transfer(a, "moh", leg="bleg", context="from-internal")
    sent = last(sim, "Redirect")
    assert sent["Channel"] == b_leg.name and "ExtraChannel" not in sent
    a, _ = await call(backend, sim)
    res = await backend.transfer(a, "moh")
    assert res.detail == "Redirect successful" and last(sim, "Redirect")["Channel"] == a.name
    with pytest.raises(NotFound):
        await backend.transfer(ghost(), "moh")
    with pytest.raises(InvalidArgument):
        await backend.transfer(a, "moh\r\nAction: Hangup")


async def test_attended_transfer(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, _ = await call(backend, sim)
    res = await backend.attended_transfer(a, "202")
    assert res.detail == "Atxfer successfully queued"
    sent = last(sim, "Atxfer")
    assert (sent["Channel"], sent["Exten"], sent["Context"]) == (a.name, "202", "from-internal")
    assert backend.state == "connected"  # defect 1: the queued reply did not drop the link
    with pytest.raises(NotFound):
        await backend.attended_transfer(ghost(), "202")


async def test_hold_and_unhold(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, b_leg = await call(backend, sim)
    await backend.hold(a)
    sent = last(sim, "Redirect")
    assert (sent["Channel"], sent["Exten"], sent["ExtraChannel"]) == (b_leg.name, "moh", a.name)
    assert a.held and a.state == State.HELD and a.callstate == "HELD"
    await until(lambda: a.other_leg == "")
    assert a.id in backend.store and b_leg.id in backend.store  # nobody was hung up
    await backend.unhold(a)
    sent = last(sim, "Bridge")
    assert (sent["Channel1"], sent["Channel2"]) == (a.name, b_leg.name)
    await until(lambda: a.other_leg == b_leg.id and b_leg.other_leg == a.id)
    assert not a.held and a.state == State.ANSWERED
    with pytest.raises(Rejected):
        await backend.unhold(a)


async def test_park(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, _ = await call(backend, sim)
    res = await backend.park(a)
    assert res.detail == "Park successful"
    assert last(sim, "Park")["Channel"] == a.name
    await until(lambda: a.parked and a.state == State.PARKED)
    with pytest.raises(NotFound):
        await backend.park(ghost())


async def test_dtmf_bridge_play_break(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, _ = await call(backend, sim)
    n = len(sim.actions)
    await backend.send_dtmf(a, "1#")
    assert [(x["Action"], x["Digit"]) for x in sim.actions[n:]] == [("PlayDTMF", "1"),
                                                                    ("PlayDTMF", "#")]
    with pytest.raises(NotFound):
        await backend.send_dtmf(ghost(), "1")
    n = len(sim.actions)
    with pytest.raises(InvalidArgument):
        await backend.send_dtmf(a, "1;x")
    assert len(sim.actions) == n  # rejected before anything reached the switch
    with pytest.raises(Rejected):  # nothing of ours is playing (tests/test_asterisk_media.py)
        await backend.break_media(a)
    assert len(sim.actions) == n
    with pytest.raises(NotFound):
        await backend.bridge(ghost("PJSIP/x-1"), a)
    c, _ = await call(backend, sim)
    res = await backend.bridge(a, c)
    assert res.detail == "Channels have been bridged"
    assert (last(sim, "Bridge")["Channel1"], last(sim, "Bridge")["Channel2"]) == (a.name, c.name)
    await until(lambda: a.other_leg == c.id)
    await backend.play(a, "hello-world")
    assert last(sim, "Setvar")["Value"] == "hello-world"
    sent = last(sim, "Redirect")
    assert (sent["Channel"], sent["Exten"], sent["ExtraChannel"], sent["ExtraExten"]) == (
        a.name, "playback", c.name, "moh")


async def test_originate(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    res = await backend.originate(Endpoint("device", "201"), "202", channel_id="my-leg-1",
                                  caller_id_number="100", caller_id_name="Ops",
                                  variables={"callgate_account_id": ACME}, ring_timeout=5)
    assert res.ok and res.channel_id == "my-leg-1"
    sent = last(sim, "Originate")
    assert (sent["Channel"], sent["ChannelId"], sent["Async"], sent["Exten"]) == (
        "PJSIP/201", "my-leg-1", "true", "202")
    assert sent["CallerID"] == '"Ops" <100>' and sent["Timeout"] == "5000"
    assert sent["Variable"] == f"callgate_account_id={ACME}"
    await until(lambda: backend.store.get("my-leg-1") is not None)
    leg = backend.store.get("my-leg-1")
    assert leg is not None and leg.direction == "outbound"
    with pytest.raises(OriginateFailed) as busy:
        await backend.originate(Endpoint("device", "203"), "202")
    assert busy.value.cause == "USER_BUSY"
    with pytest.raises(OriginateFailed) as noanswer:
        await backend.originate(Endpoint("device", "204"), "202", ring_timeout=0.3)
    assert noanswer.value.cause == "NO_ANSWER"
    with pytest.raises(OriginateFailed) as noroute:
        await backend.originate(Endpoint("device", "201"), "999")
    assert noroute.value.cause == "NO_ROUTE_DESTINATION"
    with pytest.raises(InvalidArgument):
        await backend.originate(Endpoint("device", "201\r\nAction: Hangup"), "202")


async def test_failed_originate_leaves_no_outbound_id(backend: AsteriskBackend,
                                                      sim: AsteriskSimulator) -> None:
    """Refused outright, failed before any channel existed, or busy: the id is dropped."""
    with pytest.raises(OriginateFailed, match="NO_ROUTE_DESTINATION"):
        await backend.originate(Endpoint("device", "201"), "999", channel_id="fail-route")
    assert "fail-route" not in backend.mapper.outbound
    with pytest.raises(OriginateFailed, match="NORMAL_TEMPORARY_FAILURE"):  # unknown phone
        await backend.originate(Endpoint("device", "299"), "202", channel_id="fail-nochan")
    assert "fail-nochan" not in backend.mapper.outbound
    with pytest.raises(OriginateFailed, match="USER_BUSY"):
        await backend.originate(Endpoint("device", "203"), "202", channel_id="fail-busy")
    assert backend.mapper.outbound == set()


async def test_hangup_forgets_hold_play_and_recording(backend: AsteriskBackend,
                                                     sim: AsteriskSimulator) -> None:
    """Nothing kept per channel outlives it: the partner's hangup drops the hold naming it,
    the holder's own hangup drops its recording (and its time-limit timer)."""
    a, b_leg = await call(backend, sim)
    await backend.hold(a)
    await backend.record(a, "start", time_limit=60)
    timer = backend._mixmonitors[a.id][2]
    assert timer is not None and backend._held == {a.id: b_leg.id}
    await sim.hangup(b_leg.id)
    await until(lambda: b_leg.id not in backend.store)
    assert backend._held == {}
    assert a.id in backend._mixmonitors  # a is still up, still recording
    c, d = await call(backend, sim)
    await backend.play(c, "hello-world")
    assert set(backend._playing) == {c.id, d.id}
    for ch in (a, c, d):
        await sim.hangup(ch.id)
    await until(lambda: len(backend.store) == 0)
    assert (backend._held, backend._playing, backend._mixmonitors) == ({}, {}, {})
    assert timer.cancelled() and backend.mapper.outbound == set()


async def test_eavesdrop_and_intercept(backend: AsteriskBackend, sim: AsteriskSimulator) -> None:
    a, _ = await call(backend, sim)
    for mode, opts in (("listen", "qE"), ("whisper", "qEw"), ("barge", "qEB")):
        res = await backend.eavesdrop(a, Endpoint("device", "202"), mode=mode,
                                      channel_id=f"spy-{mode}")
        assert res.channel_id == f"spy-{mode}"
        sent = last(sim, "Originate")
        assert (sent["Application"], sent["Data"]) == ("ChanSpy", f"{a.name},{opts}")
    with pytest.raises(InvalidArgument):
        await backend.eavesdrop(a, Endpoint("device", "204"), mode="shout")
    ring = await sim.place_call("201", "202", answer_after=None)
    await until(lambda: (r := backend.store.get(ring)) is not None and r.other_leg != "")
    target = backend.store.get(backend.store.get(ring).other_leg)  # type: ignore[union-attr]
    assert target is not None
    await backend.intercept(target, Endpoint("device", "202"), channel_id="pick-1")
    sent = last(sim, "Originate")
    assert (sent["Application"], sent["Data"]) == ("PickupChan", target.name)
    # the picker answers in the ringing callee's place: bridged with the caller, callee gone
    await until(lambda: (p := backend.store.get("pick-1")) is not None and p.other_leg == ring
                and backend.store.get(ring).other_leg == "pick-1"  # type: ignore[union-attr]
                and target.id not in backend.store)


async def _ringing_caller(backend: AsteriskBackend, sim: AsteriskSimulator) -> Channel:
    ring = await sim.place_call("201", "202", answer_after=None)
    await until(lambda: (r := backend.store.get(ring)) is not None and r.other_leg != "")
    a = backend.store.get(ring)
    assert a is not None and a.state == State.RINGING
    return a


async def _answered(backend: AsteriskBackend, sim: AsteriskSimulator) -> Channel:
    return (await call(backend, sim))[0]


async def _parked(backend: AsteriskBackend, sim: AsteriskSimulator) -> Channel:
    a, _ = await call(backend, sim)
    await backend.park(a)
    await until(lambda: a.state == State.PARKED)
    return a


@pytest.mark.parametrize("make", [_ringing_caller, _answered, _parked],
                         ids=["ringing-caller", "answered", "parked"])
async def test_intercept_other_than_ringing_callee_bridges(
        backend: AsteriskBackend, sim: AsteriskSimulator,
        make: Callable[[AsteriskBackend, AsteriskSimulator], Any]) -> None:
    """PickupChan would do nothing for these legs: the listener is bridged with the target."""
    target = await make(backend, sim)
    res = await backend.intercept(target, Endpoint("device", "201"), channel_id="grab-1")
    assert res.channel_id == "grab-1"
    sent = last(sim, "Originate")
    assert (sent["Application"], sent["Data"]) == ("Bridge", target.name)
    await until(lambda: (g := backend.store.get("grab-1")) is not None
                and g.other_leg == target.id and target.other_leg == "grab-1"
                and target.id in backend.store)


# ------------------------------------------------------------------ connection faults
async def test_auth_failed_then_backoff_then_recovers(sim: AsteriskSimulator) -> None:
    sim.secret = "other"
    b = AsteriskBackend(settings(sim.port), ChannelStore())
    await b.start()
    try:
        await until(lambda: b.state == "auth_failed" and b.backoff.attempt >= 2)
        assert "authentication" in b.last_error and "other" not in b.last_error
        assert b.connects == 0
        sim.secret = "s3cret"
        await until(lambda: b.state == "connected" and b.ready.is_set())
    finally:
        await b.stop()


@pytest.mark.parametrize("fault", ["send_garbage", "send_oversize", "half_close",
                                   "drop_connections"])
async def test_fault_reconnects_and_resyncs(backend: AsteriskBackend, sim: AsteriskSimulator,
                                            fault: str) -> None:
    await call(backend, sim)
    await getattr(sim, fault)()
    await until(lambda: backend.connects >= 2 and backend.ready.is_set())
    await call(backend, sim, "202", "201")
    await until(lambda: matches_truth(backend, sim))


async def test_stalled_switch_detected_by_watchdog(backend: AsteriskBackend,
                                                   sim: AsteriskSimulator) -> None:
    sim.stall(1.0)
    await until(lambda: backend.state != "connected", wait=2.0)
    await until(lambda: backend.connects >= 2 and backend.ready.is_set(), wait=4.0)


async def test_reconnect_during_churn_converges(backend: AsteriskBackend,
                                                sim: AsteriskSimulator) -> None:
    ids = [await sim.place_call("201", "202", answer_after=0.01) for _ in range(5)]
    await asyncio.sleep(0.05)
    await sim.drop_connections()
    for uid in ids[:3]:  # calls end while we are disconnected
        await sim.hangup(uid)
    ids += [await sim.place_call("202", "+447700900123", answer_after=0.01) for _ in range(3)]
    await until(lambda: backend.connects >= 2 and backend.ready.is_set())
    await sim.hangup(ids[3])
    await until(lambda: matches_truth(backend, sim))
    trunk = [c for c in backend.store.all() if c.gateway == "carrier2"]
    assert trunk and all(c.direction == "outbound" for c in trunk)


async def test_commands_while_down_are_unavailable(sim: AsteriskSimulator) -> None:
    from gateway.control import Unavailable

    b = AsteriskBackend(settings(sim.port), ChannelStore())
    with pytest.raises(Unavailable):
        await b.hangup(ghost())


# ------------------------------------------------------------------ both switches
async def test_both_switches_share_account_index() -> None:
    async with live_gateway(switches=("fs1", "ast1")) as live:
        gw = live.gw
        ast_a = await live.ast.place_call("205", "+447700900123", answer_after=0.05)
        fs_a = await live.fs.place_call("201", "202", answer_after=0.05)
        await live.until(lambda: gw.store.get(ast_a) is not None
                         and gw.store.get(fs_a) is not None)
        await live.until(lambda: {ast_a, fs_a} <= {c.id for c in gw.store.by_account(ACME)})
        assert {"fs1", "ast1"} <= {c.node for c in gw.store.by_account(ACME)}
        beta = "a0000000000000000000000000000004"
        assert all(c.account_id != beta for c in gw.store.by_node("ast1"))
        assert not any(c.node == "ast1" for c in gw.store.by_account(beta))
        name = gw.store.get(ast_a).name  # type: ignore[union-attr]
        before_fs = len(live.fs.commands)
        await gw.control.hangup(ast_a)
        assert last(live.ast, "Hangup")["Channel"] == name
        assert len(live.fs.commands) == before_fs  # nothing went to the other switch
        await live.until(lambda: gw.store.get(ast_a) is None)
