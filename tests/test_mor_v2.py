"""MOR X18 REST drop-calls: Basic login to a JWT, DELETE by `active_calls_get` id, end to end
against the FreeSWITCH simulator, and tenancy for tokens."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient, TestServer
from lxml import etree

from gateway.app import build_app
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import Channel
from tests.harness import Live, live_gateway

ACME = "acme.example.com"


def admin_query() -> dict[str, str]:
    return {"u": "admin", "hash": hashlib.sha1(b"admin456789").hexdigest()}


async def token(client: TestClient, user: str) -> str:
    resp = await client.post("/billing/api/v2/authentication/login",
                             headers={"Authorization": encode_basic_auth(user, f"demo-{user}")})
    assert resp.status == 200
    body = await resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    return body["token"]


async def calls(client: TestClient) -> dict[str, str]:
    """uniqueid -> MOR id, as the admin sees them."""
    resp = await client.post("/billing/api/active_calls_get", params=admin_query())
    doc = etree.fromstring(await resp.read())
    return {c.findtext("uniqueid"): c.findtext("id") for c in doc.findall("active_call")}


@pytest.fixture
async def offline() -> AsyncIterator[tuple[Gateway, TestClient]]:
    """The demo directory with a store filled by hand and no switch behind it."""
    gw = Gateway.build(load_demo(), backends=False)
    now = time.time()
    gw.store.add(Channel(id="acme-call", node="fs1", name=f"sofia/internal/201@{ACME}",
                         username="201", realm=ACME, call_id="acme-call", created=now))
    gw.store.add(Channel(id="beta-call", node="fs1", name="sofia/internal/301@beta.example.com",
                         username="301", realm="beta.example.com", call_id="beta-call",
                         created=now))
    client = TestClient(TestServer(build_app(gw, manage_backends=False)))
    await client.start_server()
    try:
        yield gw, client
    finally:
        await client.close()


async def test_login_issues_a_15_minute_hs256_jwt(offline: tuple[Gateway, TestClient]) -> None:
    gw, client = offline
    claims = jwt.decode(await token(client, "alice"), gw.settings.gateway.token_secret,
                        algorithms=["HS256"], issuer="Flash Calls API")
    assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == 900
    assert claims["assigned_devices"] == "201"


@pytest.mark.parametrize("auth", [("alice", "wrong"), ("nobody", "x"), ("alice", ""), None])
async def test_login_refused(offline: tuple[Gateway, TestClient],
                             auth: tuple[str, str] | None) -> None:
    _, client = offline
    headers = {"Authorization": encode_basic_auth(*auth)} if auth else {}
    resp = await client.post("/billing/api/v2/authentication/login", headers=headers)
    assert resp.status == 401
    assert (await resp.json())["status"] == "error"
    resp = await client.post("/billing/api/v2/authentication/login",
                             headers={"Authorization": "Basic %%%"})
    assert resp.status == 401


@pytest.mark.parametrize("header", [
    "", "Bearer", "Bearer not.a.jwt", "Basic YWxpY2U6ZGVtby1hbGljZQ==",
    "Bearer " + jwt.encode({"sub": "admin", "uid": "b0000000000000000000000000000001",
                            "iss": "Flash Calls API", "iat": 1, "exp": 2}, "x" * 32),
])
async def test_bad_tokens(offline: tuple[Gateway, TestClient], header: str) -> None:
    _, client = offline
    ids = await calls(client)
    resp = await client.delete(f"/billing/api/v2/active_calls/{ids['acme-call']}",
                               headers={"Authorization": header} if header else {})
    assert resp.status == 401
    assert "error" in await resp.json()


async def test_expired_and_forged_tokens(offline: tuple[Gateway, TestClient]) -> None:
    gw, client = offline
    secret = gw.settings.gateway.token_secret
    base = {"sub": "admin", "uid": "b0000000000000000000000000000001",
            "iss": "Flash Calls API", "iat": int(time.time()) - 1000}
    for claims in ({**base, "exp": int(time.time()) - 10},  # expired
                   {**base, "exp": int(time.time()) + 60, "sub": "alice"}):  # sub/uid mismatch
        bearer = jwt.encode(claims, secret, algorithm="HS256")
        resp = await client.delete("/billing/api/v2/active_calls",
                                   headers={"Authorization": f"Bearer {bearer}"})
        assert resp.status == 401


async def test_other_tenants_call_is_not_found(offline: tuple[Gateway, TestClient]) -> None:
    _, client = offline
    ids = await calls(client)
    erin = {"Authorization": f"Bearer {await token(client, 'erin')}"}
    for path in (ids["acme-call"], "999999", "abc", "-1", "1.5"):
        resp = await client.delete(f"/billing/api/v2/active_calls/{path}", headers=erin)
        assert resp.status == 404
        assert (await resp.json())["error"] == "Active call was not found"


async def test_switch_down_is_503(offline: tuple[Gateway, TestClient]) -> None:
    _, client = offline
    ids = await calls(client)
    alice = {"Authorization": f"Bearer {await token(client, 'alice')}"}
    resp = await client.delete(f"/billing/api/v2/active_calls/{ids['acme-call']}",
                               headers=alice)
    assert resp.status == 503
    assert "error" in await resp.json()


async def test_unknown_v2_path_is_json(offline: tuple[Gateway, TestClient]) -> None:
    _, client = offline
    resp = await client.get("/billing/api/v2/nothing/here")
    assert resp.status == 404 and "error" in await resp.json()
    resp = await client.get("/billing/api/v2/authentication/login")  # wrong verb
    assert resp.status in (404, 405) and "error" in await resp.json()


# ---------------------------------------------------------------------------- end to end


async def _bridged(live: Live, caller: str, callee: str) -> str:
    a = await live.fs.place_call(caller, callee, answer_after=0.05)
    await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.answered
                     and len(list(live.gw.store.by_call(ch.call_id or a))) >= 2)
    return a


async def test_drop_call_reaches_the_switch() -> None:
    async with live_gateway() as live:
        a = await _bridged(live, "201", "202")
        ids = await calls(live.client)
        assert a in ids
        bearer = {"Authorization": f"Bearer {await token(live.client, 'alice')}"}
        resp = await live.client.delete(f"/billing/api/v2/active_calls/{ids[a]}",
                                        headers=bearer)
        assert resp.status == 200
        body = await resp.json()
        assert body["status"] == "hung_up" and body["hung_up_call"] == int(ids[a])
        assert any(f"uuid_kill {a}" in c for c in live.fs.commands)
        await live.until(lambda: live.gw.store.get(a) is None)
        assert a not in await calls(live.client)


async def test_drop_all_is_scoped() -> None:
    async with live_gateway() as live:
        acme = await _bridged(live, "201", "203")
        beta = await _bridged(live, "301", "201")  # Beta's erin calling Acme
        lone = await _bridged(live, "204", "202")
        bearer = {"Authorization": f"Bearer {await token(live.client, 'dan')}"}
        resp = await live.client.delete("/billing/api/v2/active_calls", headers=bearer)
        assert resp.status == 200
        assert (await resp.json())["hung_up_calls"] == 1  # only the call of dan's 204
        assert any(f"uuid_kill {lone}" in c for c in live.fs.commands)
        assert not any(acme in c or beta in c for c in live.fs.commands if "uuid_kill" in c)
        await live.until(lambda: live.gw.store.get(lone) is None)
        assert set(await calls(live.client)) >= {acme, beta}


async def test_live_outbound_call_renders_provider_and_geography() -> None:
    async with live_gateway() as live:
        a = await _bridged(live, "201", "37061234567")
        resp = await live.client.post("/billing/api/active_calls_get",
                                      params={**admin_query(), "s_provider": "3"})
        doc = etree.fromstring(await resp.read())
        [call] = doc.findall("active_call")
        got = {c.tag: c.text for c in call}
        assert got["uniqueid"] == a and got["status"] == "Answered"
        assert (got["user"], got["src_device_id"], got["provider_name"]) == \
            ("Alice Smith", "201", "Carrier One")
        assert (got["direction_code"], got["destination_name"]) == ("LTU", "Lithuania mobile")
        assert got["channel"] == live.gw.store.get(a).name
