"""Commands under switch faults, over HTTP in each dialect: a switch that takes the command and
never answers, a node that is down, a channel that hangs up while the command is on its way.
Each request comes back, within the backend's `command_timeout`, with the dialect's own error;
`asyncio.timeout` around each request is only a safety net against a hung test."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import encode_basic_auth
from lxml import etree

from gateway.config import Settings
from tests.demo_ids import ACME
from tests.harness import Live, live_gateway

COMMAND_TIMEOUT = 0.5  # short for the test; the default is 5 s
SAFETY = 10.0  # a request still open after this is hung: the test fails, never waits forever


def short_timeouts(settings: Settings, timeout: float = COMMAND_TIMEOUT) -> Settings:
    return dataclasses.replace(settings, backends=tuple(
        dataclasses.replace(b, command_timeout=timeout) for b in settings.backends))


# ---------------------------------------------------------------- each dialect's hangup
async def kazoo(live: Live, a: str) -> tuple[int, Any]:
    cred = hashlib.md5(b"alice:demo-alice").hexdigest()
    r = await live.client.put("/v2/user_auth",
                              json={"data": {"credentials": cred, "account_name": "Acme"}})
    token = (await r.json())["auth_token"]
    r = await live.client.post(f"/v2/accounts/{ACME}/channels/{a}",
                               json={"data": {"action": "hangup"}},
                               headers={"X-Auth-Token": token})
    return r.status, await r.json()


async def webitel(live: Live, a: str) -> tuple[int, Any]:
    r = await live.client.post("/login", json={"username": "alice@acme.example.com",
                                               "password": "demo-alice"})
    s = await r.json()
    r = await live.client.delete(f"/api/v2/channels/{a}",
                                 headers={"X-Access-Token": s["token"], "X-Key": s["key"]})
    return r.status, await r.json()


async def mor(live: Live, a: str) -> tuple[int, Any]:
    admin = {"u": "admin", "hash": hashlib.sha1(b"admin456789").hexdigest()}
    r = await live.client.post("/billing/api/active_calls_get", params=admin)
    doc = etree.fromstring(await r.read())
    ids = {c.findtext("uniqueid"): c.findtext("id") for c in doc.findall("active_call")}
    r = await live.client.post("/billing/api/v2/authentication/login",
                               headers={"Authorization": encode_basic_auth("alice", "demo-alice")})
    bearer = {"Authorization": f"Bearer {(await r.json())['token']}"}
    r = await live.client.delete(f"/billing/api/v2/active_calls/{ids[a]}", headers=bearer)
    return r.status, await r.json()


async def callflow(live: Live, a: str) -> tuple[int, Any]:
    r = await live.client.post(f"/call/{a}/hangup", params={"token": "token-alice"})
    return r.status, await r.json()


Hangup = Callable[[Live, str], Awaitable[tuple[int, Any]]]
#: (dialect, its hangup, its answer when the switch cannot be reached, its not-found answer)
DIALECTS: list[tuple[str, Hangup, Callable[[int, Any], bool], Callable[[int, Any], bool]]] = [
    ("kazoo", kazoo,
     lambda s, d: s == 503 and d["status"] == "error" and d["message"] == "datastore timeout"
     and d["error"] == "503",
     lambda s, d: s == 404 and d["message"] == "bad identifier"),
    ("webitel", webitel,
     lambda s, d: (s, d) == (500, {"status": "error", "info": "ESL response undefined"}),
     lambda s, d: (s, d) == (500, {"status": "error", "info": "-ERR No such channel!\n"})),
    ("mor", mor,
     lambda s, d: (s, d) == (503, {"status": "error", "error": "Switch is not available"}),
     lambda s, d: s == 404 and d["status"] == "error"),
    ("callflow", callflow,
     lambda s, d: s == 500 and d == {
         "status": "unhandled exception",
         "description": "PBX failure: the switch did not carry out the command"},
     lambda s, d: s == 404 and d["status"] == "not found"),
]
IDS = [d[0] for d in DIALECTS]


async def bounded(live: Live, hangup: Hangup, a: str) -> tuple[int, Any]:
    async with asyncio.timeout(SAFETY):
        return await hangup(live, a)


@pytest.mark.parametrize(("name", "hangup", "unavailable", "not_found"), DIALECTS, ids=IDS)
async def test_switch_that_never_answers(name: str, hangup: Hangup, unavailable: Any,
                                         not_found: Any) -> None:
    async with live_gateway(edit=short_timeouts) as live:
        a = (await live.answered_call())[0]
        live.fs.stall(SAFETY * 3)  # takes the command, answers nothing
        try:
            status, doc = await bounded(live, hangup, a)
            assert unavailable(status, doc), (status, doc)
            assert any(c.startswith(f"api uuid_kill {a}") for c in live.fs.commands) or \
                live.fs.stalled  # held unread by the silent switch, or read and ignored
        finally:
            live.fs._unstall()


@pytest.mark.parametrize(("name", "hangup", "unavailable", "not_found"), DIALECTS, ids=IDS)
async def test_node_that_is_down(name: str, hangup: Hangup, unavailable: Any,
                                 not_found: Any) -> None:
    async with live_gateway(edit=short_timeouts) as live:
        a = (await live.answered_call())[0]
        await live.gw.backends["fs1"].stop()
        n = len(live.fs.commands)
        status, doc = await bounded(live, hangup, a)
        assert unavailable(status, doc), (status, doc)
        assert live.fs.commands[n:] == []


@pytest.mark.parametrize(("name", "hangup", "unavailable", "not_found"), DIALECTS, ids=IDS)
async def test_channel_that_hangs_up_mid_command(name: str, hangup: Hangup, unavailable: Any,
                                                 not_found: Any) -> None:
    async with live_gateway(edit=lambda s: short_timeouts(s, 4.0)) as live:
        a = (await live.answered_call())[0]
        live.fs.stall(1.0)  # the command waits in the switch's queue...
        await live.fs.hangup(a)  # ...while the call ends (its events held back as well)
        assert live.gw.store.get(a) is not None
        n = len(live.fs.commands)
        status, doc = await bounded(live, hangup, a)
        assert not_found(status, doc), (status, doc)
        assert f"api uuid_kill {a} NORMAL_CLEARING" in live.fs.commands[n:]
        await live.until(lambda: live.gw.store.get(a) is None)


# ---------------------------------------------------------------- the same over Asterisk
async def gus_hangup(live: Live, a: str) -> tuple[int, Any]:
    r = await live.client.post("/login", json={"username": "gus@gamma.example.com",
                                               "password": "demo-gus"})
    s = await r.json()
    async with asyncio.timeout(SAFETY):
        r = await live.client.delete(f"/api/v2/channels/{a}",
                                     headers={"X-Access-Token": s["token"], "X-Key": s["key"]})
        return r.status, await r.json()


async def asterisk_call(live: Live) -> str:
    a = await live.ast.place_call("401", "402")
    await live.until(lambda: len(list(live.gw.store.by_node("ast1"))) == 2
                     and all(c.answered for c in live.gw.store.by_node("ast1")))
    return a


async def test_asterisk_that_never_answers() -> None:
    async with live_gateway(edit=short_timeouts, switches=("fs1", "ast1")) as live:
        a = await asterisk_call(live)
        live.ast.stall(SAFETY * 3)
        status, doc = await gus_hangup(live, a)
        assert (status, doc) == (500, {"status": "error", "info": "ESL response undefined"})


async def test_asterisk_channel_that_hangs_up_mid_command() -> None:
    async with live_gateway(edit=lambda s: short_timeouts(s, 4.0),
                            switches=("fs1", "ast1")) as live:
        a = await asterisk_call(live)
        live.ast.stall(1.0)  # the switch's events and replies are held back...
        await live.ast.hangup(a)  # ...while the call ends
        assert live.gw.store.get(a) is not None
        mark = len(live.ast.actions)
        status, doc = await gus_hangup(live, a)
        assert (status, doc) == (500, {"status": "error", "info": "-ERR No such channel!\n"})
        assert any(act.get("Action", "").lower() == "hangup" for act in live.ast.actions[mark:])
