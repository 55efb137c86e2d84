"""call-flow-control on Asterisk: the AMI simulator, the real backend, list, pickup, peer state
and hangup, with the events a desk waits for."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from aiohttp import ClientWebSocketResponse

from gateway.config import Settings
from gateway.model import State
from tests.harness import live_gateway

GAMMA = "a0000000000000000000000000000005"
GUS = "token-gus"  # Gamma's Administrator (also a Receptionist), phone 401 on ast1


def gus_at_the_desk(settings: Settings) -> Settings:
    """The demo gives Gamma (whose phones are on ast1) no call-flow token: give gus one."""
    users = tuple(dataclasses.replace(u, callflow_token=GUS) if u.username == "gus" else u
                  for u in settings.users)
    return dataclasses.replace(settings, users=users)


async def next_event(ws: ClientWebSocketResponse, call_id: str, wait: float = 5.0) -> str:
    async with asyncio.timeout(wait):
        while True:
            msg: dict[str, Any] = await ws.receive_json()
            if msg["notification"]["call"]["id"] == call_id:
                return msg["notification"]["event"]


async def test_list_pickup_and_hangup_on_asterisk():
    async with live_gateway(switches=("ast1",), edit=gus_at_the_desk) as live:
        store = live.gw.store
        ws = await live.client.ws_connect(f"/notifications?token={GUS}")
        # a carrier caller waits in the parking lot, marked for Gamma's reception
        a = await live.ast.place_call("+37060000009", "700", variables={
            "callgate_account_id": GAMMA, "callgate_reception_id": "5"})
        await live.until(lambda: (ch := store.get(a)) is not None and ch.parked)
        assert [await next_event(ws, a), await next_event(ws, a)] == ["call_offer", "queue_join"]

        listed = await (await live.client.get(f"/call/list?token={GUS}")).json()
        assert listed["status"] == "ok"
        assert [(c["id"], c["state"], c["reception_id"]) for c in listed["calls"]] == \
            [(a, "queued", 5)]
        peer = await (await live.client.get(f"/peer/401?token={GUS}")).json()
        assert peer == {"name": "401", "inTransition": False, "registered": True,
                        "activeChannels": 0, "state": "idle"}

        # pickup: gus's phone rings and is bridged to the parked caller on the same switch
        resp = await live.client.post(f"/call/pickup?token={GUS}")
        body = await resp.json()
        assert resp.status == 200, body
        assert body["id"] == a and body["assigned_to"] == 8 and body["status"] == "ok"
        bridge = [x for x in live.ast.actions if x.get("Action") == "Originate"]
        assert bridge[-1]["Channel"] == "PJSIP/401"
        assert (bridge[-1]["Application"], bridge[-1]["Data"]) == ("Bridge", store.get(a).name)
        assert [await next_event(ws, a), await next_event(ws, a)] == ["queue_leave",
                                                                      "call_pickup"]
        await live.until(lambda: bool(store.get(a).other_leg))
        phone = store.get(store.get(a).other_leg)
        assert phone.name.startswith("PJSIP/401-") and phone.state == State.ANSWERED
        listed = await (await live.client.get(f"/call/list?token={GUS}")).json()
        assert next(c for c in listed["calls"] if c["id"] == a)["state"] == "speaking"
        peer = await (await live.client.get(f"/peer/401?token={GUS}")).json()
        assert (peer["state"], peer["activeChannels"]) == ("busy", 1)

        caller_name = store.get(a).name
        # hangup goes to Asterisk as a Hangup action; the desk hears call_hangup
        resp = await live.client.post(f"/call/{a}/hangup?token={GUS}")
        assert (resp.status, await resp.json()) == (
            200, {"status": "ok", "description": f"{a} hung up successfully."})
        hangups = [x for x in live.ast.actions if x.get("Action") == "Hangup"]
        assert hangups[-1]["Channel"] == caller_name
        assert await next_event(ws, a) == "call_hangup"
        await live.until(lambda: store.get(a) is None and store.get(phone.id) is None)
        listed = await (await live.client.get(f"/call/list?token={GUS}")).json()
        assert listed == {"calls": [], "status": "ok"}
        await ws.close()


async def test_peer_contacts_are_the_asterisk_backends_dial_strings():
    """402 without a `node` lives on the default switch, here Asterisk: `PJSIP/`, never the
    FreeSWITCH `user/` form."""
    def no_node_for_402(settings: Settings) -> Settings:
        devices = tuple(dataclasses.replace(d, node="") if d.sip_username == "402" else d
                        for d in settings.devices)
        return dataclasses.replace(gus_at_the_desk(settings), devices=devices)

    async with live_gateway(switches=("ast1",), edit=no_node_for_402) as live:
        body = await (await live.client.get(f"/peer/list?token={GUS}")).json()
        contacts = {k: p[k]["contact"] for p in body["peers"]
                    for k in p if k not in ("expires", "registered", "state")}
        assert contacts == {"401": "PJSIP/401", "402": "PJSIP/402"}
