"""A client's mistake is a 4xx in the platform's own shape, never a 500, and nothing reaches the
switch: a command on a leg that has no other leg, a transfer to a call that has not answered,
an originate for a reception that does not exist, a call bridged to itself."""

from __future__ import annotations

import pytest

from gateway.control import InvalidArgument
from tests.demo_ids import ACME
from tests.harness import Live, live_gateway
from tests.test_callflow_live import post, queued_caller
from tests.test_kazoo_live import act, login

CAROL, DAN = "token-carol", "token-dan"


def sent(live: Live, since: int) -> list[str]:
    return live.fs.commands[since:]


# ------------------------------------------------------------------------------ Kazoo

async def test_kazoo_metaflow_on_the_b_leg_of_a_leg_without_one() -> None:
    """A caller parked in a queue has no B-leg: `leg: bleg` (or `both`) and `play` on the peer
    are Kazoo's 400 validation error naming `leg`, not a 500 "command failed"."""
    async with live_gateway() as live:
        alice = await login(live.client, "alice", "Acme")
        lone = await queued_caller(live)
        n = len(live.fs.commands)
        for leg in ("bleg", "both"):
            body = ('{"action":"metaflow","data":{"module":"transfer","data":{"target":"2600",'
                    f'"leg":"{leg}"}}}}}}')
            status, doc = await act(live, alice, lone, body, method="PUT")
            assert status == 400, doc
            assert doc["error"] == "400" and doc["message"] == "validation error"
            assert doc["data"] == {"leg": {"invalid": {"message": "Channel has no other leg",
                                                       "target": leg}}}
        status, doc = await act(live, alice, lone, '{"action":"metaflow","data":{"module":'
                                '"play","data":{"id":"tone_stream://%(200,0,500)","leg":"peer"}}}',
                                method="PUT")
        assert status == 400 and doc["data"]["leg"]["invalid"]["target"] == "peer", doc
        assert sent(live, n) == []
        # the leg itself is still a fine target
        status, doc = await act(live, alice, lone, '{"action":"metaflow","data":{"module":'
                                '"transfer","data":{"target":"2600"}}}', method="PUT")
        assert (status, doc["data"]) == (201, "metaflow sent"), doc


async def test_kazoo_metaflow_bleg_on_a_bridged_leg_still_runs() -> None:
    async with live_gateway() as live:
        alice = await login(live.client, "alice", "Acme")
        a, _ = await live.answered_call("201", "202")
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, '{"action":"metaflow","data":{"module":'
                                '"transfer","data":{"target":"2600","leg":"bleg"}}}',
                                method="PUT")
        assert (status, doc["data"]) == (201, "metaflow sent"), doc
        assert sent(live, n) == [f"api uuid_transfer {a} -bleg 2600 XML default"]


async def test_kazoo_commands_a_ringing_leg_cannot_take() -> None:
    """Hold, resume and an attended transfer need an answered call; a recording stop needs a
    recording: Kazoo's 400 validation error, not a 500."""
    async with live_gateway() as live:
        alice = await login(live.client, "alice", "Acme")
        live.fs.model.no_answer.add("202")
        a = await live.fs.place_call("201", "202")
        def ringing() -> str:
            return next((ch.id for ch in live.gw.store.all() if ch.other_leg == a), "")

        await live.until(lambda: bool(ringing()))
        b = ringing()
        leg = live.gw.store.get(b)
        assert leg is not None and not leg.answered
        n = len(live.fs.commands)
        for flow in ('{"module":"hold"}', '{"module":"resume"}',
                     '{"module":"hold_control","data":{"action":"hold"}}',
                     '{"module":"transfer","data":{"target":"2600","transfer_type":"attended"}}'):
            status, doc = await act(live, alice, b, f'{{"action":"metaflow","data":{flow}}}',
                                    method="PUT")
            assert status == 400, (flow, doc)
            assert doc["data"] == {"action": {"invalid": {
                "message": "channel is not answered"}}}, doc
        assert sent(live, n) == []
        c, _ = await live.answered_call("203", "204")
        status, doc = await act(live, alice, c, '{"action":"metaflow","data":{"module":'
                                '"record_call","data":{"action":"stop"}}}', method="PUT")
        assert status == 400, doc
        assert doc["data"] == {"action": {"invalid": {
            "message": "Nothing is recording the channel", "target": "stop"}}}


# ------------------------------------------------------------------------------ call-flow

async def test_callflow_transfer_before_the_destination_answers() -> None:
    """The agent's outbound call still rings: the seed's 400 `bridge failed` says so, rather
    than claiming the destination hung up; once it answers the same request works."""
    async with live_gateway() as live:
        store = live.gw.store
        a = await queued_caller(live)
        status, body = await post(live, f"/call/{a}/pickup", DAN)
        assert status == 200, body
        await live.until(lambda: bool((ch := store.get(a)) and ch.other_leg))
        live.fs.model.no_answer.add("202")
        status, body = await post(live, "/call/originate/202/reception/3/contact/1", DAN)
        assert status == 200, body
        leg = body["call"]["id"]
        def far_rings() -> str:
            return next((ch.id for ch in store.all() if ch.other_leg == leg), "")

        await live.until(lambda: bool(far_rings()))
        far = far_rings()
        n = len(live.fs.commands)
        resp = await live.client.get(f"/call/transfer?source={a}&token={DAN}")
        assert resp.status == 400
        assert await resp.json() == {"status": "bridge failed",
                                     "description": "Destination has not answered yet"}
        status, body = await post(live, "/call/transfer", DAN, source=a, destination=far)
        assert (status, body) == (400, {"status": "bridge failed",
                                        "description": "Destination has not answered yet"})
        assert sent(live, n) == []


async def test_callflow_transfer_of_a_call_to_itself() -> None:
    async with live_gateway() as live:
        a = await queued_caller(live)
        status, body = await post(live, f"/call/{a}/pickup", DAN)
        assert status == 200, body
        status, body = await post(live, "/call/transfer", DAN, source=a, destination=a)
        assert status == 400 and body["status"] == "bad parameters", body


@pytest.mark.parametrize("context", ["1@999", "1@4", "1@0"])
async def test_callflow_originate_for_a_reception_not_the_agents(context: str) -> None:
    """999 does not exist, 4 is another organization's: the same 404, and no call."""
    async with live_gateway() as live:
        n = len(live.fs.commands)
        status, body = await post(live, "/call/originate", CAROL, context=context,
                                  extension="202")
        reception = context.split("@")[1]
        assert (status, body) == (404, {"status": "not found",
                                        "description": f"Reception {reception} not found."})
        status, body = await post(live, f"/call/originate/202/reception/{reception}/contact/1",
                                  CAROL)
        assert status == 404 and body["status"] == "not found", body
        assert sent(live, n) == []
        assert live.gw.store.by_account(ACME) is not None
        assert not any(ch.var("callgate_agent_id") for ch in live.gw.store.all())


# ------------------------------------------------------------------------------ control

async def test_control_refuses_what_no_switch_should_be_asked() -> None:
    async with live_gateway() as live:
        control = live.gw.control
        lone = await queued_caller(live)
        a, _ = await live.answered_call("201", "202")
        n = len(live.fs.commands)
        with pytest.raises(InvalidArgument, match="no other leg"):
            await control.transfer(lone, "2600", leg="bleg")
        with pytest.raises(InvalidArgument, match="no other leg"):
            await control.play(lone, "tone_stream://%(200,0,500)", leg="bleg")
        with pytest.raises(InvalidArgument, match="no transfer destination"):
            await control.transfer(a, "")
        with pytest.raises(InvalidArgument, match="itself"):
            await control.bridge(a, a)
        assert sent(live, n) == []
