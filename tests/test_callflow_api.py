"""call-flow-control over HTTP against a store filled directly: reads, auth, ownership checks and
every error document that needs no switch."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import build_app
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import Channel, State

CAROL, DAN, ALICE, ERIN = "token-carol", "token-dan", "token-alice", "token-erin"
BOB = "token-bob-plain-user"  # given to bob (role `user`) only where a test says so


def caller(cid: str, did: str = "37052000000", **kw: object) -> Channel:
    """A carrier call to a reception number, parked while it waits (as the simulator does)."""
    fields: dict[str, object] = dict(
        id=cid, node="fs1", name=f"sofia/external/+37060000001@{cid}", direction="inbound",
        state=State.PARKED, parked=True, answered=True, created=time.time() - 5,
        caller_id_number="+37060000001", destination=did, application="park")
    fields.update(kw)
    return Channel(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def api() -> AsyncIterator[tuple[Gateway, TestClient]]:
    gw = Gateway.build(load_demo(), backends=False)
    client = TestClient(TestServer(build_app(gw, manage_backends=False)))
    await client.start_server()
    try:
        yield gw, client
    finally:
        await client.close()


async def test_list_is_scoped_to_the_agents_organization(api):
    gw, client = api
    gw.store.add(caller("acme-1"))
    gw.store.add(caller("beta-1", did="37052000001"))
    resp = await client.get(f"/call/list?token={CAROL}")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert [c["id"] for c in body["calls"]] == ["acme-1"]
    call = body["calls"][0]
    assert call == {
        "id": "acme-1", "state": "queued", "b_leg": None, "inbound": True, "is_call": True,
        "destination": "37052000000", "caller_id": "+37060000001", "greeting_played": False,
        "reception_id": 3, "organization_id": 3, "assigned_to": None, "channel": "acme-1",
        "arrival_time": call["arrival_time"],
    }
    assert isinstance(call["arrival_time"], str) and call["arrival_time"].isdigit()
    erin = await (await client.get(f"/call/list?token={ERIN}")).json()
    assert [c["id"] for c in erin["calls"]] == ["beta-1"]
    # every route answers a foreign call id as an unknown one
    for method, path in (("GET", "/call/acme-1"), ("GET", "/call/state?call_id=acme-1"),
                         ("POST", "/call/acme-1/pickup"), ("POST", "/call/acme-1/hangup"),
                         ("POST", "/call/park?call_id=acme-1")):
        sep = "&" if "?" in path else "?"
        r = await client.request(method, f"{path}{sep}token={ERIN}")
        assert r.status == 404, path
        assert (await r.json())["status"] == "not found"


async def test_empty_lists_are_200_with_empty_calls(api):
    _, client = api
    for path in ("/call/list", "/call/queue", "/call"):
        resp = await client.get(f"{path}?token={CAROL}")
        assert resp.status == 200
        assert await resp.json() == {"calls": [], "status": "ok"}


async def test_queue_holds_only_queued_calls(api):
    gw, client = api
    gw.store.add(caller("q-1"))
    gw.store.add(Channel(id="int-1", node="fs1", name="sofia/internal/201@acme.example.com",
                         username="201", realm="acme.example.com", destination="202",
                         state=State.ANSWERED, answered=True, other_leg="int-2"))
    listed = await (await client.get(f"/call/list?token={CAROL}")).json()
    assert {c["id"] for c in listed["calls"]} == {"q-1", "int-1"}
    queued = await (await client.get(f"/call/queue?token={CAROL}")).json()
    assert [c["id"] for c in queued["calls"]] == ["q-1"]
    internal = next(c for c in listed["calls"] if c["id"] == "int-1")
    assert internal["is_call"] is False and internal["state"] == "speaking"
    assert internal["b_leg"] == "int-2" and internal["inbound"] is True


async def test_seed_state_route(api):
    gw, client = api
    gw.store.add(Channel(id="s-1", node="fs1", name="sofia/internal/201@acme.example.com",
                         username="201", realm="acme.example.com", destination="4200",
                         state=State.ANSWERED, answered=True, other_leg="s-2"))
    resp = await client.get(f"/call/state?call_id=s-1&token={CAROL}")
    assert resp.status == 200
    body = await resp.json()
    assert body["call"]["call_id"] == "s-1"
    assert body["call"]["status"] == "answered"
    assert body["call"]["type"] == "cm_id"
    assert body["call"]["callee"] == 4200
    missing = await client.get(f"/call/state?call_id=nope-1&token={CAROL}")
    assert missing.status == 404
    assert await missing.json() == {"status": "not found", "description": "nope-1 does not exist."}


@pytest.mark.parametrize("token", ["", "wrong", "token-bob", "x" * 600])
async def test_bad_tokens_get_401_not_authorized(api, token):
    _, client = api
    for method, path in (("GET", "/call/list"), ("POST", "/call/hangup"), ("GET", "/call/x-1"),
                         ("GET", "/notifications")):
        resp = await client.request(method, f"{path}?token={token}")
        assert resp.status == 401, path
        assert await resp.json() == {"status": "not authorized"}


async def test_missing_token_is_401(api):
    _, client = api
    resp = await client.get("/call/list")
    assert resp.status == 401
    assert await resp.json() == {"status": "not authorized"}


async def test_bad_call_ids_are_bad_parameters(api):
    _, client = api
    bad = {"status": "bad parameters", "description": "Invalid or no call ID supplied"}
    cases = [("POST", "/call/hangup", None), ("POST", "/call/hangup", "a b"),
             ("POST", "/call/hangup", ""), ("GET", "/call/state", "%00zz"),
             ("POST", "/call/park", "x" * 200), ("POST", "/call/pickup", "<script>"),
             ("POST", "/call/transfer", None)]
    for method, path, cid in cases:
        form = {"token": CAROL}
        if cid is not None:
            form["call_id"] = cid
        resp = await client.request(method, path, params={"token": CAROL},
                                    data=None if method == "GET" else form)
        if method == "GET":
            resp = await client.get(path, params=form)
        assert resp.status == 400, (path, cid)
        assert await resp.json() == bad, (path, cid)


async def test_unknown_calls_get_each_routes_document(api):
    _, client = api
    q = f"token={CAROL}"
    cases = {
        f"/call/hangup?call_id=gone-1&{q}": "gone-1 may already be hung up.",
        f"/call/gone-1/hangup?{q}": "gone-1 may already be hung up.",
        f"/call/pickup?call_id=gone-1&{q}": "Call not found gone-1",
        f"/call/gone-1/pickup?{q}": "Call not found gone-1",
        f"/call/park?call_id=gone-1&{q}": "gone-1 does not exist.",
        f"/call/gone-1/park?{q}": "gone-1 does not exist.",
        f"/call/transfer?source=gone-1&destination=gone-2&{q}":
            "At least one of the calls were no longer available",
        f"/call/gone-1/transfer/gone-2?{q}": "At least one of the calls were no longer available",
    }
    for url, description in cases.items():
        resp = await client.post(url)
        assert resp.status == 404, url
        assert await resp.json() == {"status": "not found", "description": description}, url


async def test_seed_park_without_a_current_call(api):
    _, client = api
    resp = await client.post(f"/call/park?token={CAROL}")
    assert resp.status == 404
    assert await resp.json() == {"status": "not found",
                                 "description": "No call available to put on hold"}


async def test_pickup_with_nothing_queued(api):
    _, client = api
    resp = await client.post(f"/call/pickup?token={CAROL}")
    assert resp.status == 404
    assert await resp.json() == {"status": "not found", "description": "No call available."}


async def test_hangup_of_another_agents_call_is_the_seeds_403(api):
    gw, client = api
    # dan holds this call (the agent variable is how another gateway instance marks it)
    gw.store.add(caller("dan-1", variables={"callgate_agent_id": "6"}))
    resp = await client.post("/call/hangup", data={"token": CAROL, "call_id": "dan-1"})
    assert resp.status == 403
    assert await resp.json() == {"status": "forbidden", "description": "Call|dan-1 belongs to 6"}
    for url in ("/call/dan-1/hangup", "/call/dan-1/park", "/call/dan-1/pickup"):
        r = await client.post(f"{url}?token={CAROL}")
        assert r.status == 403, url
        assert (await r.json())["description"] == "Call|dan-1 belongs to 6"
    r = await client.delete(f"/call/dan-1?token={CAROL}")
    assert r.status == 403
    listed = await (await client.get(f"/call/list?token={CAROL}")).json()
    assert listed["calls"][0]["assigned_to"] == 6
    assert listed["calls"][0]["state"] == "parked"


async def test_unassigned_calls_cannot_be_hung_up_by_an_agent(api):
    gw, client = api
    gw.store.add(caller("free-1"))
    resp = await client.post(f"/call/free-1/hangup?token={CAROL}")
    assert resp.status == 403
    assert await resp.json() == {"status": "forbidden",
                                 "description": "free-1 not assigned to you."}


async def test_an_agent_variable_from_another_organization_grants_nothing(api):
    gw, client = api
    # erin is user 7 in Beta: her number on an Acme call must not make it hers
    gw.store.add(caller("acme-x", variables={"callgate_agent_id": "7"}))
    listed = await (await client.get(f"/call/list?token={CAROL}")).json()
    assert listed["calls"][0]["assigned_to"] is None
    r = await client.post(f"/call/acme-x/hangup?token={ERIN}")
    assert r.status == 404


async def test_originate_parameter_errors(api):
    _, client = api
    q = f"token={CAROL}"
    cases = [
        ({}, "Missing required context parameter."),
        ({"context": "abc"}, "Malformed context: abc"),
        ({"context": "1@"}, "Malformed context: 1@"),
        ({"context": "1@2@3"}, "Malformed context: 1@2@3"),
        ({"context": "1@2"}, "Missing extension or phone_id parameter."),
        ({"context": "1@2", "extension": "12"}, "Invalid extension: 12"),
        ({"context": "1@2", "extension": "1 2 3"}, "Invalid extension: 1 2 3"),
    ]
    for form, description in cases:
        resp = await client.post(f"/call/originate?{q}", data=form)
        assert resp.status == 400, form
        assert await resp.json() == {"status": "bad parameters", "description": description}
    resp = await client.post(f"/call/originate?{q}", data={"context": "1@2", "phone_id": "9"})
    assert resp.status == 404
    assert await resp.json() == {"status": "not found",
                                 "description": "Phone_ID 9 not associated with 1@2."}
    resp = await client.post(f"/call/originate/4200/reception/x/contact/1?{q}")
    assert resp.status == 400
    assert await resp.json() == {"status": "bad parameters",
                                 "description": "Malformed context: 1@x"}


async def test_seed_transfer_errors(api):
    gw, client = api
    gw.store.add(caller("held-1"))
    resp = await client.get(f"/call/transfer?source=held-1&token={CAROL}")
    assert resp.status == 400
    assert await resp.json() == {"status": "bridge failed", "description": "Bad destination"}
    resp = await client.get(f"/call/transfer?token={CAROL}")
    assert resp.status == 400
    assert (await resp.json())["status"] == "bad parameters"


async def test_unknown_paths_and_methods_stay_in_the_platforms_shape(api):
    _, client = api
    r = await client.get(f"/call/a/b/c?token={CAROL}")
    assert r.status == 404
    assert await r.json() == {"status": "not found", "description": "No such resource."}
    r = await client.put(f"/call/list?token={CAROL}")
    assert r.status == 405
    assert (await r.json())["status"] == "bad parameters"
    r = await client.post(f"/call/list?token={CAROL}")
    assert r.status == 405
    r = await client.post(f"/call/x-1?token={CAROL}")
    assert r.status == 400
    assert (await r.json())["status"] == "bad parameters"


async def test_oversized_body_is_refused(api):
    gw, client = api
    big = "call_id=" + "a" * (gw.settings.gateway.max_body + 10)
    r = await client.post(f"/call/hangup?token={CAROL}", data=big,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 413
    assert (await r.json())["status"] == "bad parameters"


async def test_cors_echoes_the_origin(api):
    _, client = api
    r = await client.get(f"/call/list?token={CAROL}", headers={"Origin": "https://app.test"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.test"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    r = await client.options("/call/list", headers={"Origin": "https://app.test"})
    assert r.status == 200
    assert r.headers["Access-Control-Allow-Methods"] == "GET, POST"


async def test_admin_may_list_but_a_plain_user_may_not():
    """Role `user` maps to no call-flow group: holding a valid token is not enough."""
    demo = load_demo()
    users = tuple(dataclasses.replace(u, callflow_token=BOB) if u.username == "bob" else u
                  for u in demo.users)
    gw = Gateway.build(dataclasses.replace(demo, users=users), backends=False)
    assert gw.directory.user("b0000000000000000000000000000004").role == "user"
    client = TestClient(TestServer(build_app(gw, manage_backends=False)))
    await client.start_server()
    try:
        gw.store.add(caller("c-1"))
        r = await client.get(f"/call/list?token={ALICE}")
        assert r.status == 200
        assert [c["id"] for c in (await r.json())["calls"]] == ["c-1"]
        for url in ("/call/list", "/call/queue", "/call/c-1", "/peer", "/channel"):
            r = await client.get(f"{url}?token={BOB}")
            assert (r.status, await r.json()) == (401, {"status": "not authorized"}), url
        r = await client.post(f"/call/c-1/hangup?token={BOB}")
        assert (r.status, await r.json()) == (401, {"status": "not authorized"})
        assert gw.store.get("c-1") is not None
    finally:
        await client.close()
