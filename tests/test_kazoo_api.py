"""Kazoo dialect without switches: auth, envelope, error table, check order, lists, details,
tenancy matrix and action validation over a store filled directly with channels."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from dialects.kazoo.state import STATE, KazooState
from gateway.app import SERVER_LIMITS, build_app
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import Channel, State
from tests.demo_ids import (
    ACME,
    ALICE,
    BETA,
    BOB,
    DEV201,
    DEV202,
    DEV301,
    ERIN,
    GAMMA,
    RESELLER,
    ROOT,
)

SECRET = "demo-token-secret-change-me-0123456789"
#: Keys cb_channels strips from every channel object.
INTERNAL = {"account_id", "bridge_id", "context", "dialplan", "handling_locally", "node",
            "precedence", "profile", "realm", "app_name", "app_version", "event_category",
            "event_name", "msg_id", "server_id", "switch_hostname", "switch_nodename",
            "switch_url", "media_node", "fetch_id"}
JSON = {"Content-Type": "application/json"}
DOC_TS = 1406758546  # the docs' example timestamp 63573977746 in unix seconds


def kazoo_only(settings: Settings, **options: object) -> Settings:
    """The demo directory with only this dialect mounted (and its options overridden)."""
    kazoo = settings.dialects["kazoo"]
    if options:
        kazoo = dataclasses.replace(kazoo, options=dataclasses.replace(kazoo.options, **options))
    return dataclasses.replace(settings, dialects={"kazoo": kazoo})


def kazoo_state(client: TestClient) -> KazooState:
    """The dialect's state, as its `/v2` application holds it."""
    for resource in client.app.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is not None and STATE in sub:
            return sub[STATE]
    raise LookupError("no Kazoo application mounted")


def md5(user: str, password: str) -> str:
    return hashlib.md5(f"{user.lower()}:{password}".encode()).hexdigest()


def channels() -> list[Channel]:
    now = time.time()
    return [
        Channel(id="acme-a", node="fs1", name="sofia/internal/201@acme.example.com",
                username="201", realm="acme.example.com", direction="inbound",
                state=State.ANSWERED, answered=True, created=DOC_TS, destination="202",
                caller_id_number="201", caller_id_name="Alice", callee_number="202",
                callee_name="Bob", other_leg="acme-b", call_id="call-1",
                presence_id="201@acme.example.com", context="default", dialplan="XML",
                hostname="sim-fs1"),
        Channel(id="acme-b", node="fs1", name="sofia/internal/202@acme.example.com",
                username="202", realm="acme.example.com", direction="outbound",
                state=State.ANSWERED, answered=True, created=now - 10, destination="202",
                other_leg="acme-a", call_id="call-1", presence_id="202@acme.example.com"),
        Channel(id="acme-ring", node="fs1", name="sofia/internal/203@acme.example.com",
                username="203", realm="acme.example.com", direction="inbound",
                created=now - 3, destination="204", call_id="call-2"),
        Channel(id="beta-a", node="fs1", name="sofia/internal/301@beta.example.com",
                username="301", realm="beta.example.com", direction="inbound",
                created=now - 5, destination="37052000001", call_id="call-3", held=True,
                state=State.HELD, answered=True),
        Channel(id="gamma-a", node="ast1", name="PJSIP/401-00000001", username="401",
                realm="gamma.example.com", created=now - 7, destination="402",
                call_id="call-4"),
        Channel(id="stray", node="fs1", name="sofia/external/999@nowhere.example.net",
                username="999", realm="nowhere.example.net", created=now - 1,
                destination="555", call_id="call-5"),
    ]


async def start(settings: Settings) -> tuple[Gateway, TestClient]:
    gw = Gateway.build(settings, backends=False)
    for ch in channels():
        gw.store.add(ch)
    server = TestServer(build_app(gw, manage_backends=False))
    # TestServer(**kwargs) would drop them: the runner takes them from start_server
    await server.start_server(max_line_size=SERVER_LIMITS["max_line_size"])
    client = TestClient(server)
    await client.start_server()
    return gw, client


@pytest.fixture
async def api() -> AsyncIterator[tuple[Gateway, TestClient]]:
    gw, client = await start(kazoo_only(load_demo()))
    yield gw, client
    await client.close()


@pytest.fixture
async def client(api: tuple[Gateway, TestClient]) -> TestClient:
    return api[1]


async def login(client: TestClient, user: str, account_name: str) -> str:
    body = {"data": {"credentials": md5(user, f"demo-{user}"), "account_name": account_name}}
    resp = await client.put("/v2/user_auth", json=body)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["auth_token"]


@pytest.fixture
async def tokens(client: TestClient) -> dict[str, str]:
    return {
        "admin": await login(client, "admin", "Root Telco"),
        "reseller": await login(client, "reseller", "Reseller One"),
        "alice": await login(client, "alice", "Acme"),
        "bob": await login(client, "bob", "Acme"),
        "erin": await login(client, "erin", "Beta"),
    }


def auth(token: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Auth-Token": token}


async def error(resp, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert body["status"] == "error"
    assert body["error"] == str(status)
    assert resp.headers["X-Request-ID"] == body["request_id"]
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    for key in ("node", "version", "timestamp", "request_id", "auth_token"):
        assert key in body
    return body


# ------------------------------------------------------------------------------ auth
async def test_user_auth_md5_answers_201_with_account_data(client: TestClient) -> None:
    body = {"data": {"credentials": md5("Alice", "demo-alice"), "account_name": "Acme",
                     "method": "md5"}}
    resp = await client.put("/v2/user_auth", json=body)
    assert resp.status == 201
    doc = await resp.json()
    assert doc["status"] == "success"
    data = doc["data"]
    assert data["account_id"] == ACME and data["owner_id"] == ALICE
    assert data["account_name"] == "Acme" and data["apps"] == []
    assert data["is_reseller"] is False and data["reseller_id"] == RESELLER
    assert data["language"] == "en-us"
    claims = jwt.decode(doc["auth_token"], SECRET, algorithms=["HS256"], issuer="kazoo")
    assert claims["account_id"] == ACME and claims["owner_id"] == ALICE
    assert claims["method"] == "cb_user_auth"
    assert 3590 <= claims["exp"] - time.time() <= 3600


@pytest.mark.parametrize("selector", [{"account_realm": "acme.example.com"},
                                      {"realm": "ACME.example.com"},
                                      {"phone_number": "37052000000"}])
async def test_user_auth_sha_by_realm_or_phone(client: TestClient, selector: dict) -> None:
    cred = hashlib.sha1(b"bob:demo-bob").hexdigest()
    resp = await client.put("/v2/user_auth",
                            json={"data": {"credentials": cred, "method": "sha", **selector}})
    assert resp.status == 201
    assert (await resp.json())["data"]["owner_id"] == BOB


async def test_reseller_login_reports_reseller(client: TestClient) -> None:
    body = {"data": {"credentials": md5("reseller", "demo-reseller"),
                     "account_name": "Reseller One"}}
    data = (await (await client.put("/v2/user_auth", json=body)).json())["data"]
    assert data["is_reseller"] is True and data["account_id"] == RESELLER


@pytest.mark.parametrize("body", [
    {"data": {"credentials": md5("alice", "wrong"), "account_name": "Acme"}},
    {"data": {"credentials": md5("alice", "demo-alice"), "account_name": "Beta"}},
    {"data": {"credentials": md5("alice", "demo-alice"), "account_name": "No Such"}},
    {"data": {"credentials": md5("alice", "demo-alice"), "account_name": "Acme",
              "method": "sha"}},
])
async def test_user_auth_bad_credentials_401(client: TestClient, body: dict) -> None:
    doc = await error(await client.put("/v2/user_auth", json=body), 401)
    assert doc["message"] == "invalid_credentials"
    assert doc["data"] == {"message": "invalid credentials"}
    assert doc["auth_token"] == "undefined"


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({"data": {"account_name": "Acme"}}, "credentials", "required"),
    ({"data": {"credentials": 5, "account_name": "Acme"}}, "credentials", "type"),
    ({"data": {"credentials": "x" * 65, "account_name": "Acme"}}, "credentials", "maxLength"),
    ({"data": {"credentials": "abc", "account_name": "Acme", "method": "sha256"}}, "method",
     "enum"),
    ({"data": {"credentials": "abc"}}, "account_name", "required"),
    ({"data": "nope"}, "data", "type"),
    ({}, "data", "required"),
])
async def test_user_auth_schema_errors_400(client: TestClient, body: dict, field: str,
                                           rule: str) -> None:
    doc = await error(await client.put("/v2/user_auth", json=body), 400)
    assert doc["message"] == "validation error"
    assert rule in doc["data"][field]


async def test_api_auth_account_token_without_owner(client: TestClient) -> None:
    resp = await client.put("/v2/api_auth", json={"data": {"api_key": "0" * 63 + "4"}})
    assert resp.status == 201
    doc = await resp.json()
    assert doc["data"]["account_id"] == BETA and "owner_id" not in doc["data"]
    claims = jwt.decode(doc["auth_token"], SECRET, algorithms=["HS256"], issuer="kazoo")
    assert claims["method"] == "cb_api_auth" and "owner_id" not in claims


async def test_api_auth_unknown_key_is_404_bad_identifier(client: TestClient) -> None:
    key = "f" * 64
    doc = await error(await client.put("/v2/api_auth", json={"data": {"api_key": key}}), 404)
    assert doc["message"] == "bad identifier" and doc["data"] == [key]


async def test_api_auth_short_key_400(client: TestClient) -> None:
    doc = await error(await client.put("/v2/api_auth", json={"data": {"api_key": "abc"}}), 400)
    assert "minLength" in doc["data"]["api_key"]


async def test_auth_endpoints_only_take_put(client: TestClient) -> None:
    doc = await error(await client.get("/v2/user_auth"), 405)
    assert doc["message"] == "invalid_method"
    assert doc["data"] == {"message": "method not allowed"}


async def test_token_sources_and_token_auth_claims(client: TestClient,
                                                   tokens: dict[str, str]) -> None:
    tok = tokens["alice"]
    path = f"/v2/accounts/{ACME}/channels"
    for kwargs in ({"headers": {"X-Auth-Token": tok}},
                   {"headers": {"Authorization": f"Bearer {tok}"}},
                   {"params": {"auth_token": tok}}):
        resp = await client.get(path, **kwargs)
        assert resp.status == 200, kwargs
        assert (await resp.json())["auth_token"] == tok
    resp = await client.get("/v2/token_auth", headers=auth(tok))
    claims = (await resp.json())["data"]
    assert claims["account_id"] == ACME and claims["owner_id"] == ALICE
    assert claims["iss"] == "kazoo" and claims["method"] == "cb_user_auth"


async def test_token_in_body_envelope(client: TestClient, tokens: dict[str, str]) -> None:
    resp = await client.post(f"/v2/accounts/{ACME}/channels/acme-a", headers=JSON,
                             data=json.dumps({"auth_token": tokens["alice"], "data": {}}))
    doc = await error(resp, 400)  # authenticated: reaches the action check
    assert doc["message"] == "invalid data"


async def test_deleted_token_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    tok = tokens["bob"]
    assert (await client.delete("/v2/token_auth", headers=auth(tok))).status == 200
    doc = await error(await client.get(f"/v2/accounts/{ACME}/channels", headers=auth(tok)), 401)
    assert doc["message"] == "invalid credentials" and doc["data"] == {}


def _forge(claims: dict, key: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _claims(**over: object) -> dict:
    return {"account_id": ACME, "owner_id": ALICE, "method": "cb_user_auth", "iss": "kazoo",
            "exp": int(time.time()) + 600, **over}


async def test_expired_token_401_invalid_credentials_space(client: TestClient) -> None:
    tok = _forge(_claims(exp=int(time.time()) - 5))
    doc = await error(await client.get(f"/v2/accounts/{ACME}/channels", headers=auth(tok)), 401)
    assert doc["message"] == "invalid credentials" and doc["data"] == {}
    assert doc["auth_token"] == tok


@pytest.mark.parametrize("make", [
    lambda: _forge(_claims(account_id=ROOT), key="not-the-secret-at-all-0123456789"),
    lambda: _forge(_claims(account_id=ROOT), key="", alg="none"),
    lambda: _forge(_claims(iss="someone")),
    lambda: _forge({k: v for k, v in _claims().items() if k != "exp"}),
    lambda: "not.a.token",
    lambda: _forge(_claims())[:-3] + "AAA",
])
async def test_forged_tokens_refused(client: TestClient, make) -> None:  # type: ignore[no-untyped-def]
    tok = make()
    doc = await error(await client.get(f"/v2/accounts/{ROOT}/channels", headers=auth(tok)), 401)
    assert doc["message"] == "invalid_credentials"
    assert doc["data"] == {"message": "invalid credentials"}


async def test_token_of_vanished_account_refused(client: TestClient) -> None:
    tok = _forge(_claims(account_id="e" * 32, owner_id=""))
    doc = await error(await client.get("/v2/token_auth", headers=auth(tok)), 401)
    assert doc["message"] == "invalid credentials"


async def test_token_owner_from_other_account_refused(client: TestClient) -> None:
    tok = _forge(_claims(account_id=ACME, owner_id=ERIN))
    await error(await client.get(f"/v2/accounts/{ACME}/channels", headers=auth(tok)), 401)


async def test_expiry_follows_token_ttl() -> None:
    settings = kazoo_only(load_demo())
    settings = dataclasses.replace(settings, gateway=dataclasses.replace(settings.gateway,
                                                                         token_ttl=1))
    _gw, client = await start(settings)
    try:
        tok = await login(client, "alice", "Acme")
        assert (await client.get("/v2/token_auth", headers=auth(tok))).status == 200
        exp = jwt.decode(tok, options={"verify_signature": False})["exp"]
        await asyncio.sleep(max(0.0, exp - time.time()) + 1.05)  # whole-second clock
        doc = await error(await client.get("/v2/token_auth", headers=auth(tok)), 401)
        assert doc["message"] == "invalid credentials"
    finally:
        await client.close()


# -------------------------------------------------------------------- envelope, headers
async def test_success_envelope_and_request_id_echo(client: TestClient,
                                                    tokens: dict[str, str]) -> None:
    resp = await client.get(f"/v2/accounts/{ACME}/channels",
                            headers={**auth(tokens["alice"]), "X-Request-ID": "my-req-42"})
    doc = await resp.json()
    assert resp.headers["X-Request-ID"] == "my-req-42" == doc["request_id"]
    assert set(doc) == {"auth_token", "data", "node", "request_id", "status", "timestamp",
                        "version"}
    assert doc["status"] == "success" and doc["version"].startswith("4.3.")
    assert len(doc["node"]) == 22 and "=" not in doc["node"]
    assert doc["timestamp"].endswith("Z") and len(doc["timestamp"]) == 20
    assert "page_size" not in doc and "next_start_key" not in doc
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_generated_request_id_is_32_hex(client: TestClient) -> None:
    resp = await client.get(f"/v2/accounts/{ACME}/channels")
    rid = resp.headers["X-Request-ID"]
    assert len(rid) == 32 and int(rid, 16) >= 0


async def test_cors_on_origin_and_preflight_without_auth(client: TestClient,
                                                         tokens: dict[str, str]) -> None:
    resp = await client.options(f"/v2/accounts/{ACME}/channels/acme-a",
                                headers={"Origin": "https://ui.example.com",
                                         "Access-Control-Request-Method": "POST"})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "x-auth-token" in resp.headers["Access-Control-Allow-Headers"]
    assert "x-request-id" in resp.headers["Access-Control-Expose-Headers"]
    assert resp.headers["Access-Control-Max-Age"] == "86400"
    resp = await client.get(f"/v2/accounts/{ACME}/channels",
                            headers={**auth(tokens["alice"]), "Origin": "https://x"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_v1_is_gone(client: TestClient) -> None:
    for path in ("/v1", f"/v1/accounts/{ACME}/channels"):
        doc = await error(await client.get(path), 410)
        assert doc["message"].startswith("API version 1 is not supported")


# ---------------------------------------------------------------- error table and order
async def test_no_token_401(client: TestClient) -> None:
    doc = await error(await client.get(f"/v2/accounts/{ACME}/channels"), 401)
    assert doc["message"] == "invalid_credentials" and doc["auth_token"] == "undefined"


async def test_unknown_path_404_after_auth(client: TestClient, tokens: dict[str, str]) -> None:
    await error(await client.get("/v2/nothing/here"), 401)
    doc = await error(await client.get("/v2/nothing/here", headers=auth(tokens["alice"])), 404)
    assert doc["message"] == "not_found" and doc["data"] == {"message": "not found"}
    doc = await error(await client.get(f"/v2/accounts/{ACME}/groups/x/channels",
                                       headers=auth(tokens["alice"])), 404)
    assert doc["message"] == "not_found"


async def test_malformed_account_id_404_before_auth(client: TestClient) -> None:
    doc = await error(await client.get("/v2/accounts/xyz/channels"), 404)
    assert doc["message"] == "bad identifier"
    assert doc["data"] == {"message": "invalid account_id 'xyz'"}


async def test_unknown_account_404_before_auth(client: TestClient) -> None:
    doc = await error(await client.get(f"/v2/accounts/{'c' * 32}/channels"), 404)
    assert doc["message"] == "bad_identifier"
    assert doc["data"] == {"cause": "c" * 32, "message": "bad identifier"}


async def test_check_order(client: TestClient, tokens: dict[str, str]) -> None:
    path = f"/v2/accounts/{ACME}/channels"
    # bad JSON beats everything
    doc = await error(await client.delete(path, data=b"{oops", headers=JSON), 400)
    assert doc["data"]["json"]["invalid"]["target"] == "body"
    # then the method, even without a token
    assert (await client.delete(path)).status == 405
    assert (await client.put("/v2/accounts/xyz/channels")).status == 405
    # then the account id, before authentication
    assert (await client.get("/v2/accounts/xyz/channels")).status == 404
    # then 401, then 403
    assert (await client.get(f"/v2/accounts/{BETA}/channels")).status == 401
    resp = await client.get(f"/v2/accounts/{BETA}/channels", headers=auth(tokens["alice"]))
    doc = await error(resp, 403)
    assert doc["message"] == "forbidden" and doc["data"] == {"message": "forbidden"}
    # an expired token already fails at the method check step
    tok = _forge(_claims(exp=int(time.time()) - 5))
    assert (await client.delete(path, headers=auth(tok))).status == 401


async def test_oversize_body_413(client: TestClient, tokens: dict[str, str]) -> None:
    big = json.dumps({"data": {"action": "hangup", "pad": "x" * (1 << 20)}})
    resp = await client.post(f"/v2/accounts/{ACME}/channels/acme-a", data=big,
                             headers=auth(tokens["alice"]))
    doc = await error(resp, 413)
    assert "pad" not in json.dumps(doc)


@pytest.mark.parametrize(("raw", "message"), [
    (b"[1,2]", "body must be a JSON object"), (b'"text"', "body must be a JSON object"),
    (b"\xff\xfe", "body is not UTF-8"),
    (b"\xff\xfe{\x00}\x00", "body is not UTF-8"),  # UTF-16: JSON between systems is UTF-8
    (b"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM (decode using utf-8-sig) around 0"),
    (b'{"data": ', "Expecting value around 9"),
])
async def test_bad_bodies_400(client: TestClient, tokens: dict[str, str], raw: bytes,
                              message: str) -> None:
    resp = await client.post(f"/v2/accounts/{ACME}/channels/acme-a", data=raw,
                             headers=auth(tokens["alice"]))
    doc = await error(resp, 400)
    assert doc["message"] == "validation error"
    assert doc["data"] == {"json": {"invalid": {"message": message, "target": "body"}}}


async def test_system_list_disabled_is_kazoos_500() -> None:
    _gw, client = await start(kazoo_only(load_demo(), system_wide_channels_list=False))
    try:
        tok = await login(client, "admin", "Root Telco")
        doc = await error(await client.get("/v2/channels", headers=auth(tok)), 500)
        assert doc["message"] == "could not reach ecallmgr channels" and doc["data"] == {}
    finally:
        await client.close()


async def test_system_list_disabled_with_platform_5xx_off_is_403() -> None:
    settings = kazoo_only(load_demo(), system_wide_channels_list=False)
    settings = dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, platform_5xx=False))
    _gw, client = await start(settings)
    try:
        tok = await login(client, "admin", "Root Telco")
        doc = await error(await client.get("/v2/channels", headers=auth(tok)), 403)
        assert doc["message"] == "could not reach ecallmgr channels" and doc["data"] == {}
    finally:
        await client.close()


async def test_channel_without_account_segment_404(client: TestClient,
                                                   tokens: dict[str, str]) -> None:
    doc = await error(await client.get("/v2/channels/acme-a", headers=auth(tokens["admin"])),
                      404)
    assert doc["message"] == "not_found"


# ------------------------------------------------------------------------------ lists
async def get_data(client: TestClient, path: str, token: str) -> list | dict:
    resp = await client.get(path, headers=auth(token))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def test_account_list_keys(client: TestClient, tokens: dict[str, str]) -> None:
    data = await get_data(client, f"/v2/accounts/{ACME}/channels", tokens["alice"])
    by = {c["uuid"]: c for c in data}
    assert set(by) == {"acme-a", "acme-b", "acme-ring"}
    a = by["acme-a"]
    seed_keys = {"answered", "authorizing_id", "authorizing_type", "destination", "direction",
                 "other_leg", "owner_id", "presence_id", "timestamp", "username", "uuid"}
    assert seed_keys <= set(a)
    assert a["timestamp"] == 63573977746  # the docs' own example value
    assert a["elapsed_s"] == pytest.approx(int(time.time()) - DOC_TS, abs=2)
    assert a["authorizing_id"] == DEV201 and a["authorizing_type"] == "device"
    assert a["owner_id"] == ALICE and a["other_leg"] == "acme-b"
    assert a["caller_id_name"] == "Alice" and a["callee_id_number"] == "202"
    assert a["direction"] == "inbound" and a["answered"] is True
    assert a["is_onhold"] is False and a["interaction_id"] == "call-1"
    for item in data:
        assert not INTERNAL & set(item)
        assert None not in item.values() and "" not in item.values()
    ring = by["acme-ring"]
    assert "other_leg" not in ring and ring["answered"] is False


async def test_elapsed_is_computed_per_request(api: tuple[Gateway, TestClient],
                                               tokens: dict[str, str]) -> None:
    gw, client = api
    gw.store.update("acme-ring", created=time.time() - 100)
    data = await get_data(client, f"/v2/accounts/{ACME}/channels", tokens["alice"])
    ring = next(c for c in data if c["uuid"] == "acme-ring")
    assert 99 <= ring["elapsed_s"] <= 101


async def test_held_channel_flags(client: TestClient, tokens: dict[str, str]) -> None:
    data = await get_data(client, f"/v2/accounts/{BETA}/channels", tokens["erin"])
    assert [c["uuid"] for c in data] == ["beta-a"] and data[0]["is_onhold"] is True


async def test_csv_list(client: TestClient, tokens: dict[str, str]) -> None:
    for kwargs in ({"headers": {**auth(tokens["alice"]), "Accept": "text/csv"}},
                   {"headers": auth(tokens["alice"]), "params": {"accept": "csv"}}):
        resp = await client.get(f"/v2/accounts/{ACME}/channels", **kwargs)
        assert resp.status == 200
        assert resp.content_type == "text/csv"
        lines = (await resp.text()).strip().splitlines()
        assert lines[0].startswith("uuid,answered,direction")
        assert len(lines) == 4 and any(line.startswith("acme-a,true,inbound") for line in lines)


async def test_pagination_params_ignored(client: TestClient, tokens: dict[str, str]) -> None:
    resp = await client.get(f"/v2/accounts/{ACME}/channels",
                            params={"page_size": "1", "paginate": "true"},
                            headers=auth(tokens["alice"]))
    doc = await resp.json()
    assert len(doc["data"]) == 3 and "page_size" not in doc and "next_start_key" not in doc


async def test_user_and_device_lists(client: TestClient, tokens: dict[str, str]) -> None:
    tok = tokens["alice"]
    user = await get_data(client, f"/v2/accounts/{ACME}/users/{ALICE}/channels", tok)
    assert [c["uuid"] for c in user] == ["acme-a"]
    bob = await get_data(client, f"/v2/accounts/{ACME}/users/{BOB}/channels", tok)
    assert [c["uuid"] for c in bob] == ["acme-b"]
    dev = await get_data(client, f"/v2/accounts/{ACME}/devices/{DEV202}/channels", tok)
    assert [c["uuid"] for c in dev] == ["acme-b"]
    carol = await get_data(client, f"/v2/accounts/{ACME}/users/b0000000000000000000000000000006"
                           "/channels", tok)
    assert carol == []  # dan has a device but no live channel


@pytest.mark.parametrize("path", [f"/v2/accounts/{ACME}/users/{ERIN}/channels",
                                  f"/v2/accounts/{ACME}/devices/{DEV301}/channels",
                                  f"/v2/accounts/{ACME}/users/{'9' * 32}/channels",
                                  f"/v2/accounts/{ACME}/devices/nope/channels"])
async def test_foreign_or_unknown_user_device_404(client: TestClient, tokens: dict[str, str],
                                                  path: str) -> None:
    doc = await error(await client.get(path, headers=auth(tokens["alice"])), 404)
    assert doc["message"] == "bad_identifier"
    assert doc["data"]["cause"] == path.split("/")[5]


async def test_system_wide_list_for_superduper(client: TestClient,
                                               tokens: dict[str, str]) -> None:
    data = await get_data(client, "/v2/channels", tokens["admin"])
    assert {c["uuid"] for c in data} == {"acme-a", "acme-b", "acme-ring", "beta-a", "gamma-a",
                                         "stray"}
    for who in ("reseller", "alice", "bob", "erin"):
        await error(await client.get("/v2/channels", headers=auth(tokens[who])), 403)


# ---------------------------------------------------------------------------- details
async def test_detail_keys(client: TestClient, tokens: dict[str, str]) -> None:
    d = await get_data(client, f"/v2/accounts/{ACME}/channels/acme-a", tokens["alice"])
    assert d["call_id"] == "acme-a" and d["call_direction"] == "inbound"
    assert d["other_leg_call_id"] == "acme-b" and d["is_on_hold"] is False
    assert d["call_interaction_id"] == "call-1" and d["timestamp"] == 63573977746
    assert isinstance(d["elapsed_seconds"], int)
    for gone in ("uuid", "direction", "other_leg", "elapsed_s", "is_onhold", "interaction_id"):
        assert gone not in d
    assert not INTERNAL & set(d)
    ccv = d["custom_channel_vars"]
    assert ccv["account_id"] == ACME and ccv["realm"] == "acme.example.com"
    assert ccv["authorizing_id"] == DEV201 and ccv["owner_id"] == ALICE


@pytest.mark.parametrize(("who", "account", "uuid", "status"), [
    ("erin", BETA, "acme-a", 404),      # another account's channel under one's own account
    ("erin", ACME, "acme-a", 403),      # another tenant's account
    ("admin", BETA, "acme-a", 404),     # superduper: the channel must be in the URL account
    ("alice", ACME, "gone-uuid", 404),  # unknown channel: a fast 404, not a 2 s 503
    ("alice", ACME, "stray", 404),      # unattributed channel
    ("reseller", ACME, "acme-a", 200),  # parent sees child
    ("bob", ACME, "acme-a", 200),       # any user of the account
])
async def test_detail_access(client: TestClient, tokens: dict[str, str], who: str,
                             account: str, uuid: str, status: int) -> None:
    resp = await client.get(f"/v2/accounts/{account}/channels/{uuid}", headers=auth(tokens[who]))
    if status == 404:
        doc = await error(resp, 404)
        assert doc["message"] == "bad identifier" and doc["data"] == [uuid]
    else:
        assert resp.status == status


# ------------------------------------------------------------------- tenancy matrix
ACCOUNTS = {"root": ROOT, "reseller": RESELLER, "acme": ACME, "beta": BETA, "gamma": GAMMA}
VISIBLE = {  # principal -> accounts it may address (the list is always exact to the account)
    "admin": {"root", "reseller", "acme", "beta", "gamma"},
    "reseller": {"reseller", "acme", "beta"},
    "alice": {"acme"},
    "bob": {"acme"},
    "erin": {"beta"},
}
EXPECTED = {"root": set(), "reseller": set(), "acme": {"acme-a", "acme-b", "acme-ring"},
            "beta": {"beta-a"}, "gamma": {"gamma-a"}}


@pytest.mark.parametrize("who", sorted(VISIBLE))
async def test_tenancy_matrix_lists(client: TestClient, tokens: dict[str, str],
                                    who: str) -> None:
    for name, account in ACCOUNTS.items():
        resp = await client.get(f"/v2/accounts/{account}/channels", headers=auth(tokens[who]))
        if name in VISIBLE[who]:
            assert resp.status == 200, (who, name)
            assert {c["uuid"] for c in (await resp.json())["data"]} == EXPECTED[name]
        else:
            await error(resp, 403)
        for uuid in ("acme-a", "beta-a"):
            resp = await client.post(f"/v2/accounts/{account}/channels/{uuid}",
                                     headers=auth(tokens[who]),
                                     data=json.dumps({"data": {"action": "nonsense"}}))
            if name not in VISIBLE[who]:
                assert resp.status == 403, (who, name, uuid)
            elif uuid.split("-")[0] != name:
                assert resp.status == 404, (who, name, uuid)
            else:  # reached the action itself
                assert (await error(resp, 400))["message"] == "invalid data"


# -------------------------------------------------------------- action validation (no switch)
async def post(client: TestClient, token: str, uuid: str, body: object, account: str = ACME,
               **kwargs) -> object:  # type: ignore[no-untyped-def]
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return await client.post(f"/v2/accounts/{account}/channels/{uuid}", data=data,
                             headers=auth(token), **kwargs)


@pytest.mark.parametrize(("uuid", "body", "field", "rule", "message"), [
    ("acme-ring", {"data": {"action": "transfer", "target": "2600"}},
     "other_leg_call_id", "required", "Channel is not bridged"),
    ("acme-a", {"data": {"action": "transfer"}},
     "target", "required", "No target destination specified"),
    ("acme-a", {"data": {"action": "intercept", "target_id": DEV202}},
     "target_type", "required", "No target type specified"),
    ("acme-a", {"data": {"action": "intercept", "target_type": "device"}},
     "target_id", "required", "No target id specified"),
    ("acme-a", {"data": {"action": "transfer", "target": {"x": 1}}},
     "target", "type", "Value did not match type(s): string"),
    ("acme-a", {"data": {"action": "transfer", "target": "1", "transfer-type": "odd"}},
     "transfer-type", "enum", "Value not found in enumerated list of values"),
    ("acme-ring", {"data": {"action": "intercept", "target_type": "pigeon",
                            "target_id": "x"}},
     "target_type", "enum", "Value not found in enumerated list of values"),
    ("acme-a", {"data": {"action": "intercept", "target_type": "device",
                         "target_id": DEV202}},
     "unbridged_only", "invalid", "Channel is already bridged"),
])
async def test_action_validation_bodies(client: TestClient, tokens: dict[str, str], uuid: str,
                                        body: dict, field: str, rule: str,
                                        message: str) -> None:
    doc = await error(await post(client, tokens["alice"], uuid, body), 400)
    assert doc["message"] == "validation error"
    assert doc["data"][field][rule]["message"] == message


@pytest.mark.parametrize("body", [{"data": {"action": "explode"}}, {"data": {}}, {},
                                  {"data": {"action": 7}}, {"action": ["hangup"]}])
async def test_unknown_or_missing_action_invalid_data(client: TestClient,
                                                      tokens: dict[str, str],
                                                      body: dict) -> None:
    doc = await error(await post(client, tokens["alice"], "acme-a", body), 400)
    assert doc["message"] == "invalid data" and "data" not in doc


async def test_action_lookup_order(client: TestClient, tokens: dict[str, str]) -> None:
    # data beats query string beats envelope: here data says transfer (needs a target)
    resp = await post(client, tokens["alice"], "acme-a",
                      {"action": "explode", "data": {"action": "transfer"}},
                      params={"action": "alsobad"})
    assert (await error(resp, 400))["data"]["target"]["required"]
    resp = await post(client, tokens["alice"], "acme-a", {"action": "explode"},
                      params={"action": "transfer"})
    assert (await error(resp, 400))["data"]["target"]["required"]
    resp = await post(client, tokens["alice"], "acme-a", {"action": "transfer", "data": {}})
    assert (await error(resp, 400))["data"]["target"]["required"]


async def test_callflow_unknown_id_404(client: TestClient, tokens: dict[str, str]) -> None:
    resp = await post(client, tokens["alice"], "acme-a",
                      {"data": {"action": "callflow", "id": "0" * 32}})
    doc = await error(resp, 404)
    assert doc["message"] == "bad_identifier" and doc["data"]["cause"] == "0" * 32


async def test_intercept_to_other_tenants_device_404(client: TestClient,
                                                     tokens: dict[str, str]) -> None:
    resp = await post(client, tokens["alice"], "acme-ring",
                      {"data": {"action": "intercept", "target_type": "device",
                                "target_id": DEV301}})
    assert (await error(resp, 404))["data"]["cause"] == DEV301
    resp = await post(client, tokens["alice"], "acme-ring",
                      {"data": {"action": "intercept", "target_type": "user",
                                "target_id": ERIN}})
    assert (await error(resp, 404))["data"]["cause"] == ERIN


async def test_action_with_switch_down_is_not_success(client: TestClient,
                                                      tokens: dict[str, str]) -> None:
    doc = await error(await post(client, tokens["alice"], "acme-a",
                                 {"data": {"action": "hangup"}}), 503)
    assert doc["message"] == "datastore timeout"


# ------------------------------------------------------------------------- metaflows
async def put(client: TestClient, token: str, uuid: str, body: object,
              account: str = ACME) -> object:  # type: ignore[no-untyped-def]
    return await client.put(f"/v2/accounts/{account}/channels/{uuid}",
                            data=json.dumps(body), headers=auth(token))


@pytest.mark.parametrize(("flow", "field", "rule"), [
    ({}, "module", "required"),
    ({"module": 5}, "module", "type"),
    ({"module": ""}, "module", "minLength"),
    ({"module": "fly"}, "module", "invalid"),
    ({"module": "transfer", "data": {"transfer_type": "sideways"}}, "data.transfer_type",
     "enum"),
    ({"module": "transfer", "data": {"timeout": "soon"}}, "data.timeout", "type"),
    ({"module": "hold_control", "data": {"action": "flip"}}, "data.action", "enum"),
    ({"module": "audio_level", "data": {"level": 9}}, "data.level", "maximum"),
    ({"module": "pivot", "data": {}}, "data.voice_url", "required"),
    ({"module": "pivot", "data": {"voice_url": "ftp://x"}}, "data.voice_url", "pattern"),
    ({"module": "relate", "data": {"conference_id": "c"}}, "data.participant_id", "required"),
    ({"module": "hangup", "data": []}, "data", "type"),
    ({"module": "hangup", "children": {"1": {"module": "nope"}}}, "children.1.module",
     "invalid"),
    ({"module": "hangup", "children": {"2": {"module": "play", "data": {"leg": "x"}}}},
     "children.2.data.leg", "enum"),
])
async def test_metaflow_schema_errors(client: TestClient, tokens: dict[str, str], flow: dict,
                                      field: str, rule: str) -> None:
    doc = await error(await put(client, tokens["alice"], "acme-a",
                                {"action": "metaflow", "data": flow}), 400)
    assert doc["message"] == "validation error"
    assert rule in doc["data"][field], doc["data"]


@pytest.mark.parametrize("module", ["say", "tts", "audio_level", "sound_touch", "relate",
                                    "pivot"])
async def test_valid_but_unexecutable_metaflow_is_refused(client: TestClient,
                                                          tokens: dict[str, str],
                                                          module: str) -> None:
    data = {"pivot": {"voice_url": "https://x.example.com/flow"},
            "relate": {"conference_id": "c", "participant_id": "p",
                       "other_participant": "o"}}.get(module, {})
    doc = await error(await put(client, tokens["alice"], "acme-a",
                                {"action": "metaflow", "data": {"module": module,
                                                                "data": data}}), 400)
    assert doc["message"] == "validation error"
    assert doc["data"]["module"]["unsupported"]["target"] == module


@pytest.mark.parametrize("body", [{"action": "hangup", "data": {"module": "hangup"}},
                                  {"data": {"module": "hangup"}}])
async def test_put_without_metaflow_action_invalid_data(client: TestClient,
                                                        tokens: dict[str, str],
                                                        body: dict) -> None:
    doc = await error(await put(client, tokens["alice"], "acme-a", body), 400)
    assert doc["message"] == "invalid data"


async def test_put_metaflow_cross_tenant(client: TestClient, tokens: dict[str, str]) -> None:
    body = {"action": "metaflow", "data": {"module": "hangup"}}
    assert (await put(client, tokens["erin"], "acme-a", body)).status == 403
    assert (await put(client, tokens["erin"], "acme-a", body, account=BETA)).status == 404


async def test_verb_tunnel_and_head(client: TestClient, tokens: dict[str, str]) -> None:
    resp = await post(client, tokens["alice"], "acme-a", {"verb": "DELETE", "data": {}})
    assert (await error(resp, 405))["message"] == "invalid_method"
    resp = await post(client, tokens["alice"], "acme-a",
                      {"data": {"module": "fly"}, "action": "metaflow"}, params={"verb": "PUT"})
    assert "module" in (await error(resp, 400))["data"]
    resp = await client.head(f"/v2/accounts/{ACME}/channels", headers=auth(tokens["alice"]))
    assert resp.status == 200 and resp.headers["X-Request-ID"]


async def test_unexpected_failure_is_a_kazoo_500_without_details() -> None:
    from aiohttp import web

    from dialects.kazoo.errors import error_middleware

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret-password-123 at line 7")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/boom", broken)
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/boom")
        text = await resp.text()
        assert resp.status == 500
        assert "secret-password" not in text and "Traceback" not in text
        doc = json.loads(text)
        assert doc["status"] == "error" and doc["error"] == "500"
        assert doc["data"] == {"message": "unknown failure"}
        resp = await c.post("/boom")  # aiohttp's own 405 and 404, in Kazoo's shape
        assert (await resp.json())["message"] == "invalid_method"
        resp = await c.get("/nowhere")
        assert (await resp.json())["message"] == "not_found"


async def test_a_change_shows_in_the_very_next_list_and_detail(
        api: tuple[Gateway, TestClient], tokens: dict[str, str]) -> None:
    """Items are cached per channel version: a hold after a list must show in the next one,
    and the cached items must be exactly what rendering afresh gives."""
    from dialects.kazoo import render

    gw, client = api
    path = f"/v2/accounts/{ACME}/channels"
    before = {c["uuid"]: c for c in await get_data(client, path, tokens["alice"])}
    assert before["acme-a"]["is_onhold"] is False
    detail = await get_data(client, f"{path}/acme-a", tokens["alice"])
    assert detail["is_on_hold"] is False
    gw.store.update("acme-a", held=True, state=State.HELD)
    after = {c["uuid"]: c for c in await get_data(client, path, tokens["alice"])}
    assert after["acme-a"]["is_onhold"] is True
    assert (await get_data(client, f"{path}/acme-a", tokens["alice"]))["is_on_hold"] is True
    at = time.time()
    fresh = render.listing(gw.store.by_account(ACME), gw.directory)
    cached = render.listing(gw.store.by_account(ACME), gw.directory, kazoo_state(client).items)
    for item in fresh + cached:
        item["elapsed_s"] = int(at)  # the only time-dependent key
    assert json.dumps(fresh, sort_keys=True) == json.dumps(cached, sort_keys=True)


#: Caller names JSON must escape: quotes, backslashes, control and non-ASCII characters.
ODD_NAMES = ('Zoë "Z" O\'Brien', 'back\\slash \\"q\\" \\n', "日本語 \U0001F600",
             "tab\tnew\nline \x7f\u2028 </script>", "elapsed_s\": 0, \"x")


async def test_list_bytes_are_exactly_json_dumps_of_the_envelope(
        api: tuple[Gateway, TestClient], tokens: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists splice cached, pre-serialized items into the envelope: every byte must be what
    `json.dumps(envelope, sort_keys=True)` of the rendered items gave, pretty or not, on a
    cache miss and hit, after a change, and for a channel without a creation time."""
    from dialects.kazoo import envelope, render

    gw, client = api
    at = time.time()
    monkeypatch.setattr(render, "now", lambda: at)
    monkeypatch.setattr(envelope, "iso_now", lambda: "2024-05-06T07:08:09Z")
    gw.store.update("acme-a", caller_id_name=ODD_NAMES[0], callee_name=ODD_NAMES[1])
    gw.store.update("acme-ring", caller_id_name=ODD_NAMES[2], caller_id_number="+1 (555) \\")
    gw.store.add(Channel(id="acme-held", node="fs1", name="sofia/internal/201@acme.example.com",
                         username="201", realm="acme.example.com", direction="inbound",
                         state=State.HELD, held=True, answered=True, created=at - 42.9,
                         destination="*97", caller_id_name=ODD_NAMES[3], call_id="call-9"))
    gw.store.add(Channel(id="acme-new", node="fs1", name="sofia/internal/202@acme.example.com",
                         username="202", realm="acme.example.com", direction="outbound",
                         caller_id_name=ODD_NAMES[4], call_id="call-10"))
    assert not gw.store.get("acme-new").created  # rendered afresh, never cached

    def acme() -> list[Channel]:
        return list(gw.store.by_account(ACME))

    def device(dev: str) -> list[Channel]:
        return [ch for ch in gw.store.by_device(dev) if ch.account_id == ACME]

    lists = [  # (path, token, the channels `_list` is given)
        (f"/v2/accounts/{ACME}/channels", "alice", acme),
        (f"/v2/accounts/{ACME}/devices/{DEV201}/channels", "alice", lambda: device(DEV201)),
        (f"/v2/accounts/{ACME}/users/{ALICE}/channels", "alice",
         lambda: [ch for d in gw.directory.devices_of_owner(ALICE) for ch in device(d.id)]),
        ("/v2/channels", "admin", lambda: list(gw.store.all())),
        (f"/v2/accounts/{ACME}/devices/d0000000000000000000000000000204/channels", "admin",
         lambda: []),  # Acme's unused phone
    ]
    variants = [({}, {}), ({"X-Request-ID": 'rq "7" \\ é'}, {}),
                ({"X-Pretty-Print": "true"}, {}), ({}, {"pretty_print": "true"}),
                ({"X-Request-ID": "r-1", "X-Pretty-Print": "TRUE"}, {})]
    sizes = set()
    for round_ in range(3):
        if round_ == 2:  # a change: fresh fragments for the new version
            gw.store.update("acme-b", held=True, state=State.HELD, caller_id_name="Bøb \\")
        for path, who, chans in lists:
            for headers, params in variants:
                token = tokens[who]
                resp = await client.get(path, headers={**auth(token), **headers}, params=params)
                body = await resp.read()
                assert resp.status == 200, body
                rid = resp.headers["X-Request-ID"]
                assert rid == headers.get("X-Request-ID", rid)
                items = kazoo_state(client).items
                rows = render.listing(chans(), gw.directory, items)
                assert rows == render.listing(chans(), gw.directory)
                pretty = "X-Pretty-Print" in headers or bool(params)
                doc = {"auth_token": token, "data": rows, "node": envelope.NODE,
                       "request_id": rid, "status": "success",
                       "timestamp": "2024-05-06T07:08:09Z", "version": envelope.VERSION}
                expected = json.dumps(doc, indent=2 if pretty else None, sort_keys=True)
                assert body == expected.encode(), (path, headers, params)
                assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
                sizes.add(len(rows))
    assert sizes == {0, 2, 5, 8}
    assert isinstance(items, render.Items) and len(items.list_json) and len(items.list_pretty)


# ---------------------------------------------------------------------------- bad input
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing at ERROR and no traceback: a client's mistake is not the gateway's failure."""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]
    assert "Traceback" not in caplog.text


async def test_body_nested_3000_deep_is_a_kazoo_400(
        client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    deep = '{"data": ' + "[" * 3000 + "]" * 3000 + "}"
    for resp in (await client.put("/v2/user_auth", data=deep, headers=JSON),
                 await post(client, tokens["alice"], "acme-a", deep)):
        doc = await error(resp, 400)
        assert doc["message"] == "validation error"
        assert doc["data"]["json"]["invalid"]["target"] == "body"
    _quiet(caplog)


async def test_malformed_multipart_is_a_kazoo_400(
        client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = b"--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end boundary"
    headers = {"X-Auth-Token": tokens["alice"],
               "Content-Type": "multipart/form-data; boundary=XYZ"}
    for path in (f"/v2/accounts/{ACME}/channels/acme-a", "/v2/user_auth"):
        resp = await client.post(path, data=body, headers=headers)
        assert (await error(resp, 400))["message"] == "validation error"
    _quiet(caplog)


async def test_100kb_url_is_a_kazoo_414(
        client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = f"/v2/accounts/{ACME}/channels?pad=" + "x" * 100_000
    doc = await error(await client.get(path, headers=auth(tokens["alice"])), 414)
    assert doc["message"] == "request uri too long"
    assert "x" * 100 not in json.dumps(doc)
    doc = await error(await client.get("/v2/" + "y" * 100_000), 414)
    _quiet(caplog)


@pytest.mark.parametrize("issuer", ["webitel", "mor", "callflow", "", None])
async def test_well_signed_token_of_another_issuer_is_refused(
        client: TestClient, issuer: str | None) -> None:
    """Every dialect signs with the same secret: only the issuer tells a Kazoo token apart."""
    claims = _claims()
    if issuer is None:
        del claims["iss"]
    else:
        claims["iss"] = issuer
    tok = _forge(claims)
    for resp in (await client.get(f"/v2/accounts/{ACME}/channels", headers=auth(tok)),
                 await client.get("/v2/token_auth", headers=auth(tok)),
                 await client.get(f"/v2/accounts/{ACME}/channels",
                                  headers={"Authorization": f"Bearer {tok}"})):
        doc = await error(resp, 401)
        assert doc["message"] == "invalid_credentials"
        assert doc["data"] == {"message": "invalid credentials"}


# ----------------------------------------------------------------- directory reads
DIRECTORY_PATHS = ["", "/children", "/users", f"/users/{ALICE}", "/devices", f"/devices/{DEV201}"]
SECRETS = ("demo-alice", "\"password\":", "api_key", "0000000000000000000000000000000000000000")


async def test_account_document_and_children(client: TestClient,
                                             tokens: dict[str, str]) -> None:
    doc: Any = await get_data(client, f"/v2/accounts/{ACME}", tokens["alice"])
    assert doc == {"id": ACME, "name": "Acme", "realm": "acme.example.com", "timezone": "UTC",
                   "language": "en-us", "enabled": True, "superduper_admin": False,
                   "is_reseller": False, "reseller_id": RESELLER, "wnm_allow_additions": False}
    root: Any = await get_data(client, f"/v2/accounts/{ROOT}", tokens["admin"])
    assert root["superduper_admin"] is True and root["is_reseller"] is True
    kids = await get_data(client, f"/v2/accounts/{RESELLER}/children", tokens["reseller"])
    assert kids == [{"id": ACME, "name": "Acme", "realm": "acme.example.com",
                     "descendants_count": 0},
                    {"id": BETA, "name": "Beta", "realm": "beta.example.com",
                     "descendants_count": 0}]
    top = await get_data(client, f"/v2/accounts/{ROOT}/children", tokens["admin"])
    assert {r["id"]: r["descendants_count"] for r in top} == {RESELLER: 2, GAMMA: 0}
    assert await get_data(client, f"/v2/accounts/{ACME}/children", tokens["alice"]) == []


async def test_users_and_devices_of_an_account(client: TestClient,
                                               tokens: dict[str, str]) -> None:
    rows = await get_data(client, f"/v2/accounts/{ACME}/users", tokens["alice"])
    by_id = {r["id"]: r for r in rows}
    assert ALICE in by_id and BOB in by_id and ERIN not in by_id
    assert by_id[ALICE] == {"id": ALICE, "features": [], "username": "alice",
                            "first_name": "Alice", "last_name": "Smith", "priv_level": "admin",
                            "presence_id": "201", "flags": []}
    assert by_id[BOB]["priv_level"] == "user"
    alice: Any = await get_data(client, f"/v2/accounts/{ACME}/users/{ALICE}", tokens["bob"])
    assert {"id", "username", "first_name", "last_name", "priv_level", "enabled",
            "timezone"} <= set(alice)
    devices = await get_data(client, f"/v2/accounts/{ACME}/devices", tokens["alice"])
    assert {d["id"] for d in devices} >= {DEV201, DEV202} and DEV301 not in {
        d["id"] for d in devices}
    row = next(d for d in devices if d["id"] == DEV201)
    assert row == {"id": DEV201, "name": row["name"], "username": "201", "mac_address": "",
                   "owner_id": ALICE, "enabled": True, "device_type": "sip_device",
                   "flags": []}
    dev: Any = await get_data(client, f"/v2/accounts/{ACME}/devices/{DEV201}", tokens["alice"])
    assert dev["sip"]["username"] == "201" and dev["owner_id"] == ALICE
    for path in DIRECTORY_PATHS:
        resp = await client.get(f"/v2/accounts/{ACME}{path}", headers=auth(tokens["alice"]))
        text = await resp.text()
        assert resp.status == 200 and not [s for s in SECRETS if s in text], (path, text)


async def test_directory_reads_are_scoped_to_the_account_tree(
        client: TestClient, tokens: dict[str, str]) -> None:
    for path in DIRECTORY_PATHS:
        # a parent reads its child's directory; a child never its parent's or a sibling's
        resp = await client.get(f"/v2/accounts/{ACME}{path}", headers=auth(tokens["reseller"]))
        assert resp.status == 200, path
        for account, who in ((RESELLER, "alice"), (BETA, "alice"), (ACME, "erin"),
                             (ROOT, "reseller")):
            resp = await client.get(f"/v2/accounts/{account}{path}", headers=auth(tokens[who]))
            assert (await error(resp, 403))["message"] == "forbidden", (account, who, path)
        resp = await client.get(f"/v2/accounts/{ACME}{path}")
        assert (await error(resp, 401))["message"] == "invalid_credentials"
    # another account's user or device through one's own account: not found
    for path in (f"/users/{ERIN}", f"/devices/{DEV301}", "/users/" + "f" * 32):
        resp = await client.get(f"/v2/accounts/{ACME}{path}", headers=auth(tokens["alice"]))
        assert (await error(resp, 404))["message"] == "bad_identifier"


@pytest.mark.parametrize("method", ["PUT", "POST", "PATCH", "DELETE"])
async def test_directory_writes_are_refused_in_kazoos_shape(
        client: TestClient, tokens: dict[str, str], method: str) -> None:
    for path in DIRECTORY_PATHS:
        resp = await client.request(method, f"/v2/accounts/{ACME}{path}",
                                    headers=auth(tokens["alice"]), data='{"data": {}}')
        assert (await error(resp, 405))["message"] == "invalid_method", path
        resp = await client.request(method, f"/v2/accounts/{BETA}{path}",
                                    headers=auth(tokens["alice"]), data='{"data": {}}')
        assert resp.status in (403, 405) and (await resp.json())["status"] == "error"
