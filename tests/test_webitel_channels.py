"""The Webitel channel list and command validation over a store filled directly (no switch):
the 38-column row compared field by field with FreeSWITCH's own rows, ordering, envelopes,
tenancy by attribution, and bad input answered in Webitel's words."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dialects.webitel.render import COLUMNS, row
from gateway.app import build_app
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import Channel, State

#: FreeSWITCH 1.6's own `show channels as json` row, as FreeSWITCH documents it.
FS_ROW = {
    "uuid": "0323b214-abe3-4e54-9823-56baf8b5723c", "direction": "inbound",
    "created": "2016-06-23 13:04:48", "created_epoch": "1466687088",
    "name": "sofia/internal/102@10.10.10.144", "state": "CS_EXECUTE", "cid_name": "102",
    "cid_num": "102", "ip_addr": "10.10.10.25", "dest": "00", "application": "conference",
    "application_data": "10.10.10.144@default", "dialplan": "XML", "context": "default",
    "read_codec": "L16", "read_rate": "48000", "read_bit_rate": "768000",
    "write_codec": "opus", "write_rate": "48000", "write_bit_rate": "0", "secure": "",
    "hostname": "webitel", "presence_id": "102@10.10.10.144", "presence_data": "",
    "accountcode": "", "callstate": "ACTIVE", "callee_name": "", "callee_num": "",
    "callee_direction": "", "call_uuid": "", "sent_callee_name": "", "sent_callee_num": "",
    "initial_cid_name": "102", "initial_cid_num": "102", "initial_ip_addr": "10.10.10.25",
    "initial_dest": "00", "initial_dialplan": "XML", "initial_context": "default",
}
ACME, BETA = "acme.example.com", "beta.example.com"


@pytest.fixture()
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`created` is the switch's local time; the recorded rows were taken in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fs_channel(uid: str, user: str, realm: str, created: float, **kw: object) -> Channel:
    """A FreeSWITCH leg as the FreeSWITCH backend records it."""
    base: dict[str, object] = dict(
        id=uid, node="fs1", name=f"sofia/internal/{user}@{realm}", direction="inbound",
        state=State.ANSWERED, answered=True, created=created, caller_id_number=user,
        caller_id_name=user, destination="00", context="default", dialplan="XML",
        read_codec="PCMU", read_rate="8000", write_codec="PCMU", write_rate="8000",
        ip_addr="192.0.2.11", presence_id=f"{user}@{realm}", switch_state="CS_EXECUTE",
        callstate="ACTIVE", hostname="sim-fs1", username=user, realm=realm, call_id=uid,
        initial=(user, user, "192.0.2.11", "00", "XML", "default"))
    base.update(kw)
    return Channel(**base)  # type: ignore[arg-type]


def _settings(**options: object) -> Settings:
    s = load_demo()
    web = s.dialects["webitel"]
    if options:
        web = dataclasses.replace(web, options=dataclasses.replace(web.options, **options))
    return dataclasses.replace(s, dialects={"webitel": web})


async def _start(settings: Settings) -> tuple[Gateway, TestClient]:
    gw = Gateway.build(settings, backends=False)
    client = TestClient(TestServer(build_app(gw, manage_backends=False)))
    await client.start_server()
    return gw, client


@pytest.fixture()
async def app() -> AsyncIterator[tuple[Gateway, TestClient]]:
    gw, client = await _start(_settings())
    # Acme (two legs of one call, created out of order), Beta, Gamma on Asterisk, a carrier leg
    gw.store.add(fs_channel("acme-b", "202", ACME, 1700000010.2, direction="outbound",
                            other_leg="acme-a", call_id="acme-a",
                            switch_state="CS_EXCHANGE_MEDIA"))
    gw.store.add(fs_channel("acme-a", "201", ACME, 1700000010.1, other_leg="acme-b",
                            call_id="acme-a"))
    gw.store.add(fs_channel("beta-a", "301", BETA, 1700000005.0))
    gw.store.add(Channel(id="1700000001.7", node="ast1", name="PJSIP/401-00000007",
                         state=State.HELD, answered=True, held=True, created=1700000001.0,
                         caller_id_number="401", caller_id_name="Gus", destination="402",
                         context="from-internal", username="401", switch_state="Up",
                         callstate="HELD", hostname="sim-ast1",
                         accountcode="a0000000000000000000000000000005",
                         read_codec="PCMA", read_rate="8000", call_id="1700000001.7",
                         initial=("Gus", "401", "", "402", "", "from-internal")))
    gw.store.add(Channel(id="orphan", node="fs1", name="sofia/gateway/carrier1/37060000000",
                         created=1700000000.0, switch_state="CS_CONSUME_MEDIA",
                         callstate="RINGING", direction="outbound"))
    yield gw, client
    await client.close()


async def login(client: TestClient, user: str, password: str) -> dict[str, str]:
    r = await client.post("/login", json={"username": user, "password": password})
    assert r.status == 200
    s = await r.json()
    return {"X-Access-Token": s["token"], "X-Key": s["key"]}


async def rows(client: TestClient, hdrs: dict[str, str], query: str = "") -> list[dict]:
    r = await client.get(f"/api/v2/channels{query}", headers=hdrs)
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "OK" and body["data"]["row_count"] == len(body["data"]["rows"])
    return body["data"]["rows"]


# ----------------------------------------------------------------- the row
def test_row_equals_freeswitchs_own_row_field_by_field(utc: None) -> None:
    ch = Channel(id=FS_ROW["uuid"], node="fs1", name=FS_ROW["name"], direction="inbound",
                 state=State.ANSWERED, answered=True, created=1466687088.25,
                 caller_id_name="102", caller_id_number="102", ip_addr="10.10.10.25",
                 destination="00", application="conference",
                 application_data="10.10.10.144@default", dialplan="XML", context="default",
                 read_codec="L16", read_rate="48000", write_codec="opus", write_rate="48000",
                 hostname="webitel", presence_id="102@10.10.10.144", switch_state="CS_EXECUTE",
                 callstate="ACTIVE", call_id=FS_ROW["uuid"],
                 initial=("102", "102", "10.10.10.25", "00", "XML", "default"))
    got = row(ch)
    assert list(got) == list(FS_ROW) == list(COLUMNS) and len(COLUMNS) == 38
    for column, value in FS_ROW.items():
        assert got[column] == value, column
    assert all(isinstance(v, str) for v in got.values())


def test_the_seed_row_too(utc: None) -> None:
    """The seed's example predates the accountcode column; every field it shows matches."""
    seed = dict(FS_ROW, uuid="d16592f8-e9c2-409d-a994-13c033b282ab", created="2015-09-06 20:05:11",
                created_epoch="1441569911", name="sofia/internal/201@10.10.10.144",
                cid_name="201", cid_num="201", ip_addr="93.75.208.227",
                application_data="10.10.10.144@video-mcu-stereo", presence_id="201@10.10.10.144",
                initial_cid_name="201", initial_cid_num="201", initial_ip_addr="93.75.208.227")
    del seed["accountcode"]
    ch = Channel(id=seed["uuid"], node="fs1", name=seed["name"], created=1441569911.9,
                 caller_id_name="201", caller_id_number="201", ip_addr="93.75.208.227",
                 destination="00", application="conference",
                 application_data=seed["application_data"], dialplan="XML", context="default",
                 read_codec="L16", read_rate="48000", write_codec="opus", write_rate="48000",
                 hostname="webitel", presence_id="201@10.10.10.144", switch_state="CS_EXECUTE",
                 callstate="ACTIVE", initial=("201", "201", "93.75.208.227", "00", "XML",
                                              "default"))
    got = row(ch)
    assert {k: got[k] for k in seed} == seed


def test_call_uuid_only_once_bridged() -> None:
    lone = fs_channel("x", "201", ACME, 1.0, call_id="x")
    assert row(lone)["call_uuid"] == ""
    ringing = fs_channel("y", "202", ACME, 1.0, call_id="x", other_leg="x", answered=False,
                         state=State.RINGING)
    assert row(ringing)["call_uuid"] == ""
    bridged = fs_channel("y", "202", ACME, 1.0, call_id="x", other_leg="x")
    assert row(bridged)["call_uuid"] == "x"


# ----------------------------------------------------------------- the list
async def test_root_sees_every_leg_of_every_switch_in_created_order(app) -> None:
    _, client = app
    root = await login(client, "root", "demo-admin")
    got = await rows(client, root)
    assert [r["uuid"] for r in got] == ["orphan", "1700000001.7", "beta-a", "acme-a", "acme-b"]
    assert all(list(r) == list(COLUMNS) for r in got)
    assert all(isinstance(v, str) for r in got for v in r.values())


async def test_asterisk_leg_in_freeswitch_columns(app, utc: None) -> None:
    _, client = app
    root = await login(client, "root", "demo-admin")
    ast = next(r for r in await rows(client, root) if r["uuid"] == "1700000001.7")
    assert ast == {
        "uuid": "1700000001.7", "direction": "inbound", "created": "2023-11-14 22:13:21",
        "created_epoch": "1700000001", "name": "PJSIP/401-00000007", "state": "CS_EXECUTE",
        "cid_name": "Gus", "cid_num": "401", "ip_addr": "", "dest": "402", "application": "",
        "application_data": "", "dialplan": "XML", "context": "from-internal",
        "read_codec": "PCMA", "read_rate": "8000", "read_bit_rate": "64000",
        "write_codec": "", "write_rate": "", "write_bit_rate": "", "secure": "",
        "hostname": "sim-ast1", "presence_id": "401@gamma.example.com", "presence_data": "",
        "accountcode": "a0000000000000000000000000000005", "callstate": "HELD",
        "callee_name": "", "callee_num": "", "callee_direction": "", "call_uuid": "",
        "sent_callee_name": "", "sent_callee_num": "", "initial_cid_name": "Gus",
        "initial_cid_num": "401", "initial_ip_addr": "", "initial_dest": "402",
        "initial_dialplan": "XML", "initial_context": "from-internal",
    }


async def test_domain_admin_sees_only_its_domain(app) -> None:
    _, client = app
    alice = await login(client, "alice@acme.example.com", "demo-alice")
    assert [r["uuid"] for r in await rows(client, alice)] == ["acme-a", "acme-b"]
    # ?domain= is root's: a domain caller cannot widen its scope
    assert [r["uuid"] for r in await rows(client, alice, "?domain=beta.example.com")] == [
        "acme-a", "acme-b"]
    erin = await login(client, "erin@beta.example.com", "demo-erin")
    assert [r["uuid"] for r in await rows(client, erin)] == ["beta-a"]
    # a plain user of Acme lists its domain, as the engine's `like <domain>` did
    bob = await login(client, "bob@acme.example.com", "demo-bob")
    assert [r["uuid"] for r in await rows(client, bob)] == ["acme-a", "acme-b"]
    # the reseller's own domain has no calls of its children (Webitel domains are flat)
    reseller = await login(client, "reseller@reseller.example.com", "demo-reseller")
    assert await rows(client, reseller) == []


async def test_root_domain_filter_is_by_attribution_not_substring(app) -> None:
    gw, client = app
    # a Beta leg whose name merely contains Acme's domain: FreeSWITCH's `like` would match it
    gw.store.add(fs_channel("tricky", "301", BETA, 1700000020.0,
                            name="sofia/internal/301@beta.example.com;x=acme.example.com"))
    root = await login(client, "root", "demo-admin")
    assert [r["uuid"] for r in await rows(client, root, "?domain=acme.example.com")] == [
        "acme-a", "acme-b"]
    assert [r["uuid"] for r in await rows(client, root, "?domain=example.com")] == []
    alice = await login(client, "alice@acme.example.com", "demo-alice")
    assert "tricky" not in [r["uuid"] for r in await rows(client, alice)]


async def test_bare_list_when_configured() -> None:
    gw, client = await _start(_settings(list_envelope=False))
    try:
        root = await login(client, "root", "demo-admin")
        r = await client.get("/api/v2/channels", headers=root)
        assert await r.json() == {"row_count": 0, "rows": []}
        gw.store.add(fs_channel("acme-a", "201", ACME, 1.0))
        body = await (await client.get("/api/v2/channels", headers=root)).json()
        assert list(body) == ["row_count", "rows"] and body["row_count"] == 1
    finally:
        await client.close()


# --------------------------------------------------- command validation
async def test_hold_state_rules(app) -> None:
    _, client = app
    alice = await login(client, "alice@acme.example.com", "demo-alice")
    for body, status, info in (
        ({}, 400, "Bad request"),
        ({"state": ""}, 400, "Bad request"),
        ({"state": "mute"}, 400, "Bad request."),
        ({"state": "toggle"}, 400, "Bad request."),
        ({"state": ["hold"]}, 400, "Bad request."),
    ):
        for method in ("PUT", "PATCH"):
            r = await client.request(method, "/api/v2/channels/acme-a", headers=alice, json=body)
            assert (r.status, await r.json()) == (status, {"status": "error", "info": info})


async def test_foreign_and_missing_uuids_answer_as_freeswitch(app) -> None:
    """No switch is connected here: reaching the control layer would answer
    "ESL response undefined", so these answers prove nothing was sent."""
    _, client = app
    alice = await login(client, "alice@acme.example.com", "demo-alice")
    for uid in ("beta-a", "1700000001.7", "orphan", "nope"):
        r = await client.delete(f"/api/v2/channels/{uid}", headers=alice)
        assert (r.status, await r.json()) == (
            500, {"status": "error", "info": "-ERR No such channel!\n"})
        r = await client.put(f"/api/v2/channels/{uid}", headers=alice, json={"state": "hold"})
        assert (r.status, await r.json()) == (200, {"status": "OK", "info": "+OK Success\n"})
        r = await client.post(f"/api/v2/channels/{uid}/eavesdrop", headers=alice,
                              json={"user": "201"})
        assert (r.status, await r.json()) == (
            500, {"status": "error", "info": "-ERR No such channel!\n"})
    # an own channel does reach the (absent) switch
    r = await client.delete("/api/v2/channels/acme-a", headers=alice)
    assert (r.status, await r.json()) == (500, {"status": "error",
                                                "info": "ESL response undefined"})


async def test_originate_bad_parameters(app) -> None:
    _, client = app
    alice = await login(client, "alice@acme.example.com", "demo-alice")
    bad = {"status": "error", "info": "Bad parameters"}
    for body in ({}, {"callerId": "201"}, {"calledId": ""}, {"calledId": None},
                 {"calledId": {"x": 1}}, {"calledId": "00 &park()"},
                 {"calledId": "00", "callerId": "201 x"},
                 {"calledId": "00", "callerId": "20}1"},
                 {"calledId": "00", "auto_answer_param": "no-equals-sign"},
                 {"calledId": "00", "auto_answer_param": "a=b,origination_uuid=x"},
                 {"calledId": "00", "auto_answer_param": "bad name=x"}):
        r = await client.post("/api/v2/channels", headers=alice, json=body)
        assert (r.status, await r.json()) == (500, bad), body


async def test_eavesdrop_all_is_root_only(app) -> None:
    _, client = app
    alice = await login(client, "alice@acme.example.com", "demo-alice")
    r = await client.post("/api/v2/channels/all/eavesdrop", headers=alice, json={"user": "201"})
    assert (r.status, await r.json()) == (500, {"status": "error", "info": "Permission denied."})


async def test_spy_parameters(app) -> None:
    _, client = app
    alice = await login(client, "alice@acme.example.com", "demo-alice")
    root = await login(client, "root", "demo-admin")
    r = await client.post("/api/v2/accounts/201/spy", headers=alice, json={})
    assert (r.status, await r.json()) == (400, {"status": "error", "info": "Bad spy user"})
    r = await client.post("/api/v2/accounts/201/spy", headers=root, json={"user": "202"})
    assert (r.status, await r.json()) == (400, {"status": "error", "info": "Bad domain name"})
    # Beta's 301 has a call, but from Acme "301" means Acme's 301: there is none
    r = await client.post("/api/v2/accounts/301/spy", headers=alice, json={"user": "202"})
    assert (r.status, await r.json()) == (500, {"status": "error",
                                                "info": "-ERR No such channel!\n"})


async def test_a_change_shows_in_the_very_next_list_byte_for_byte(app) -> None:
    """Rows are cached serialized per channel version: a hold must show in the next list, and
    the joined rows must be exactly the bytes of serializing the whole list afresh."""
    import json

    from dialects.webitel.scope import realm_of

    gw, client = app
    root = await login(client, "root", "demo-admin")
    first = {r["uuid"]: r for r in await rows(client, root)}
    assert first["acme-a"]["callstate"] == "ACTIVE"
    gw.store.update("acme-a", held=True, state=State.HELD, callstate="HELD")
    r = await client.get("/api/v2/channels", headers=root)
    body = await r.text()
    assert {x["uuid"]: x for x in json.loads(body)["data"]["rows"]}["acme-a"]["callstate"] \
        == "HELD"
    ordered = sorted(gw.store.all(), key=lambda ch: ch.created)
    want = [row(ch, realm_of(gw, ch)) for ch in ordered]
    fresh = {"status": "OK", "data": {"row_count": len(want), "rows": want}}
    assert body == json.dumps(fresh, separators=(",", ":"), ensure_ascii=False)


async def test_with_platform_5xx_off_the_engines_500s_are_4xx_with_the_same_body() -> None:
    """`[gateway] platform_5xx = false`: what the engine answered 500 for a request (a gone
    channel, bad parameters) is a 4xx with the engine's own body; a switch that is not there
    ("ESL response undefined") is still a 500."""
    settings = _settings()
    settings = dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, platform_5xx=False))
    gw, client = await _start(settings)
    try:
        gw.store.add(fs_channel("acme-a", "201", ACME, 1700000010.1))
        alice = await login(client, "alice@acme.example.com", "demo-alice")
        for uid in ("beta-a", "nope"):
            r = await client.delete(f"/api/v2/channels/{uid}", headers=alice)
            assert (r.status, await r.json()) == (
                404, {"status": "error", "info": "-ERR No such channel!\n"})
        r = await client.post("/api/v2/channels", headers=alice, json={})
        assert (r.status, await r.json()) == (400, {"status": "error",
                                                    "info": "Bad parameters"})
        r = await client.delete("/api/v2/channels/acme-a", headers=alice)
        assert (r.status, await r.json()) == (500, {"status": "error",
                                                    "info": "ESL response undefined"})
    finally:
        await client.close()
