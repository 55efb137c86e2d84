"""Tokens checked against an external auth server (`GET <auth_server>/token/<token>`), as the
original did, with a real aiohttp server standing in for it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dialects.callflow.settings import CallflowSettings
from gateway.app import build_app
from gateway.context import Gateway
from gateway.demo import load_demo

USERS = {
    # carol (number 5) as the auth server knows her: a Receptionist
    "good": {"id": 5, "name": "Carol", "extension": "203", "groups": ["Receptionist"],
             "identities": ["carol@acme.example.com"]},
    # a real identity without a receptionist group
    "service": {"id": 6, "name": "Dan", "extension": "204", "groups": ["Service agent"]},
    # an id our directory does not know: no organization, so no access
    "stranger": {"id": 999, "name": "X", "extension": "999", "groups": ["Receptionist"]},
    # erin (Beta, number 7), Administrator
    "erin": {"id": 7, "name": "Erin", "extension": "301",
             "groups": ["Receptionist", "Administrator"]},
}


@pytest.fixture
async def setup() -> AsyncIterator[tuple[TestClient, list[str]]]:
    asked: list[str] = []

    async def token(request: web.Request) -> web.StreamResponse:
        name = request.match_info["token"]
        asked.append(name)
        if name == "garbage":
            return web.Response(text="<html>oops</html>")
        if name not in USERS:
            return web.json_response({"status": "not found"}, status=404)
        return web.json_response(USERS[name])

    auth_app = web.Application()
    auth_app.router.add_get("/token/{token}", token)
    auth_server = TestServer(auth_app)
    await auth_server.start_server()
    settings = load_demo()
    url = str(auth_server.make_url("")).rstrip("/")
    dialect = dataclasses.replace(settings.dialects["callflow"],
                                  options=CallflowSettings(auth_server=url,
                                                           token_cache_seconds=30))
    settings = dataclasses.replace(settings, dialects={**settings.dialects,
                                                       "callflow": dialect})
    gw = Gateway.build(settings, backends=False)
    client = TestClient(TestServer(build_app(gw, manage_backends=False)))
    await client.start_server()
    try:
        yield client, asked
    finally:
        await client.close()
        await auth_server.close()


async def test_a_token_the_auth_server_knows_is_accepted_and_cached(setup):
    client, asked = setup
    for _ in range(3):
        resp = await client.get("/call/list?token=good")
        assert resp.status == 200
        assert await resp.json() == {"calls": [], "status": "ok"}
    assert asked == ["good"]  # cached after the first answer


@pytest.mark.parametrize("token", ["unknown", "service", "stranger", "garbage", "a/../b"])
async def test_everything_else_is_not_authorized(setup, token):
    client, asked = setup
    resp = await client.get("/call/list", params={"token": token})
    assert resp.status == 401
    assert await resp.json() == {"status": "not authorized"}
    assert asked == [token]  # the token travels as one path segment, quoted


async def test_static_tokens_are_not_used_with_an_auth_server(setup):
    client, asked = setup
    resp = await client.get("/call/list?token=token-carol")
    assert resp.status == 401
    assert asked == ["token-carol"]


async def test_administrator_group_may_hang_up_and_is_scoped(setup):
    client, _ = setup
    resp = await client.post("/call/hangup", data={"token": "erin", "call_id": "acme-1"})
    assert resp.status == 404  # not a 401: an Administrator may reach hangup
    assert await resp.json() == {"status": "not found",
                                 "description": "acme-1 may already be hung up."}


async def test_unreachable_auth_server_means_no_user():
    settings = load_demo()
    dialect = dataclasses.replace(
        settings.dialects["callflow"],
        options=CallflowSettings(auth_server="http://127.0.0.1:9", token_cache_seconds=30))
    settings = dataclasses.replace(settings, dialects={**settings.dialects,
                                                       "callflow": dialect})
    gw = Gateway.build(settings, backends=False)
    async with TestClient(TestServer(build_app(gw, manage_backends=False))) as client:
        resp = await client.get("/call/list?token=good")
        assert resp.status == 401
        assert await resp.json() == {"status": "not authorized"}
