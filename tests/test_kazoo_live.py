"""Kazoo dialect end to end: the seed's curl examples run as written against the demo directory
and a real FreeSWITCH simulator; actions and metaflows must reach the switch as ESL commands and
show their effect in the next list."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.config import Settings
from tests.demo_ids import ACME, ALICE, BETA, BOB, DEV201, DEV204
from tests.harness import Live, live_gateway

CURL_HEADERS = {"Content-Type": "application/json"}  # as every seed curl sends


def kazoo_only(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dialects={"kazoo": settings.dialects["kazoo"]})


async def login(client: TestClient, user: str, account: str) -> dict[str, str]:
    cred = hashlib.md5(f"{user}:demo-{user}".encode()).hexdigest()
    resp = await client.put("/v2/user_auth",
                            json={"data": {"credentials": cred, "account_name": account}})
    assert resp.status == 201
    return {**CURL_HEADERS, "X-Auth-Token": (await resp.json())["auth_token"]}


async def listed(live: Live, headers: dict[str, str], path: str = "") -> dict[str, dict]:
    resp = await live.client.get(path or f"/v2/accounts/{ACME}/channels", headers=headers)
    assert resp.status == 200, await resp.text()
    return {c["uuid"]: c for c in (await resp.json())["data"]}


async def eventually_listed(live: Live, headers: dict[str, str],
                            check: Callable[[dict[str, dict]], bool],
                            path: str = "") -> dict[str, dict]:
    """The next list (polled, since the switch reports the effect as events) satisfying
    `check`."""
    async with asyncio.timeout(5):
        while True:
            rows = await listed(live, headers, path)
            if check(rows):
                return rows
            await asyncio.sleep(0.05)


def sent(live: Live, since: int) -> list[str]:
    return live.fs.commands[since:]


async def act(live: Live, headers: dict[str, str], uuid: str, body: str, *,
              method: str = "POST", account: str = ACME) -> tuple[int, Any]:
    resp = await live.client.request(method, f"/v2/accounts/{account}/channels/{uuid}",
                                     data=body, headers=headers)
    return resp.status, await resp.json()


async def test_seed_get_examples_as_written() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        a, b = await live.answered_call("201", "202")
        admin = await login(live.client, "admin", "Root Telco")
        alice = await login(live.client, "alice", "Acme")
        system = await listed(live, admin, "/v2/channels")
        assert {a, b} <= set(system)
        rows = await listed(live, alice, f"/v2/accounts/{ACME}/channels")
        assert set(rows) == {a, b}
        for key in ("answered", "authorizing_id", "authorizing_type", "destination",
                    "direction", "other_leg", "owner_id", "presence_id", "timestamp",
                    "username", "uuid"):
            assert key in rows[a], key
        assert rows[a]["other_leg"] == b and rows[b]["other_leg"] == a
        assert rows[a]["owner_id"] == ALICE and rows[b]["owner_id"] == BOB
        assert rows[a]["direction"] == "inbound" and rows[b]["direction"] == "outbound"
        assert rows[a]["presence_id"] == "201@acme.example.com"
        user = await listed(live, alice, f"/v2/accounts/{ACME}/users/{ALICE}/channels")
        assert set(user) == {a}
        device = await listed(live, alice, f"/v2/accounts/{ACME}/devices/{DEV201}/channels")
        assert set(device) == {a}
        resp = await live.client.get(f"/v2/accounts/{ACME}/channels/{a}", headers=alice)
        detail = (await resp.json())["data"]
        assert detail["call_id"] == a and detail["other_leg_call_id"] == b
        erin = await login(live.client, "erin", "Beta")
        assert await listed(live, erin, f"/v2/accounts/{BETA}/channels") == {}


async def test_seed_post_transfer_example() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, b = await live.answered_call("201", "202")
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, '{"data": {"action": "transfer", "target": '
                                '"2600", "takeback_dtmf": "*1", "moh": "media_id" }}')
        assert (status, doc["data"], doc["status"]) == (200, "transfer initiated", "success")
        assert sent(live, n) == [f"api uuid_transfer {a} 2600 XML default"]
        await eventually_listed(live, alice, lambda rows: rows.get(a, {}).get("other_leg") != b)


async def test_seed_metaflow_transfer_example_posted() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, b = await live.answered_call("201", "202")
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, '{"data":{"module":"transfer","data":{"target":'
                                '"2600","Transfer-Type":"blind","leg":"bleg"}},'
                                '"action":"metaflow"}')
        assert (status, doc["data"]) == (200, "metaflow sent")
        assert sent(live, n) == [f"api uuid_transfer {a} -bleg 2600 XML default"]
        await eventually_listed(live, alice, lambda rows: rows.get(a, {}).get("other_leg") != b)


async def test_seed_put_metaflow_hangup_example() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, b = await live.answered_call("201", "202")
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a,
                                '{"action":"metaflow", "data": {"data": { "module": "hangup" }}}',
                                method="PUT")
        assert (status, doc["data"]) == (201, "metaflow sent")
        assert sent(live, n) == [f"api uuid_kill {a} NORMAL_CLEARING"]
        await eventually_listed(live, alice, lambda rows: a not in rows and b not in rows)
        # the maintainers' shape works too
        a, _ = await live.answered_call("203", "204")
        status, _doc = await act(live, alice, a, '{"action":"metaflow","data":{"module":'
                                 '"hangup"}}', method="PUT")
        assert status == 201
        await eventually_listed(live, alice, lambda rows: a not in rows)


async def test_post_actions_reach_the_switch() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, b = await live.answered_call("201", "202")
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, json.dumps({"data": {"action": "break"}}))
        assert (status, doc["data"]) == (200, "break initiated")
        assert sent(live, n) == [f"api uuid_break {a} all"]
        # blind transfer to a real extension: the A-leg ends up talking to 203
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, json.dumps({"action": "transfer",
                                                            "data": {"target": "203"}}))
        assert (status, doc["data"]) == (200, "transfer initiated")
        assert sent(live, n) == [f"api uuid_transfer {a} 203 XML default"]
        rows = await eventually_listed(
            live, alice, lambda r: b not in r and r.get(r.get(a, {}).get("other_leg", ""),
                                                        {}).get("username") == "203")
        assert rows[a]["answered"] is True
        # callflow id -> dialplan extension from [[dialects.kazoo.callflows]]
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, json.dumps(
            {"data": {"action": "callflow", "id": "cf000000000000000000000000000202"}}))
        assert (status, doc["data"]) == (200, "callflow initiated")
        assert sent(live, n) == [f"api uuid_transfer {a} 202 XML default"]
        # a target the switch could misread never reaches it
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, json.dumps(
            {"data": {"action": "transfer", "target": "2600 XML public"}}))
        assert status == 400 and doc["message"] == "validation error", doc
        assert sent(live, n) == []
        # hangup from the query string
        n = len(live.fs.commands)
        resp = await live.client.post(f"/v2/accounts/{ACME}/channels/{a}?action=hangup",
                                      headers=alice)
        assert resp.status == 200 and (await resp.json())["data"] == "hangup initiated"
        assert sent(live, n) == [f"api uuid_kill {a} NORMAL_CLEARING"]
        await eventually_listed(live, alice, lambda rows: a not in rows)


async def test_intercept_and_move() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a = await live.fs.place_call("203", "204", answer_after=None)
        await live.until(lambda: any(c.username == "204" for c in live.gw.store.by_call(a)))
        ringing = next(c.id for c in live.gw.store.by_call(a) if c.username == "204")
        n = len(live.fs.commands)
        status, doc = await act(live, alice, ringing, json.dumps(
            {"data": {"action": "intercept", "target_type": "device", "target_id": DEV201}}))
        assert (status, doc["data"]) == (200, "intercept initiated")
        assert any(c.startswith("bgapi originate") and "user/201@acme.example.com" in c
                   and f"&intercept({a})" in c for c in sent(live, n))
        rows = await eventually_listed(
            live, alice, lambda r: ringing not in r and r.get(a, {}).get("answered") is True
            and r.get(r[a].get("other_leg", ""), {}).get("username") == "201")
        # move the call from 201 to dan's phone 204: 203 stays, 201 is dropped
        leg201 = rows[a]["other_leg"]
        n = len(live.fs.commands)
        status, doc = await act(live, alice, leg201, json.dumps(
            {"data": {"action": "move", "device_id": DEV204}}))
        assert (status, doc["data"]) == (200, "move initiated")
        assert any("user/204@acme.example.com" in c and f"&intercept({a})" in c
                   for c in sent(live, n))
        await eventually_listed(
            live, alice, lambda r: leg201 not in r
            and r.get(r.get(a, {}).get("other_leg", ""), {}).get("username") == "204")


async def test_metaflows_hold_resume_play() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, _b = await live.answered_call("201", "202")

        async def flow(module: str, data: dict | None = None) -> None:
            body = {"action": "metaflow", "data": {"module": module, "data": data or {}}}
            status, doc = await act(live, alice, a, json.dumps(body), method="PUT")
            assert (status, doc["data"]) == (201, "metaflow sent"), doc

        n = len(live.fs.commands)
        await flow("hold")
        assert sent(live, n) == [f"api uuid_hold {a}"]
        await eventually_listed(live, alice, lambda r: r[a]["is_onhold"] is True)
        n = len(live.fs.commands)
        await flow("resume")
        assert sent(live, n) == [f"api uuid_hold off {a}"]
        await eventually_listed(live, alice, lambda r: r[a]["is_onhold"] is False)
        n = len(live.fs.commands)
        await flow("hold_control")  # toggle: on hold again
        assert sent(live, n) == [f"api uuid_hold {a}"]
        await eventually_listed(live, alice, lambda r: r[a]["is_onhold"] is True)
        await flow("hold_control", {"action": "unhold"})
        await eventually_listed(live, alice, lambda r: r[a]["is_onhold"] is False)
        n = len(live.fs.commands)
        await flow("play", {"id": "media_id"})
        assert sent(live, n) == [f"api uuid_broadcast {a} media_id both"]
        n = len(live.fs.commands)
        await flow("callflow", {"id": "cf000000000000000000000000002600"})
        assert sent(live, n) == [f"api uuid_transfer {a} 2600 XML default"]


async def test_record_call_reaches_the_switch() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, _b = await live.answered_call("201", "202")

        async def record(data: dict[str, Any]) -> tuple[int, Any]:
            return await act(live, alice, a, json.dumps(
                {"action": "metaflow", "data": {"module": "record_call", "data": data}}),
                method="PUT")

        n = len(live.fs.commands)
        status, doc = await record({"action": "start", "format": "wav", "time_limit": 600,
                                    "url": "http://media.example.com/store"})
        assert (status, doc["data"]) == (201, "metaflow sent"), doc
        [cmd] = sent(live, n)
        match = re.fullmatch(rf"api uuid_record {a} start "
                             rf"(/var/lib/callgate/recordings/{a}-\d+\.wav) 600", cmd)
        assert match, cmd
        path = match.group(1)
        assert set(live.fs.channel(a).recordings) == {path}
        n = len(live.fs.commands)
        status, doc = await record({})  # Kazoo's default action, toggle: now a stop
        assert (status, doc["data"]) == (201, "metaflow sent"), doc
        assert sent(live, n) == [f"api uuid_record {a} stop {path}"]
        assert not live.fs.channel(a).recordings
        n = len(live.fs.commands)
        status, _doc = await record({"action": "toggle"})  # and a start again
        assert status == 201 and sent(live, n)[0].startswith(f"api uuid_record {a} start ")

        n = len(live.fs.commands)
        status, doc = await record({"action": "mask"})  # pausing has no executor: refused
        assert status == 400 and doc["message"] == "validation error"
        assert doc["data"]["action"]["unsupported"]["target"] == "mask"
        status, doc = await record({"action": "start", "time_limit": 0})
        assert (status, doc["data"]) == (400, {"data.time_limit": {"minimum": {
            "message": "Value must be at least 1", "target": 1}}})
        status, doc = await record({"action": "start", "time_limit": True})
        assert (status, list(doc["data"])) == (400, ["data.time_limit"])
        assert sent(live, n) == []


async def test_channel_gone_between_read_and_action() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, _b = await live.answered_call("201", "202")
        live.fs.stall(0.4)  # the switch's events (and replies) are held back...
        await live.fs.hangup(a)  # ...so the store still shows the call the switch dropped
        assert live.gw.store.get(a) is not None
        n = len(live.fs.commands)
        status, doc = await act(live, alice, a, '{"data": {"action": "hangup"}}')
        assert f"api uuid_kill {a} NORMAL_CLEARING" in sent(live, n)
        assert status == 404 and doc["message"] == "bad identifier" and doc["data"] == [a]
        await eventually_listed(live, alice, lambda rows: a not in rows)


async def test_node_down_is_an_error_not_success() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        a, _b = await live.answered_call("201", "202")
        await live.gw.backends["fs1"].stop()
        status, doc = await act(live, alice, a, '{"data": {"action": "hangup"}}')
        assert status == 503 and doc["status"] == "error"
        assert doc["message"] == "datastore timeout"
        assert a in await listed(live, alice)


async def test_cross_tenant_actions_never_reach_the_switch() -> None:
    async with live_gateway(edit=kazoo_only) as live:
        alice = await login(live.client, "alice", "Acme")
        erin = await login(live.client, "erin", "Beta")
        a, _b = await live.answered_call("201", "202")
        n = len(live.fs.commands)
        hangup = '{"data": {"action": "hangup"}}'
        assert (await act(live, erin, a, hangup))[0] == 403
        assert (await act(live, erin, a, hangup, account=BETA))[0] == 404
        status, _ = await act(live, erin, a, '{"action":"metaflow","data":{"module":"hangup"}}',
                              method="PUT", account=BETA)
        assert status == 404
        # nor may alice move her Acme call to a Beta phone (erin's device 301): not found
        status, _ = await act(live, alice, a, json.dumps(
            {"data": {"action": "move", "device_id": "d0000000000000000000000000000301"}}))
        assert status == 404
        assert sent(live, n) == []
        assert a in await listed(live, alice)


async def test_asterisk_tenant_beside_every_dialect() -> None:
    """The whole demo app (all dialects mounted) with both switches: Gamma's Asterisk call is
    Gamma's alone, and its hangup reaches AMI."""
    gamma = "a0000000000000000000000000000005"
    async with live_gateway(switches=("fs1", "ast1")) as live:
        gus = await login(live.client, "gus", "Gamma")
        alice = await login(live.client, "alice", "Acme")
        a = await live.ast.place_call("401", "402", answer_after=0.05)
        await live.until(lambda: live.gw.store.get(a) is not None
                         and live.gw.store.get(a).account_id == gamma)
        rows = await listed(live, gus, f"/v2/accounts/{gamma}/channels")
        assert a in rows and rows[a]["username"] == "401"
        resp = await live.client.get(f"/v2/accounts/{gamma}/channels", headers=alice)
        assert resp.status == 403
        assert await listed(live, alice) == {}
        n = len(live.ast.actions)
        status, doc = await act(live, gus, a, '{"data": {"action": "hangup"}}', account=gamma)
        assert (status, doc["data"]) == (200, "hangup initiated")
        assert any(x.get("Action") == "Hangup" for x in live.ast.actions[n:])
        await eventually_listed(live, gus, lambda r: a not in r,
                                f"/v2/accounts/{gamma}/channels")
