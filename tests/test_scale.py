"""Several gateway instances over one real Redis and the same simulated switches."""

from __future__ import annotations

import asyncio

from tests.harness import until

from .redis_util import NEEDS_REDIS, event_subscribers, eventually, pair, scaled

pytestmark = NEEDS_REDIS




def table(gw, node: str) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {ch.id: (str(ch.state), ch.other_leg) for ch in gw.store.by_node(node)}


async def test_two_instances_list_the_same_channels_with_one_subscription() -> None:
    async with pair(2, switches=("fs1",)) as p:
        fs = p.switches.sims["fs1"]
        a, b = p.instances
        await fs.place_call("201", "202", realm="acme.example.com")
        await until(lambda: len(fs.channel_ids()) == 2 and
                    set(table(a.gw, "fs1")) == set(fs.channel_ids()) ==
                    set(table(b.gw, "fs1")))
        assert event_subscribers(fs) == 1


async def test_webitel_session_made_on_one_works_and_is_revoked_on_the_other() -> None:
    async with pair(2) as p:
        a, b = p.instances
        r = await a.client.post("/login", json={"username": "alice@acme.example.com",
                                                "password": "demo-alice"})
        assert r.status == 200
        s = await r.json()
        headers = {"X-Access-Token": s["token"], "X-Key": s["key"]}

        async def whoami(inst) -> int:  # type: ignore[no-untyped-def]
            return (await inst.client.get("/api/v2/whoami", headers=headers)).status

        async def _ok() -> bool:
            return not (await whoami(b) != 200)

        await eventually(_ok, 5)
        r = await b.client.post("/logout", headers=headers)
        assert r.status == 200
        async def _ok() -> bool:
            return not (await whoami(a) != 401)

        await eventually(_ok, 5)
        assert await whoami(b) == 401


async def test_kazoo_token_revoked_on_one_is_refused_by_the_other() -> None:
    import hashlib

    async with pair(2) as p:
        a, b = p.instances
        creds = hashlib.md5(b"bob:demo-bob").hexdigest()
        r = await a.client.put("/v2/user_auth", json={
            "data": {"credentials": creds, "account_name": "Acme"}})
        assert r.status == 201, await r.text()
        token = (await r.json())["auth_token"]
        auth = {"X-Auth-Token": token}
        assert (await b.client.get("/v2/token_auth", headers=auth)).status == 200
        assert (await b.client.delete("/v2/token_auth", headers=auth)).status == 200
        async def _ok() -> bool:
            return not ((await a.client.get("/v2/token_auth", headers=auth)).status != 401)

        await eventually(_ok, 5)


async def test_callflow_pickup_on_one_shows_on_the_other() -> None:
    async with pair(2) as p:
        fs = p.switches.sims["fs1"]
        a, b = p.instances
        caller = await fs.place_call("+37060000001", "37052000000", bridge=False,
                                     answer_after=0.05)
        await until(lambda: all((ch := i.gw.store.get(caller)) is not None and ch.parked
                                for i in p.instances))

        async def listed() -> list:  # type: ignore[type-arg]
            r = await b.client.get("/call/list", params={"token": "token-carol"})
            return [c for c in (await r.json())["calls"] if c["id"] == caller]

        # b has rendered (and keeps) the list with the call unassigned
        assert [c["assigned_to"] for c in await listed()] == [None]
        r = await a.client.post(f"/call/{caller}/pickup", params={"token": "token-carol"})
        assert r.status == 200, await r.text()
        assert (await r.json())["assigned_to"] == 5

        async def _ok() -> bool:
            calls = await listed()
            return bool(calls) and calls[0]["assigned_to"] == 5

        await eventually(_ok, 5)
        # dan may not take carol's call on the other instance either
        r = await b.client.post(f"/call/{caller}/pickup", params={"token": "token-dan"})
        assert r.status == 403


async def churn(fs, stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    """Calls ringing, answering and hanging up until told to stop."""
    live: list[str] = []
    n = 0
    while not stop.is_set():
        n += 1
        live.append(await fs.place_call("201", "202", realm="acme.example.com",
                                        answer_after=0.02))
        if len(live) > 4:
            uid = live.pop(0)
            if fs.channel(uid) is not None:
                await fs.hangup(uid)
        await asyncio.sleep(0.01)


async def test_holder_killed_during_churn_the_other_takes_over_and_matches_truth() -> None:
    async with pair(2) as p:
        fs = p.switches.sims["fs1"]
        holder = p.holder("fs1")
        [other] = [i for i in p.instances if i is not holder]
        stop = asyncio.Event()
        task = asyncio.create_task(churn(fs, stop))
        await asyncio.sleep(0.3)
        await p.kill(holder)
        scale = other.gw.scale
        assert scale is not None

        async def _ok() -> bool:  # the lease expires and the survivor takes it
            return "fs1" in scale.holds() and event_subscribers(fs) == 1

        await eventually(_ok, 10)
        await asyncio.sleep(0.3)  # more churn under the new holder
        stop.set()
        await task
        await until(lambda: set(table(other.gw, "fs1")) == set(fs.channel_ids()))
        assert event_subscribers(fs) == 1
        # a new instance joining now gets the same table from the stream
        late = await p.add()
        await until(lambda: set(table(late.gw, "fs1")) == set(fs.channel_ids()))
        assert event_subscribers(fs) == 1


async def test_redis_stopped_and_restarted() -> None:
    async with pair(2) as p:
        fs = p.switches.sims["fs1"]
        a, b = p.instances
        first = await fs.place_call("201", "202", realm="acme.example.com")
        await until(lambda: first in b.gw.store and first in a.gw.store)
        r = await a.client.post("/login", json={"username": "alice@acme.example.com",
                                                "password": "demo-alice"})
        s = await r.json()
        session = {"X-Access-Token": s["token"], "X-Key": s["key"]}
        async def _ok() -> bool:
            return not ((await b.client.get("/api/v2/whoami", headers=session)).status != 200)

        await eventually(_ok, 5)
        await p.redis.stop()
        async def _ok() -> bool:
            return not ((await b.client.get("/healthz")).status != 503)

        await eventually(_ok, 5)
        body = await (await b.client.get("/healthz")).json()
        assert body["redis"]["state"] == "down" and body["redis"]["last_error"]
        # lists are still served from memory
        r = await b.client.get("/v2/accounts/a0000000000000000000000000000003/channels",
                               headers={"X-Auth-Token": "x"})
        assert r.status == 401  # answered at once (no Redis on the request path)
        assert first in b.gw.store
        # the ingesting instance keeps its own table current meanwhile
        holder = p.holder("fs1")
        during = await fs.place_call("204", "201", realm="acme.example.com")
        await until(lambda: during in holder.gw.store)
        await p.redis.start()
        async def _ok() -> bool:
            return all([(await i.client.get("/healthz")).status == 200 for i in (a, b)])

        await eventually(_ok, 10)
        second = await fs.place_call("203", "201", realm="acme.example.com")
        await until(lambda: all(set(table(i.gw, "fs1")) == set(fs.channel_ids())
                                for i in p.instances) and second in b.gw.store
                    and during in b.gw.store and during in a.gw.store, wait=10)
        await until(lambda: event_subscribers(fs) == 1)
        # a Redis restarted empty learns the sessions back from the instances
        for inst in p.instances:
            assert (await inst.client.get("/api/v2/whoami", headers=session)).status == 200
        async def _ok() -> bool:
            return not (not await p.redis_keys("callgate:kv:webitel.sessions:*"))

        await eventually(_ok, 5)


async def test_forged_stream_entries_are_logged_once_and_skipped(caplog) -> None:  # type: ignore[no-untyped-def]
    import json
    import logging

    import redis.asyncio as aioredis

    caplog.set_level(logging.WARNING, logger="callgate.scale")
    async with pair(2) as p:
        fs = p.switches.sims["fs1"]
        a, b = p.instances
        r = aioredis.Redis.from_url(p.redis.url)
        good = {"v": 1, "n": "fs1", "o": "intruder", "e": "x", "s": 1, "k": "up",
                "id": "forged-1", "f": {"name": "sofia/internal/666@evil"}}
        forged = [
            b"{not json",
            json.dumps({**good, "n": "fs9"}).encode(),  # unknown node
            json.dumps({**good, "f": {"no_such_field": "x"}}).encode(),
            json.dumps({**good, "f": {"answered": "yes"}}).encode(),  # wrong type
            json.dumps({**good, "k": "dump", "ch": [{"id": "forged-2", "held": 3}]}).encode(),
            json.dumps([1, 2]).encode(),
        ]
        for _ in range(3):
            for data in forged:
                await r.xadd("callgate:events:fs1", {"d": data})
        await r.aclose()
        uid = await fs.place_call("201", "202", realm="acme.example.com")
        await until(lambda: all(uid in i.gw.store for i in p.instances))
        for inst in (a, b):
            assert "forged-1" not in inst.gw.store and "forged-2" not in inst.gw.store
            assert set(table(inst.gw, "fs1")) == set(fs.channel_ids())
        lines = [rec.getMessage() for rec in caplog.records if "skipped" in rec.getMessage()]
        assert lines and all(lines.count(line) <= 2 for line in lines), lines  # once each
        assert any("bad JSON" in line for line in lines)
        assert any("another node" in line for line in lines)
        assert any("malformed channel" in line for line in lines)


async def test_a_stalled_or_garbage_redis_never_blocks_lists() -> None:
    from .redis_util import StallProxy

    async with pair(1) as p:
        fs = p.switches.sims["fs1"]
        proxy = StallProxy(p.redis.port)
        await proxy.start()
        p.settings = scaled(p.settings, proxy.url)
        inst = await p.add()
        uid = await fs.place_call("201", "202", realm="acme.example.com")
        await until(lambda: uid in inst.gw.store)
        creds = {"username": "alice@acme.example.com", "password": "demo-alice"}
        for mode in ("stall", "garbage"):
            if mode == "stall":
                proxy.flowing.clear()
            else:
                proxy.flowing.set()
                proxy.garbage = True
            async with asyncio.timeout(3):  # 40 requests: none may wait on Redis
                for _ in range(20):
                    r = await inst.client.post("/login", json=creds)
                    assert r.status == 200
                    s = await r.json()
                    r = await inst.client.get("/api/v2/channels", headers={
                        "X-Access-Token": s["token"], "X-Key": s["key"]})
                    assert r.status == 200
                    assert uid in await r.text()

            async def down() -> bool:
                return (await inst.client.get("/healthz")).status == 503

            await eventually(down, 10)
        proxy.garbage = False
        await proxy.stop()


async def test_asterisk_and_freeswitch_one_subscription_each_and_commands_from_both() -> None:
    from gateway.switch import Endpoint

    async with pair(2, switches=("fs1", "ast1")) as p:
        fs, ast = p.switches.sims["fs1"], p.switches.sims["ast1"]
        a, b = p.instances
        await fs.place_call("201", "202", realm="acme.example.com")
        await ast.place_call("401", "402", answer_after=0.02)
        # an originate from each instance's own command connection (AMI: Events off)
        for inst, leg in ((a, "scale-leg-a"), (b, "scale-leg-b")):
            res = await inst.gw.backends["ast1"].originate(
                Endpoint("device", "401"), "402", channel_id=leg, ring_timeout=5)
            assert res.ok and res.channel_id == leg
        await until(lambda: all(
            set(table(i.gw, n)) == set(sim.channel_ids()) and "scale-leg-b" in i.gw.store
            for i in p.instances for n, sim in (("fs1", fs), ("ast1", ast))))
        assert event_subscribers(fs) == 1 and event_subscribers(ast) == 1
        # a hangup from the instance that does not ingest the node
        ingesting = p.holder("ast1")
        [other] = [i for i in p.instances if i is not ingesting]
        ch = other.gw.store.get("scale-leg-a")
        assert ch is not None
        await other.gw.control.hangup(ch.id)
        await until(lambda: all("scale-leg-a" not in i.gw.store for i in p.instances))


async def test_rate_limit_bucket_is_shared() -> None:
    async with pair(2) as p:
        a, b = p.instances
        assert await a.gw.shared.hit("login:alice", 60) == 1
        assert await b.gw.shared.hit("login:alice", 60) == 2
        assert await a.gw.shared.hit("login:bob", 60) == 1
        # read without counting, on either instance; a clear on one is seen by the other
        assert await b.gw.shared.counts(["login:alice", "login:bob", "login:x"]) == [2, 1, 0]
        await a.gw.shared.clear("login:alice")
        assert await b.gw.shared.counts(["login:alice", "login:bob"]) == [0, 1]


async def test_failed_logins_on_one_instance_lock_the_user_on_the_other() -> None:
    """Login throttling counts in Redis: guesses spread over two instances get no more tries
    than guesses on one, and a success on either clears the count everywhere."""
    import hashlib

    async with pair(2) as p:
        a, b = p.instances
        limit = a.gw.logins.limits.attempts
        wrong = {"data": {"credentials": hashlib.md5(b"bob:guess").hexdigest(),
                          "account_name": "Acme"}}
        for i in range(limit):
            r = await (a if i % 2 else b).client.put("/v2/user_auth", json=wrong)
            assert r.status == 401, await r.text()
        refused = await a.client.put("/v2/user_auth", json=wrong)
        assert refused.status == 429
        right = {"data": {"credentials": hashlib.md5(b"bob:demo-bob").hexdigest(),
                          "account_name": "Acme"}}
        assert (await b.client.put("/v2/user_auth", json=right)).status == 429  # locked: no oracle


async def test_a_holder_cut_off_from_its_switch_hands_the_lease_over() -> None:
    """A reaches the switch through a proxy that is then cut; B reaches it directly. The
    lease moves to B, and both list the switch's table."""
    import dataclasses

    from .redis_util import StallProxy

    async with pair(0) as p:
        fs = p.switches.sims["fs1"]
        proxy = StallProxy(fs.port)
        await proxy.start()
        direct = p.settings
        p.settings = dataclasses.replace(direct, backends=tuple(
            dataclasses.replace(b, port=proxy.port) for b in direct.backends))
        a = await p.add()
        p.settings = direct
        b = await p.add()
        assert a.gw.scale is not None and a.gw.scale.holds() == ["fs1"]
        first = await fs.place_call("201", "202", realm="acme.example.com")
        await until(lambda: first in b.gw.store)
        await proxy.stop()  # A can no longer reach the switch
        scale = b.gw.scale
        assert scale is not None

        async def moved() -> bool:
            return scale.holds() == ["fs1"] and event_subscribers(fs) == 1

        await eventually(moved, 10)
        second = await fs.place_call("203", "201", realm="acme.example.com")
        await until(lambda: all(set(table(i.gw, "fs1")) == set(fs.channel_ids())
                                for i in (a, b)) and second in a.gw.store)
