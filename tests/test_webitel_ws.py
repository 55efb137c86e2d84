"""The engine's WebSocket API end to end: a real WebSocket client over loopback against a
gateway fed by the simulated switches. Replies, errors and events are compared with the
engine v3 protocol (envelopes, auth, call control with FreeSWITCH's texts, SE:* frames), and
every domain user's socket is checked never to see or touch another domain's channels."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from gateway.config import Settings
from gateway.model import State
from gateway.tokens import TokenSigner
from tests.harness import Live, live_gateway

NEW_LEG = re.compile(r"^\+OK ([0-9a-f-]{36})\n$")
ALICE = {"account": "alice@acme.example.com", "secret": "demo-alice"}
BOB = {"account": "bob@acme.example.com", "secret": "demo-bob"}
ERIN = {"account": "erin@beta.example.com", "secret": "demo-erin"}
GUS = {"account": "gus@gamma.example.com", "secret": "demo-gus"}
ROOT = {"account": "root", "secret": "demo-admin"}
WAIT = 5.0


def webitel(**options: Any) -> Callable[[Settings], Settings]:
    def edit(s: Settings) -> Settings:
        w = s.dialects["webitel"]
        if options:
            w = dataclasses.replace(w, options=dataclasses.replace(w.options, **options))
        return dataclasses.replace(s, dialects={"webitel": w})
    return edit


class Ws:
    """A client as the engine's browser library behaves: GUID exec-uuids, replies matched by
    exec-uuid, every frame with `webitel-event-name` kept as an event."""

    _ids = itertools.count(1)

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}
        self.stray: list[dict[str, Any]] = []  # replies without an exec-uuid

    async def send(self, func: str, args: Any = None, **extra: Any) -> str:
        uid = f"g{next(self._ids)}"
        msg: dict[str, Any] = {"exec-uuid": uid, "exec-func": func, **extra}
        if args is not None:
            msg["exec-args"] = args
        await self.ws.send_str(json.dumps(msg))
        return uid

    async def _read(self) -> dict[str, Any] | None:
        msg = await self.ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return None
        frame = json.loads(msg.data)
        if "webitel-event-name" in frame:
            self.events.append(frame)
        elif "exec-uuid" in frame:
            self.replies[frame["exec-uuid"]] = frame
        else:
            self.stray.append(frame)
        return frame

    async def reply(self, uid: str) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            while uid not in self.replies:
                if await self._read() is None:
                    raise ConnectionError(f"closed before the reply to {uid}")
        return self.replies.pop(uid)

    async def cmd(self, func: str, args: Any = None) -> dict[str, Any]:
        return await self.reply(await self.send(func, args))

    async def event(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            while True:
                for ev in self.events:
                    if match(ev):
                        return ev
                if await self._read() is None:
                    raise ConnectionError("closed before the event")

    async def sync(self) -> None:
        """Everything queued for this socket before now has arrived (a ping's reply is
        queued after it)."""
        assert (await self.cmd("ping"))["exec-response"] == "pong"

    async def closed(self) -> int | None:
        """Read until the server closes; the close code."""
        async with asyncio.timeout(WAIT):
            while await self._read() is not None:
                pass
        return self.ws.close_code


@asynccontextmanager
async def ws(live: Live, creds: dict[str, str] | None = None,
             path: str = "/") -> AsyncIterator[Ws]:
    conn = await live.client.ws_connect(path)
    client = Ws(conn)
    try:
        if creds is not None:
            r = await client.cmd("auth", creds)
            assert r["exec-complete"] == "+OK", r
        yield client
    finally:
        await conn.close()


def uuids(events: list[dict[str, Any]], name: str | None = None) -> set[str]:
    return {e["Unique-ID"] for e in events if "Unique-ID" in e
            and (name is None or e["Event-Name"] == name)}


async def call(live: Live, caller: str, callee: str) -> tuple[str, str]:
    a = await live.fs.place_call(caller, callee)
    await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.bridged)
    return a, live.gw.store.get(a).other_leg


async def rest_rows(live: Live, user: str, password: str) -> dict[str, dict[str, str]]:
    """The rows the REST list shows that user, by uuid."""
    r = await live.client.post("/login", json={"username": user, "password": password})
    s = await r.json()
    r = await live.client.get("/api/v2/channels", headers={"X-Access-Token": s["token"],
                                                           "X-Key": s["key"]})
    assert r.status == 200
    return {row["uuid"]: row for row in (await r.json())["data"]["rows"]}


async def rest_list(live: Live, user: str, password: str) -> set[str]:
    return set(await rest_rows(live, user, password))


def sent(live: Live, since: int) -> list[str]:
    return [c for c in live.fs.commands[since:] if not c.startswith("api show")]


def quiet(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], \
        [r.getMessage() for r in caplog.records]


# -------------------------------------------------------------------- auth
async def test_account_auth_answers_the_session_object() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live) as c:
        uid = await c.send("auth", ALICE)
        online = await c.event(lambda e: e.get("Event-Name") == "ACCOUNT_ONLINE")
        assert uid not in c.replies  # the presence event comes before the answer
        assert online == {"Event-Name": "ACCOUNT_ONLINE", "Event-Domain": "acme.example.com",
                          "User-ID": "alice", "User-Domain": "acme.example.com",
                          "User-Scheme": "account", "Content-Type": "text/event-json",
                          "webitel-event-name": "user"}
        r = await c.reply(uid)
        assert list(r) == ["exec-uuid", "exec-complete", "exec-response"]
        assert r["exec-complete"] == "+OK"
        body = r["exec-response"]
        assert list(body) == ["login", "role", "domain", "state", "status", "cc-agent",
                              "session", "ws-count", "cc-logged", "acl"]
        assert (body["login"], body["role"], body["domain"]) == (
            "alice@acme.example.com", "admin", "acme.example.com")
        assert body["cc-agent"] is False and body["cc-logged"] is False
        assert (body["state"], body["status"], body["ws-count"]) == ("NONE", "ONHOOK", 1)
        assert re.fullmatch(r"[0-9a-f-]{36}", body["session"])
        assert body["acl"]["channels"] == ["*"]
        # a second auth on the same socket is not answered (the engine listened once)
        later = await c.send("auth", BOB)
        await c.sync()
        assert later not in c.replies


async def test_auth_failures_and_root() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live) as c:
        r = await c.cmd("auth", {"account": "alice@acme.example.com", "secret": "nope"})
        assert r["exec-complete"] == "+ERR"
        assert r["exec-response"] == {"login": {"status": 401, "message": "secret incorrect"}}
        r = await c.cmd("auth", {"account": "root", "secret": "nope"})
        assert r["exec-response"] == {"login": {"status": 401, "message": "secret incorrect"}}
        r = await c.cmd("auth", {"account": "zed@acme.example.com", "secret": "x"})
        assert (r["exec-complete"], r["exec-response"]["login"]["status"]) == ("+ERR", 401)
        # a failed auth does not use up the socket's one auth
        r = await c.cmd("auth", ROOT)
        assert r["exec-complete"] == "+OK"
        body = r["exec-response"]
        assert list(body) == ["login", "role", "session", "ws-count", "cc-logged", "acl"]
        assert (body["login"], body["role"]) == ("root", "root")


async def test_key_and_token_share_the_rest_session() -> None:
    async with live_gateway(edit=webitel()) as live:
        r = await live.client.post("/login", json={"username": "alice@acme.example.com",
                                                   "password": "demo-alice"})
        s = await r.json()
        async with ws(live) as c:
            for args, text in (({"key": s["key"], "token": "garbage"}, "Invalid Token or Key"),
                               ({"key": "nope", "token": s["token"]}, "Invalid Token or Key"),
                               ({"key": s["key"]}, "Invalid Token or Key")):
                r = await c.cmd("auth", args)
                assert (r["exec-complete"], r["exec-response"]) == ("-ERR", text)
            expired = TokenSigner(live.settings.gateway.token_secret, "webitel").issue(
                {"exp": 1, "acl": {}})
            r = await c.cmd("auth", {"key": s["key"], "token": expired})
            assert (r["exec-complete"], r["exec-response"]) == ("-ERR", "Token Expired")
            # a Kazoo-issued token with the same secret opens nothing
            kazoo = TokenSigner(live.settings.gateway.token_secret, "kazoo").issue(
                {"exp": s["expires"], "acl": {}})
            r = await c.cmd("auth", {"key": s["key"], "token": kazoo})
            assert (r["exec-complete"], r["exec-response"]) == ("-ERR", "Invalid Token or Key")
            r = await c.cmd("auth", {"key": s["key"], "token": s["token"]})
            assert r["exec-complete"] == "+OK"
            body = r["exec-response"]
            assert (body["login"], body["domain"], body["state"], body["status"],
                    body["cc-agent"]) == ("alice@acme.example.com", "acme.example.com", "", "",
                                          False)
            # logging the REST session out ends the socket's
            r = await live.client.post("/logout", headers={"X-Access-Token": s["token"],
                                                           "X-Key": s["key"]})
            assert r.status == 200
            await c.closed()
            assert {"webitel-event-name": "account", "Event-Name": "DISCONNECT"} in c.events


async def test_unauthenticated_socket_is_told_and_closed() -> None:
    async with live_gateway(edit=webitel(socket_timeout_unauthorized=0.2)) as live:
        async with ws(live) as c:
            await c.closed()
            assert c.events == [{"webitel-event-name": "account", "Event-Name": "DISCONNECT"}]
        async with ws(live, ALICE) as c:  # authenticated in time: stays open
            await asyncio.sleep(0.4)
            await c.sync()
            assert not c.ws.closed


async def test_per_user_socket_limit_root_exempt() -> None:
    async with live_gateway(edit=webitel(max_socket_per_user=2)) as live:
        async with ws(live, ALICE), ws(live, ALICE), ws(live) as third:
            r = await third.cmd("auth", ALICE)
            assert (r["exec-complete"], r["exec-response"]) == ("-ERR",
                                                                "Maximum opened socket 2")
            await third.closed()
            async with ws(live, ROOT), ws(live, ROOT), ws(live, ROOT) as root:
                await root.sync()
            # another user is not counted with alice
            async with ws(live, BOB) as bob:
                await bob.sync()


async def test_session_commands_and_envelope_literals() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live) as c:
        r = await c.cmd("ping")
        assert r == {"exec-uuid": r["exec-uuid"], "exec-complete": "+OK",
                     "exec-response": "pong"}
        r = await c.cmd("hangup", {"channel-uuid": "x"})
        assert (r["exec-complete"], r["exec-response"]) == ("-ERR",
                                                            "-ERR: Authentication required!")
        r = await c.cmd("subscribe", {"event": "SE:CHANNEL_CREATE"})
        assert r["exec-response"] == "-ERR: Authentication required!"
        r = await c.cmd("nope")
        assert (r["exec-complete"], r["exec-response"]) == ("+ERR", "nope - not found.")
        await c.cmd("auth", ALICE)
        assert (await c.cmd("login"))["exec-response"] == "+OK: logged: true"
        assert (await c.cmd("logout"))["exec-response"] == "+OK: logged: false"
        r = await c.cmd("whoami")
        assert r["exec-complete"] == "+OK"
        assert json.loads(r["exec-response"])["id"] == "alice@acme.example.com"
        for args, complete, text in (
                ({"event": "SE:CHANNEL_CREATE"}, "+OK", "+OK: subscribe SE:CHANNEL_CREATE"),
                ({"event": "SE:CHANNEL_CREATE"}, "-ERR", "-ERR: event subscribed!"),
                ({"event": "SE:NOPE"}, "-ERR", "-ERR: Event unregistered"),
                ({}, "-ERR", "-ERR: Bad parameters."),
                ({"event": 7}, "-ERR", "-ERR: Bad parameters.")):
            r = await c.cmd("subscribe", args)
            assert (r["exec-complete"], r["exec-response"]) == (complete, text)
        for name in ("SE:CHANNEL_CREATE", "SE:CHANNEL_ANSWER"):  # subscribed or not
            r = await c.cmd("unsubscribe", {"event": name})
            assert (r["exec-complete"], r["exec-response"]) == ("+OK",
                                                                f"+OK: unsubscribe {name}")
        # a call without an extension fails before the switch: the falsy answer
        r = await c.cmd("call", {})
        assert r == {"exec-uuid": r["exec-uuid"], "exec-complete": "-ERR: bad response"}


async def test_account_list_makes_the_library_ready() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live, ALICE) as c:
        r = await c.cmd("api account list", {"domain": "beta.example.com"})
        assert r["exec-complete"] == "+OK"
        users = json.loads(r["exec-response"]["response"])
        assert {"alice", "bob", "carol"} <= set(users) and "erin" not in users
        assert users["alice"]["online"] is True and users["bob"]["online"] is False
        async with ws(live, ROOT) as root:
            r = await root.cmd("api account list", {"domain": "beta.example.com"})
            assert set(json.loads(r["exec-response"]["response"])) == {"erin"}


# ------------------------------------------------------------ call control
async def test_call_control_reaches_freeswitch_as_its_commands() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live, ALICE) as c:
        # call: the caller's own phone rings first, then the extension
        mark = len(live.fs.commands)
        r = await c.cmd("call", {"extension": "202",
                                 "auto_answer_param": "sip_h_Call-Info=answer-after=0"})
        assert r["exec-complete"] == "+OK", r
        a = NEW_LEG.match(r["exec-response"]).group(1)
        [cmd] = sent(live, mark)
        assert cmd.startswith("bgapi originate {") and cmd.endswith(
            "}user/201@acme.example.com 202 XML default")
        for var in ("w_jsclient_originate_number=202", "sip_h_Call-Info=answer-after=0",
                    "domain_name=acme.example.com", "webitel_direction=outbound"):
            assert var in cmd
        await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.bridged)
        b = live.gw.store.get(a).other_leg

        async def expect(func: str, args: dict, response: str, commands: list[str],
                         complete: str = "+OK") -> None:
            mark = len(live.fs.commands)
            r = await c.cmd(func, args)
            assert (r["exec-complete"], r["exec-response"]) == (complete, response), func
            assert sent(live, mark) == commands, func

        await expect("hold", {"channel-uuid": a}, "+OK Success\n", [f"api uuid_hold {a}"])
        await live.until(lambda: live.gw.store.get(a).held)
        rows = await rest_rows(live, "alice@acme.example.com", "demo-alice")
        assert rows[a]["callstate"] == "HELD"
        await expect("toggle_hold", {"channel-uuid": a}, "+OK Success\n",
                     [f"api uuid_hold off {a}"])
        await live.until(lambda: not live.gw.store.get(a).held)
        # the library joins several uuids with commas
        await expect("hold", {"channel-uuid": f"{a},{b}"}, "+OK Success\n",
                     [f"api uuid_hold {a}", f"api uuid_hold {b}"])
        await live.until(lambda: live.gw.store.get(b).held)
        await expect("unhold", {"channel-uuid": f"{a},{b}"}, "+OK Success\n",
                     [f"api uuid_hold off {a}", f"api uuid_hold off {b}"])
        await live.until(lambda: not live.gw.store.get(b).held)
        mark = len(live.fs.commands)
        r = await c.cmd("dtmf", {"channel-uuid": a, "digits": "15#"})
        assert (r["exec-complete"], r["exec-response"]) == ("+OK", "+OK 15#")
        assert len(sent(live, mark)) == 1 and a in sent(live, mark)[0]
        # getvar / channel_dump from what the gateway knows of the leg
        r = await c.cmd("getvar", {"channel-uuid": a, "variable": "domain_name"})
        assert (r["exec-complete"], r["exec-response"]) == ("+OK", "acme.example.com")
        r = await c.cmd("getvar", {"channel-uuid": a, "variable": "no_such"})
        assert r["exec-response"] == "_undef_"
        r = await c.cmd("channel_dump", {"uuid": a})
        dump = json.loads(r["exec-response"])
        assert r["exec-complete"] == "+OK" and dump["Unique-ID"] == a
        assert dump["Other-Leg-Unique-ID"] == b and dump["Answer-State"] == "answered"
        r = await c.cmd("show_channel")
        assert r["exec-complete"] == "+OK"
        assert {row["uuid"] for row in r["exec-response"]["rows"]} == {a, b}
        assert r["exec-response"]["row_count"] == 2
        # hang the A-leg up with a cause; transfer a leg of another call
        await expect("hangup", {"channel-uuid": a, "cause": "USER_BUSY"}, "+OK\n",
                     [f"api uuid_kill {a} USER_BUSY"])
        await live.until(lambda: live.gw.store.get(a) is None)
        _a2, b2 = await call(live, "203", "204")
        await expect("transfer", {"channel-uuid": b2, "destination": "9664"}, "+OK\n",
                     [f"api uuid_transfer {b2} 9664 XML default"])
        # a gone uuid is answered as FreeSWITCH answers it; nothing is sent
        await expect("hangup", {"channel-uuid": a}, "-ERR No such channel!\n", [], "-ERR")
        await expect("transfer", {"channel-uuid": a, "destination": "1"},
                     "-ERR No such channel!\n", [], "-ERR")
        await expect("getvar", {"channel-uuid": a, "variable": "x"},
                     "-ERR No such channel!\n", [], "-ERR")
        await expect("hold", {"channel-uuid": a}, "+OK Success\n", [])


async def test_bridge_eavesdrop_and_attended_transfer() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live, ALICE) as c:
        a, b = await call(live, "201", "202")
        p = await live.fs.place_call("203", "999", bridge=False, answer_after=0.05)
        await live.until(lambda: (ch := live.gw.store.get(p)) is not None and ch.parked)
        mark = len(live.fs.commands)
        r = await c.cmd("eavesdrop", {"channel-uuid": b, "user": "203"})
        assert r["exec-complete"] == "+OK" and NEW_LEG.match(r["exec-response"])
        [cmd] = sent(live, mark)
        assert cmd.endswith(f"}}user/203@acme.example.com &eavesdrop({b})")
        r = await c.cmd("eavesdrop", {"channel-uuid": "all", "user": "203"})
        assert r["exec-complete"] == "-ERR: bad response" and "exec-response" not in r
        # att_xfer2: a new call from the agent's phone to the target, tagged with the call
        mark = len(live.fs.commands)
        r = await c.cmd("att_xfer2", {"channel-uuid": a, "extension": "204@acme.example.com",
                                      "user": "alice@acme.example.com",
                                      "parent_call_uuid": a})
        assert r["exec-complete"] == "+OK" and NEW_LEG.match(r["exec-response"])
        [cmd] = sent(live, mark)
        assert "w_jsclient_xtransfer=" + a in cmd and cmd.endswith(" 204 XML default")
        # bridge the parked leg to the B-leg
        mark = len(live.fs.commands)
        r = await c.cmd("bridge", {"channel_uuid_A": p, "channel_uuid_B": b})
        assert (r["exec-complete"], r["exec-response"]) == ("+OK", f"+OK {b}\n")
        assert sent(live, mark) == [f"api uuid_bridge {p} {b}"]
        await live.until(lambda: live.gw.store.get(p).other_leg == b)
        r = await c.cmd("bridge", {"channel_uuid_A": p, "channel_uuid_B": "nope"})
        assert (r["exec-complete"], r["exec-response"]) == ("-ERR", "-ERR Invalid uuid\n")
        mark = len(live.fs.commands)
        r = await c.cmd("att_xfer_cancel", {"channel-uuid-leg-c": p})
        assert (r["exec-complete"], r["exec-response"]) == ("+OK", "+OK\n")
        assert sent(live, mark) == [f"api uuid_kill {p} NORMAL_CLEARING"]


async def test_asterisk_legs_are_controlled_the_same_way() -> None:
    async with live_gateway(edit=webitel(), switches=("fs1", "ast1")) as live, \
            ws(live, GUS) as c:
        a = await live.ast.place_call("401", "402")
        await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.answered)
        assert a in await rest_list(live, "gus@gamma.example.com", "demo-gus")
        mark = len(live.ast.actions)
        r = await c.cmd("hold", {"channel-uuid": a})
        assert (r["exec-complete"], r["exec-response"]) == ("+OK", "+OK Success\n")
        await live.until(lambda: live.gw.store.get(a).held)
        r = await c.cmd("unhold", {"channel-uuid": a})
        assert r["exec-response"] == "+OK Success\n"
        await live.until(lambda: not live.gw.store.get(a).held)
        r = await c.cmd("hangup", {"channel-uuid": a})
        assert (r["exec-complete"], r["exec-response"]) == ("+OK", "+OK\n")
        assert any(act.get("Action", "").lower() == "hangup" for act in live.ast.actions[mark:])
        await live.until(lambda: live.gw.store.get(a) is None)
        assert a not in await rest_list(live, "gus@gamma.example.com", "demo-gus")


# ------------------------------------------------------------------ events
CHANNEL_EVENTS = ("SE:CHANNEL_CREATE", "SE:CHANNEL_ANSWER", "SE:CHANNEL_BRIDGE",
                  "SE:CHANNEL_HOLD", "SE:CHANNEL_UNHOLD", "SE:CHANNEL_CALLSTATE",
                  "SE:CHANNEL_HANGUP", "SE:CHANNEL_HANGUP_COMPLETE", "SE:CHANNEL_DESTROY")


async def subscribe_all(c: Ws) -> None:
    for name in CHANNEL_EVENTS:
        r = await c.cmd("subscribe", {"event": name})
        assert r["exec-response"] == f"+OK: subscribe {name}"


async def test_server_events_stay_in_their_domain() -> None:
    async with live_gateway(edit=webitel(), switches=("fs1", "ast1")) as live, \
            ws(live, ALICE) as alice, ws(live, ERIN) as erin, ws(live, GUS) as gus, \
            ws(live, ROOT) as root:
        for c in (alice, erin, gus, root):
            await subscribe_all(c)
        acme = await call(live, "201", "202")
        beta = await live.fs.place_call("301", "999", bridge=False, answer_after=0.05)
        gamma = await live.ast.place_call("401", "402")
        await live.until(lambda: (ch := live.gw.store.get(beta)) is not None and ch.parked)
        await live.until(lambda: (ch := live.gw.store.get(gamma)) is not None and ch.answered)
        await live.fs.hold(acme[0])
        await live.until(lambda: live.gw.store.get(acme[0]).held)
        for uid in (*acme, beta):
            await live.fs.hangup(uid)
        await live.ast.hangup(gamma)
        await live.until(lambda: len(live.gw.store) == 0)
        # root saw every leg destroyed; what it got, the others got first
        await root.event(lambda e: e["Event-Name"] == "SE:CHANNEL_DESTROY"
                         and e["Unique-ID"] == gamma)
        for c in (alice, erin, gus, root):
            await c.sync()
        seen = {name: uuids(c.events) for name, c in
                (("alice", alice), ("erin", erin), ("gus", gus), ("root", root))}
        gamma_legs = seen["gus"]
        assert set(acme) == seen["alice"]
        assert seen["erin"] == {beta}
        assert gamma in gamma_legs and not gamma_legs & (set(acme) | {beta})
        assert seen["root"] >= set(acme) | {beta} | gamma_legs
        # the frames: FreeSWITCH's headers, Event-Name renamed, `server` appended
        a = acme[0]
        names = [e["Event-Name"] for e in alice.events if e.get("Unique-ID") == a]
        for name in ("SE:CHANNEL_CREATE", "SE:CHANNEL_ANSWER", "SE:CHANNEL_HOLD",
                     "SE:CHANNEL_HANGUP", "SE:CHANNEL_HANGUP_COMPLETE", "SE:CHANNEL_DESTROY"):
            assert name in names, (name, names)
        assert names.index("SE:CHANNEL_CREATE") < names.index("SE:CHANNEL_ANSWER") \
            < names.index("SE:CHANNEL_HANGUP_COMPLETE") < names.index("SE:CHANNEL_DESTROY")
        create = next(e for e in alice.events if e["Event-Name"] == "SE:CHANNEL_CREATE"
                      and e["Unique-ID"] == a)
        assert list(create)[-1] == "webitel-event-name" and create["webitel-event-name"] == \
            "server"
        assert create["Caller-Caller-ID-Number"] == "201"
        assert create["Channel-Presence-ID"] == "201@acme.example.com"
        assert create["variable_domain_name"] == "acme.example.com"
        assert create["Channel-State"].startswith("CS_")
        assert all(isinstance(v, str) for v in create.values())
        held = next(e for e in alice.events if e["Event-Name"] == "SE:CHANNEL_HOLD"
                    and e["Unique-ID"] == a)
        # as FreeSWITCH fires them: HOLD while still ACTIVE, then CALLSTATE ACTIVE -> HELD
        assert held["Channel-Call-State"] == "ACTIVE"
        assert any(e["Event-Name"] == "SE:CHANNEL_CALLSTATE" and e["Unique-ID"] == a
                   and e["Original-Channel-Call-State"] == "ACTIVE"
                   and e["Channel-Call-State"] == "HELD" for e in alice.events)
        hangup = next(e for e in alice.events if e["Event-Name"] == "SE:CHANNEL_HANGUP_COMPLETE"
                      and e["Unique-ID"] == a)
        assert hangup["Answer-State"] == "hangup" and hangup["Hangup-Cause"]
        # an Asterisk leg carries the same FreeSWITCH headers
        ast_create = next(e for e in gus.events if e["Event-Name"] == "SE:CHANNEL_CREATE"
                          and e["Unique-ID"] == gamma)
        assert ast_create["Channel-Presence-ID"] == "401@gamma.example.com"
        assert ast_create["Channel-State"].startswith("CS_")
        assert ast_create["Caller-Caller-ID-Number"] == "401"


async def test_per_user_call_frames_after_login() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live, ALICE) as alice, \
            ws(live, ERIN) as erin:
        for c in (alice, erin):
            assert (await c.cmd("login"))["exec-response"] == "+OK: logged: true"
        a, b = await call(live, "201", "202")  # 201 is alice's phone, 202 bob's
        await live.fs.hold(a)
        await live.until(lambda: live.gw.store.get(a).held)
        await live.fs.hangup(a)
        await live.until(lambda: len(live.gw.store) == 0)
        done = await alice.event(lambda e: e["Event-Name"] == "CHANNEL_DESTROY")
        await erin.sync()
        assert erin.events == [] or all(e["webitel-event-name"] == "user" for e in erin.events)
        frames = [e for e in alice.events if e["webitel-event-name"] == "call"]
        assert {e["Unique-ID"] for e in frames} == {a}  # bob's leg is bob's
        names = [e["Event-Name"] for e in frames]
        for name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HOLD",
                     "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"):
            assert name in names, (name, names)
        assert "CHANNEL_CALLSTATE" not in names
        first = frames[0]
        assert list(first)[:4] == ["webitel-event-name", "Event-Name", "Channel-Presence-ID",
                                   "Unique-ID"]
        assert all(e["Channel-Presence-ID"] == "alice@acme.example.com" for e in frames)
        assert list(first)[-1] == "variable_billsec" and first["variable_billsec"] == 0
        hangup = next(e for e in frames if e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE")
        assert isinstance(hangup["variable_billsec"], int)
        assert hangup["variable_hangup_cause"] and hangup["Answer-State"] == "hangup"
        bridged = next(e for e in frames if e["Event-Name"] == "CHANNEL_BRIDGE")
        assert bridged["Other-Leg-Unique-ID"] == b
        assert done["Event-Name"] == "CHANNEL_DESTROY"
        # after logout no more call frames
        await alice.cmd("logout")
        before = len(alice.events)
        await call(live, "201", "203")
        await alice.sync()
        assert [e for e in alice.events[before:] if e["webitel-event-name"] == "call"] == []


async def test_presence_events_reach_the_domain_and_root_only() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live, ROOT) as root, \
            ws(live, ERIN) as erin, ws(live, ALICE) as alice:
        async with ws(live, BOB):
            pass
        await alice.sync()
        await erin.sync()
        await root.event(lambda e: e.get("Event-Name") == "ACCOUNT_OFFLINE"
                         and e["User-ID"] == "bob")
        bob = {(e["Event-Name"], e["User-ID"]) for e in alice.events}
        assert {("ACCOUNT_ONLINE", "bob"), ("ACCOUNT_OFFLINE", "bob")} <= bob
        assert not [e for e in erin.events if e.get("Event-Domain") == "acme.example.com"]


# -------------------------------------------------------------- tenancy
async def test_another_domains_channels_cannot_be_touched() -> None:
    async with live_gateway(edit=webitel()) as live, ws(live, ERIN) as erin:
        a, b = await call(live, "201", "202")
        mark = len(live.fs.commands)
        no_channel = ("-ERR", "-ERR No such channel!\n")
        for func, args, answer in (
                ("hangup", {"channel-uuid": a}, no_channel),
                ("att_xfer_cancel", {"channel-uuid-leg-c": a}, no_channel),
                ("transfer", {"channel-uuid": a, "destination": "301"}, no_channel),
                ("dtmf", {"channel-uuid": a, "digits": "1"}, no_channel),
                ("getvar", {"channel-uuid": a, "variable": "domain_name"}, no_channel),
                ("setvar", {"channel-uuid": a, "variable": "x", "value": "y"}, no_channel),
                ("channel_dump", {"uuid": a}, no_channel),
                ("eavesdrop", {"channel-uuid": b, "user": "301"}, no_channel),
                ("att_xfer2", {"channel-uuid": a, "extension": "301", "user": "301"},
                 no_channel),
                ("bridge", {"channel_uuid_A": a, "channel_uuid_B": b},
                 ("-ERR", "-ERR Invalid uuid\n")),
                ("att_xfer_bridge", {"channel-uuid-leg-b": a, "channel-uuid-leg-c": b},
                 ("-ERR", "-ERR Invalid uuid\n")),
                ("hold", {"channel-uuid": f"{a},{b}"}, ("+OK", "+OK Success\n")),
                ("unhold", {"channel-uuid": a}, ("+OK", "+OK Success\n")),
                ("toggle_hold", {"channel-uuid": b}, ("+OK", "+OK Success\n"))):
            r = await erin.cmd(func, args)
            assert (r["exec-complete"], r["exec-response"]) == answer, func
        r = await erin.cmd("show_channel", {"domain": "acme.example.com"})
        assert r["exec-response"] == {"row_count": 0, "rows": []}
        r = await erin.cmd("api account list", {"domain": "acme.example.com"})
        assert set(json.loads(r["exec-response"]["response"])) == {"erin"}
        assert sent(live, mark) == []
        ch = live.gw.store.get(a)
        assert ch is not None and ch.state is State.ANSWERED and not ch.held


# --------------------------------------------------------------- bad input
async def test_bad_frames_get_a_reply_or_a_close(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with live_gateway(edit=webitel()) as live, ws(live, ALICE) as c:
        for raw in ("{not json", "[1,2]", '"text"', "[" * 5000 + "]" * 5000):
            await c.ws.send_str(raw)
            await c.sync()
            assert c.stray.pop() == {"exec-complete": "-ERR",
                                     "exec-response": "-ERR: Bad parameters."}
        await c.ws.send_bytes(b"\x00\x01")
        await c.sync()
        assert c.stray.pop()["exec-complete"] == "-ERR"
        # no exec-uuid: answered without one, as JSON.stringify drops an undefined key
        await c.ws.send_str('{"exec-func":"ping"}')
        await c.sync()
        assert c.stray.pop() == {"exec-complete": "+OK", "exec-response": "pong"}
        # exec-args of the wrong type read as none
        for args in ("abc", [1], 7, None):
            r = await c.reply(await c.send("hangup", args))
            assert (r["exec-complete"], r["exec-response"]) == ("-ERR",
                                                                "-ERR No such channel!\n")
        for func, text in ((7, "7 - not found."), (None, "undefined - not found."),
                           ({"a": 1}, "[object Object] - not found.")):
            uid = "x" + str(id(text))
            await c.ws.send_str(json.dumps({"exec-uuid": uid, "exec-func": func}))
            r = await c.reply(uid)
            assert (r["exec-complete"], r["exec-response"]) == ("+ERR", text)
        r = await c.cmd("dtmf", {"channel-uuid": "x", "digits": "1; hupall"})
        assert r["exec-complete"] == "-ERR: bad response"
        # a 1 MB frame closes the socket (1009, message too big)
        async with ws(live, ALICE) as big:
            await big.ws.send_str(json.dumps({"exec-uuid": "1", "exec-func": "ping",
                                              "pad": "x" * (1 << 20)}))
            assert await big.closed() == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await c.sync()  # the other socket is untouched
    quiet(caplog)


async def test_a_flood_of_commands_is_answered_or_closed(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with live_gateway(edit=webitel(socket_queue=100)) as live, \
            ws(live, ALICE) as flood, ws(live, ERIN) as other:
        a, _b = await call(live, "201", "202")
        mark = len(live.fs.commands)
        frames = [json.dumps({"exec-uuid": f"f{i}-{func}", "exec-func": func,
                              "exec-args": args})
                  for i in range(2000) for func, args in
                  (("ping", {}), ("hold", {"channel-uuid": a}), ("show_channel", {}))]
        for frame in frames:
            await flood.ws.send_str(frame)
        answered = 0
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(WAIT):
                while await flood._read() is not None:
                    answered = len(flood.replies)
                    if answered == len(frames):
                        break
        assert answered == len(frames) or flood.ws.closed or flood.ws.close_code
        await other.sync()
        r = await other.cmd("hangup", {"channel-uuid": a})
        assert r["exec-response"] == "-ERR No such channel!\n"
        assert all(a in c and "uuid_hold" in c for c in sent(live, mark))
    quiet(caplog)


def _small_buffer(addr_info: Any) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


async def test_a_socket_that_does_not_read_is_closed_without_slowing_others(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="callgate.webitel")
    async with live_gateway(edit=webitel(socket_queue=50)) as live, ws(live, ROOT) as fast, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                socket_factory=_small_buffer)) as session:
        conn = await session.ws_connect(live.client.make_url("/"), max_msg_size=0)
        slow = Ws(conn)
        await slow.cmd("auth", ROOT)
        for c in (slow, fast):
            for name in ("SE:CHANNEL_HOLD", "SE:CHANNEL_UNHOLD"):
                await c.cmd("subscribe", {"event": name})
        a, _b = await call(live, "201", "202")

        def dropped() -> bool:
            return any("does not read" in r.getMessage() for r in caplog.records)

        async def read_all() -> None:
            while await fast._read() is not None:
                pass

        reader = asyncio.get_running_loop().create_task(read_all())
        toggles = 0
        while not dropped() and toggles < 5000:  # the slow client never reads meanwhile
            await live.fs.hold(a)
            await live.fs.unhold(a)
            toggles += 1
            await asyncio.sleep(0)
        assert dropped()

        def unholds() -> int:
            return sum(1 for e in fast.events if e["Event-Name"] == "SE:CHANNEL_UNHOLD")

        # the reader got every event, in order
        await live.until(lambda: unholds() == toggles, wait=20)
        reader.cancel()
        holds = [e["Event-Name"] for e in fast.events if e.get("Unique-ID") == a]
        assert holds == ["SE:CHANNEL_HOLD", "SE:CHANNEL_UNHOLD"] * toggles
        # the slow one finds its connection closed once it reads again
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            await slow.closed()
        assert conn.closed


async def test_shutdown_closes_every_socket_at_once() -> None:
    async with live_gateway(edit=webitel()) as live:
        clients = [await live.client.ws_connect("/") for _ in range(5)]
        authed = Ws(clients[0])
        await authed.cmd("auth", ALICE)
        stopping = asyncio.get_running_loop().create_task(live.client.server.close())
        for conn in clients:
            msg = await conn.receive()
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert conn.close_code == aiohttp.WSCloseCode.GOING_AWAY
        await stopping


async def test_plain_get_at_the_root_is_expresss_404() -> None:
    async with live_gateway(edit=webitel()) as live:
        r = await live.client.get("/")
        assert r.status == 404
        assert await r.json() == {"status": "error", "info": "/ not found."}
        assert r.headers["X-Powered-By"] == "Webitel"


async def test_own_listener_upgrades_any_path() -> None:
    """With `[dialects.webitel] listen`, the engine's port: any path upgrades, the REST paths
    stay REST, and a plain request elsewhere is Express's 404."""
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.app import build_dialect_apps
    from gateway.context import Gateway
    from gateway.demo import load_demo

    s = load_demo()
    w = dataclasses.replace(s.dialects["webitel"], host="127.0.0.1", port=1)
    gw = Gateway.build(dataclasses.replace(s, dialects={"webitel": w}), backends=False)
    [(_host, _port, app)] = build_dialect_apps(gw)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        for path in ("/", "/engine/", "/any/where?x=1"):
            conn = await client.ws_connect(path)
            c = Ws(conn)
            assert (await c.cmd("auth", ALICE))["exec-complete"] == "+OK"
            await conn.close()
        r = await client.post("/login", json={"username": "root", "password": "demo-admin"})
        assert r.status == 200 and "token" in await r.json()
        r = await client.get("/elsewhere")
        assert (r.status, await r.json()) == (404, {"status": "error",
                                                    "info": "/elsewhere not found."})
    finally:
        await client.close()


async def test_a_client_that_behaves_as_the_browser_library() -> None:
    """The engine's browser library: auth on open, `login`, `api account list` before it is
    ready, then a call it places and hangs up, tracked from its per-user frames only (matched on
    Channel-Presence-ID, keyed by Channel-Call-UUID, ended by CHANNEL_HANGUP_COMPLETE)."""
    async with live_gateway(edit=webitel()) as live, ws(live) as lib:
        account = ALICE["account"]
        r = await lib.cmd("auth", ALICE)
        assert r["exec-complete"] == "+OK" and bool(r["exec-response"]["cc-agent"]) is False
        assert (await lib.cmd("login"))["exec-complete"] == "+OK"
        r = await lib.cmd("api account list", {"domain": "acme.example.com"})
        assert r["exec-complete"] == "+OK"
        json.loads(r["exec-response"]["response"])  # onReady
        r = await lib.cmd("call", {"extension": "202", "user": account,
                                   "auto_answer_param": "sip_h_Call-Info=answer-after=0"})
        leg = NEW_LEG.match(r["exec-response"]).group(1)

        def mine(name: str) -> Callable[[dict[str, Any]], bool]:
            return lambda e: (e.get("webitel-event-name") == "call"
                              and e["Channel-Presence-ID"] == account
                              and e["Event-Name"] == name)

        created = await lib.event(mine("CHANNEL_CREATE"))
        key = created.get("variable_w_account_origination_uuid") or created["Channel-Call-UUID"]
        assert created["Unique-ID"] == leg
        await lib.event(mine("CHANNEL_ANSWER"))
        r = await lib.cmd("hold", {"channel-uuid": leg})
        assert r["exec-complete"] == "+OK"
        await lib.event(mine("CHANNEL_HOLD"))
        r = await lib.cmd("unhold", {"channel-uuid": leg})
        await lib.event(mine("CHANNEL_UNHOLD"))
        r = await lib.cmd("hangup", {"channel-uuid": leg})
        assert (r["exec-complete"], r["exec-response"]) == ("+OK", "+OK\n")
        done = await lib.event(mine("CHANNEL_HANGUP_COMPLETE"))
        assert (done.get("variable_w_account_origination_uuid")
                or done["Channel-Call-UUID"]) == key
        # every frame the library sees for the call is one it created first
        ids = [e["Unique-ID"] for e in lib.events if e.get("webitel-event-name") == "call"]
        assert ids[0] == leg and set(ids) == {leg}
