"""Webitel end to end against the simulated switches over real sockets: the seed's examples with
tokens from a real /login, rows equal to FreeSWITCH's own `show channels`, every command reaching
the switch as the documented ESL command, and a cross-domain matrix in which nothing foreign ever
reaches the switch."""

from __future__ import annotations

import asyncio
import dataclasses
import re

from gateway.config import Settings
from gateway.model import State
from gateway.store import ChangeKind, Subscription
from tests.harness import Live, live_gateway

NEW_LEG = re.compile(r"^\+OK ([0-9a-f-]{36})\n$")


def only_webitel(s: Settings) -> Settings:
    return dataclasses.replace(s, dialects={"webitel": s.dialects["webitel"]})


async def login(live: Live, user: str, password: str) -> dict[str, str]:
    r = await live.client.post("/login", json={"username": user, "password": password})
    assert r.status == 200
    s = await r.json()
    return {"X-Access-Token": s["token"], "X-Key": s["key"]}


async def listed(live: Live, hdrs: dict[str, str]) -> dict[str, dict[str, str]]:
    r = await live.client.get("/api/v2/channels", headers=hdrs)
    assert r.status == 200
    return {row["uuid"]: row for row in (await r.json())["data"]["rows"]}


async def call(live: Live, caller: str, callee: str, **kw: object) -> tuple[str, str]:
    """A bridged, answered call: (A-leg, B-leg) once the store has both."""
    a = await live.fs.place_call(caller, callee, **kw)
    await live.until(lambda: (ch := live.gw.store.get(a)) is not None and bool(ch.other_leg)
                     and ch.state is State.ANSWERED)
    return a, live.gw.store.get(a).other_leg


async def added(changes: Subscription, channel_id: str, wait: float = 5.0) -> bool:
    """Whether the store published an ADDED change for `channel_id` within `wait` seconds;
    closes `changes`."""
    try:
        async with asyncio.timeout(wait):
            async for change in changes:
                ch = change.channel
                if change.kind is ChangeKind.ADDED and ch is not None and ch.id == channel_id:
                    return True
    except TimeoutError:
        pass
    finally:
        changes.close()
    return False


def sent(live: Live, since: int) -> list[str]:
    return [c for c in live.fs.commands[since:] if not c.startswith("api show")]


async def assert_rows_are_the_switchs(live: Live, hdrs: dict[str, str]) -> None:
    """The list equals FreeSWITCH's own `show channels`, column by column, once the events
    in flight have reached the store (the list never asks the switch)."""
    def differences() -> list[tuple[str, str]]:
        return [(uid, col) for uid, row in rows.items() for col, value in truth[uid].items()
                if row[col] != value]

    for _ in range(100):
        rows, truth = await listed(live, hdrs), live.fs.truth()
        if set(rows) == set(truth) and not differences():
            break
        await asyncio.sleep(0.02)
    assert set(rows) == set(truth)
    for uid, row in rows.items():
        assert list(row) == list(truth[uid])
        for column, value in truth[uid].items():
            assert row[column] == value, (uid, column)


# ----------------------------------------------------------------- the seed
async def test_seed_examples_as_written() -> None:
    async with live_gateway(edit=only_webitel) as live:
        alice = await login(live, "alice@acme.example.com", "demo-alice")
        json_hdrs = {**alice, "Content-Type": "application/json"}
        a, b = await call(live, "201", "202")

        # GET /api/v2/channels
        r = await live.client.get("/api/v2/channels", headers=alice)
        body = await r.json()
        assert r.status == 200 and body["status"] == "OK"
        assert body["data"]["row_count"] == 2
        assert [row["uuid"] for row in body["data"]["rows"]] == [a, b]

        # POST /api/v2/channels (originate, the seed's body byte for byte)
        changes = live.gw.store.subscribe()  # before the POST: the new leg may not live long
        mark = len(live.fs.commands)
        r = await live.client.post(
            "/api/v2/channels", headers=json_hdrs,
            data='{"calledId":"00","callerId": "201@10.10.10.144",'
                 '"auto_answer_param": "sip_h_Call-Info=answer-after=0"}')
        body = await r.json()
        assert r.status == 200 and body["status"] == "OK"
        new = NEW_LEG.match(body["info"]).group(1)
        [cmd] = sent(live, mark)
        assert cmd.startswith("bgapi originate {") and cmd.endswith(
            "}user/201@acme.example.com 00 XML default")
        for var in (f"origination_uuid={new}", "origination_caller_id_number=201@10.10.10.144",
                    "w_jsclient_originate_number=00", "sip_h_Call-Info=answer-after=0"):
            assert var in cmd
        # the switch really made the new leg: its event reached the store, even if "00" (no
        # route in the simulator) tears it down again at once
        assert await added(changes, new)

        # PUT /api/v2/channels/:id {"state": "hold"}
        mark = len(live.fs.commands)
        r = await live.client.put(f"/api/v2/channels/{a}", headers=json_hdrs,
                                  data='{"state": "hold"}')
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK Success\n"})
        assert sent(live, mark) == [f"api uuid_hold {a}"]
        await live.until(lambda: live.gw.store.get(a).held)
        assert (await listed(live, alice))[a]["callstate"] == "HELD"
        mark = len(live.fs.commands)
        r = await live.client.patch(f"/api/v2/channels/{a}", headers=alice,
                                    json={"state": "unhold"})
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK Success\n"})
        assert sent(live, mark) == [f"api uuid_hold off {a}"]
        await live.until(lambda: not live.gw.store.get(a).held)

        # POST /api/v2/channels/:id/eavesdrop {"user":"201"}
        mark = len(live.fs.commands)
        r = await live.client.post(f"/api/v2/channels/{b}/eavesdrop", headers=json_hdrs,
                                   data='{"user":"201"}')
        body = await r.json()
        assert r.status == 200 and NEW_LEG.match(body["info"])
        [cmd] = sent(live, mark)
        assert cmd.startswith("bgapi originate {")
        assert cmd.endswith(f"}}user/201@acme.example.com &eavesdrop({b})")

        # DELETE /api/v2/channels/:id
        mark = len(live.fs.commands)
        r = await live.client.delete(f"/api/v2/channels/{a}", headers=alice)
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK\n"})
        assert sent(live, mark) == [f"api uuid_kill {a} NORMAL_CLEARING"]
        await live.until(lambda: live.gw.store.get(a) is None)
        assert a not in await listed(live, alice)


# ------------------------------------------------------- rows = the switch's
async def test_rows_equal_freeswitchs_show_channels_in_every_state() -> None:
    async with live_gateway(edit=only_webitel) as live:
        root = await login(live, "root", "demo-admin")
        # ringing: a call nobody answers yet
        ringing = await live.fs.place_call("203", "204", answer_after=None)
        await live.until(lambda: len(live.gw.store) == 2)
        await live.until(lambda: all(c.callstate for c in live.gw.store))
        await assert_rows_are_the_switchs(live, root)
        # answered and bridged
        await live.fs.answer(ringing)
        await live.until(lambda: all(c.answered and c.other_leg for c in live.gw.store))
        _a, b = await call(live, "201", "202")
        await assert_rows_are_the_switchs(live, root)
        # held by the phone itself
        await live.fs.hold(b)
        await live.until(lambda: live.gw.store.get(b).held)
        await assert_rows_are_the_switchs(live, root)
        # a parked lone leg, and a leg to a carrier
        parked = await live.fs.place_call("301", "999", bridge=False, answer_after=0.05)
        await live.until(lambda: (ch := live.gw.store.get(parked)) is not None and ch.parked)
        await call(live, "204", "37060000000")
        await assert_rows_are_the_switchs(live, root)


# ------------------------------------------------------------- commands
async def test_hangup_cause_and_failures() -> None:
    async with live_gateway(edit=only_webitel) as live:
        alice = await login(live, "alice@acme.example.com", "demo-alice")
        a, b = await call(live, "201", "202")
        mark = len(live.fs.commands)
        r = await live.client.delete(f"/api/v2/channels/{b}?cause=user_busy", headers=alice)
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK\n"})
        assert sent(live, mark) == [f"api uuid_kill {b} USER_BUSY"]
        await live.until(lambda: live.gw.store.get(a) is None)
        # the words of a bad cause never reach the switch
        a, b = await call(live, "201", "202")
        mark = len(live.fs.commands)
        r = await live.client.delete(f"/api/v2/channels/{a}?cause=X%20hupall", headers=alice)
        assert r.status == 200
        assert sent(live, mark) == [f"api uuid_kill {a} NORMAL_CLEARING"]


async def test_originate_failure_answers_the_cause() -> None:
    async with live_gateway(edit=only_webitel) as live:
        alice = await login(live, "alice@acme.example.com", "demo-alice")
        r = await live.client.post("/api/v2/channels", headers=alice,
                                   json={"calledId": "202", "callerId": "299"})
        assert (r.status, await r.json()) == (
            500, {"status": "error", "info": "-ERR USER_NOT_REGISTERED\n"})
        # without callerId the caller's own phone rings (alice owns 201)
        mark = len(live.fs.commands)
        r = await live.client.post("/api/v2/channels", headers=alice, json={"calledId": "202"})
        assert r.status == 200 and NEW_LEG.match((await r.json())["info"])
        [cmd] = sent(live, mark)
        assert "}user/201@acme.example.com 202 XML default" in cmd


async def test_hupall_is_forced_to_the_callers_domain() -> None:
    async with live_gateway(edit=only_webitel) as live:
        alice = await login(live, "alice@acme.example.com", "demo-alice")
        acme = await call(live, "201", "202")
        beta = await live.fs.place_call("301", "999", bridge=False, answer_after=0.05)
        await live.until(lambda: (ch := live.gw.store.get(beta)) is not None and ch.parked)
        mark = len(live.fs.commands)
        r = await live.client.delete("/api/v2/channels/domain/beta.example.com", headers=alice)
        assert (r.status, await r.json()) == (200, {"status": "OK", "info":
            "+OK hangup all channels matching [domain_name]=[acme.example.com] "
            "with cause: MANAGER_REQUEST\n"})
        assert sorted(sent(live, mark)) == sorted(
            f"api uuid_kill {uid} MANAGER_REQUEST" for uid in acme)
        await live.until(lambda: all(live.gw.store.get(u) is None for u in acme))
        assert live.gw.store.get(beta) is not None and beta in live.fs.truth()


async def test_spy_listens_to_a_users_call() -> None:
    async with live_gateway(edit=only_webitel) as live:
        alice = await login(live, "alice@acme.example.com", "demo-alice")
        _a, b = await call(live, "201", "202")
        mark = len(live.fs.commands)
        r = await live.client.post("/api/v2/accounts/202/spy", headers=alice,
                                   json={"user": "203@beta.example.com", "display": "Spy"})
        assert r.status == 200 and NEW_LEG.match((await r.json())["info"])
        [cmd] = sent(live, mark)
        assert cmd.endswith(f"}}user/203@acme.example.com &eavesdrop({b})")
        assert "origination_callee_id_number=Spy" in cmd


async def test_v1_root_commands() -> None:
    async with live_gateway(edit=only_webitel) as live:
        basic = {"Authorization": "Basic cm9vdDpkZW1vLWFkbWlu"}  # root:demo-admin
        a, _b = await call(live, "201", "202")
        mark = len(live.fs.commands)
        r = await live.client.put(f"/api/v1/channels/{a}", headers=basic, json={"state": "hold"})
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK Success\n"})
        r = await live.client.delete(f"/api/v1/channels/{a}", headers=basic)
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK\n"})
        assert sent(live, mark) == [f"api uuid_hold {a}", f"api uuid_kill {a} NORMAL_CLEARING"]
        await live.until(lambda: len(live.gw.store) == 0)
        await call(live, "203", "204")
        r = await live.client.delete("/api/v1/channels", headers=basic)
        assert (r.status, await r.json()) == (200, {
            "status": "OK", "info": "+OK hangup all channels with cause MANAGER_REQUEST\n"})
        await live.until(lambda: len(live.gw.store) == 0)


# ----------------------------------------------------------- tenancy matrix
async def test_cross_domain_matrix_nothing_reaches_the_switch() -> None:
    async with live_gateway(edit=only_webitel) as live:
        acme_a, acme_b = await call(live, "201", "202")
        beta = await live.fs.place_call("301", "999", bridge=False, answer_after=0.05)
        await live.until(lambda: (ch := live.gw.store.get(beta)) is not None and ch.parked)
        erin = await login(live, "erin@beta.example.com", "demo-erin")
        alice = await login(live, "alice@acme.example.com", "demo-alice")
        assert set(await listed(live, erin)) == {beta}
        assert set(await listed(live, alice)) == {acme_a, acme_b}

        no_channel = {"status": "error", "info": "-ERR No such channel!\n"}
        mark = len(live.fs.commands)
        for who, foreign in ((erin, acme_a), (erin, acme_b), (alice, beta)):
            r = await live.client.delete(f"/api/v2/channels/{foreign}", headers=who)
            assert (r.status, await r.json()) == (500, no_channel)
            for state in ("hold", "unhold"):
                r = await live.client.put(f"/api/v2/channels/{foreign}", headers=who,
                                          json={"state": state})
                assert (r.status, await r.json()) == (200, {"status": "OK",
                                                            "info": "+OK Success\n"})
            r = await live.client.post(f"/api/v2/channels/{foreign}/eavesdrop", headers=who,
                                       json={"user": "201"})
            assert (r.status, await r.json()) == (500, no_channel)
        # spying on another domain's phone means that phone in one's own domain: none
        r = await live.client.post("/api/v2/accounts/201/spy?domain=acme.example.com",
                                   headers=erin, json={"user": "301"})
        assert (r.status, await r.json()) == (500, no_channel)
        # ?domain= does not widen a domain admin's list
        r = await live.client.get("/api/v2/channels?domain=acme.example.com", headers=erin)
        assert {row["uuid"] for row in (await r.json())["data"]["rows"]} == {beta}
        assert sent(live, mark) == []
        # originate from Beta naming Acme's phone rings Beta's phone of that name, not Acme's
        r = await live.client.post("/api/v2/channels", headers=erin,
                                   json={"calledId": "00", "callerId": "201@acme.example.com"})
        assert sent(live, mark) and "acme.example.com" not in sent(live, mark)[0].split("}")[1]
        assert (r.status, await r.json()) == (
            500, {"status": "error", "info": "-ERR USER_NOT_REGISTERED\n"})
        # every Acme leg is still up and untouched
        truth = live.fs.truth()
        assert acme_a in truth and acme_b in truth
        assert not any(acme_a in c or acme_b in c for c in live.fs.commands)


# ----------------------------------------------------------- Asterisk too
async def test_asterisk_channels_in_freeswitch_words() -> None:
    async with live_gateway(edit=only_webitel, switches=("fs1", "ast1")) as live:
        gus = await login(live, "gus@gamma.example.com", "demo-gus")
        a = await live.ast.place_call("401", "402")
        await live.until(lambda: len(list(live.gw.store.by_node("ast1"))) == 2
                         and all(c.answered for c in live.gw.store.by_node("ast1")))
        rows = await listed(live, gus)
        assert set(rows) == set(live.ast.truth())
        row = rows[a]
        assert row["state"].startswith("CS_") and row["callstate"] == "ACTIVE"
        assert row["presence_id"] == "401@gamma.example.com" and row["cid_num"] == "401"
        assert row["hostname"] == "ast1" and row["dialplan"] == "XML"
        assert row["created_epoch"].isdigit()
        r = await live.client.put(f"/api/v2/channels/{a}", headers=gus, json={"state": "hold"})
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK Success\n"})
        await live.until(lambda: live.gw.store.get(a).held)
        assert (await listed(live, gus))[a]["callstate"] == "HELD"
        mark = len(live.ast.actions)
        r = await live.client.delete(f"/api/v2/channels/{a}", headers=gus)
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK\n"})
        assert any(act.get("Action", "").lower() == "hangup" for act in live.ast.actions[mark:])
        await live.until(lambda: live.gw.store.get(a) is None)
        r = await live.client.delete(f"/api/v2/channels/{a}", headers=gus)
        assert (r.status, await r.json()) == (500, {"status": "error",
                                                    "info": "-ERR No such channel!\n"})
