"""Webitel's channel list joins `show channels` rows cached by channel version: a change to any
column a row shows must be served at once. Every change goes through `gw.store.apply`, as the
backends make them, and the list read over a real socket is compared byte for byte with one
rendered from scratch (no cache). Tokens are decoded once per token string: expiry and the
session are still checked on every use."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dialects.webitel import render
from dialects.webitel.state import STATE
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import Channel, State
from tests.demo_ids import ACME
from tests.harness import dialect_client

REALM = "acme.example.com"


def _leg(uid: str, user: str, created: float, **kw: Any) -> Channel:
    """An Asterisk-shaped leg (no CS_* state), whose columns are all derived from the model."""
    base: dict[str, Any] = dict(
        id=uid, node="ast1", name=f"PJSIP/{user}-0000000{uid[-1]}", username=user, realm=REALM,
        direction="inbound", created=created, destination="202", caller_id_number=user,
        caller_id_name="Alice", call_id="call-1", read_codec="PCMU", read_rate="8000",
        write_codec="PCMU", write_rate="8000", hostname="sim-ast1")
    base.update(kw)
    return Channel(**base)


@pytest.fixture
async def webitel() -> AsyncIterator[tuple[Gateway, TestClient, dict[str, str]]]:
    settings = load_demo()
    settings = dataclasses.replace(settings,
                                   dialects={"webitel": settings.dialects["webitel"]})
    async with dialect_client(
            settings, _leg("leg-1", "201", 1_700_000_010.5),
            _leg("leg-2", "202", 1_700_000_011.5, direction="outbound", other_leg="leg-1",
                 caller_id_name="Bob")) as (gw, client):
        resp = await client.post("/login", json={"username": f"alice@{REALM}",
                                                 "password": "demo-alice"})
        assert resp.status == 200
        session = await resp.json()
        yield gw, client, {"X-Access-Token": session["token"], "X-Key": session["key"]}


def _app_state(client: TestClient) -> Any:
    app = client.app
    if STATE in app:
        return app[STATE]
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is not None and STATE in sub:
            return sub[STATE]
    raise LookupError("no Webitel application")


async def _check(gw: Gateway, client: TestClient, headers: dict[str, str]
                 ) -> dict[str, dict[str, str]]:
    """The list over HTTP equals the rows rendered anew; returns them by uuid."""
    resp = await client.get("/api/v2/channels", headers=headers)
    body = await resp.read()
    assert resp.status == 200, body
    ordered = sorted(gw.store.by_account(ACME), key=lambda ch: ch.created)
    scratch = render.listing_json([render.row_json(ch, REALM) for ch in ordered],
                                  _app_state(client).options.list_envelope)
    assert body == scratch.encode()
    return {r["uuid"]: r for r in (render.row(ch, REALM) for ch in ordered)}


#: (what changes, the leg, the fields applied, the column that must show it, its new value)
CHANGES: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("answer", "leg-1", {"state": State.ANSWERED, "answered": True,
                         "answered_at": 1_700_000_020.0}, "callstate", "ACTIVE"),
    ("answer of the other leg", "leg-2", {"state": State.ANSWERED, "answered": True},
     "state", "CS_EXCHANGE_MEDIA"),
    ("answer time moves", "leg-1", {"answered_at": 1_700_000_021.0}, "callstate", "ACTIVE"),
    ("hold", "leg-1", {"held": True, "state": State.HELD}, "callstate", "HELD"),
    ("unhold", "leg-1", {"held": False, "state": State.ANSWERED}, "callstate", "ACTIVE"),
    ("caller name", "leg-1", {"caller_id_name": 'Zoë "Z" \\ O\'Brien'}, "cid_name",
     'Zoë "Z" \\ O\'Brien'),
    ("caller number", "leg-1", {"caller_id_number": "+15550100"}, "cid_num", "+15550100"),
    ("transfer to a new destination", "leg-1",
     {"destination": "3000", "callee_number": "3000", "callee_name": "Sales queue",
      "application": "transfer", "application_data": "3000 XML default"}, "dest", "3000"),
    ("callee after the transfer", "leg-1", {"callee_name": "Carol"}, "callee_name", "Carol"),
    ("other leg", "leg-1", {"other_leg": "leg-2"}, "call_uuid", "call-1"),
    ("other leg dropped", "leg-2", {"other_leg": ""}, "state", "CS_EXECUTE"),
    ("codec", "leg-1", {"read_codec": "G722", "read_rate": "16000"}, "read_bit_rate",
     "64000"),
    ("switch's own state", "leg-2", {"switch_state": "CS_EXCHANGE_MEDIA",
                                     "callstate": "ACTIVE"}, "state", "CS_EXCHANGE_MEDIA"),
    ("presence", "leg-1", {"presence_id": "sales@acme.example.com"}, "presence_id",
     "sales@acme.example.com"),
    ("creation time (and the order)", "leg-2", {"created": 1_700_000_001.5},
     "created_epoch", "1700000001"),
    ("hung up", "leg-1", {"state": State.HUNGUP}, "state", "CS_HANGUP"),
]


async def test_every_rendered_column_change_is_served_fresh(
        webitel: tuple[Gateway, TestClient, dict[str, str]]) -> None:
    gw, client, headers = webitel
    rows = await _check(gw, client, headers)  # fills the cache
    assert set(rows) == {"leg-1", "leg-2"}
    for what, uid, changes, column, value in CHANGES:
        ch = gw.store.get(uid)
        assert ch is not None
        version = ch.version
        gw.store.apply("ast1", uid, changes)
        assert ch.version != version, what
        rows = await _check(gw, client, headers)
        assert rows[uid][column] == value, what
        assert (await _check(gw, client, headers)) == rows, what  # the cached hit


async def test_a_leg_re_added_under_the_same_id_is_rendered_anew(
        webitel: tuple[Gateway, TestClient, dict[str, str]]) -> None:
    gw, client, headers = webitel
    await _check(gw, client, headers)
    gw.store.remove("leg-1")
    assert set(await _check(gw, client, headers)) == {"leg-2"}
    gw.store.add(_leg("leg-1", "201", 1_700_000_012.5, caller_id_name="Someone else"))
    assert (await _check(gw, client, headers))["leg-1"]["cid_name"] == "Someone else"


async def test_legs_entering_and_leaving_the_domain_show_at_once(
        webitel: tuple[Gateway, TestClient, dict[str, str]]) -> None:
    """The domain's whole list is kept between polls: a leg attributed to the domain later, a
    leg moving to another domain and a new leg each show on the next poll."""
    gw, client, headers = webitel
    await _check(gw, client, headers)
    gw.store.add(Channel(id="leg-3", node="ast1", created=1_700_000_013.5))  # no tenant yet
    assert set(await _check(gw, client, headers)) == {"leg-1", "leg-2"}
    gw.store.apply("ast1", "leg-3", {"username": "202", "realm": REALM})
    assert set(await _check(gw, client, headers)) == {"leg-1", "leg-2", "leg-3"}
    gw.store.apply("ast1", "leg-2", {"username": "301", "realm": "beta.example.com"})
    assert set(await _check(gw, client, headers)) == {"leg-1", "leg-3"}
    gw.store.add(_leg("leg-4", "201", 1_700_000_014.5))
    assert set(await _check(gw, client, headers)) == {"leg-1", "leg-3", "leg-4"}


# ------------------------------------------------------------- decoded tokens
async def test_a_logged_out_token_is_refused_though_it_was_decoded_before(
        webitel: tuple[Gateway, TestClient, dict[str, str]]) -> None:
    _gw, client, headers = webitel
    for _ in range(2):  # decoded, then served from the memo of decoded tokens
        assert (await client.get("/api/v2/channels", headers=headers)).status == 200
    assert (await client.post("/logout", headers=headers)).status == 200
    resp = await client.get("/api/v2/channels", headers=headers)
    assert resp.status == 401 and (await resp.json())["info"] == "Invalid User"


async def test_a_decoded_token_still_expires(
        webitel: tuple[Gateway, TestClient, dict[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dialects.webitel import auth
    _gw, client, headers = webitel
    assert (await client.get("/api/v2/channels", headers=headers)).status == 200
    session = _app_state(client).sessions.get(headers["X-Key"])
    monkeypatch.setattr(auth, "now_ms", lambda: session.expires - 1)
    assert (await client.get("/api/v2/channels", headers=headers)).status == 200
    monkeypatch.setattr(auth, "now_ms", lambda: session.expires)
    resp = await client.get("/api/v2/channels", headers=headers)
    assert resp.status != 200 and (await resp.json())["info"] == "Token Expired"


async def test_forged_tokens_are_never_kept(
        webitel: tuple[Gateway, TestClient, dict[str, str]]) -> None:
    _gw, client, headers = webitel
    head, payload, sig = headers["X-Access-Token"].split(".")
    for bad in (f"{head}.{payload}.{sig[:-2]}AA", f"{head}.{payload}.", "x" * 5000):
        resp = await client.get("/api/v2/channels",
                                headers={**headers, "X-Access-Token": bad})
        assert resp.status == 401 and (await resp.json())["info"] == "Invalid token"
    assert set(_app_state(client).sessions._decoded) <= {headers["X-Access-Token"]}
