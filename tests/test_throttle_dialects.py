"""Password guessing, per dialect over real loopback sockets: after `login_attempts` failures
from one address, or against one user, every login of that address or user is refused in the
platform's own shape, the right password included; a success resets the counts; another
address and another user go on as before.

The gateway here trusts 127.0.0.1 as a proxy, so `X-Forwarded-For` picks the client address
each attempt is counted under (test_throttle.py shows the header is ignored otherwise).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient
from lxml import etree

from gateway.demo import load_demo
from tests.harness import dialect_client

LIMIT = 3
OK, FAILED, LOCKED = "ok", "failed", "locked"


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    settings = load_demo()
    settings = dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, login_attempts=LIMIT, login_window=600.0,
        trusted_proxies=("127.0.0.1", "::1")))
    async with dialect_client(settings) as (_, client):
        yield client


def via(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def password(user: str, good: bool) -> str:
    return f"demo-{user}" if good else "guess-123"


# ------------------------------------------------------------------ one login per dialect
# Each answers OK, FAILED or LOCKED after checking the exact shape of the answer.

async def kazoo_user_auth(client: TestClient, ip: str, user: str, good: bool) -> str:
    account = {"alice": "Acme", "bob": "Acme", "erin": "Beta", "gus": "Gamma"}[user]
    cred = hashlib.md5(f"{user}:{password(user, good)}".encode()).hexdigest()
    resp = await client.put("/v2/user_auth", headers=via(ip),
                            json={"data": {"credentials": cred, "account_name": account}})
    body = await resp.json()
    if resp.status == 429:
        assert (body["status"], body["error"], body["message"], body["data"]) == (
            "error", "429", "too_many_requests", {"message": "too many requests"})
        assert body["auth_token"] == "undefined"
        return LOCKED
    if resp.status == 401:
        assert body["message"] == "invalid_credentials"
        return FAILED
    assert resp.status == 201 and body["auth_token"]
    return OK


async def webitel_login(client: TestClient, ip: str, user: str, good: bool) -> str:
    login = {"alice": "alice@acme.example.com", "bob": "bob@acme.example.com",
             "erin": "erin@beta.example.com", "gus": "gus@gamma.example.com"}[user]
    resp = await client.post("/login", headers=via(ip),
                             json={"username": login, "password": password(user, good)})
    body = await resp.json()
    if resp.status == 429:
        assert body == {"status": "error", "info": "Too many failed logins, try again later"}
        return LOCKED
    if resp.status == 401:
        assert body == {"status": "error", "info": "secret incorrect"}
        return FAILED
    assert resp.status == 200 and body["token"] and body["key"]
    return OK


async def webitel_socket_auth(client: TestClient, ip: str, user: str, good: bool) -> str:
    login = {"alice": "alice@acme.example.com", "bob": "bob@acme.example.com",
             "erin": "erin@beta.example.com", "gus": "gus@gamma.example.com"}[user]
    ws = await client.ws_connect("/", headers=via(ip))
    try:
        await ws.send_json({"exec-uuid": "a1", "exec-func": "auth",
                            "exec-args": {"account": login, "secret": password(user, good)}})
        while True:
            reply = await ws.receive_json(timeout=5)
            if reply.get("exec-uuid") == "a1":
                break
    finally:
        await ws.close()
    if reply["exec-complete"] == "+OK":
        assert reply["exec-response"]["login"] == login
        return OK
    assert reply["exec-complete"] == "+ERR"
    login_answer = reply["exec-response"]["login"]
    if login_answer["status"] == 429:
        assert login_answer == {"status": 429,
                                "message": "Too many failed logins, try again later"}
        return LOCKED
    assert login_answer == {"status": 401, "message": "secret incorrect"}
    return FAILED


async def mor_user_login(client: TestClient, ip: str, user: str, good: bool) -> str:
    resp = await client.post("/billing/api/user_login", headers=via(ip),
                             data={"u": user, "p": password(user, good)})
    assert resp.status == 200
    doc = etree.fromstring(await resp.read())
    status, message = doc.findtext("status"), doc.findtext("status_message")
    if status == "ok":
        assert message == "Successfully logged in"
        return OK
    assert status == "failed"
    if message == "Please wait 10 seconds before trying to login again":
        return LOCKED
    assert message == "Login failed"
    return FAILED


MOR_KEYS = {"alice": "reseller-secret", "bob": "reseller-secret", "erin": "reseller-secret",
            "gus": "456789"}


async def mor_hash(client: TestClient, ip: str, user: str, good: bool) -> str:
    key = MOR_KEYS[user] if good else "not-the-key"
    given = hashlib.sha1(f"{user}{key}".encode()).hexdigest()
    resp = await client.post("/billing/api/active_calls_get", headers=via(ip),
                             data={"u": user, "hash": given})
    assert resp.status == 200
    doc = etree.fromstring(await resp.read())
    if doc.tag == "status":  # a filter error
        error = doc.findtext("error")
        if error == "Too many failed attempts, please wait before trying again":
            return LOCKED
        assert error == "Incorrect hash"
        return FAILED
    assert doc.tag == "page", etree.tostring(doc)
    return OK


async def mor_v2_login(client: TestClient, ip: str, user: str, good: bool) -> str:
    resp = await client.post("/billing/api/v2/authentication/login", headers={
        **via(ip), "Authorization": encode_basic_auth(user, password(user, good))})
    body = await resp.json()
    if resp.status == 429:
        assert body == {"status": "error", "error": "Too many login attempts"}
        assert resp.headers["Retry-After"] == "600"
        return LOCKED
    if resp.status == 401:
        assert body == {"status": "error", "error": "Invalid username or password"}
        return FAILED
    assert resp.status == 200 and body["token_type"] == "Bearer"
    return OK


CALLFLOW_TOKENS = {"alice": "token-alice", "erin": "token-erin", "bob": "token-dan",
                   "gus": "token-carol"}


async def callflow_token(client: TestClient, ip: str, user: str, good: bool) -> str:
    token = CALLFLOW_TOKENS[user] if good else f"guess-{user}"
    resp = await client.get("/peer/list", headers=via(ip), params={"token": token})
    body = await resp.json()
    if resp.status == 429:
        assert body == {"status": "not authorized",
                        "description": "too many failed attempts, try again later"}
        return LOCKED
    if resp.status == 401:
        assert body == {"status": "not authorized"}
        return FAILED
    assert resp.status == 200
    return OK


Login = Callable[[TestClient, str, str, bool], Awaitable[str]]


@dataclass(frozen=True)
class Dialect:
    login: Login
    per_user: bool = True  # the platform names a user before its secret is checked
    # users counted in different buckets (Kazoo's user_auth names the account, not the user)
    users: tuple[str, str] = ("alice", "bob")


DIALECTS = {
    "kazoo user_auth": Dialect(kazoo_user_auth, users=("alice", "erin")),
    "webitel /login": Dialect(webitel_login),
    "webitel socket auth": Dialect(webitel_socket_auth),
    "mor user_login": Dialect(mor_user_login),
    "mor hash": Dialect(mor_hash, users=("erin", "gus")),
    "mor v2 login": Dialect(mor_v2_login),
    "callflow token": Dialect(callflow_token, per_user=False),
}
params = pytest.mark.parametrize("dialect", list(DIALECTS.values()), ids=list(DIALECTS))
PER_USER = {name: d for name, d in DIALECTS.items() if d.per_user}


@params
async def test_failures_then_refusal_even_for_the_right_password(
        client: TestClient, dialect: Dialect) -> None:
    user = dialect.users[0]
    for _ in range(LIMIT):
        assert await dialect.login(client, "10.0.0.1", user, False) == FAILED
    assert await dialect.login(client, "10.0.0.1", user, False) == LOCKED
    assert await dialect.login(client, "10.0.0.1", user, True) == LOCKED  # no oracle
    assert await dialect.login(client, "10.0.0.1", user, True) == LOCKED


@params
async def test_a_credential_that_passed_before_is_refused_while_locked(
        client: TestClient, dialect: Dialect) -> None:
    """What a dialect remembers of credentials that passed (MOR's verified signatures) never
    lets one past a lock."""
    user = dialect.users[0]
    assert await dialect.login(client, "10.0.0.5", user, True) == OK
    assert await dialect.login(client, "10.0.0.5", user, True) == OK
    for _ in range(LIMIT):
        assert await dialect.login(client, "10.0.0.5", user, False) == FAILED
    assert await dialect.login(client, "10.0.0.5", user, True) == LOCKED


@params
async def test_a_success_resets(client: TestClient, dialect: Dialect) -> None:
    user = dialect.users[0]
    for _ in range(2):
        for _ in range(LIMIT - 1):
            assert await dialect.login(client, "10.0.0.2", user, False) == FAILED
        assert await dialect.login(client, "10.0.0.2", user, True) == OK
    assert await dialect.login(client, "10.0.0.2", user, False) == FAILED


@params
async def test_another_address_and_another_user_go_on(client: TestClient,
                                                     dialect: Dialect) -> None:
    first, other = dialect.users
    for _ in range(LIMIT):
        assert await dialect.login(client, "10.0.0.3", first, False) == FAILED
    assert await dialect.login(client, "10.0.0.3", other, True) == LOCKED  # the address
    assert await dialect.login(client, "10.0.0.4", other, True) == OK
    if dialect.per_user:  # the user is locked wherever it is tried from
        assert await dialect.login(client, "10.0.0.4", first, True) == LOCKED
    else:
        assert await dialect.login(client, "10.0.0.4", first, True) == OK


@pytest.mark.parametrize("dialect", list(PER_USER.values()), ids=list(PER_USER))
async def test_one_user_guessed_from_many_addresses_is_locked(client: TestClient,
                                                             dialect: Dialect) -> None:
    first, other = dialect.users
    for i in range(LIMIT):
        assert await dialect.login(client, f"10.1.0.{i}", first, False) == FAILED
    assert await dialect.login(client, "10.1.1.1", first, True) == LOCKED
    assert await dialect.login(client, "10.1.1.1", other, True) == OK


async def test_kazoo_api_auth_is_counted_per_address(client: TestClient) -> None:
    async def api_auth(ip: str, key: str) -> int:
        resp = await client.put("/v2/api_auth", headers=via(ip),
                                json={"data": {"api_key": key}})
        body: dict[str, Any] = await resp.json()
        if resp.status == 429:
            assert body["message"] == "too_many_requests"
        return resp.status

    settings = load_demo()
    good = next(a.api_key for a in settings.accounts if a.api_key)
    for _ in range(LIMIT):
        assert await api_auth("10.2.0.1", "0" * 64) == 404
    assert await api_auth("10.2.0.1", good) == 429
    assert await api_auth("10.2.0.2", good) == 201


async def test_webitel_v1_basic_root_is_throttled(client: TestClient) -> None:
    async def v1(ip: str, secret: str) -> tuple[int, Any]:
        resp = await client.get("/api/v1/channels", headers={
            **via(ip), "Authorization": encode_basic_auth("root", secret)})
        return resp.status, await resp.json()

    for _ in range(LIMIT):
        assert await v1("10.3.0.1", "nope") == (401, {"status": "error",
                                                      "info": "Invalid credentials"})
    assert await v1("10.3.0.1", "demo-admin") == (
        429, {"status": "error", "info": "Too many failed logins, try again later"})
    # the one user of v1 is locked from every address until the window passes
    assert (await v1("10.3.0.2", "demo-admin"))[0] == 429


async def test_webitel_v1_success_resets(client: TestClient) -> None:
    for _ in range(2):
        for _ in range(LIMIT - 1):
            resp = await client.get("/api/v1/channels", headers={
                **via("10.3.1.1"), "Authorization": encode_basic_auth("root", "nope")})
            assert resp.status == 401
        resp = await client.get("/api/v1/channels", headers={
            **via("10.3.1.1"), "Authorization": encode_basic_auth("root", "demo-admin")})
        assert resp.status == 404  # past the auth: v1 has no GET, Express's 404


@params
async def test_parallel_guesses_get_no_more_tries(client: TestClient, dialect: Dialect) -> None:
    user = dialect.users[0]
    answers = await asyncio.gather(*(dialect.login(client, "10.4.0.1", user, False)
                                     for _ in range(12)))
    assert sorted(answers) == [FAILED] * LIMIT + [LOCKED] * (12 - LIMIT)
