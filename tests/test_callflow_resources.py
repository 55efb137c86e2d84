"""call-flow-control's resources beside `/call` (peers, channels, users, state reload, active
recordings, debug), end to end against the FreeSWITCH simulator."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse

from tests.callflow_util import callflow_state
from tests.harness import Live, live_gateway

CAROL, DAN, ALICE, ERIN = "token-carol", "token-dan", "token-alice", "token-erin"
RECEPTION = "37052000000"  # Acme's DID


async def get(live: Live, url: str, token: str | None = None) -> tuple[int, Any]:
    params = {"token": token} if token else {}
    resp = await live.client.get(url, params=params)
    return resp.status, await resp.json()


async def test_peers_follow_the_phones_calls():
    async with live_gateway() as live:
        status, peers = await get(live, "/peer", CAROL)
        assert status == 200
        # Acme's phones; 205 lives on ast1, which this gateway is not connected to
        assert [(p["name"], p["state"], p["registered"]) for p in peers] == [
            ("201", "idle", True), ("202", "idle", True), ("203", "idle", True),
            ("204", "idle", True), ("205", "offline", False)]
        assert peers[2] == {"name": "203", "inTransition": False, "registered": True,
                            "activeChannels": 0, "state": "idle"}

        # a caller queued on the DID (attributed to device 202) does not make 202 busy
        a = await live.fs.place_call("+37060000001", RECEPTION, bridge=False, answer_after=0.05)
        await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.parked)
        assert (await get(live, "/peer/202", CAROL))[1]["state"] == "idle"

        # 201 rings 204: both in transition; answered: both busy
        b = await live.fs.place_call("201", "204", answer_after=None)
        await live.until(lambda: len(live.gw.store.by_device(
            "d0000000000000000000000000000204")) == 1)
        status, ringing = await get(live, "/peer/204", CAROL)
        assert (status, ringing["state"], ringing["inTransition"]) == (200, "ringing", True)
        await live.fs.answer(b)
        await live.until(lambda: (ch := live.gw.store.get(b)) is not None and ch.answered)
        await live.until(lambda: _state(live, "204") == _state(live, "201") == "busy")
        peers = {p["name"]: p for p in (await get(live, "/peer", CAROL))[1]}
        assert (peers["201"]["state"], peers["201"]["activeChannels"]) == ("busy", 1)
        assert (peers["204"]["state"], peers["204"]["inTransition"]) == ("busy", False)
        status, legacy = await get(live, "/peer/list", CAROL)
        assert status == 200 and legacy["status"] == "ok"
        by_name = {next(k for k in p if k not in ("expires", "registered", "state")): p
                   for p in legacy["peers"]}
        assert by_name["203"] == {
            "expires": 0, "registered": True, "state": "idle",
            "203": {"userid": "203", "context": "default", "domain": "acme.example.com",
                    "group": "default", "contact": "user/203@acme.example.com",
                    "callgroup": "", "effective_caller_id_name": "Carol Agent",
                    "effective_caller_id_number": "203"}}
        assert by_name["205"]["205"]["contact"] == "error/user_not_registered"
        assert (await get(live, "/debug/peer/list", CAROL))[1] == \
            (await get(live, "/peer/list", CAROL))[1]

        # unknown and foreign peers are not found
        assert await get(live, "/peer/301", CAROL) == (
            404, {"status": "not found", "description": "No peer with name 301"})
        assert [p["name"] for p in (await get(live, "/peer", ERIN))[1]] == ["301"]


def _state(live: Live, name: str) -> str:
    d = callflow_state(live).directory
    device = next(x for x in d.gw.directory.devices.values() if x.sip_username == name)
    return d.state(device)


async def test_channels_are_the_organizations_legs():
    async with live_gateway() as live:
        a = await live.fs.place_call("+37060000001", RECEPTION, bridge=False, answer_after=0.05)
        await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.parked)
        beta = await live.fs.place_call("+37060000002", "37052000001", bridge=False,
                                        answer_after=0.05)
        await live.until(lambda: (ch := live.gw.store.get(beta)) is not None and ch.parked)

        status, chans = await get(live, "/channel", CAROL)
        assert status == 200
        assert [set(c) for c in chans] == [{"variables"}]
        v = chans[0]["variables"]
        assert (v["uuid"], v["direction"], v["caller_id_number"], v["destination_number"],
                v["reception_id"], v["owner"]) == (a, "inbound", "+37060000001", RECEPTION,
                                                   "3", "")
        assert v["channel_name"].startswith("sofia/external/")
        assert await get(live, f"/channel/{a}", CAROL) == (200, chans[0])
        assert (await get(live, f"/channel/{beta}", CAROL))[0] == 404
        status, debug = await get(live, "/debug/channel/list", CAROL)
        assert (status, debug) == (200, {"channels": chans, "status": "ok"})

        # after a pickup the caller's leg names its agent and its bridged phone
        resp = await live.client.post("/call/pickup", params={"token": CAROL})
        assert resp.status == 200
        await live.until(lambda: bool(live.gw.store.get(a).other_leg))
        v = (await get(live, f"/channel/{a}", CAROL))[1]["variables"]
        assert v["owner"] == "5" and v["bridge_uuid"] == live.gw.store.get(a).other_leg


async def test_users_state_recordings_and_debug():
    async with live_gateway() as live:
        status, me = await get(live, "/users", CAROL)
        assert (status, me) == (200, {"id": 5, "name": "Carol Agent", "extension": "203",
                                      "groups": ["Receptionist"],
                                      "identities": ["carol@acme.example.com"],
                                      "status": "ok"})
        # the user list is for Administrators, and holds the organization's desk users
        assert await get(live, "/users/list", CAROL) == (401, {"status": "not authorized"})
        status, users = await get(live, "/users/list", ALICE)
        assert status == 200 and users["status"] == "ok"
        assert [(u["id"], u["groups"]) for u in users["users"]] == [
            (3, ["Receptionist", "Administrator"]), (5, ["Receptionist"]),
            (6, ["Receptionist"])]
        assert await get(live, "/users/pause", DAN) == (500, {"status": "Not implemented"})

        resp = await live.client.post("/state/reload", params={"token": CAROL})
        assert (resp.status, await resp.json()) == (200, {})
        assert await get(live, "/activerecording", CAROL) == (200, [])
        assert await get(live, "/activerecording/abc-1", CAROL) == (
            404, {"status": "not found", "description": "No active recording on channel abc-1"})
        assert await get(live, "/debug/token/dummy_list", CAROL) == (
            200, {"tokens": [], "status": "ok"})
        assert (await get(live, "/debug/contact", CAROL))[0] == 404

        # every one of them wants a token, the original's public debug routes too
        for url in ("/peer", "/peer/list", "/peer/201", "/channel", "/channel/x", "/users",
                    "/users/list", "/users/pause", "/activerecording", "/debug/peer/list",
                    "/debug/channel/list", "/debug/contact", "/debug/token/dummy_list"):
            assert await get(live, url) == (401, {"status": "not authorized"}), url
            assert await get(live, url, "wrong") == (401, {"status": "not authorized"}), url
            await get(live, "/peer/list", CAROL)  # a good token resets the failed-login count
        resp = await live.client.post("/state/reload")
        assert resp.status == 401
        # wrong methods and unknown paths answer in the dialect's shape
        resp = await live.client.post("/peer", params={"token": CAROL})
        assert (resp.status, (await resp.json())["status"]) == (405, "bad parameters")
        assert (await get(live, "/debug/nothing", CAROL))[1]["status"] == "not found"


async def queued(live: Live, did: str, caller: str = "+37060000001") -> str:
    cid = await live.fs.place_call(caller, did, bridge=False, answer_after=0.05)
    await live.until(lambda: (ch := live.gw.store.get(cid)) is not None and ch.parked)
    return cid


async def events(ws: ClientWebSocketResponse, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        msg = await ws.receive_json(timeout=5)
        out.append((msg["notification"]["event"], msg["notification"]["call"]["id"]))
    return out


async def test_reload_reevaluates_only_the_callers_organization():
    async with live_gateway() as live:
        carol = await live.client.ws_connect("/notifications", params={"token": CAROL})
        erin = await live.client.ws_connect("/notifications", params={"token": ERIN})
        a = await queued(live, RECEPTION)
        beta = await queued(live, "37052000001", "+37060000002")
        assert await events(carol, 2) == [("call_offer", a), ("queue_join", a)]
        assert await events(erin, 2) == [("call_offer", beta), ("queue_join", beta)]

        # the dialect loses track of both calls: a reload is what re-derives them
        notifier = callflow_state(live).notifier
        del notifier.last[a], notifier.last[beta]
        resp = await live.client.post("/state/reload", params={"token": CAROL})
        assert (resp.status, await resp.json()) == (200, {})
        assert await events(carol, 2) == [("call_offer", a), ("queue_join", a)]
        with pytest.raises(TimeoutError):  # Acme's reload says nothing to Beta
            await erin.receive_json(timeout=0.3)
        assert beta not in notifier.last

        resp = await live.client.post("/state/reload", params={"token": ERIN})
        assert resp.status == 200
        assert await events(erin, 2) == [("call_offer", beta), ("queue_join", beta)]
        with pytest.raises(TimeoutError):
            await carol.receive_json(timeout=0.3)
        await carol.close()
        await erin.close()


async def test_active_recordings_are_those_the_gateway_started_in_the_organization():
    async with live_gateway() as live:
        a = await queued(live, RECEPTION)
        beta = await queued(live, "37052000001", "+37060000002")
        assert await get(live, "/activerecording", CAROL) == (200, [])

        before = int(time.time())
        path = (await live.gw.control.record(a)).extra["path"]  # as Kazoo's record action
        await live.gw.control.record(beta, path="/srv/rec/beta.wav")
        status, recs = await get(live, "/activerecording", CAROL)
        assert status == 200 and recs == [{"uuid": a, "path": path,
                                           "started": recs[0]["started"]}]
        assert before <= recs[0]["started"] <= time.time()
        assert await get(live, f"/activerecording/{a}", CAROL) == (200, recs[0])
        # another organization's recording is an unknown one; a named file has no start time
        assert await get(live, f"/activerecording/{beta}", CAROL) == (
            404, {"status": "not found",
                  "description": f"No active recording on channel {beta}"})
        assert await get(live, "/activerecording", ERIN) == (
            200, [{"uuid": beta, "path": "/srv/rec/beta.wav", "started": None}])
        assert (await get(live, f"/activerecording/{a}", ERIN))[0] == 404

        await live.gw.control.record(a, "stop")
        assert await get(live, "/activerecording", CAROL) == (200, [])
        assert (await get(live, f"/activerecording/{a}", CAROL))[0] == 404


async def test_the_stub_is_a_404_with_platform_5xx_off() -> None:
    """`[gateway] platform_5xx = false`: the original's always-500 stub keeps its body."""
    def edit(settings: Any) -> Any:
        return dataclasses.replace(settings, gateway=dataclasses.replace(
            settings.gateway, platform_5xx=False))

    async with live_gateway(edit=edit) as live:
        assert await get(live, "/users/pause", DAN) == (404, {"status": "Not implemented"})
