"""The login throttle's parts: counters that expire (on a clock the test moves), a bounded
store, the client address (X-Forwarded-For only from a trusted proxy) and the config keys."""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from gateway.config import ConfigError, parse
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.throttle import LoginGuard, LoginLimits, MemoryBuckets, client_address, guard_of
from gateway.throttle import parse_networks as nets
from tests.harness import dialect_client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_counters_expire_a_window_after_the_first_failure() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    assert await buckets.incr("k", 60) == 1
    clock.now += 30
    assert await buckets.incr("k", 60) == 2  # the window runs from the first failure
    assert await buckets.get("k") == 2
    clock.now += 30
    assert await buckets.get("k") == 0
    assert await buckets.incr("k", 60) == 1
    await buckets.reset("k")
    assert await buckets.get("k") == 0


async def test_the_store_is_bounded() -> None:
    clock = Clock()
    buckets = MemoryBuckets(max_keys=100, clock=clock)
    for i in range(50):
        await buckets.incr(f"old{i}", 10)
    clock.now += 20  # those expired
    for i in range(1000):
        await buckets.incr(f"new{i}", 10)
    assert len(buckets) <= 100
    assert await buckets.get("new999") == 1


async def test_lock_lifts_when_the_window_passes() -> None:
    clock = Clock()
    guard = LoginGuard(LoginLimits(attempts=2, window=60), MemoryBuckets(clock=clock))
    request = make_mocked_request("POST", "/login")
    for _ in range(2):
        await (await guard.attempt(request, "x", "bob")).failed()
    assert (await guard.attempt(request, "x", "bob")).locked
    clock.now += 61
    assert not (await guard.attempt(request, "x", "bob")).locked


async def test_a_credential_verified_before_is_admitted_without_being_counted() -> None:
    """`admit` refuses exactly when `attempt` would be locked, wipes the counts on a pass as
    any success does, and counts nothing (a poller's request writes nothing)."""
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    guard = LoginGuard(LoginLimits(attempts=3, window=60), buckets)
    request = make_mocked_request("POST", "/login")
    keys = guard._keys(request, "x", "bob")
    assert await guard.admit(request, "x", "bob")
    assert len(buckets) == 0  # nothing counted, nothing written
    for _ in range(2):
        await (await guard.attempt(request, "x", "bob")).failed()
    assert await buckets.counts(keys) == [2, 2]
    assert await guard.admit(request, "x", "bob")
    assert await buckets.counts(keys) == [0, 0]  # a success wipes the counts
    for _ in range(3):
        await (await guard.attempt(request, "x", "bob")).failed()
    assert (await guard.attempt(request, "x", "bob")).locked  # locked now
    assert not await guard.admit(request, "x", "bob")  # refused like the attempt
    assert await buckets.counts(keys) == [4, 4]  # and neither counted nor wiped
    # the user is locked from another address too; another user from there is not
    other = _request("192.0.2.9")
    assert not await guard.admit(other, "x", "bob")
    assert await guard.admit(other, "x", "carol")
    clock.now += 61
    assert await guard.admit(request, "x", "bob")  # the window passed


def _request(peer: str, forwarded: str | None = None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("GET", "/", headers=headers)
    return request.clone(remote=peer)


def test_client_address() -> None:
    proxies = nets(["10.0.0.1", "192.168.0.0/16"])
    # no trusted proxy: the peer, whatever the header says
    assert client_address(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    # an untrusted peer cannot choose its address
    assert client_address(_request("203.0.113.9", "1.2.3.4"), proxies) == "203.0.113.9"
    # a trusted proxy: the nearest hop that is not a trusted proxy, read right to left
    assert client_address(_request("10.0.0.1", "1.2.3.4"), proxies) == "1.2.3.4"
    assert client_address(_request("10.0.0.1", "6.6.6.6, 1.2.3.4, 192.168.1.7"),
                          proxies) == "1.2.3.4"
    assert client_address(_request("10.0.0.1", "2001:db8::5"), proxies) == "2001:db8::5"
    # garbage in the chain: the last address that could be trusted
    assert client_address(_request("10.0.0.1", "1.2.3.4, junk"), proxies) == "10.0.0.1"
    assert client_address(_request("10.0.0.1"), proxies) == "10.0.0.1"


@pytest.fixture
async def untrusting() -> AsyncIterator[TestClient]:
    """A gateway with no trusted proxy and the default limits."""
    async with dialect_client() as (_, client):
        yield client


async def test_forwarded_header_from_an_untrusted_peer_changes_nothing(
        untrusting: TestClient) -> None:
    """Ten failures (the default), each claiming another address, still lock the peer."""
    async def login(ip: str, user: str, secret: str) -> int:
        cred = hashlib.md5(f"{user}:{secret}".encode()).hexdigest()
        resp = await untrusting.put("/v2/user_auth", headers={"X-Forwarded-For": ip}, json={
            "data": {"credentials": cred, "account_name": "Acme"}})
        return resp.status

    for i in range(10):
        assert await login(f"10.9.0.{i}", "alice", "wrong") == 401
    assert await login("10.9.9.9", "erin", "demo-erin") == 429


MINIMAL = """
[gateway]
token_secret = "0123456789abcdef0123"
"""


def test_config_keys_and_defaults() -> None:
    gw = parse(tomllib.loads(MINIMAL), "x.toml").gateway
    assert (gw.login_attempts, gw.login_window, gw.trusted_proxies, gw.audit_log) == (
        10, 60.0, (), "")
    text = MINIMAL + ('login_attempts = 5\nlogin_window = 30\n'
                      'trusted_proxies = ["10.0.0.1", "fd00::/8"]\naudit_log = "/tmp/a.log"\n')
    gw = parse(tomllib.loads(text), "x.toml").gateway
    assert (gw.login_attempts, gw.login_window, gw.audit_log) == (5, 30.0, "/tmp/a.log")
    guard = guard_of(gw)
    assert guard.limits.attempts == 5 and len(guard.limits.trusted_proxies) == 2


def test_config_errors_name_the_key() -> None:
    text = MINIMAL + ('login_attempts = 0\nlogin_window = "x"\ntrusted_proxies = ["nope"]\n'
                      'audit_log = "/no/such/dir/audit.log"\n')
    with pytest.raises(ConfigError) as info:
        parse(tomllib.loads(text), "x.toml")
    errors = "\n".join(info.value.errors)
    assert "x.toml: gateway.login_attempts: must be at least 1, got 0" in errors
    assert "x.toml: gateway.login_window: expected a number" in errors
    assert 'x.toml: gateway.trusted_proxies[0]: not an address or network "nope"' in errors
    assert ('x.toml: gateway.audit_log: no such directory for "/no/such/dir/audit.log"'
            in errors)


def test_gateway_builds_its_guard_from_settings() -> None:
    settings = load_demo()
    settings = dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, login_attempts=4, login_window=9.0))
    gw = Gateway.build(settings, backends=False)
    assert (gw.logins.limits.attempts, gw.logins.limits.window) == (4, 9.0)
