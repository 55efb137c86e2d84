"""The demo looks like a real PBX: names from the directory on every call, one call per desk
phone, phones that ring 3-15 s, calls placed through the API that end too, ids and host names
shaped like the real switches', the docs' transfer targets answering, and a pickup's agent leg
showing the caller.

The traffic runs a window of simulated time faster (`speed`); nothing here asserts how fast
anything ran."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import SERVER_LIMITS, build_app, wait_connected
from gateway.context import Gateway
from gateway.control import Endpoint
from gateway.demo import load_demo, start_switches
from gateway.model import Channel, State
from simswitch.demo import RING_TIME
from simswitch.fs_server import FreeSwitchSimulator
from simswitch.traffic import TrafficGenerator
from tests.harness import dialect_client, live_gateway

SPEED = 40.0  # simulated seconds per real second
#: The demo directory: each phone's owner's name.
NAMES = {"201": "Alice Smith", "202": "Bob Jones", "203": "Carol Agent", "204": "Dan Agent",
         "301": "Erin Beta", "205": "Bob Jones", "401": "Gus Gamma", "402": "Test User #1"}
ACME = "acme.example.com"
ACME_ID = "a0000000000000000000000000000003"


async def until(pred: Callable[[], Any], wait: float = 10.0) -> None:
    async with asyncio.timeout(wait):
        while not pred():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def fast_demo(speed: float = SPEED) -> AsyncIterator[tuple[Gateway, Any]]:
    """The whole demo (both switches, their traffic) with simulated time `speed` times faster."""
    settings, switches = await start_switches(load_demo(), speed=speed)
    settings = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, port=0))
    gw = Gateway.build(settings)
    client = TestClient(TestServer(build_app(gw)))
    try:
        await client.server.start_server(**SERVER_LIMITS)
        await client.start_server()
        assert await wait_connected(gw, 10.0)
        yield gw, switches
    finally:
        await client.close()
        await switches.stop()


def _watch(sim: Any, on_event: Callable[[], None]) -> None:
    """Call `on_event` after every event the simulator emits."""
    emit = sim.model.emit

    def watching(*args: Any) -> None:
        emit(*args)
        on_event()

    sim.model.emit = watching


async def test_a_window_of_demo_traffic_looks_like_people_at_desk_phones() -> None:
    async with fast_demo(speed=100) as (gw, switches):
        fs, ast = switches.sims["fs1"], switches.sims["ast1"]
        most: dict[str, int] = {}
        ringing_seen: set[str] = set()

        def check() -> None:
            for sim in (fs, ast):
                for ext, n in sim.phones_in_calls().items():
                    most[ext] = max(most.get(ext, 0), n)
            ringing_seen.update(c.id for c in gw.store.all()
                                if c.state in (State.RINGING, State.EARLY))

        _watch(fs, check)
        _watch(ast, check)
        gens = [switches.traffic["fs1"], switches.traffic["ast1"]]
        # a window of simulated time: until both switches have ended 8 calls
        await until(lambda: all(sum(1 for r in g.calls if r.channel_id) - len(g.live) >= 8
                                for g in gens), wait=60)
        names_by_number = {c.caller_id_number: c.caller_id_name for c in gw.store.all()
                           if c.caller_id_number in NAMES}

    assert most and max(most.values()) == 1, most  # a desk phone is in one call at a time
    for gen in gens:
        rings = [r.ring for r in gen.calls]
        assert rings and all(r is not None and RING_TIME[0] <= r <= RING_TIME[1] for r in rings)
        assert all(r.caller_name == NAMES[r.caller] for r in gen.calls if r.caller in NAMES)
    assert ringing_seen  # a poller asking for ringing calls finds some
    assert names_by_number and all(NAMES[n] == name for n, name in names_by_number.items())


async def test_directory_names_reach_kazoo_and_webitel_channel_lists() -> None:
    """The demo's own traffic (its generator, names from the directory) seen over HTTP."""
    async with fast_demo() as (gw, switches):
        gen = switches.traffic["fs1"]
        await until(lambda: any(r.caller in ("201", "202", "203", "204") and r.channel_id
                                and gw.store.get(r.channel_id) is not None for r in gen.calls))
        async with dialect_client(gw=gw) as (_, client):
            cred = hashlib.md5(b"alice:demo-alice").hexdigest()
            r = await client.put("/v2/user_auth", json={"data": {"credentials": cred,
                                                                 "account_name": "Acme"}})
            token = (await r.json())["auth_token"]
            r = await client.get(f"/v2/accounts/{ACME_ID}/channels",
                                 headers={"X-Auth-Token": token})
            kazoo = [(c.get("caller_id_number"), c.get("caller_id_name")) for c in
                     (await r.json())["data"]]
            r = await client.post("/login", json={"username": "alice@acme.example.com",
                                                  "password": "demo-alice"})
            login = await r.json()
            r = await client.get("/api/v2/channels", headers={"X-Access-Token": login["token"],
                                                              "X-Key": login["key"]})
            webitel = [(row["cid_num"], row["cid_name"]) for row in
                       (await r.json())["data"]["rows"]]
    for rows in (kazoo, webitel):
        phones = [(num, name) for num, name in rows if num in NAMES]
        assert phones and all(name == NAMES[num] for num, name in phones), rows


async def test_calls_placed_through_the_api_end_after_a_realistic_time() -> None:
    speed = 100.0
    async with fast_demo(speed) as (gw, switches):
        loop = asyncio.get_running_loop()
        born = loop.time()
        result = await gw.control.originate(Endpoint("device", "204", ACME), "", node="fs1",
                                            application="park", ring_timeout=30)
        uid = result.channel_id
        assert uid
        await until(lambda: (c := gw.store.get(uid)) is not None and c.answered)
        gen = switches.traffic["fs1"]
        await until(lambda: uid in gen.ended_strays, wait=30)
        lasted = (loop.time() - born) * speed  # simulated seconds
        # as long as a generated call could last: at least half the hold time after ringing
        assert lasted >= RING_TIME[0] + 0.5 * gen.hold_time
        await until(lambda: gw.store.get(uid) is None)


async def test_ids_and_host_names_are_shaped_like_the_real_switches() -> None:
    async with live_gateway(switches=("fs1", "ast1")) as live:
        before = int(time.time())
        b = await live.ast.place_call("401", "402")
        a = await live.fs.place_call("201", "202")
        await live.until(lambda: live.gw.store.get(a) is not None
                         and live.gw.store.get(b) is not None)
        assert re.fullmatch(r"\d{10}\.\d+", b)
        assert before - 1 <= int(b.split(".")[0]) <= int(time.time()) + 1
        ch = live.gw.store.get(a)
        assert ch is not None and ch.hostname == "fs1.example.net"
        assert live.fs.truth()[a]["hostname"] == "fs1.example.net"


async def _bridged(live: Any, uid: str) -> Channel:
    await live.until(lambda: (c := live.gw.store.get(uid)) is not None and c.bridged)
    ch = live.gw.store.get(uid)
    assert ch is not None
    return ch


@pytest.mark.parametrize(("node", "caller", "callee", "target"), [
    ("fs1", "201", "202", "2600"), ("fs1", "201", "202", "800"),
    ("ast1", "401", "402", "2600"), ("ast1", "401", "402", "800")])
async def test_the_docs_transfer_targets_answer_and_keep_the_call_up(
        node: str, caller: str, callee: str, target: str) -> None:
    async with live_gateway(switches=(node,)) as live:
        sim = live.switches.sims[node]
        uid = await sim.place_call(caller, callee, answer_after=0.02)
        await _bridged(live, uid)
        await live.gw.control.transfer(uid, target)

        def answered_by_target() -> bool:
            ch = live.gw.store.get(uid)
            peer = live.gw.store.peer(ch) if ch is not None else None
            return (ch is not None and ch.bridged and peer is not None and peer.answered
                    and target in peer.name)

        await live.until(answered_by_target)
        assert uid in sim.channel_ids()


@pytest.mark.parametrize("node", ["fs1", "ast1"])
async def test_a_pickups_agent_leg_shows_the_callers_number(node: str) -> None:
    async with live_gateway(switches=(node,)) as live:
        sim = live.switches.sims[node]
        caller = "+37060011111"
        uid = await sim.place_call(caller, "37052000000" if node == "fs1" else "ivr",
                                   bridge=False, answer_after=0.02)
        await live.until(lambda: (c := live.gw.store.get(uid)) is not None and c.answered)
        realm = ACME if node == "fs1" else ""
        agent = "203" if node == "fs1" else "402"
        result = await live.gw.control.intercept(uid, Endpoint("device", agent, realm))
        leg = result.channel_id
        await live.until(lambda: live.gw.store.get(leg) is not None)
        ch = live.gw.store.get(leg)
        assert ch is not None and ch.caller_id_number == caller
        assert ch.caller_id_number != "0000000000"


async def test_a_phone_in_a_call_the_traffic_did_not_place_gets_no_generated_call() -> None:
    sim = FreeSwitchSimulator(extensions={e: ACME for e in ("201", "202", "203", "204")})
    await sim.start()
    try:
        await sim.place_call("201", "202", answer_after=None)  # rings on, placed by no generator
        gen = TrafficGenerator(sim, ["201", "202", "203", "204"], ["201", "202", "203", "204"],
                               seed=3, lines_per_phone=1, mix={"internal": 1.0, "outbound": 0.0,
                                                               "inbound": 0.0})
        plans = [gen.plan() for _ in range(50)]
        assert all(p is not None and {p[1], p[2]} == {"203", "204"} for p in plans)
        two_lines = TrafficGenerator(sim, ["201"], ["203"], seed=3, lines_per_phone=2,
                                     mix={"internal": 1.0, "outbound": 0.0, "inbound": 0.0})
        assert two_lines.plan() == ("internal", "201", "203")  # call waiting: a second line
    finally:
        await sim.stop()
