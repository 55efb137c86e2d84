"""call-flow-control end to end: the FreeSWITCH simulator, the real backend, the store and the
dialect over HTTP and a real websocket client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse

from gateway.model import State
from tests.callflow_util import callflow_state
from tests.harness import Live, live_gateway

CAROL, DAN, ALICE, ERIN = "token-carol", "token-dan", "token-alice", "token-erin"
RECEPTION = "37052000000"  # Acme's DID


async def events_for(ws: ClientWebSocketResponse, call_id: str, until: str,
                     wait: float = 5.0) -> list[str]:
    """Event names about `call_id`, read until `until` arrives."""
    names: list[str] = []
    async with asyncio.timeout(wait):
        while True:
            msg: dict[str, Any] = await ws.receive_json()
            assert set(msg) == {"timestamp", "notification"}
            note = msg["notification"]
            if note["call"]["id"] != call_id:
                continue
            names.append(note["event"])
            if note["event"] == until:
                return names


async def queued_caller(live: Live) -> str:
    a = await live.fs.place_call("+37060000001", RECEPTION, bridge=False, answer_after=0.05)
    await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.parked)
    return a


async def post(live: Live, url: str, token: str, **form: str) -> tuple[int, dict[str, Any]]:
    resp = await live.client.post(url, params={"token": token}, data=form or None)
    return resp.status, await resp.json()


async def test_inbound_call_lifecycle_events():
    async with live_gateway() as live:
        store = live.gw.store
        ws = await live.client.ws_connect(f"/notifications?token={CAROL}")
        erin = await live.client.ws_connect(f"/notifications?token={ERIN}")
        a = await queued_caller(live)
        assert await events_for(ws, a, "queue_join") == ["call_offer", "queue_join"]
        queue = await (await live.client.get(f"/call/queue?token={CAROL}")).json()
        assert [c["id"] for c in queue["calls"]] == [a]

        # pickup: the caller is transferred to carol's extension 203 and bridged there
        status, body = await post(live, "/call/pickup", CAROL)
        assert status == 200, body
        assert body["status"] == "ok" and body["id"] == a and body["assigned_to"] == 5
        assert any("user/203@acme.example.com" in c and f"intercept({a})" in c
                   for c in live.fs.commands)
        assert await events_for(ws, a, "call_pickup") == ["queue_leave", "call_pickup"]
        await live.until(lambda: bool(store.get(a).other_leg))

        # dan may not hang up carol's call: the seed's document
        status, body = await post(live, "/call/hangup", DAN, call_id=a)
        assert (status, body) == (403, {"status": "forbidden",
                                        "description": f"Call|{a} belongs to 5"})
        assert not any(c.startswith(f"api uuid_kill {a}") for c in live.fs.commands)

        # park (the seed's form: the current call), then unpark by picking it up again
        status, body = await post(live, "/call/park", CAROL)
        assert (status, body) == (200, {"status": "on hold",
                                        "description": f"{a} was put on hold"})
        assert await events_for(ws, a, "call_park") == ["call_park"]
        status, body = await post(live, f"/call/{a}/pickup", CAROL)
        assert status == 200, body
        assert await events_for(ws, a, "call_pickup") == ["call_unpark", "call_pickup"]
        await live.until(lambda: bool(store.get(a).other_leg))

        # originate to bob's 202 from carol's phone: the caller is parked implicitly
        status, body = await post(live, "/call/originate", CAROL, context="1@3",
                                  extension="202")
        assert status == 200, body
        leg = body["call"]["id"]
        assert body["status"] == "ok"
        assert await events_for(ws, a, "call_park") == ["call_park"]
        await live.until(lambda: (ch := store.get(leg)) is not None and bool(ch.other_leg)
                         and store.get(ch.other_leg) is not None
                         and store.get(ch.other_leg).state == State.ANSWERED)
        far = store.get(leg).other_leg

        # transfer (June 2014 form): the far party meets the parked caller
        status, body = await post(live, "/call/transfer", CAROL, source=far, destination=a)
        assert (status, body) == (200, {"status": "ok"})
        assert f"api uuid_bridge {far} {a}" in live.fs.commands
        assert await events_for(ws, a, "call_transfer") == ["call_unpark", "call_transfer"]
        await live.until(lambda: store.get(leg) is None)  # carol's phone is freed

        # an Administrator of the organization may hang up any of its calls
        status, body = await post(live, f"/call/{a}/hangup", ALICE)
        assert (status, body) == (200, {"status": "ok",
                                        "description": f"{a} hung up successfully."})
        assert await events_for(ws, a, "call_hangup") == ["call_hangup"]
        await live.until(lambda: store.get(a) is None)

        # erin (Beta) heard nothing of Acme's call
        with pytest.raises(TimeoutError):
            await erin.receive_json(timeout=0.2)
        await ws.close()
        await erin.close()


async def test_other_organizations_see_nothing():
    async with live_gateway() as live:
        erin = await live.client.ws_connect(f"/notifications?token={ERIN}")
        a = await queued_caller(live)
        listed = await (await live.client.get(f"/call/list?token={ERIN}")).json()
        assert listed == {"calls": [], "status": "ok"}
        status, body = await post(live, f"/call/{a}/pickup", ERIN)
        assert (status, body) == (404, {"status": "not found",
                                        "description": f"Call not found {a}"})
        status, _ = await post(live, "/call/pickup", ERIN)
        assert status == 404
        status, body = await post(live, "/call/hangup", ERIN, call_id=a)
        assert (status, body) == (404, {"status": "not found",
                                        "description": f"{a} may already be hung up."})
        assert not any(a in c for c in live.fs.commands)
        # Beta's own caller reaches erin's socket; Acme's never did
        b = await live.fs.place_call("+37060000002", "37052000001", bridge=False,
                                     answer_after=0.05)
        msg = await erin.receive_json(timeout=3)
        assert msg["notification"]["call"]["id"] == b
        assert msg["notification"]["event"] == "call_offer"
        assert msg["notification"]["call"]["organization_id"] == 4
        await erin.close()


async def test_seed_transfer_bridges_the_current_outbound_call():
    async with live_gateway() as live:
        store = live.gw.store
        a = await queued_caller(live)
        status, body = await post(live, f"/call/{a}/pickup", DAN)
        assert status == 200, body
        await live.until(lambda: bool(store.get(a).other_leg))
        # the current call is the inbound caller: the seed refuses
        resp = await live.client.get(f"/call/transfer?source={a}&token={DAN}")
        assert resp.status == 400
        assert await resp.json() == {"status": "bridge failed",
                                     "description": "Cannot transfer to an inbound call."}
        status, body = await post(live, "/call/originate/202/reception/3/contact/1", DAN)
        assert status == 200, body
        leg = body["call"]["id"]
        await live.until(lambda: (ch := store.get(leg)) is not None and bool(ch.other_leg)
                         and store.get(ch.other_leg) is not None
                         and store.get(ch.other_leg).state == State.ANSWERED)
        far = store.get(leg).other_leg
        assert store.get(a).parked  # implicit park before the originate
        resp = await live.client.get(f"/call/transfer?source={a}&token={DAN}")
        body = await resp.json()
        assert resp.status == 200, body
        assert body["status"] == "success"
        assert body["source_call"]["call_id"] == a
        assert body["source_call"]["status"] == "bridged"
        assert body["source_call"]["type"] == "cm_id"
        assert body["destination_call"]["call_id"] == far
        assert body["destination_call"]["callee"] == 202
        await live.until(lambda: store.get(a).other_leg == far and store.get(leg) is None)
        # the source hangs up: a second transfer has no current call any more
        resp = await live.client.get(f"/call/transfer?source={a}&token={DAN}")
        assert resp.status == 400
        assert (await resp.json())["description"] == "Bad destination"


async def test_a_call_that_hangs_up_mid_command_is_not_found():
    async with live_gateway() as live:
        a = await queued_caller(live)
        await live.fs.hangup(a)
        status, body = await post(live, f"/call/{a}/pickup", CAROL)
        assert status == 404, body
        assert body["status"] == "not found"
        status, body = await post(live, "/call/hangup", ALICE, call_id=a)
        assert status == 404 and body["description"] == f"{a} may already be hung up."


async def test_originate_failure_is_reported_natively():
    async with live_gateway() as live:
        live.fs.model.busy.add("301")  # erin's phone is busy
        status, body = await post(live, "/call/originate", ERIN, context="1@4", extension="202")
        assert (status, body) == (500, {"status": "unhandled exception",
                                        "description": "Originate failed: USER_BUSY"})
        calls = callflow_state(live).calls
        assert calls.assigned == {} and calls.current == {}
