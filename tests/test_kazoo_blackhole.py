"""Kazoo's blackhole websocket end to end: a real websocket client over loopback against the
gateway's socket listener, fed by the FreeSWITCH and Asterisk simulators through the real
backends and store. Replies and error texts are compared byte for byte (reference A.4)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import EXTRA_LISTENERS
from gateway.config import Settings
from gateway.model import Channel
from tests.demo_ids import ACME, BETA, GAMMA, RESELLER, ROOT
from tests.harness import Live, live_gateway

SECRET = "demo-token-secret-change-me-0123456789"
FRAME_KEYS = ["action", "subscribed_key", "subscription_key", "name", "routing_key", "data"]
#: Keys every channel event carries (A.6 generic keys; the caller's name and presence id only
#: when the switch has them, as Kazoo omits empty values).
GENERIC = {"app_name", "app_version", "event_category", "event_name", "msg_id", "call_id",
           "call_direction", "caller_id_number", "channel_call_state",
           "channel_created_time", "channel_name", "channel_state", "channel_loopback_bowout",
           "channel_loopback_bowout_execute", "custom_channel_vars", "custom_application_vars",
           "custom_sip_headers", "timestamp"}
ADDRESSES = {"request", "to", "to_uri", "from", "from_uri"}
CCV = {"account_id", "authorizing_id", "authorizing_type", "owner_id", "realm", "username",
       "channel_authorized"}
GREGORIAN_OFFSET = 62167219200


def kazoo_only(socket_queue: int = 1000) -> Callable[[Settings], Settings]:
    def edit(settings: Settings) -> Settings:
        kazoo = settings.dialects["kazoo"]
        options = dataclasses.replace(kazoo.options, socket_listen=("127.0.0.1", 0),
                                      socket_queue=socket_queue)
        return dataclasses.replace(settings,
                                   dialects={"kazoo": dataclasses.replace(kazoo, options=options)})
    return edit


@dataclasses.dataclass
class Socketed:
    live: Live
    server: TestServer
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    async def token(self, user: str, account: str) -> str:
        cred = hashlib.md5(f"{user}:demo-{user}".encode()).hexdigest()
        resp = await self.live.client.put(
            "/v2/user_auth", json={"data": {"credentials": cred, "account_name": account}})
        assert resp.status == 201
        return (await resp.json())["auth_token"]

    async def connect(self, path: str = "/") -> Client:
        ws = await self.session.ws_connect(self.server.make_url(path), autoping=True)
        return Client(ws)


class Client:
    """A client that behaves as Monster UI's socket library: JSON text frames only, one
    subscribe per binding, listeners registered on the reply."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []  # every frame, in order
        self.raw: list[str] = []

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(msg))

    async def frame(self, wait: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            msg = await self.ws.receive()
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        self.raw.append(msg.data)
        doc = json.loads(msg.data)  # Monster parses without error handling: always JSON
        self.seen.append(doc)
        return doc

    async def ask(self, msg: dict[str, Any]) -> str:
        """Send and return the raw text of the reply (events before it are kept in `seen`)."""
        await self.send(msg)
        while True:
            doc = await self.frame()
            if doc["action"] == "reply":
                return self.raw[-1]

    async def subscribe(self, token: str | None, account: str, binding: str,
                        rid: str = "r") -> dict[str, Any]:
        msg: dict[str, Any] = {"action": "subscribe", "request_id": rid,
                               "data": {"account_id": account, "binding": binding}}
        if token is not None:
            msg["auth_token"] = token
        return json.loads(await self.ask(msg))

    async def event(self, match: Callable[[dict[str, Any]], bool],
                    wait: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            while True:
                doc = await self.frame(wait)
                if doc["action"] == "event" and match(doc):
                    return doc

    async def until(self, done: Callable[[list[dict[str, Any]]], bool],
                    wait: float = 5.0) -> None:
        """Read frames until `done(events so far)`."""
        async with asyncio.timeout(wait):
            while not done([f for f in self.seen if f["action"] == "event"]):
                await self.frame(wait)

    async def close(self) -> None:
        await self.ws.close()


def destroyed(*legs: str) -> Callable[[list[dict[str, Any]]], bool]:
    def done(events: list[dict[str, Any]]) -> bool:
        gone = {f["data"]["call_id"] for f in events if f["name"] == "CHANNEL_DESTROY"}
        return set(legs) <= gone
    return done


@contextlib.asynccontextmanager
async def socketed(switches: tuple[str, ...] = ("fs1", "ast1"),
                   socket_queue: int = 1000) -> AsyncIterator[Socketed]:
    async with live_gateway(switches=switches, edit=kazoo_only(socket_queue)) as live:
        [listener] = live.client.app[EXTRA_LISTENERS]
        assert listener.name == "kazoo-blackhole"
        server = TestServer(listener.app)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                yield Socketed(live, server, session)
        finally:
            await server.close()


def channel(live: Live, channel_id: str) -> Channel:
    ch = live.gw.store.get(channel_id)
    assert ch is not None, channel_id
    return ch


def reply(rid: str, status: str, data: dict[str, Any]) -> str:
    return json.dumps({"action": "reply", "request_id": rid, "status": status, "data": data},
                      separators=(",", ":"))


def err(rid: str, message: str) -> str:
    return reply(rid, "error", {"errors": [message]})


def forge(**claims: Any) -> str:
    base = {"account_id": ACME, "method": "cb_user_auth", "iss": "kazoo",
            "exp": int(time.time()) + 600}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET,
                      algorithm="HS256")


# ------------------------------------------------------------------------ connection
async def test_any_path_upgrades_and_nothing_is_sent_before_the_client_speaks() -> None:
    async with socketed(switches=("fs1",)) as s:
        for path in ("/", "/socket.io/?EIO=3", "/any/thing"):
            c = await s.connect(path)
            await c.send({"action": "ping", "request_id": "p0"})
            # the first frame is the answer to our first message: nothing came before it
            assert await c.frame() and c.raw[0] == err("p0", "authentication token required")
            await c.close()


async def test_subprotocol_and_plain_http_are_refused_with_400() -> None:
    async with socketed(switches=("fs1",)) as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await s.session.ws_connect(s.server.make_url("/"), protocols=("chat",))
        assert caught.value.status == 400
        async with s.session.get(s.server.make_url("/")) as resp:
            assert resp.status == 400


# ------------------------------------------------------------------- replies, errors
async def test_every_error_of_the_table_verbatim() -> None:
    async with socketed(switches=("fs1",)) as s:
        alice = await s.token("alice", "Acme")
        expired = forge(exp=int(time.time()) - 5)
        foreign = forge(iss="webitel")
        c = await s.connect()
        sub = {"action": "subscribe", "request_id": "r"}
        rows: list[tuple[dict[str, Any], str]] = [
            ({"action": "ping", "request_id": "p"}, err("p", "authentication token required")),
            ({**sub, "auth_token": "", "data": {"account_id": ACME, "binding": "call.*.*"}},
             err("r", "authentication token required")),
            ({**sub, "auth_token": "BAD", "data": {}},
             err("r", "failed to authenticate token BAD")),
            ({**sub, "auth_token": expired}, err("r", f"failed to authenticate token {expired}")),
            ({**sub, "auth_token": foreign}, err("r", f"failed to authenticate token {foreign}")),
            ({**sub, "auth_token": 42}, err("r", "invalid authentication token format")),
            ({**sub, "auth_token": alice}, err("r", "missing required keys in data object")),
            ({**sub, "auth_token": alice, "data": {}},
             err("r", "missing required keys in data object")),
            ({**sub, "auth_token": alice, "data": {"bindings": ["call.*.*"]}},
             err("r", "missing required keys : account_id, binding")),
            ({**sub, "auth_token": alice, "data": {"account_id": ACME, "bindings": ["x"]}},
             err("r", "missing required keys : binding")),
            ({**sub, "auth_token": alice, "data": {"binding": "call.*.*"}},
             err("r", "missing required keys : account_id")),
            ({**sub, "auth_token": alice, "data": {"account_id": ACME,
                                                   "binding": "call.FOO.*"}},
             err("r", "event FOO not supported")),
            ({**sub, "auth_token": alice, "data": {"account_id": ACME, "binding": "call.*"}},
             err("r", "invalid format for call subscription : *")),
            ({**sub, "auth_token": alice, "data": {"account_id": ACME,
                                                   "binding": "call.A.B.C"}},
             err("r", "invalid format for call subscription : A, B, C")),
            ({**sub, "auth_token": alice, "data": {"account_id": BETA, "binding": "call.*.*"}},
             err("r", "unauthorized account id")),
            ({**sub, "auth_token": alice, "data": {"account_id": RESELLER,
                                                   "binding": "call.*.*"}},
             err("r", "unauthorized account id")),
            ({**sub, "auth_token": alice, "data": {"account_id": "e" * 32,
                                                   "binding": "call.*.*"}},
             err("r", "unauthorized account id")),
            ({**sub, "auth_token": alice, "data": {"account_id": "*", "binding": "call.*.*"}},
             err("r", "unauthorized wildcard account id")),
            ({**sub, "auth_token": alice, "data": {"account_id": ACME, "binding": "foo.x"}},
             err("r", "no available subscriptions to requested binding")),
            ({"action": "unsubscribe", "request_id": "u", "auth_token": alice,
              "data": {"account_id": ACME, "binding": "object.doc_created.user"}},
             err("u", "no available subscriptions to requested binding")),
        ]
        for msg, expected in rows:
            assert await c.ask(msg) == expected, msg
        # not one of those frames authenticated the session: a failed frame changes nothing
        assert await c.ask({"action": "ping", "request_id": "p2"}) == err(
            "p2", "authentication token required")
        # an error never closes the socket (Monster re-logs in on the same one)
        assert await c.ask({"action": "ping", "request_id": "p3", "auth_token": alice}) == \
            reply("p3", "success", {})
        # the rate limit: 100 frames, refilled 10 a second
        port = c.ws.get_extra_info("sockname")[1]
        for i in range(120):
            await c.send({"action": "ping", "request_id": f"x{i}"})
        texts = [json.loads((await c.ws.receive()).data) for _ in range(120)]
        limited = [t for t in texts if t["status"] == "error"]
        assert limited and limited[-1] == json.loads(
            err(limited[-1]["request_id"], f"rate limiting threshold hit for 127.0.0.1:{port}!"))


async def test_replies_of_subscribe_unsubscribe_ping_and_sticky_auth() -> None:
    async with socketed(switches=("fs1",)) as s:
        alice = await s.token("alice", "Acme")
        c = await s.connect()
        # the first fully successful frame authenticates: later frames need no token
        assert await c.ask({"action": "subscribe", "auth_token": alice, "request_id": "r1",
                            "data": {"account_id": ACME,
                                     "binding": "call.CHANNEL_CREATE.*"}}) == reply(
            "r1", "success", {"subscribed": ["call.CHANNEL_CREATE.*"]})
        assert await c.ask({"action": "subscribe", "request_id": "r2",
                            "data": {"account_id": ACME, "binding": "call.*.*"}}) == reply(
            "r2", "success", {"subscribed": ["call.CHANNEL_CREATE.*"] + ["call.*.*"] * 9})
        # idempotent
        assert await c.ask({"action": "subscribe", "request_id": "r3",
                            "data": {"account_id": ACME,
                                     "binding": "call.CHANNEL_CREATE.*"}}) == reply(
            "r3", "success", {"subscribed": ["call.CHANNEL_CREATE.*"] + ["call.*.*"] * 9})
        assert await c.ask({"action": "unsubscribe", "request_id": "u1",
                            "data": {"account_id": ACME, "binding": "call.*.*"}}) == reply(
            "u1", "success", {"unsubscribed": ["call.*.*"],
                              "subscribed": ["call.CHANNEL_CREATE.*"]})
        assert await c.ask({"action": "unsubscribe", "request_id": "u2",
                            "data": {"account_id": ACME,
                                     "binding": "call.CHANNEL_HOLD.x"}}) == reply(
            "u2", "success", {"unsubscribed": ["call.CHANNEL_HOLD.x"],
                              "subscribed": ["call.CHANNEL_CREATE.*"]})
        assert await c.ask({"action": "unsubscribe", "request_id": "u3"}) == err(
            "u3", "missing required keys in data object")
        assert await c.ask({"action": "ping", "request_id": "p"}) == reply("p", "success", {})
        assert await c.ask({"action": "dance", "request_id": "d"}) == reply("d", "success", {})
        noop = json.loads(await c.ask({"data": {}}))  # no action, no request_id: a random one
        assert noop["status"] == "success" and len(noop["request_id"]) == 32
        # a token that expires later is not checked again (sticky, as 4.3)
        superduper = await s.token("admin", "Root Telco")
        c2 = await s.connect()
        assert json.loads(await c2.ask({
            "action": "subscribe", "auth_token": superduper, "request_id": "w",
            "data": {"account_id": "*", "binding": "call.CHANNEL_DESTROY.*"}}))["status"] == \
            "success"


# --------------------------------------------------------------------------- events
def _keys_ok(frame: dict[str, Any], account: str) -> dict[str, Any]:
    assert list(frame) == FRAME_KEYS
    data = frame["data"]
    name = frame["name"]
    assert data["event_name"] == name and data["event_category"] == "call_event"
    encoded = data["call_id"].replace(".", "%2E")  # kz_amqp_util:encode/1
    assert frame["routing_key"] == f"call.{account}.{name}.{encoded}"
    assert GENERIC <= set(data), GENERIC - set(data)
    assert isinstance(data["timestamp"], int) and data["timestamp"] > GREGORIAN_OFFSET
    assert abs(data["timestamp"] - GREGORIAN_OFFSET - time.time()) < 60
    assert isinstance(data["channel_created_time"], int) and isinstance(data["msg_id"], str)
    assert data["channel_loopback_bowout"] is False
    assert data["custom_channel_vars"]["account_id"] == account
    assert not [k for k in data if k != k.lower() or "-" in k]
    assert None not in data.values() and "" not in data.values()
    if name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"):
        assert ADDRESSES - {"from_uri"} <= set(data) and isinstance(data["to"], str)
    if name == "CHANNEL_DESTROY":
        for key in ("duration_seconds", "billing_seconds", "ringing_seconds"):
            assert isinstance(data[key], int) and data[key] >= 0
        assert data["hangup_cause"]
    return data


async def _call_sequence(s: Socketed, sim: Any, caller: str, callee: str, account: str,
                         token: str) -> None:
    c = await s.connect()
    got = await c.subscribe(token, account, "call.*.*")
    assert got["status"] == "success"
    a = await sim.place_call(caller, callee, answer_after=0.05)
    live = s.live

    def bridged() -> bool:
        ch = live.gw.store.get(a)
        return bool(ch and ch.bridged)

    await live.until(bridged)
    b = channel(live, a).other_leg
    await sim.hold(a)
    await live.until(lambda: channel(live, a).held)
    await sim.unhold(a)
    await live.until(lambda: not channel(live, a).held)
    await sim.hangup(a)
    await live.until(lambda: a not in live.gw.store and b not in live.gw.store)
    await c.until(destroyed(a, b))
    events = [f for f in c.seen if f["action"] == "event"]
    names = {leg: [f["name"] for f in events if f["data"]["call_id"] == leg] for leg in (a, b)}
    for leg in (a, b):
        assert names[leg][0] == "CHANNEL_CREATE" and names[leg][-1] == "CHANNEL_DESTROY"
        assert "CHANNEL_ANSWER" in names[leg]
    assert (names[a] + names[b]).count("CHANNEL_BRIDGE") == 2  # once per leg
    assert "CHANNEL_HOLD" in names[a] and "CHANNEL_UNHOLD" in names[a]
    assert names[a].index("CHANNEL_HOLD") < names[a].index("CHANNEL_UNHOLD")
    for f in events:
        data = _keys_ok(f, account)
        assert f["subscribed_key"] == "call.*.*"
        assert f["subscription_key"] == f"call.{account}.{f['name']}.*"
        assert CCV <= set(data["custom_channel_vars"]) or data["call_direction"] == "outbound"
    bridge = next(f["data"] for f in events if f["name"] == "CHANNEL_BRIDGE")
    assert bridge["other_leg_call_id"] in (a, b) and "other_leg_caller_id_number" in bridge
    destroy_a = next(f["data"] for f in events
                     if f["name"] == "CHANNEL_DESTROY" and f["data"]["call_id"] == a)
    assert destroy_a["custom_channel_vars"]["authorizing_type"] == "device"
    assert destroy_a["disposition"] == "ANSWER"
    await c.close()


async def test_full_call_event_sequence_on_freeswitch() -> None:
    async with socketed() as s:
        await _call_sequence(s, s.live.fs, "201", "202", ACME, await s.token("alice", "Acme"))


async def test_full_call_event_sequence_on_asterisk() -> None:
    async with socketed() as s:
        await _call_sequence(s, s.live.ast, "401", "402", GAMMA, await s.token("gus", "Gamma"))


async def test_reply_comes_before_the_first_event_of_a_binding() -> None:
    """Monster registers its listener on the reply: an event before it would be lost."""
    async with socketed(switches=("fs1",)) as s:
        alice = await s.token("alice", "Acme")
        c = await s.connect()
        a = await s.live.fs.place_call("201", "202", answer_after=None)
        await s.live.until(lambda: a in s.live.gw.store)
        await c.send({"action": "subscribe", "auth_token": alice, "request_id": "r",
                      "data": {"account_id": ACME, "binding": "call.*.*"}})
        await s.live.fs.hangup(a)
        first = await c.frame()
        assert first["action"] == "reply" and first["status"] == "success"
        await c.event(lambda f: f["name"] == "CHANNEL_DESTROY" and f["data"]["call_id"] == a)


async def test_per_call_binding_and_overlapping_bindings() -> None:
    async with socketed(switches=("fs1",)) as s:
        alice = await s.token("alice", "Acme")
        c = await s.connect()
        assert (await c.subscribe(alice, ACME, "call.CHANNEL_CREATE.*"))["status"] == "success"
        assert (await c.subscribe(None, ACME, "call.*.*"))["status"] == "success"
        a = await s.live.fs.place_call("201", "202", answer_after=None)
        creates = [await c.event(lambda f: f["name"] == "CHANNEL_CREATE"
                                 and f["data"]["call_id"] == a) for _ in range(2)]
        # one frame per matching binding, each naming its own
        assert sorted(f["subscribed_key"] for f in creates) == ["call.*.*",
                                                                 "call.CHANNEL_CREATE.*"]
        assert sorted(f["subscription_key"] for f in creates) == [
            f"call.{ACME}.CHANNEL_CREATE.*", f"call.{ACME}.CHANNEL_CREATE.*"]
        assert creates[0]["data"] == creates[1]["data"]
        # a binding for this call only
        store = s.live.gw.store

        def legs() -> list[str]:
            return [x.id for x in store.by_call(channel(s.live, a).call_id) if x.id != a]

        await s.live.until(lambda: bool(legs()))
        [b] = legs()
        c2 = await s.connect()
        got = await c2.subscribe(alice, ACME, f"call.CHANNEL_DESTROY.{b}")
        assert got["data"] == {"subscribed": [f"call.CHANNEL_DESTROY.{b}"]}
        assert (await c2.subscribe(None, ACME, f"call.*.{b}"))["status"] == "success"
        await s.live.fs.hangup(a)
        await s.live.until(lambda: a not in s.live.gw.store and b not in s.live.gw.store)
        await c.until(destroyed(a, b))
        # c2 learns about the B-leg only, twice for its destroy, once per binding
        await c2.ask({"action": "ping", "request_id": "end"})  # a marker after the events
        events = [f for f in c2.seen if f["action"] == "event"]
        assert events and {f["data"]["call_id"] for f in events} == {b}
        destroys = [f["subscribed_key"] for f in events if f["name"] == "CHANNEL_DESTROY"]
        assert sorted(destroys) == sorted([f"call.CHANNEL_DESTROY.{b}", f"call.*.{b}"])


# --------------------------------------------------------------------------- tenancy
async def test_reseller_sees_a_child_account_and_a_child_never_its_parent() -> None:
    async with socketed(switches=("fs1",)) as s:
        reseller = await s.token("reseller", "Reseller One")
        alice = await s.token("alice", "Acme")
        r = await s.connect()
        assert (await r.subscribe(reseller, ACME, "call.CHANNEL_CREATE.*"))["status"] == \
            "success"
        a_sock = await s.connect()
        assert (await a_sock.subscribe(alice, RESELLER, "call.*.*"))["data"] == {
            "errors": ["unauthorized account id"]}
        assert (await a_sock.subscribe(alice, ROOT, "call.*.*"))["data"] == {
            "errors": ["unauthorized account id"]}
        a = await s.live.fs.place_call("201", "202", answer_after=None)
        frame = await r.event(lambda f: f["data"]["call_id"] == a)
        assert frame["subscription_key"] == f"call.{ACME}.CHANNEL_CREATE.*"
        await s.live.fs.hangup(a)


async def test_another_tenants_calls_never_reach_a_socket() -> None:
    """Over a stretch of traffic in three tenants on both switches, each socket sees its own
    account's calls and nothing else; a last call in each account closes the window."""
    async with socketed() as s:
        socks = {}
        for user, account_name, account in (("alice", "Acme", ACME), ("erin", "Beta", BETA),
                                            ("gus", "Gamma", GAMMA)):
            c = await s.connect()
            assert (await c.subscribe(await s.token(user, account_name), account,
                                      "call.*.*"))["status"] == "success"
            socks[account] = c
        placed: dict[str, list[str]] = {ACME: [], BETA: [], GAMMA: []}
        for _ in range(3):
            placed[ACME].append(await s.live.fs.place_call("201", "202", answer_after=0.02))
            placed[BETA].append(await s.live.fs.place_call("301", "37052000001",
                                                           answer_after=0.02))
            placed[GAMMA].append(await s.live.ast.place_call("401", "402", answer_after=0.02))
            await asyncio.sleep(0.05)
            for calls in placed.values():
                await (s.live.ast if calls is placed[GAMMA] else s.live.fs).hangup(calls[-1])
        for account, calls in placed.items():
            await socks[account].until(destroyed(calls[-1]))
        for account, c in socks.items():
            events = [f for f in c.seen if f["action"] == "event"]
            assert events
            for f in events:
                assert f["routing_key"].startswith(f"call.{account}.")
                assert f["data"]["custom_channel_vars"]["account_id"] == account
            ids = {f["data"]["call_id"] for f in events}
            for other, calls in placed.items():
                if other != account:
                    assert not ids & set(calls)


# ---------------------------------------------------------------- slow, shutdown, bad
def _raw_ws(port: int) -> socket.socket:
    """A websocket that never reads: a tiny receive buffer so the server's writes back up."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


def _send_masked(sock: socket.socket, text: str) -> None:
    """One masked text frame, as a client must send it."""
    payload = text.encode()
    mask = b"\x01\x02\x03\x04"
    head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", len(payload)) if len(payload) > 125 \
        else bytes([0x81, 0x80 | len(payload)])
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each complete unmasked server frame in `data`."""
    out = []
    while len(data) >= 2:
        op, n = data[0] & 0x0F, data[1] & 0x7F
        at = 2
        if n == 126:
            n, at = struct.unpack(">H", data[2:4])[0], 4
        elif n == 127:
            n, at = struct.unpack(">Q", data[2:10])[0], 10
        if len(data) < at + n:
            break
        out.append((op, data[at:at + n]))
        data = data[at + n:]
    return out


def _read_until(sock: socket.socket, done: Callable[[bytes], bool]) -> bytes:
    data = b""
    while not done(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


async def test_a_slow_socket_is_closed_and_never_slows_the_others() -> None:
    """A client that stops reading fills its queue and is closed with 1008; a client reading
    the same events gets every one of them meanwhile."""
    async with socketed(switches=("fs1",), socket_queue=20) as s:
        alice = await s.token("alice", "Acme")
        fast = await s.connect()
        assert (await fast.subscribe(alice, ACME, "call.*.*"))["status"] == "success"
        assert s.server.port is not None
        slow = await asyncio.to_thread(_raw_ws, s.server.port)
        slow.settimeout(20)
        _send_masked(slow, json.dumps({"action": "subscribe", "auth_token": alice,
                                       "request_id": "s",
                                       "data": {"account_id": ACME, "binding": "call.*.*"}}))
        first = await asyncio.to_thread(_read_until, slow, lambda d: bool(_frames(d)))
        assert json.loads(_frames(first)[0][1])["status"] == "success"
        # from here on the slow client reads nothing
        store = s.live.gw.store
        store.add(Channel(id="slow-test", node="test", name="sofia/internal/201@acme",
                          username="201", realm="acme.example.com", created=time.time(),
                          destination="202", caller_id_name="x" * 500, call_id="slow"))
        assert channel(s.live, "slow-test").account_id == ACME
        total = 0
        for _ in range(300):  # 3,000 frames of over 1 KB: far past every buffer on the way
            for _ in range(10):
                store.update("slow-test", held=not channel(s.live, "slow-test").held)
                total += 1
            await fast.until(partial(_all_toggles, total))
        assert _toggles(fast) == total  # the fast socket got every one, in order
        names = [f["name"] for f in fast.seen if f["action"] == "event"
                 and f["data"]["call_id"] == "slow-test"]
        assert names[0] == "CHANNEL_CREATE"
        assert names[1:] == ["CHANNEL_HOLD", "CHANNEL_UNHOLD"] * (total // 2)
        data = await asyncio.to_thread(_read_until, slow, lambda d: False)  # to EOF
        frames = _frames(data)
        assert frames and frames[-1][0] == 0x8, "the slow socket was not closed"
        assert struct.unpack(">H", frames[-1][1][:2])[0] == 1008
        assert b"overflow" in frames[-1][1]
        assert len(frames) < total  # it was cut off, not served in full
        slow.close()


def _toggles(c: Client) -> int:
    return _count_toggles([f for f in c.seen if f["action"] == "event"])


def _count_toggles(events: list[dict[str, Any]]) -> int:
    return sum(1 for f in events
               if f["data"]["call_id"] == "slow-test" and f["name"] != "CHANNEL_CREATE")


def _all_toggles(total: int, events: list[dict[str, Any]]) -> bool:
    return _count_toggles(events) >= total


async def test_shutdown_closes_every_open_socket_with_1001() -> None:
    async with live_gateway(switches=("fs1",), edit=kazoo_only()) as live:
        [listener] = live.client.app[EXTRA_LISTENERS]
        server = TestServer(listener.app)
        await server.start_server()
        s = Socketed(live, server, aiohttp.ClientSession())
        try:
            alice = await s.token("alice", "Acme")
            clients = [await s.connect() for _ in range(3)]
            for c in clients:
                assert (await c.subscribe(alice, ACME, "call.*.*"))["status"] == "success"
            closing = asyncio.create_task(server.close())
            for c in clients:
                async with asyncio.timeout(5):
                    msg = await c.ws.receive()
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert c.ws.close_code == 1001
            await closing
        finally:
            await s.session.close()


async def test_bad_input_gets_a_reply_or_a_close_never_a_crash(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with socketed(switches=("fs1",)) as s:
        alice = await s.token("alice", "Acme")
        bystander = await s.connect()
        assert (await bystander.subscribe(alice, ACME, "call.*.*"))["status"] == "success"
        c = await s.connect()
        await c.ws.send_bytes(b"\x00\x01binary")
        doc = await c.frame()
        assert doc["status"] == "error" and doc["data"] == {
            "errors": ["binary frames are not supported"]}
        for bad in ("{not json", "[1, 2]", "\"text\"", "[" * 5000 + "]" * 5000):
            await c.ws.send_str(bad)
            doc = await c.frame()
            assert doc["status"] == "error" and doc["data"] == {"errors": ["invalid JSON object"]}
        assert json.loads(await c.ask({
            "action": "subscribe", "auth_token": alice, "request_id": "b",
            "data": {"account_id": ACME, "binding": ["call.*.*"]}}))["data"] == {
            "errors": ["binding must be a string"]}
        # an expired token on a new socket
        expired = forge(exp=int(time.time()) - 1, owner_id=None)
        fresh = await s.connect()
        assert await fresh.ask({"action": "ping", "request_id": "e", "auth_token": expired}) == \
            err("e", f"failed to authenticate token {expired}")
        # 10,000 subscriptions on one socket: the rate limit answers, the socket lives on
        many = await s.connect()
        for i in range(10_000):
            await many.send({"action": "subscribe", "auth_token": alice, "request_id": str(i),
                             "data": {"account_id": ACME, "binding": f"call.*.c{i}"}})
        statuses = []
        for _ in range(10_000):
            statuses.append(json.loads((await many.ws.receive()).data)["status"])
        assert statuses.count("success") >= 100 and "error" in statuses
        # a 1 MB frame closes that socket with a reason
        big = await s.connect()
        await big.ws.send_str(json.dumps({"action": "ping", "pad": "x" * (1 << 20)}))
        async with asyncio.timeout(5):
            msg = await big.ws.receive()
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert big.ws.close_code == 1009
        # and everyone else is still served
        a = await s.live.fs.place_call("201", "202", answer_after=None)
        await bystander.event(lambda f: f["data"]["call_id"] == a)
        assert (await c.ask({"action": "ping", "request_id": "z", "auth_token": alice})) == \
            reply("z", "success", {})
        await s.live.fs.hangup(a)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


async def test_park_events_on_both_switches() -> None:
    async with socketed() as s:
        store = s.live.gw.store
        for sim, caller, callee, account, user, name in (
                (s.live.fs, "201", "202", ACME, "alice", "Acme"),
                (s.live.ast, "401", "402", GAMMA, "gus", "Gamma")):
            c = await s.connect()
            assert (await c.subscribe(await s.token(user, name), account,
                                      "call.PARK_PARKED.*"))["status"] == "success"
            assert (await c.subscribe(None, account, "call.PARK_ABANDONED.*"))["status"] == \
                "success"
            a = await sim.place_call(caller, callee, answer_after=0.05)
            await s.live.until(partial(_bridged, store, a))
            await sim.park(a)
            parked = await c.event(partial(_about, a))
            assert parked["name"] == "PARK_PARKED"
            data = parked["data"]
            assert data["app_name"] == "callflow" and "timestamp" not in data
            assert len(data["msg_id"]) == 32
            assert data["custom_channel_vars"]["realm"] and data["custom_channel_vars"][
                "account_id"] == account
            await sim.hangup(a)
            gone = await c.event(partial(_about, a))
            assert gone["name"] == "PARK_ABANDONED"
            await c.close()


def _bridged(store: Any, channel_id: str) -> bool:
    ch = store.get(channel_id)
    return bool(ch and ch.bridged)


def _about(channel_id: str, frame: dict[str, Any]) -> bool:
    return bool(frame["data"]["call_id"] == channel_id)
