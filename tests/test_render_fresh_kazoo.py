"""Kazoo's channel lists are spliced from per-channel fragments cached by channel version and
its tokens are verified once per token string: nothing cached may ever be served stale, and no
input, however large or numerous, makes a list walk the whole table.

Every change goes through `gw.store.apply`, as the backends make them, and every list is read
over a real socket and compared byte for byte with a rendering from scratch (no cache)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dialects.kazoo import envelope, render
from dialects.kazoo.state import STATE, KazooState
from gateway.context import Gateway
from gateway.model import Channel, State
from tests.demo_ids import ACME, BETA
from tests.harness import dialect_client

AT = 1_700_000_100.25  # the clock of every list in this module
ISO = "2023-11-14T22:15:00Z"


def _leg(uid: str, user: str, **kw: Any) -> Channel:
    base: dict[str, Any] = dict(
        id=uid, node="fs1", name=f"sofia/internal/{user}@acme.example.com", username=user,
        realm="acme.example.com", direction="inbound", created=AT - 30.5, destination="202",
        caller_id_number=user, caller_id_name="Alice", call_id="call-1",
        presence_id=f"{user}@acme.example.com")
    base.update(kw)
    return Channel(**base)


@pytest.fixture
async def kazoo(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Gateway, TestClient]]:
    monkeypatch.setattr(render, "now", lambda: AT)
    monkeypatch.setattr(envelope, "iso_now", lambda: ISO)
    async with dialect_client(
            None, _leg("a-leg", "201"),
            _leg("b-leg", "202", direction="outbound", other_leg="a-leg", caller_id_name="Bob"),
            _leg("beta-leg", "301", name="sofia/internal/301@beta.example.com",
                 realm="beta.example.com", presence_id="301@beta.example.com")) as served:
        yield served


async def _token(client: TestClient, user: str = "alice", account: str = "Acme") -> str:
    cred = hashlib.md5(f"{user}:demo-{user}".encode()).hexdigest()
    resp = await client.put("/v2/user_auth", json={"data": {"credentials": cred,
                                                             "account_name": account}})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["auth_token"])


def _scratch(gw: Gateway, token: str, rid: str, pretty: bool) -> bytes:
    """The list envelope rendered from nothing cached: every item built and dumped anew."""
    doc = {"auth_token": token, "data": render.listing(gw.store.by_account(ACME), gw.directory),
           "node": envelope.NODE, "request_id": rid, "status": "success", "timestamp": ISO,
           "version": envelope.VERSION}
    return json.dumps(doc, indent=2 if pretty else None, sort_keys=True).encode()


async def _check(gw: Gateway, client: TestClient, token: str) -> list[dict[str, Any]]:
    """The account list over HTTP, compact and pretty, equal to a rendering from scratch."""
    data: list[dict[str, Any]] = []
    for pretty in (False, True):
        headers = {"X-Auth-Token": token, "X-Pretty-Print": "true" if pretty else "false"}
        resp = await client.get(f"/v2/accounts/{ACME}/channels", headers=headers)
        body = await resp.read()
        assert resp.status == 200, body
        assert body == _scratch(gw, token, resp.headers["X-Request-ID"], pretty)
        data = json.loads(body)["data"]
    return data


def _item(data: list[dict[str, Any]], uid: str) -> dict[str, Any]:
    return next(item for item in data if item["uuid"] == uid)


#: (what changes, the leg, the fields applied, the key that must show it, its new value)
CHANGES: list[tuple[str, str, dict[str, Any], str, Any]] = [
    ("answer", "a-leg", {"state": State.ANSWERED, "answered": True, "answered_at": AT - 20},
     "answered", True),
    ("answer time moves", "a-leg", {"answered_at": AT - 10}, "answered", True),
    ("hold", "a-leg", {"held": True, "state": State.HELD}, "is_onhold", True),
    ("hold by state only", "b-leg", {"state": State.HELD}, "is_onhold", True),
    ("unhold", "a-leg", {"held": False, "state": State.ANSWERED}, "is_onhold", False),
    ("caller name", "a-leg", {"caller_id_name": 'Zoë "Z" \\ O\'Brien'}, "caller_id_name",
     'Zoë "Z" \\ O\'Brien'),
    ("caller number", "a-leg", {"caller_id_number": "+1 555 0100"}, "caller_id_number",
     "+1 555 0100"),
    ("transfer to a new destination", "a-leg",
     {"destination": "3000", "callee_number": "3000", "callee_name": "Sales queue"},
     "destination", "3000"),
    ("callee name after the transfer", "a-leg", {"callee_name": "Carol"}, "callee_id_name",
     "Carol"),
    ("other leg", "a-leg", {"other_leg": "b-leg"}, "other_leg", "b-leg"),
    ("other leg replaced", "b-leg", {"other_leg": "c-leg"}, "other_leg", "c-leg"),
    ("hung up", "b-leg", {"state": State.HUNGUP}, "is_onhold", False),
    ("interaction", "a-leg", {"call_id": "call-2"}, "interaction_id", "call-2"),
    ("presence", "a-leg", {"presence_id": "sales@acme.example.com"}, "presence_id",
     "sales@acme.example.com"),
    ("direction", "b-leg", {"direction": "inbound"}, "direction", "inbound"),
    ("loopback", "b-leg", {"name": "loopback/3000-a"}, "is_loopback", True),
    ("creation time", "a-leg", {"created": AT - 3600.9}, "elapsed_s", 3600),
    ("another phone of the account", "a-leg",
     {"username": "202", "name": "sofia/internal/202@acme.example.com"}, "username", "202"),
]


async def test_every_rendered_field_change_is_served_fresh(
        kazoo: tuple[Gateway, TestClient]) -> None:
    gw, client = kazoo
    token = await _token(client)
    data = await _check(gw, client, token)  # fills the cache
    assert {item["uuid"] for item in data} == {"a-leg", "b-leg"}
    for what, uid, changes, key, value in CHANGES:
        before = gw.store.get(uid)
        assert before is not None
        version = before.version
        gw.store.apply("fs1", uid, changes)
        assert gw.store.get(uid) is before and before.version != version, what
        data = await _check(gw, client, token)
        assert _item(data, uid)[key] == value, what
        assert (await _check(gw, client, token)) == data, what  # the cached hit, same bytes


async def test_a_channel_re_added_under_the_same_id_is_rendered_anew(
        kazoo: tuple[Gateway, TestClient]) -> None:
    gw, client = kazoo
    token = await _token(client)
    await _check(gw, client, token)
    gw.store.remove("a-leg")
    assert [item["uuid"] for item in await _check(gw, client, token)] == ["b-leg"]
    gw.store.add(_leg("a-leg", "201", caller_id_name="Someone else", created=AT - 5.5))
    item = _item(await _check(gw, client, token), "a-leg")
    assert item["caller_id_name"] == "Someone else" and item["elapsed_s"] == 5


async def test_a_leg_moving_to_another_account_leaves_the_list(
        kazoo: tuple[Gateway, TestClient]) -> None:
    gw, client = kazoo
    token = await _token(client)
    await _check(gw, client, token)
    gw.store.apply("fs1", "b-leg", {"realm": "beta.example.com", "username": "301",
                                    "name": "sofia/internal/301@beta.example.com"})
    assert [item["uuid"] for item in await _check(gw, client, token)] == ["a-leg"]
    erin = await _token(client, "erin", "Beta")
    resp = await client.get(f"/v2/accounts/{BETA}/channels", headers={"X-Auth-Token": erin})
    assert {item["uuid"] for item in (await resp.json())["data"]} == {"b-leg", "beta-leg"}


async def test_elapsed_seconds_follow_the_clock_on_a_cached_row(
        kazoo: tuple[Gateway, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    gw, client = kazoo
    token = await _token(client)
    assert _item(await _check(gw, client, token), "a-leg")["elapsed_s"] == 30
    for later, elapsed in ((0.49, 30), (0.5, 31), (100.0, 130)):
        monkeypatch.setattr(render, "now", lambda at=AT + later: at)
        resp = await client.get(f"/v2/accounts/{ACME}/channels",
                                headers={"X-Auth-Token": token})
        assert _item((await resp.json())["data"], "a-leg")["elapsed_s"] == elapsed


# ------------------------------------------------------------------- verified tokens
def _state(client: TestClient) -> KazooState:
    for resource in client.app.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is not None and STATE in sub:
            return sub[STATE]
    raise LookupError("no Kazoo application mounted")


async def test_a_revoked_token_is_refused_though_it_was_verified_before(
        kazoo: tuple[Gateway, TestClient]) -> None:
    _gw, client = kazoo
    token = await _token(client)
    headers = {"X-Auth-Token": token}
    for _ in range(2):  # verified, then served from the memo of verified tokens
        assert (await client.get(f"/v2/accounts/{ACME}/channels", headers=headers)).status == 200
    assert token in _state(client).verified._entries
    assert (await client.delete("/v2/token_auth", headers=headers)).status == 200
    resp = await client.get(f"/v2/accounts/{ACME}/channels", headers=headers)
    assert resp.status == 401
    assert (await resp.json())["message"] == "invalid credentials"
    other = await _token(client)  # another token of the same user still works
    assert (await client.get(f"/v2/accounts/{ACME}/channels",
                             headers={"X-Auth-Token": other})).status == 200


async def test_a_verified_token_expires_at_its_exp(
        kazoo: tuple[Gateway, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo's expiry is pyjwt's: `exp <= now` is expired, checked on every use."""
    _gw, client = kazoo
    token = await _token(client)
    headers = {"X-Auth-Token": token}
    assert (await client.get("/v2/token_auth", headers=headers)).status == 200
    exp, _claims, _fingerprint = _state(client).verified._entries[token]
    real = time.time
    from dialects.kazoo import tokens
    monkeypatch.setattr(tokens.time, "time", lambda: exp - 0.5)
    assert (await client.get("/v2/token_auth", headers=headers)).status == 200
    monkeypatch.setattr(tokens.time, "time", lambda: float(exp))
    resp = await client.get("/v2/token_auth", headers=headers)
    assert resp.status == 401 and (await resp.json())["message"] == "invalid credentials"
    monkeypatch.setattr(tokens.time, "time", real)
    assert token not in _state(client).verified._entries


async def test_the_memo_of_verified_tokens_is_bounded(
        kazoo: tuple[Gateway, TestClient]) -> None:
    _gw, client = kazoo
    verified = _state(client).verified
    verified.limit = 3
    issued = [await _token(client) for _ in range(5)]
    for token in issued:
        resp = await client.get("/v2/token_auth", headers={"X-Auth-Token": token})
        assert resp.status == 200
    assert len(verified) == 3 and set(verified._entries) == set(issued[2:])
    resp = await client.get("/v2/token_auth", headers={"X-Auth-Token": issued[0]})
    assert resp.status == 200  # evicted only from the memo: verified again


async def test_forged_tokens_never_enter_the_memo(kazoo: tuple[Gateway, TestClient]) -> None:
    _gw, client = kazoo
    token = await _token(client)
    head, payload, sig = token.split(".")
    for bad in (f"{head}.{payload}.{sig[:-2]}AA", f"{head}.{payload}.", "x" * 5000):
        resp = await client.get("/v2/token_auth", headers={"X-Auth-Token": bad})
        assert resp.status == 401
    assert len(_state(client).verified) == 0


# ----------------------------------------------------------------------- bad input
class _CountingTable(dict):  # type: ignore[type-arg]
    """The store's table by id, counting every walk over it (the index lookups stay free)."""

    walks = 0

    def values(self) -> Any:
        type(self).walks += 1
        return super().values()

    def __iter__(self) -> Iterator[Any]:
        type(self).walks += 1
        return super().__iter__()

    def items(self) -> Any:
        type(self).walks += 1
        return super().items()

    def keys(self) -> Any:
        type(self).walks += 1
        return super().keys()


def _counting(gw: Gateway) -> type[_CountingTable]:
    counting = type("Counting", (_CountingTable,), {"walks": 0})
    gw.store._channels = counting(gw.store._channels)
    return counting


BAD_QUERIES: list[tuple[str, Callable[[], dict[str, str] | list[tuple[str, str]]]]] = [
    ("a thousand distinct keys", lambda: [(f"f{i}", "") for i in range(1000)]),
    ("one key thousands of times", lambda: [("f", "")] * 2600),
    ("a huge filter value", lambda: {"filter_caller_id_name": "%a" * 1500}),
    ("paging and view keys", lambda: {"page_size": "1", "start_key": "g2" * 500,
                                      "paginate": "true", "has_key": "x" * 3000,
                                      "created_from": "9" * 2000}),
    ("pretty and odd bytes", lambda: {"pretty_print": "true", "x": "\u2028\x00é" * 200}),
]


@pytest.mark.parametrize("what,query", BAD_QUERIES, ids=[b[0] for b in BAD_QUERIES])
async def test_bad_query_parameters_answer_from_the_account_index(
        kazoo: tuple[Gateway, TestClient], what: str,
        query: Callable[[], dict[str, str] | list[tuple[str, str]]]) -> None:
    """Crossbar ignores filters and paging on channels: the list answers as without them,
    from the account's index, never by walking every channel in the table."""
    gw, client = kazoo
    token = await _token(client)
    for i in range(2000):  # other tenants' traffic a scan would have to walk
        gw.store.add(Channel(id=f"other-{i}", node="fs1", created=AT - 1,
                             name=f"sofia/external/+1555{i:07d}@203.0.113.9"))
    walks = _counting(gw)
    params = query()
    resp = await client.get(f"/v2/accounts/{ACME}/channels", params=params,
                            headers={"X-Auth-Token": token})
    body = await resp.read()
    assert walks.walks == 0, what
    assert resp.status == 200, body[:300]
    pretty = isinstance(params, dict) and params.get("pretty_print") == "true"
    assert body == _scratch(gw, token, resp.headers["X-Request-ID"], pretty)
    assert {item["uuid"] for item in json.loads(body)["data"]} == {"a-leg", "b-leg"}


async def test_a_query_past_the_url_limit_is_kazoos_414_without_a_scan(
        kazoo: tuple[Gateway, TestClient]) -> None:
    gw, client = kazoo
    token = await _token(client)
    walks = _counting(gw)
    resp = await client.get(f"/v2/accounts/{ACME}/channels",
                            params=[(f"filter_x{i}", "%") for i in range(10_000)],
                            headers={"X-Auth-Token": token})
    doc = await resp.json()
    assert resp.status == 414 and doc["status"] == "error" and doc["error"] == "414"
    assert doc["message"] == "request uri too long"
    assert walks.walks == 0
