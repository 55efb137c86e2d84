"""MOR `active_calls_get`, `user_login`/`user_logout` over HTTP against a store filled directly:
the seed example as written, every error string, every filter, and who sees which call."""

from __future__ import annotations

import hashlib
import re
import time
import tomllib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from lxml import etree

from dialects.mor.state import STATE, MorState
from gateway.app import build_app
from gateway.config import Settings, parse
from gateway.context import GATEWAY, Gateway
from gateway.demo import DEMO_CONFIG
from gateway.model import Channel, State
from tests.conftest import SEEDS

SEED = SEEDS / "mor-active-calls-get.txt"
SEED_HASH = "df2983700ffecb52e6649f0cb3981b66537083a4"  # the wiki's example: sha1("456789")

# A second reseller with a customer, and a device for the seed's "username" (a Gamma user in
# the demo directory, under the admin key).
EXTRA = """
[[accounts]]
id = "a0000000000000000000000000000006"
number = 6
name = "Reseller Two"
realm = "reseller2.example.com"
parent = "a0000000000000000000000000000001"
mor_api_secret = "reseller2-secret"

[[accounts]]
id = "a0000000000000000000000000000007"
number = 7
name = "Delta"
realm = "delta.example.com"
parent = "a0000000000000000000000000000006"

[[users]]
id = "b0000000000000000000000000000009"
number = 9
account = "a0000000000000000000000000000006"
username = "reseller2"
password = "demo-reseller2"
name = "Reseller Two Owner"
role = "reseller"

[[users]]
id = "b0000000000000000000000000000010"
number = 10
account = "a0000000000000000000000000000007"
username = "dave"
password = "demo-dave"
name = "Dave Delta"
role = "admin"

[[devices]]
id = "d0000000000000000000000000000101"
number = 2
account = "a0000000000000000000000000000005"
owner = "b0000000000000000000000000000011"
sip_username = "101"
name = "101"
type = "IAX2"
extension = "101"
node = "ast1"

[[devices]]
id = "d0000000000000000000000000000701"
number = 701
account = "a0000000000000000000000000000007"
owner = "b0000000000000000000000000000010"
sip_username = "701"
name = "701"
extension = "701"
node = "fs1"
"""

ACME, BETA, GAMMA, DELTA = "acme.example.com", "beta.example.com", "gamma.example.com", \
    "delta.example.com"
ADMIN_KEY, R1_KEY, R2_KEY = "456789", "reseller-secret", "reseller2-secret"


def settings(**mor: Any) -> Settings:
    data = tomllib.loads(DEMO_CONFIG.read_text() + EXTRA)
    data["dialects"]["mor"].update(mor)
    return parse(data, "test-mor")


def mor_state(client: TestClient) -> MorState:
    """MOR's state, from the sub-application mounted at /billing/api."""
    for resource in client.server.app.router.resources():
        sub = resource.get_info().get("app")
        if sub is not None and STATE in sub:
            return sub[STATE]
    raise AssertionError("MOR is not mounted")


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def leg(id_: str, node: str, name: str, *, call: str, other: str = "", **kw: Any) -> Channel:
    return Channel(id=id_, node=node, name=name, call_id=call, other_leg=other, **kw)


def populate(gw: Gateway, now: float) -> None:
    """One call per kind of principal (the uniqueid says whose call it is)."""
    add = gw.store.add
    # unattributed: a carrier calling an unknown number (only the admin sees it)
    add(leg("x1", "ast1", "PJSIP/carrier2-00000001", call="x1", gateway="carrier2",
            caller_id_number="15550001111", destination="999", created=now - 50))
    # alice (Acme 201) -> Lithuanian mobile via carrier1, answered 5 s ago
    add(leg("alice-a", "fs1", f"sofia/internal/201@{ACME}", call="alice-a", other="alice-b",
            username="201", realm=ACME, caller_id_number="201", destination="+37061234567",
            created=now - 40, answered=True, answered_at=now - 5, state=State.ANSWERED))
    add(leg("alice-b", "fs1", "sofia/gateway/carrier1/37061234567", call="alice-a",
            other="alice-a", direction="outbound", gateway="carrier1", created=now - 39,
            answered=True, answered_at=now - 5, state=State.ANSWERED))
    # bob (Acme 202) -> carol (Acme 203), ringing
    add(leg("bob-a", "fs1", f"sofia/internal/202@{ACME}", call="bob-a", other="bob-b",
            username="202", realm=ACME, caller_id_number="202", destination="203",
            created=now - 30))
    add(leg("bob-b", "fs1", f"sofia/internal/203@{ACME}", call="bob-a", other="bob-a",
            direction="outbound", username="203", realm=ACME, destination="203",
            created=now - 29))
    # a UK mobile calling Acme's DID, ringing bob's 202
    add(leg("did-a", "fs1", "sofia/external/447400123456@carrier1", call="did-a",
            other="did-b", gateway="carrier1", caller_id_number="447400123456",
            destination="37052000000", created=now - 20))
    add(leg("did-b", "fs1", f"sofia/internal/202@{ACME}", call="did-a", other="did-a",
            direction="outbound", username="202", realm=ACME, destination="202",
            created=now - 19))
    # erin (Beta 301) -> a US number via carrier1, ringing
    add(leg("erin-a", "fs1", f"sofia/internal/301@{BETA}", call="erin-a", username="301",
            realm=BETA, caller_id_number="301", destination="12025550123", created=now - 15))
    # dave (Delta 701, under Reseller Two) -> Germany, answered
    add(leg("dave-a", "fs1", f"sofia/internal/701@{DELTA}", call="dave-a", username="701",
            realm=DELTA, caller_id_number="701", destination="4930123456", created=now - 12,
            answered=True, answered_at=now - 10, state=State.ANSWERED))
    # the seed's call: "username" (Gamma, IAX2 101 on ast1, server 2) -> the Philippines
    add(leg("1249298495.111727", "ast1", "SIP/10.219.62.200-c40daf10",
            call="1249298495.111727", username="101", realm=GAMMA,
            caller_id_number="306984327345", destination="63727007886", created=now - 8))
    # gus (Gamma 401): a call older than the 24 h window is hidden
    add(leg("gus-old", "ast1", "PJSIP/401-00000002", call="gus-old", username="401",
            realm=GAMMA, caller_id_number="401", destination="79161234567",
            created=now - 30 * 3600, answered=True, answered_at=now - 30 * 3600 + 5,
            state=State.ANSWERED))


def OPTIONS(**mor: Any) -> pytest.MarkDecorator:
    """Run a test against a gateway whose `[dialects.mor]` has these keys changed."""
    return pytest.mark.parametrize("api", [mor], indirect=True, ids=[str(mor)])


ALL = {"x1", "alice-a", "bob-a", "did-a", "erin-a", "dave-a", "1249298495.111727"}


@pytest.fixture
async def api(request: pytest.FixtureRequest) -> AsyncIterator[TestClient]:
    gw = Gateway.build(settings(**getattr(request, "param", {})), backends=False)
    populate(gw, time.time())
    client = TestClient(TestServer(build_app(gw, manage_backends=False)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


KEYS = {"admin": ADMIN_KEY, "gus": ADMIN_KEY, "username": ADMIN_KEY, "reseller2": R2_KEY,
        "dave": R2_KEY}


def query(user: str, **filters: str) -> dict[str, str]:
    return {"u": user, "hash": sha1(user + KEYS.get(user, R1_KEY)), **filters}


async def xml(client: TestClient, path: str = "/billing/api/active_calls_get", *,
              method: str = "POST", **kw: Any) -> etree._Element:
    resp = await client.request(method, path, **kw)
    assert resp.status == 200
    body = await resp.read()
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert b"Traceback" not in body
    return etree.fromstring(body)


def error_of(doc: etree._Element) -> tuple[str, str]:
    """(shape, text): "status" for filter errors, "page" for method errors."""
    if doc.tag == "status":
        return "status", doc.findtext("error")
    assert doc.tag == "page" and doc.find("status") is not None, etree.tostring(doc)
    return "page", doc.findtext("status/error")


async def uniqueids(client: TestClient, user: str, **filters: str) -> set[str]:
    doc = await xml(client, params=query(user, **filters))
    if doc.find("status") is not None:
        assert doc.findtext("status/message") == "No data found...", etree.tostring(doc)
        return set()
    return {c.findtext("uniqueid") for c in doc.findall("active_call")}


def seed_fields() -> tuple[list[str], list[str]]:
    """The tag lists of the wiki's success example and of its inbound block."""
    text = SEED.read_text()
    common = text[text.index("<active_call>"):text.index("</active_call>")]
    inbound = text[text.index("additional output"):text.index("Errors:")]
    tags = re.compile(r"<([a-z_]+)\s*/?>")
    return tags.findall(common)[1:], tags.findall(inbound)


# ------------------------------------------------------------------------- the seed


async def test_seed_example_as_written(api: TestClient) -> None:
    resp = await api.post("/billing/api/active_calls_get?u=username&s_server=2"
                          f"&s_status=ringing&hash={SEED_HASH}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html"
    assert resp.headers["Content-Disposition"] == \
        'attachment; filename="mor_api_response.html"'
    body = await resp.read()
    doc = etree.fromstring(body)
    assert doc.tag == "page"
    [call] = doc.findall("active_call")
    common, _ = seed_fields()
    assert [c.tag for c in call] == common
    values = {c.tag: c.text for c in call}
    assert values == {
        "id": values["id"], "uniqueid": "1249298495.111727", "status": "Ringing",
        "answer_time": None, "duration": None, "src": "306984327345", "user_id": "11",
        "user": "Test User #1", "src_device_id": "2", "device_type": "IAX2",
        "device_extension": "101", "device_name": "101", "device_istrunk": "0",
        "device_ani": "0", "localized_dst": "63727007886", "direction_code": "PHL",
        "direction_name": "Philippines", "destination_name": "Philippines proper",
        "provider_id": None, "provider_name": None, "channel": "SIP/10.219.62.200-c40daf10",
    }
    assert values["id"].isdigit()
    # empty values are self-closing, the document is indented by two spaces
    assert b"    <answer_time/>\n" in body and b"    <provider_id/>\n" in body
    assert b"\n  <active_call>\n    <id>" in body


async def test_documented_hash_is_sha1_of_u_and_key(api: TestClient) -> None:
    got = await uniqueids(api, "username", s_server="2", s_status="ringing")
    assert got == {"1249298495.111727"}
    assert sha1("username" + ADMIN_KEY) == "17ab579bbc0618f886ffa513310439562dbe6a61"


@OPTIONS(lenient_hash=False)
async def test_key_only_hash_refused_without_lenient_hash(api: TestClient) -> None:
    doc = await xml(api, params={"u": "username", "hash": SEED_HASH})
    assert error_of(doc) == ("status", "Incorrect hash")


async def test_ids_are_stable_integers(api: TestClient) -> None:
    first = await xml(api, params=query("admin"))
    second = await xml(api, params=query("alice"))
    ids = {c.findtext("uniqueid"): c.findtext("id") for c in first.findall("active_call")}
    assert len(set(ids.values())) == len(ids)
    for c in second.findall("active_call"):
        assert c.findtext("id") == ids[c.findtext("uniqueid")]


async def test_answered_call_fields_and_provider(api: TestClient) -> None:
    doc = await xml(api, params=query("admin", s_source="201"))
    [call] = doc.findall("active_call")
    assert call.findtext("status") == "Answered"
    answer = call.findtext("answer_time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", answer)
    assert 4 <= int(call.findtext("duration")) <= 7
    assert call.findtext("localized_dst") == "37061234567"  # no "+"
    assert (call.findtext("direction_code"), call.findtext("destination_name")) == \
        ("LTU", "Lithuania mobile")
    assert (call.findtext("provider_id"), call.findtext("provider_name")) == \
        ("3", "Carrier One")
    assert call.find("dst_user_id") is None  # leaves through a provider: not inbound


async def test_provider_hidden_from_non_admin(api: TestClient) -> None:
    doc = await xml(api, params=query("alice", s_source="201"))
    [call] = doc.findall("active_call")
    assert call.find("provider_id").text is None and call.find("provider_name").text is None


async def test_inbound_call_has_dst_block_in_seed_order(api: TestClient) -> None:
    doc = await xml(api, params=query("alice", s_did="37052000000"))
    [call] = doc.findall("active_call")
    common, inbound = seed_fields()
    assert [c.tag for c in call] == common + inbound
    values = {c.tag: c.text for c in call}
    assert values["uniqueid"] == "did-a"
    assert values["user_id"] is None and values["src_device_id"] is None
    assert values["src"] == "447400123456"
    assert (values["dst_user_id"], values["dst_user"], values["dst_device_id"]) == \
        ("4", "Bob Jones", "202")
    assert (values["dst_device_type"], values["dst_device_extension"],
            values["dst_device_istrunk"], values["dst_device_ani"]) == ("SIP", "202", "0", "0")


async def test_internal_call_is_one_row_with_both_devices(api: TestClient) -> None:
    doc = await xml(api, params=query("alice", s_user_id="4"))
    [call] = doc.findall("active_call")
    assert call.findtext("uniqueid") == "bob-a"
    assert call.findtext("user") == "Bob Jones" and call.findtext("dst_user") == "Carol Agent"
    assert call.find("direction_code").text is None  # an extension is not a country


# ------------------------------------------------------------------------- scoping

WHO_SEES = {
    "admin": ALL,
    "reseller": {"alice-a", "bob-a", "did-a", "erin-a"},
    "reseller2": {"dave-a"},
    "alice": {"alice-a", "bob-a", "did-a"},
    "bob": {"bob-a", "did-a"},
    "carol": {"bob-a"},
    "dan": set(),
    "erin": {"erin-a"},
    "dave": {"dave-a"},
    "gus": {"1249298495.111727"},
    "username": {"1249298495.111727"},
}


@pytest.mark.parametrize(("user", "expected"), sorted(WHO_SEES.items()))
async def test_who_sees_what(api: TestClient, user: str, expected: set[str]) -> None:
    assert await uniqueids(api, user) == expected


async def test_reseller_users_may_sign_with_admin_key(api: TestClient) -> None:
    doc = await xml(api, params={"u": "alice", "hash": sha1("alice" + ADMIN_KEY)})
    assert len(doc.findall("active_call")) == 3


@OPTIONS(resellers_accept_admin_key=False)
async def test_admin_key_refused_for_reseller_users_when_not_allowed(api: TestClient) -> None:
    doc = await xml(api, params={"u": "alice", "hash": sha1("alice" + ADMIN_KEY)})
    assert error_of(doc) == ("status", "Incorrect hash")


async def test_other_resellers_key_is_refused(api: TestClient) -> None:
    doc = await xml(api, params={"u": "alice", "hash": sha1("alice" + R2_KEY)})
    assert error_of(doc) == ("status", "Incorrect hash")
    doc = await xml(api, params={"u": "dave", "hash": sha1("dave" + R1_KEY)})
    assert error_of(doc) == ("status", "Incorrect hash")


@OPTIONS(hide_calls_older_than_hours=0)
async def test_hide_window_zero_shows_old_calls(api: TestClient) -> None:
    assert "gus-old" in await uniqueids(api, "gus")


# ------------------------------------------------------------------------- filters

FILTERS = [
    ({"s_status": "ringing"}, {"x1", "bob-a", "did-a", "erin-a", "1249298495.111727"}),
    ({"s_status": "Answered"}, {"alice-a", "dave-a"}),
    ({"s_server": "1"}, {"alice-a", "bob-a", "did-a", "erin-a", "dave-a"}),
    ({"s_server": "2"}, {"x1", "1249298495.111727"}),
    ({"s_user_id": "3"}, {"alice-a"}),
    ({"s_user_id": "4"}, {"bob-a"}),
    ({"s_user_id": "4", "s_device": "202"}, {"bob-a"}),
    ({"s_device": "999999"}, ALL),  # ignored without s_user_id
    ({"s_dst_user_id": "4"}, {"did-a"}),
    ({"s_dst_user_id": "5", "s_dst_device": "203"}, {"bob-a"}),
    ({"s_dst_device": "abc"}, ALL),  # ignored without s_dst_user_id
    ({"s_destination": "370"}, {"alice-a", "did-a"}),
    ({"s_destination": "%2555%"}, {"erin-a"}),
    ({"s_destination": "%0123"}, {"erin-a"}),
    ({"s_destination": "20_"}, set()),  # a plain value is a prefix, "_" literal
    ({"s_source": "20"}, {"alice-a", "bob-a"}),
    ({"s_source": "%4567"}, set()),
    ({"s_source": "%456"}, {"did-a"}),
    ({"s_source": "3069%"}, {"1249298495.111727"}),
    ({"s_did": "3705"}, {"did-a"}),
    ({"s_did": "%000"}, {"did-a"}),
    ({"s_provider": "3"}, {"alice-a", "did-a"}),  # out through carrier1, or in from it
    ({"s_provider": "4"}, {"x1"}),
    ({"s_destination_group": "1"}, {"alice-a"}),
    ({"s_country": "philippines"}, {"1249298495.111727"}),
    ({"s_country": "Germany"}, {"dave-a"}),
    ({"s_country": "United States"}, {"erin-a"}),
    ({"s_status": "", "s_country": ""}, ALL),  # empty = absent
    ({"s_status": "ringing", "s_server": "1"}, {"bob-a", "did-a", "erin-a"}),
    ({"s_status": "ringing", "s_server": "1", "s_source": "20"}, {"bob-a"}),
    ({"s_user_id": "3", "s_status": "ringing"}, set()),
    ({"s_destination": "370", "s_did": "37052%"}, {"did-a"}),
    ({"s_country": "Lithuania", "s_provider": "3", "s_status": "answered"}, {"alice-a"}),
]


@pytest.mark.parametrize(("filters", "expected"), FILTERS, ids=[str(f[0]) for f in FILTERS])
async def test_filter_as_admin(api: TestClient, filters: dict[str, str],
                               expected: set[str]) -> None:
    assert await uniqueids(api, "admin", **filters) == expected


SCOPED_FILTERS = [
    ("reseller", {"s_user_id": "7"}, {"erin-a"}),
    ("reseller", {"s_status": "ringing"}, {"bob-a", "did-a", "erin-a"}),
    ("alice", {"s_dst_user_id": "5"}, {"bob-a"}),
    ("bob", {"s_user_id": "4", "s_device": "202"}, {"bob-a"}),
    ("bob", {"s_did": "37052"}, {"did-a"}),
    ("reseller2", {"s_country": "Germany"}, {"dave-a"}),
    ("reseller2", {"s_country": "Lithuania"}, set()),
    ("gus", {"s_server": "2", "s_status": "ringing"}, {"1249298495.111727"}),
]


@pytest.mark.parametrize(("user", "filters", "expected"), SCOPED_FILTERS,
                         ids=[f"{u}-{f}" for u, f, _ in SCOPED_FILTERS])
async def test_filter_within_scope(api: TestClient, user: str, filters: dict[str, str],
                                   expected: set[str]) -> None:
    assert await uniqueids(api, user, **filters) == expected


METHOD_ERRORS = [
    ("admin", {"s_server": "9"}, "Server was not found"),
    ("admin", {"s_server": "one"}, "Server was not found"),
    ("admin", {"s_country": "Atlantis"}, "Direction was not found"),
    ("admin", {"s_user_id": "999"}, "Originating User was not found"),
    ("admin", {"s_user_id": "x1"}, "Originating User was not found"),
    ("admin", {"s_user_id": "4", "s_device": "201"}, "Originating Device was not found"),
    ("admin", {"s_user_id": "4", "s_device": "\uff12\uff10\uff12"},  # full-width digits
     "Originating Device was not found"),
    ("admin", {"s_dst_user_id": "-1"}, "Terminating User was not found"),
    ("admin", {"s_dst_user_id": "4", "s_dst_device": "9"}, "Terminating Device was not found"),
    ("admin", {"s_destination_group": "7"}, "Destination Group was not found"),
    ("admin", {"s_destination_group": "1.0"}, "Destination Group was not found"),
    ("admin", {"s_status": "busy"}, "Status value must be Ringing or Answered"),
    ("admin", {"s_provider": "99"}, "Provider was not found"),
    ("admin", {"s_did": "4470"}, "Did was not found"),
    # cross-tenant: ids that exist but belong to someone else
    ("reseller", {"s_user_id": "10"}, "Originating User was not found"),
    ("reseller2", {"s_user_id": "3"}, "Originating User was not found"),
    ("alice", {"s_user_id": "7"}, "Originating User was not found"),
    ("bob", {"s_user_id": "3"}, "Originating User was not found"),
    ("bob", {"s_user_id": "4", "s_device": "201"}, "Originating Device was not found"),
    ("erin", {"s_dst_user_id": "4"}, "Terminating User was not found"),
    ("alice", {"s_dst_user_id": "4", "s_dst_device": "301"},
     "Terminating Device was not found"),
    ("reseller", {"s_did": "370520000"}, None),
    ("dave", {"s_did": "37052000000"}, "Did was not found"),
    ("erin", {"s_did": "37052000000"}, "Did was not found"),
    ("alice", {"s_provider": "3"}, "Provider was not found"),
]


@pytest.mark.parametrize(("user", "filters", "message"), METHOD_ERRORS,
                         ids=[f"{u}-{f}" for u, f, _ in METHOD_ERRORS])
async def test_filter_errors(api: TestClient, user: str, filters: dict[str, str],
                             message: str | None) -> None:
    doc = await xml(api, params=query(user, **filters))
    if message is None:
        assert doc.findall("active_call")
    else:
        assert error_of(doc) == ("page", message)


# ------------------------------------------------------------------- request filters


@OPTIONS(allow_api=False)
async def test_api_disabled_comes_first(api: TestClient) -> None:
    for params in (query("admin"), {"u": "nobody"}, {}):
        doc = await xml(api, params=params)
        assert error_of(doc) == ("status", "API Requests are disabled")


@OPTIONS(allow_get=False)
async def test_get_refused_unless_allowed(api: TestClient) -> None:
    doc = await xml(api, method="GET", params=query("admin"))
    assert error_of(doc) == ("status", "GET Requests are disabled")
    doc = await xml(api, params=query("admin"))  # POST still works
    assert len(doc.findall("active_call")) == len(ALL)


async def test_get_allowed_when_configured(api: TestClient) -> None:
    doc = await xml(api, method="GET", params=query("admin"))
    assert len(doc.findall("active_call")) == len(ALL)


@OPTIONS(api_secret="")
async def test_missing_secret_key(api: TestClient) -> None:
    doc = await xml(api, params={"u": "admin", "hash": sha1("admin")})
    assert error_of(doc) == ("status", "API must have Secret Key")
    # a reseller's users still have their reseller's key
    assert await uniqueids(api, "alice") == WHO_SEES["alice"]


@OPTIONS(disable_hash_checking=True)
async def test_hash_checking_disabled(api: TestClient) -> None:
    doc = await xml(api, params={"u": "erin"})
    assert [c.findtext("uniqueid") for c in doc.findall("active_call")] == ["erin-a"]


@pytest.mark.parametrize("bad", [
    "", "deadbeef", sha1("admin" + ADMIN_KEY).upper(), sha1("admin" + ADMIN_KEY)[:39],
    sha1("admin" + ADMIN_KEY) + "0", sha1("admin" + R1_KEY), "é" * 40, sha1("admin"),
])
async def test_incorrect_hash(api: TestClient, bad: str) -> None:
    doc = await xml(api, params={"u": "admin", "hash": bad})
    assert error_of(doc) == ("status", "Incorrect hash")


async def test_unknown_user_is_access_denied(api: TestClient) -> None:
    for params in ({"u": "mallory", "hash": SEED_HASH}, {"hash": SEED_HASH}, {}):
        doc = await xml(api, params=params)
        assert error_of(doc) == ("page", "Access Denied")


async def test_parameters_from_form_body_and_query(api: TestClient) -> None:
    doc = await xml(api, "/billing/api/active_calls_get?u=erin",
                    data={"hash": sha1("erin" + R1_KEY), "s_status": "ringing"})
    assert [c.findtext("uniqueid") for c in doc.findall("active_call")] == ["erin-a"]
    doc = await xml(api, data={"u": "alice", "hash": sha1("alice" + R1_KEY),
                               "s_user_id": "3"})
    assert [c.findtext("uniqueid") for c in doc.findall("active_call")] == ["alice-a"]


async def test_too_large_body(api: TestClient) -> None:
    body = b"u=admin&junk=" + b"x" * (10 * 1024 * 1024)
    doc = await xml(api, params=query("admin"), data=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert error_of(doc) == ("status", "Request is too large")


async def test_non_utf8_input(api: TestClient) -> None:
    doc = await xml(api, "/billing/api/active_calls_get?u=%FF%FEadmin&hash=" + SEED_HASH)
    assert error_of(doc) == ("status", "Parameters must be UTF-8 encoded")
    doc = await xml(api, data=b"u=\xff\xfe&hash=x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert error_of(doc) == ("status", "Parameters must be UTF-8 encoded")


async def test_undefined_method(api: TestClient) -> None:
    doc = await xml(api, "/billing/api/users_delete", params=query("admin"))
    assert doc.tag == "error"
    assert (doc.findtext("type"), doc.findtext("name")) == ("Undefined method", "users_delete")
    doc = await xml(api, "/billing/api/a/b/c")
    assert doc.findtext("type") == "Undefined method"


@OPTIONS(xml_api_extension=True)
async def test_xml_api_extension_switches_mime_type(api: TestClient) -> None:
    resp = await api.post("/billing/api/active_calls_get", params=query("admin"))
    assert resp.headers["Content-Type"] == "text/xml"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="mor_api_response.xml"'


async def test_test_parameter_renders_inline(api: TestClient) -> None:
    resp = await api.post("/billing/api/active_calls_get", params=query("admin", test="1"))
    assert "Content-Disposition" not in resp.headers
    resp = await api.post("/billing/api/active_calls_get?test=1&s_status=x&u=admin")
    assert "Content-Disposition" not in resp.headers
    assert error_of(etree.fromstring(await resp.read()))[0] == "status"


async def test_no_data(api: TestClient) -> None:
    resp = await api.post("/billing/api/active_calls_get", params=query("dan"))
    body = await resp.read()
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n<page>\n  <status>\n'
                    b"    <message>No data found...</message>\n  </status>\n</page>\n")


# ------------------------------------------------------------------------- login


async def test_user_login_and_alias(api: TestClient) -> None:
    for path in ("/billing/api/user_login", "/billing/api/login"):
        doc = await xml(api, path, params={"u": "bob", "p": "demo-bob"})
        assert doc.tag == "action"
        assert [(c.tag, c.text) for c in doc] == [
            ("name", "login"), ("status", "ok"), ("user_id", "4"),
            ("status_message", "Successfully logged in")]


async def test_user_login_checks_hash_when_sent(api: TestClient) -> None:
    good = sha1("bob" + "demo-bob" + R1_KEY)
    doc = await xml(api, "/billing/api/user_login", params={"u": "bob", "p": "demo-bob",
                                                            "hash": good})
    assert doc.findtext("status") == "ok"
    doc = await xml(api, "/billing/api/user_login", params={"u": "bob", "p": "demo-bob",
                                                            "hash": "0" * 40})
    assert error_of(doc) == ("status", "Incorrect hash")


async def test_user_login_failures_and_throttle(api: TestClient) -> None:
    # twice: ten failures from one address, the default `[gateway] login_attempts`
    for creds in ({"u": "bob", "p": "wrong"}, {"u": "nobody", "p": "x"}, {"u": "bob"}, {},
                  {"u": "bob", "p": "demo-alice"}) * 2:
        doc = await xml(api, "/billing/api/user_login", params=creds)
        assert [(c.tag, c.text) for c in doc] == [
            ("name", "login"), ("status", "failed"), ("status_message", "Login failed")]
    doc = await xml(api, "/billing/api/user_login", params={"u": "bob", "p": "demo-bob"})
    assert doc.findtext("status") == "failed"
    assert doc.findtext("status_message") == \
        "Please wait 10 seconds before trying to login again"


async def test_user_logout(api: TestClient) -> None:
    doc = await xml(api, "/billing/api/user_logout", params=query("carol"))
    assert [(c.tag, c.text) for c in doc] == [("name", "logout"), ("status", "ok")]
    doc = await xml(api, "/billing/api/user_logout", params={"u": "ghost", "hash": "0" * 40})
    assert [(c.tag, c.text) for c in doc] == [("name", "logout"), ("status", "failed")]
    doc = await xml(api, "/billing/api/user_logout", params={"u": "carol", "hash": "0" * 40})
    assert error_of(doc) == ("status", "Incorrect hash")


def test_settings_validate_unknown_keys() -> None:
    data = tomllib.loads(DEMO_CONFIG.read_text())
    data["dialects"]["mor"]["allow_gett"] = True
    with pytest.raises(Exception, match=r"dialects\.mor\.allow_gett: unknown key"):
        parse(data, "x")
    opts = settings(resellers_accept_admin_key=False, rest_api=False).dialect("mor")
    assert (opts.resellers_accept_admin_key, opts.rest_api) == (False, False)


async def test_a_change_shows_in_the_very_next_list_byte_for_byte(
        api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are cached per version of both legs: a change to either leg shows in the next
    list, and the page is byte for byte the one built element by element afresh."""
    from types import SimpleNamespace

    from dialects.mor import render, routes, rows
    from dialects.mor.scope import Scope

    now = time.time()
    monkeypatch.setattr(routes, "time", SimpleNamespace(time=lambda: now))
    gw: Gateway = api.server.app[GATEWAY]

    async def calls() -> dict[str, etree._Element]:
        doc = await xml(api, params=query("admin"))
        return {c.findtext("uniqueid"): c for c in doc.findall("active_call")}

    first = await calls()
    assert first["bob-a"].findtext("status") == "Ringing"
    assert first["alice-a"].findtext("provider_name") == "Carrier One"
    gw.store.update("bob-a", answered=True, answered_at=now - 3, state=State.ANSWERED)
    gw.store.update("alice-b", gateway="")  # the B-leg alone decides the provider
    second = await calls()
    assert second["bob-a"].findtext("status") == "Answered"
    assert second["bob-a"].findtext("duration") == "3"
    assert second["alice-a"].find("provider_name").text is None

    resp = await api.post("/billing/api/active_calls_get", params=query("admin"))
    body = await resp.read()
    state = mor_state(api)
    admin = next(u for u in gw.directory.users.values() if u.username == "admin")
    scope = Scope(gw, admin)
    assert scope.is_admin
    fresh = render.active_calls(
        rows.fields(rows.build(gw, state.options, call, n, state.servers), show_provider=True,
                    now=now)
        for n, call in routes.visible_calls(state, scope, now=now))
    assert body == fresh
