"""The dialects share one signing secret, so a token one dialect minted must still open no
other: each is presented where another dialect expects its own, and each answers its own 401."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient

from tests.demo_ids import ACME
from tests.harness import dialect_client


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    async with dialect_client() as (_, c):
        yield c


async def kazoo_token(c: TestClient) -> str:
    creds = hashlib.md5(b"alice:demo-alice").hexdigest()
    resp = await c.put("/v2/user_auth", json={"data": {"credentials": creds,
                                                        "account_name": "Acme"}})
    assert resp.status == 201
    return (await resp.json())["auth_token"]


async def webitel_session(c: TestClient) -> tuple[str, str]:
    resp = await c.post("/login", json={"username": "alice@acme.example.com",
                                        "password": "demo-alice"})
    assert resp.status == 200
    body = await resp.json()
    return body["token"], body["key"]


async def mor_token(c: TestClient) -> str:
    resp = await c.post("/billing/api/v2/authentication/login",
                        headers={"Authorization": encode_basic_auth("alice", "demo-alice")})
    assert resp.status == 200
    return (await resp.json())["token"]


async def foreign_tokens(c: TestClient, exclude: str) -> dict[str, str]:
    made = {"kazoo": await kazoo_token(c), "webitel": (await webitel_session(c))[0],
            "mor": await mor_token(c)}
    made.pop(exclude, None)
    return made


async def test_kazoo_refuses_every_other_dialects_token(client: TestClient) -> None:
    assert (await client.get(f"/v2/accounts/{ACME}/channels",
                             headers={"X-Auth-Token": await kazoo_token(client)})).status == 200
    for origin, token in (await foreign_tokens(client, "kazoo")).items():
        resp = await client.get(f"/v2/accounts/{ACME}/channels",
                                headers={"X-Auth-Token": token})
        body = await resp.json()
        assert resp.status == 401, origin
        assert body["status"] == "error" and body["error"] == "401", origin
        assert body["message"] in ("invalid_credentials", "invalid credentials"), origin


async def test_webitel_refuses_every_other_dialects_token(client: TestClient) -> None:
    token, key = await webitel_session(client)
    ok = await client.get("/api/v2/channels", headers={"X-Access-Token": token, "X-Key": key})
    assert ok.status == 200
    for origin, other in (await foreign_tokens(client, "webitel")).items():
        resp = await client.get("/api/v2/channels",
                                headers={"X-Access-Token": other, "X-Key": key})
        assert resp.status == 401, origin
        assert await resp.json() == {"status": "error", "info": "Invalid token"}, origin


async def test_mor_refuses_every_other_dialects_token(client: TestClient) -> None:
    for origin, other in (await foreign_tokens(client, "mor")).items():
        resp = await client.delete("/billing/api/v2/active_calls",
                                   headers={"Authorization": f"Bearer {other}"})
        body = await resp.json()
        assert resp.status == 401, origin
        assert body["status"] == "error" and body["error"], origin


async def test_callflow_refuses_every_other_dialects_token(client: TestClient) -> None:
    assert (await client.get("/call/list", params={"token": "token-carol"})).status == 200
    for origin, other in (await foreign_tokens(client, "callflow")).items():
        resp = await client.get("/call/list", params={"token": other})
        assert resp.status == 401, origin
        assert await resp.json() == {"status": "not authorized"}, origin
