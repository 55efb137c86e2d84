"""`/call/list` splices cached rows: after every change a row is made of (the channel, its
bridged peer, the dialect's assignment and transfer marks) the list must show the change,
equal to a rendering made from scratch, however often it was read before."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dialects.callflow.state import CallflowState
from gateway.context import Gateway
from gateway.model import Channel, State, Waiting
from tests.callflow_util import callflow_state
from tests.harness import dialect_client

CAROL, DAN = "token-carol", "token-dan"
CAROL_NO, DAN_NO = 5, 6


@pytest.fixture
async def api() -> AsyncIterator[tuple[Gateway, TestClient]]:
    async with dialect_client() as served:
        yield served


def caller(cid: str, **kw: Any) -> Channel:
    fields: dict[str, Any] = dict(
        id=cid, node="fs1", name=f"sofia/external/+37060000001@{cid}", direction="inbound",
        state=State.PARKED, parked=True, answered=True, created=time.time() - 50,
        caller_id_number="+37060000001", caller_id_name="Caller", destination="37052000000")
    fields.update(kw)
    return Channel(**fields)


def phone(cid: str, ext: str, **kw: Any) -> Channel:
    fields: dict[str, Any] = dict(
        id=cid, node="fs1", name=f"sofia/internal/{ext}@acme.example.com", direction="outbound",
        state=State.RINGING, created=time.time() - 10, caller_id_number=ext, destination=ext,
        username=ext, realm="acme.example.com")
    fields.update(kw)
    return Channel(**fields)


class Desk:
    """Reads the list over HTTP (twice: the second read is served from the cache) and checks
    it against a rendering from scratch."""

    def __init__(self, client: TestClient, state: CallflowState) -> None:
        self.client = client
        self.state = state

    async def calls(self, path: str = "/call/list") -> dict[str, dict[str, Any]]:
        bodies = []
        for _ in range(2):
            r = await self.client.get(path, params={"token": CAROL})
            assert r.status == 200
            bodies.append(await r.read())
        assert bodies[0] == bodies[1]
        agent = await self.state.auth.agent(CAROL)
        assert agent is not None
        view = self.state.view
        fresh = [view.call(c) for c in view.calls_of(agent)]
        if path.endswith("queue"):
            fresh = [c for c in fresh if c["state"] == "queued"]
        assert bodies[0] == json.dumps({"calls": fresh, "status": "ok"}).encode()
        return {c["id"]: c for c in json.loads(bodies[0])["calls"]}


async def test_no_row_is_served_stale(api: tuple[Gateway, TestClient]) -> None:
    gw, client = api
    st = callflow_state(client)
    calls, store = st.calls, gw.store
    desk = Desk(client, st)
    store.add(caller("c1"))
    assert (await desk.calls())["c1"]["state"] == "queued"
    assert "c1" in await desk.calls("/call/queue")

    # assignment (the dialect's own state, not the channel's)
    calls.assign("c1", CAROL_NO)
    got = (await desk.calls())["c1"]
    assert (got["state"], got["assigned_to"]) == ("parked", CAROL_NO)
    assert "c1" not in await desk.calls("/call/queue")
    calls.moving.add("c1")
    assert (await desk.calls())["c1"]["state"] == "transferring"

    # answer and bridge: the agent's phone rings, answers, and the caller is bridged to it
    store.add(phone("p1", "203", other_leg="c1"))
    assert (await desk.calls())["p1"]["state"] == "ringing"
    store.apply("fs1", "p1", {"answered": True, "state": State.ANSWERED})
    store.apply("fs1", "c1", {"other_leg": "p1", "parked": False, "state": State.ANSWERED})
    calls.note_bridge(store.get("c1"))  # type: ignore[arg-type]
    got = (await desk.calls())["c1"]
    assert (got["state"], got["b_leg"]) == ("speaking", "p1")

    # hold and unhold
    store.apply("fs1", "c1", {"held": True, "state": State.HELD})
    assert (await desk.calls())["c1"]["state"] == "parked"
    store.apply("fs1", "c1", {"held": False, "state": State.ANSWERED})
    assert (await desk.calls())["c1"]["state"] == "speaking"

    # caller id (the list shows the number; a name change re-renders and shows nothing new)
    store.apply("fs1", "c1", {"caller_id_number": "+37060000099", "caller_id_name": "Other"})
    assert (await desk.calls())["c1"]["caller_id"] == "+37060000099"

    # transfer to a new destination: new peer, new number, reported as transferred
    store.add(phone("p2", "204", answered=True, state=State.ANSWERED, other_leg="c1"))
    store.apply("fs1", "c1", {"other_leg": "p2", "destination": "37052000009"})
    got = (await desk.calls())["c1"]
    assert (got["state"], got["b_leg"], got["destination"]) == ("speaking", "p2",
                                                               "37052000009")
    calls.transferred.add("c1")  # the dialect's mark alone, no channel change with it
    assert (await desk.calls())["c1"]["state"] == "transferred"

    # ownership through the peer: the caller is unassigned, the new peer's agent holds it
    calls.assigned.pop("c1")
    assert (await desk.calls())["c1"]["assigned_to"] is None
    calls.assign("p2", DAN_NO)
    assert (await desk.calls())["c1"]["assigned_to"] == DAN_NO
    calls.assigned.pop("p2")
    assert (await desk.calls())["c1"]["assigned_to"] is None
    store.apply("fs1", "p2", {"agent_id": str(CAROL_NO)})  # only the peer's channel changes
    assert (await desk.calls())["c1"]["assigned_to"] == CAROL_NO

    # an agent's own phone leg is no call of its own once marked as one
    calls.assign("c1", CAROL_NO)
    store.add(phone("p3", "203", answered=True, state=State.ANSWERED, other_leg="c1",
                    direction="inbound"))
    assert (await desk.calls())["p3"]["is_call"] is True
    calls.agent_legs.add("p3")
    assert (await desk.calls())["p3"]["is_call"] is False

    # waiting in a queue, as the backend reports it, makes a reception call
    store.add(phone("q1", "203", answered=True, state=State.ANSWERED, direction="inbound",
                    destination="5000"))
    assert (await desk.calls())["q1"]["is_call"] is False
    store.apply("fs1", "q1", {"waiting": Waiting.QUEUE, "parked": True,
                              "state": State.PARKED})
    got = (await desk.calls())["q1"]
    assert (got["is_call"], got["state"]) == (True, "queued")

    # hangup leaves the list; a new channel under an old id is a new row
    store.apply("fs1", "q1", {"state": State.HUNGUP})
    assert "q1" not in await desk.calls()
    store.remove("q1")
    store.add(caller("q1", caller_id_number="+37060000077"))
    assert (await desk.calls())["q1"]["caller_id"] == "+37060000077"


async def test_a_peer_outside_the_organization_and_a_remote_assignment_reach_the_list(
        api: tuple[Gateway, TestClient]) -> None:
    """The list is kept whole per organization; it must still follow what it does not hold:
    the peer a call is bridged to in another account, and an assignment another instance
    made in the shared map (reported by `Calls.remote`)."""
    gw, client = api
    st = callflow_state(client)
    calls, store = st.calls, gw.store
    desk = Desk(client, st)
    store.add(caller("c1", other_leg="x1", parked=False, state=State.ANSWERED))
    store.add(phone("x1", "301", realm="beta.example.com", other_leg="c1", answered=True,
                    state=State.ANSWERED))
    c1, x1 = store.get("c1"), store.get("x1")
    assert c1 is not None and x1 is not None and c1.account_id != x1.account_id
    beta_user = next(iter(gw.directory.users_of(x1.account_id)))  # of the peer's account
    assert (await desk.calls())["c1"]["assigned_to"] is None
    store.apply("fs1", "x1", {"agent_id": str(beta_user.number)})  # only the outside peer
    assert (await desk.calls())["c1"]["assigned_to"] == beta_user.number
    store.apply("fs1", "x1", {"agent_id": ""})
    assert (await desk.calls())["c1"]["assigned_to"] is None

    inner = calls.assigned._inner  # type: ignore[attr-defined]
    inner["c1"] = CAROL_NO  # as another instance writes the shared map...
    calls.remote()  # ...and its change notice arrives
    assert (await desk.calls())["c1"]["assigned_to"] == CAROL_NO
