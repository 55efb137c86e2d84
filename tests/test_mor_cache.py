"""MOR's list is spliced from pieces cached per call (dialects/mor/listing.py): a cached row is
never served stale. Every change to a field MOR renders, on either leg, inside or outside the
call's bucket, shows in the very next list, byte for byte the page built afresh element by
element; and odd filters stay on the account index."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from dialects.mor import render, routes, rows
from dialects.mor.scope import Scope
from dialects.mor.state import STATE, MorState
from gateway.context import Gateway
from gateway.model import Channel, State
from tests.harness import dialect_client

ACME, BETA = "acme.example.com", "beta.example.com"
NOW = 1_700_000_000.0
KEY = "456789"  # the demo admin's key; Acme's users may sign with it too


#: The clock MOR reads (durations, the hide window); tests move it.
CLOCK = SimpleNamespace(now=NOW)


@pytest.fixture
async def mor(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Gateway, TestClient]]:
    CLOCK.now = NOW
    monkeypatch.setattr(routes, "time", SimpleNamespace(time=lambda: CLOCK.now))
    async with dialect_client() as served:
        yield served


def state_of(client: TestClient) -> MorState:
    for resource in client.server.app.router.resources():
        sub = resource.get_info().get("app")
        if sub is not None and STATE in sub:
            return sub[STATE]
    raise AssertionError("MOR is not mounted")


def leg(id_: str, user: str, *, realm: str = ACME, **kw: Any) -> Channel:
    return Channel(id=id_, node="fs1", name=f"sofia/internal/{user}@{realm}", username=user,
                   realm=realm, caller_id_number=user, **kw)


def fresh(gw: Gateway, state: MorState, username: str) -> bytes:
    """The page as built before any cache: every row from its legs, lxml from scratch."""
    user = next(u for u in gw.directory.users.values() if u.username == username)
    scope = Scope(gw, user)
    return render.active_calls(
        rows.fields(rows.build(gw, state.options, call, n, state.servers),
                    show_provider=scope.is_admin, now=CLOCK.now)
        for n, call in routes.visible_calls(state, scope, now=CLOCK.now))


async def listed(gw: Gateway, client: TestClient, **filters: str) -> dict[str, etree._Element]:
    """The list as the admin and as Acme's admin (alice), each checked against `fresh`;
    returns the admin's rows by uniqueid."""
    state = state_of(client)
    for user in ("admin", "alice"):
        hash_ = hashlib.sha1(f"{user}{KEY}".encode()).hexdigest()
        resp = await client.post("/billing/api/active_calls_get",
                                 params={"u": user, "hash": hash_, **filters})
        body = await resp.read()
        if not filters:
            assert body == fresh(gw, state, user), user
        if user == "admin":
            doc = etree.fromstring(body)
            found = {c.findtext("uniqueid"): c for c in doc.findall("active_call")}
    return found


def text(row: etree._Element, name: str) -> str | None:
    """The child's text; None for MOR's empty (nil) element or an absent one."""
    child = row.find(name)
    return child.text if child is not None else None


async def test_every_rendered_change_shows_in_the_next_list(
        mor: tuple[Gateway, TestClient]) -> None:
    gw, client = mor
    store = gw.store
    # alice (201) calls bob (202): one bucket, both legs in Acme, ringing
    store.add(leg("a1", "201", call_id="a1", other_leg="b1", destination="202",
                  caller_id_name="Alice", direction="inbound", created=NOW - 60))
    store.add(leg("b1", "202", call_id="a1", other_leg="a1", direction="outbound",
                  created=NOW - 59))
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "status") == "Ringing"
    assert text(rows_["a1"], "duration") is None
    assert text(rows_["a1"], "dst_device_extension") == "202"

    # state: answered (both legs, as a bridge does)
    for id_ in ("a1", "b1"):
        store.update(id_, answered=True, answered_at=NOW - 10, state=State.ANSWERED)
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "status") == "Answered"
    assert text(rows_["a1"], "duration") == "10"
    answered = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(NOW - 10))
    assert text(rows_["a1"], "answer_time") == answered

    # answer time
    store.update("a1", answered_at=NOW - 25)
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "duration") == "25"
    assert text(rows_["a1"], "answer_time") == time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(NOW - 25))

    # the caller: MOR shows its number (`src`), not its name; the name changes nothing else
    store.update("a1", caller_id_number="+37061234567", caller_id_name="Alicia")
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "src") == "+37061234567"

    # transfer to a new destination: bob's leg goes, carol's (203) comes, the A-leg follows
    store.remove("b1")
    store.add(leg("c1", "203", call_id="a1", other_leg="a1", direction="outbound",
                  created=NOW - 5, answered=True, answered_at=NOW - 5,
                  state=State.ANSWERED))
    store.update("a1", other_leg="c1", destination="203")
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "localized_dst") == "203"
    assert text(rows_["a1"], "dst_device_extension") == "203"

    # hold: MOR still shows the call answered
    store.update("a1", state=State.HELD)
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "status") == "Answered"
    store.update("a1", state=State.ANSWERED)

    # a change on the B-leg alone: its device (re-registered as 204), then its carrier
    store.update("c1", username="204", name=f"sofia/internal/204@{ACME}")
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "dst_device_extension") == "204"
    store.update("c1", gateway="carrier1")
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "provider_name") == "Carrier One"

    # the A-leg's channel name
    store.update("a1", name=f"sofia/internal/201@{ACME};transfer")
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "channel") == f"sofia/internal/201@{ACME};transfer"

    # the filters read the rows as they are now
    rows_ = await listed(gw, client, s_status="ringing")
    assert "a1" not in rows_
    store.update("a1", answered=False, answered_at=0.0, state=State.RINGING)
    rows_ = await listed(gw, client, s_status="ringing")
    assert "a1" in rows_
    rows_ = await listed(gw, client)
    assert text(rows_["a1"], "status") == "Ringing"

    # hang-up: the call leaves the list
    store.remove("c1")
    store.remove("a1")
    rows_ = await listed(gw, client)
    assert "a1" not in rows_


async def test_legs_that_join_or_leave_without_touching_the_a_leg(
        mor: tuple[Gateway, TestClient]) -> None:
    """What decides a call's B-leg besides the A-leg itself: a leg joining its call id, and
    a peer in another account (another bucket) changing or going."""
    gw, client = mor
    store = gw.store
    # a lone A-leg; then a leg joins its call id (nothing on the A-leg changes) and leaves:
    # one of Acme, then one of another account, outside alice's scope, which only the call's
    # own index bucket tells (the whole list is kept at this point)
    store.add(leg("solo", "201", call_id="solo", destination="5000", created=NOW - 30))
    rows_ = await listed(gw, client)
    assert text(rows_["solo"], "dst_device_id") is None
    for joiner, user, realm in (("joined", "203", ACME), ("joined-b", "301", BETA)):
        store.add(leg(joiner, user, realm=realm, call_id="solo", direction="outbound",
                      created=NOW - 20))
        rows_ = await listed(gw, client)
        assert text(rows_["solo"], "dst_device_extension") == user
        store.remove(joiner)
        rows_ = await listed(gw, client)
        assert text(rows_["solo"], "dst_device_id") is None
    # the call ends and a call of the same id comes back (its index bucket is a new one)
    store.remove("solo")
    rows_ = await listed(gw, client)
    assert "solo" not in rows_
    store.add(leg("solo", "201", call_id="solo", destination="202", created=NOW - 30))
    rows_ = await listed(gw, client)
    assert text(rows_["solo"], "dst_device_extension") == "202"

    # Acme's 202 bridged to Beta's 301 under a different call id: the peer is found by
    # `other_leg`, outside the A-leg's bucket
    store.add(leg("x-a", "202", call_id="x-a", other_leg="x-b", destination="301",
                  direction="inbound", created=NOW - 50))
    store.add(leg("x-b", "301", realm=BETA, call_id="x-b", other_leg="x-a",
                  direction="outbound", created=NOW - 49))
    rows_ = await listed(gw, client)
    assert text(rows_["x-a"], "dst_device_extension") == "301"
    store.update("x-b", gateway="carrier2")
    rows_ = await listed(gw, client)
    assert text(rows_["x-a"], "provider_name") == "Carrier Two"
    store.remove("x-b")
    rows_ = await listed(gw, client)
    assert text(rows_["x-a"], "provider_name") is None
    # the peer comes back (a re-sync): a new incarnation, found again
    store.add(leg("x-b", "301", realm=BETA, call_id="x-b", other_leg="x-a",
                  direction="outbound", created=NOW - 49, gateway="carrier1"))
    rows_ = await listed(gw, client)
    assert text(rows_["x-a"], "provider_name") == "Carrier One"

    # legs with no call id at all, grouped by `other_leg` alone
    store.add(leg("n-a", "204", other_leg="n-b", destination="205", direction="inbound",
                  created=NOW - 40))
    store.add(leg("n-b", "205", other_leg="n-a", direction="outbound", created=NOW - 39))
    rows_ = await listed(gw, client)
    assert text(rows_["n-a"], "status") == "Ringing"
    store.update("n-a", answered=True, answered_at=NOW - 3, state=State.ANSWERED)
    rows_ = await listed(gw, client)
    assert text(rows_["n-a"], "duration") == "3"
    store.update("n-b", gateway="carrier2")
    rows_ = await listed(gw, client)
    assert text(rows_["n-a"], "provider_name") == "Carrier Two"


async def test_changes_a_scope_cannot_see_still_show(mor: tuple[Gateway, TestClient]) -> None:
    """Acme's list (alice) depends on legs outside Acme and on the clock: a B-leg in
    another account under the same call id, a leg that joins a hidden call, the hide window."""
    gw, client = mor
    store = gw.store
    # Acme's 201 calls Beta's 301; both legs share the call id, the B-leg is Beta's
    store.add(leg("k-a", "201", call_id="k-a", other_leg="k-b", destination="301",
                  direction="inbound", created=NOW - 30))
    store.add(leg("k-b", "301", realm=BETA, call_id="k-a", other_leg="k-a",
                  direction="outbound", created=NOW - 29))
    rows_ = await listed(gw, client)
    assert text(rows_["k-a"], "dst_device_extension") == "301"
    store.update("k-b", username="999", name=f"sofia/internal/999@{BETA}")  # no such device
    rows_ = await listed(gw, client)
    assert text(rows_["k-a"], "dst_device_id") is None

    # the same with no call ids at all: the legs are paired by `other_leg` alone
    store.add(leg("p-a", "202", other_leg="p-b", destination="301", direction="inbound",
                  created=NOW - 20))
    store.add(leg("p-b", "301", realm=BETA, other_leg="p-a", direction="outbound",
                  created=NOW - 19))
    rows_ = await listed(gw, client)
    assert text(rows_["p-a"], "dst_device_extension") == "301"
    store.update("p-b", username="999", name=f"sofia/internal/999@{BETA}")
    rows_ = await listed(gw, client)
    assert text(rows_["p-a"], "dst_device_id") is None

    # a call older than the hide window: Acme's outbound leg alone, its first leg gone
    old = NOW - 25 * 3600
    store.add(leg("h-b", "202", call_id="h-gone", direction="outbound", created=old))
    rows_ = await listed(gw, client)
    assert "h-b" not in rows_
    # an inbound leg from Beta joins that call id: it is the A-leg now, and recent
    store.add(leg("h-in", "301", realm=BETA, call_id="h-gone", destination="202",
                  direction="inbound", created=NOW - 2))
    assert store.get("h-in").account_id != store.get("h-b").account_id
    rows_ = await listed(gw, client)
    assert "h-in" in rows_

    # the window moves with the clock: a call 10 s short of it hides once the clock passes
    store.add(leg("w-a", "203", call_id="w-a", destination="5000",
                  created=NOW - 24 * 3600 + 10))
    rows_ = await listed(gw, client)
    assert "w-a" in rows_
    CLOCK.now = NOW + 20
    rows_ = await listed(gw, client)
    assert "w-a" not in rows_
    CLOCK.now = NOW  # and a clock set back shows it again
    rows_ = await listed(gw, client)
    assert "w-a" in rows_


@pytest.fixture
def no_table_scan(mor: tuple[Gateway, TestClient],
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A tripwire on the one read of the whole table (the admin's scope)."""
    gw, _ = mor

    def scan() -> None:
        raise AssertionError("the whole table was read")

    monkeypatch.setattr(gw.store, "all", scan)
    yield


ODD_FILTERS = [
    ({"s_destination": "%"}, ["a1"]),
    ({"s_destination": "%%2%%_%"}, ["a1"]),
    ({"s_source": "%2" * 100_000}, []),  # a huge LIKE pattern: no backtracking, no compile
    ({"s_source": "%_" * 100_000 + "1"}, []),
    ({"s_source": "2" * 500_000}, []),
    ({"s_did": "%" * 100_000 + "1"}, None),  # no such DID: MOR's method error
    ({f"p{i}": "x" for i in range(5000)} | {"s_destination": "%0%"}, ["a1"]),
]


@pytest.mark.parametrize(("filters", "expected"), ODD_FILTERS,
                         ids=["pct", "pct-doubled", "huge-pct", "huge-underscore",
                              "huge-prefix", "huge-did", "5000-params"])
async def test_odd_filters_stay_on_the_account_index(
        mor: tuple[Gateway, TestClient], no_table_scan: None, filters: dict[str, str],
        expected: list[str] | None) -> None:
    gw, client = mor
    for i in range(2000):  # other tenants' traffic the list must not touch
        gw.store.add(Channel(id=f"other-{i}", node="fs1", name=f"sofia/external/{i}",
                             caller_id_number=f"1555{i:07d}", destination="5000",
                             created=NOW))
    gw.store.add(leg("a1", "201", call_id="a1", destination="202", created=NOW - 5))
    state = state_of(client)
    hash_ = hashlib.sha1(f"alice{KEY}".encode()).hexdigest()
    resp = await client.post(f"/billing/api/active_calls_get?u=alice&hash={hash_}",
                             data=filters)
    assert resp.status == 200
    doc = etree.fromstring(await resp.read())
    if expected is None:
        assert (doc.tag, doc.findtext("status/error")) == ("page", "Did was not found")
        return
    assert doc.tag == "page" and doc.findtext("status/error") is None
    assert [c.findtext("uniqueid") for c in doc.findall("active_call")] == expected
    # only Acme's one call was assembled and rendered
    assert len(state.calls.entries) == 1 and len(state.rows) == 1
