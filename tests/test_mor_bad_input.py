"""MOR under hostile input: a body nested 3,000 levels deep, a malformed multipart body and a
100 KB URL each get MOR's own error shape (XML `<status>` at HTTP 200, or v2's JSON) with no
traceback and no ERROR in the log; a well-signed token of another issuer is refused by v2."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from gateway.context import Gateway
from tests.harness import dialect_client

ADMIN_HASH = hashlib.sha1(b"admin456789").hexdigest()
CALLS = "/billing/api/active_calls_get"
DROP = "/billing/api/v2/active_calls"


@pytest.fixture
async def client() -> AsyncIterator[tuple[Gateway, TestClient]]:
    async with dialect_client() as served:
        yield served


def quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing at ERROR or above, and no traceback, was logged."""
    for record in caplog.records:
        assert record.levelno < logging.ERROR, record.getMessage()
        assert record.exc_info is None, record.getMessage()
        assert "Traceback" not in record.getMessage()


async def status_error(resp: object) -> str:
    """The text of MOR's filter-level `<status><error>`, answered with HTTP 200."""
    assert resp.status == 200  # type: ignore[attr-defined]
    body = await resp.read()  # type: ignore[attr-defined]
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert b"Traceback" not in body
    doc = etree.fromstring(body)
    assert doc.tag == "status"
    return str(doc.findtext("error"))


async def test_form_nested_3000_levels_deep(client: tuple[Gateway, TestClient],
                                            caplog: pytest.LogCaptureFixture) -> None:
    """The XML API reads forms, not JSON: a Rails-style key nested 3,000 levels deep is one
    more (unknown) parameter, and the request is answered as without it."""
    _, api = client
    caplog.set_level(logging.DEBUG)
    deep = "x" + "[x]" * 3000
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if ctype.startswith("multipart"):
            resp = await api.post(CALLS, data={"u": "admin", "hash": ADMIN_HASH, deep: "1"})
        else:
            body = f"u=admin&hash={ADMIN_HASH}&{deep}=1".encode()
            resp = await api.post(CALLS, data=body, headers={"Content-Type": ctype})
        assert resp.status == 200
        doc = etree.fromstring(await resp.read())
        assert doc.tag == "page"  # the list (here: "No data found..."), not an error
        assert doc.findtext("status/error") is None
    quiet(caplog)


async def test_json_nested_3000_levels_deep(client: tuple[Gateway, TestClient],
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A JSON body is read for parameters, as Rails reads it; nested 3,000 deep it cannot be,
    and the XML API says so in its own shape; the v2 service reads no body and is not
    disturbed by one."""
    _, api = client
    caplog.set_level(logging.DEBUG)
    deep = b"[" * 3000 + b"]" * 3000
    headers = {"Content-Type": "application/json"}
    resp = await api.post(CALLS, params={"u": "admin", "hash": ADMIN_HASH}, data=deep,
                          headers=headers)
    assert await status_error(resp) == "Parameters could not be read"
    resp = await api.delete(DROP, data=deep, headers=headers)
    assert resp.status == 401
    assert await resp.json() == {"status": "error", "error": "Authorization token is missing"}
    quiet(caplog)


@pytest.mark.parametrize("body", [
    b"--b\r\nContent-Disposition: form-data; name=\"u\"\r\n\r\nadmin",  # never closed
    b"no boundary here at all",
    b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",  # a part with no name
    b"--b\r\nContent-Type: text/plain; charset=no-such-charset\r\n"
    b"Content-Disposition: form-data; name=\"u\"\r\n\r\nadmin\r\n--b--\r\n",
])
async def test_malformed_multipart_is_a_mor_error(client: tuple[Gateway, TestClient],
                                                  caplog: pytest.LogCaptureFixture,
                                                  body: bytes) -> None:
    _, api = client
    caplog.set_level(logging.DEBUG)
    resp = await api.post(CALLS, params={"u": "admin", "hash": ADMIN_HASH}, data=body,
                          headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert await status_error(resp) == "Parameters could not be read"
    quiet(caplog)


async def test_100_kb_url(client: tuple[Gateway, TestClient],
                          caplog: pytest.LogCaptureFixture) -> None:
    _, api = client
    caplog.set_level(logging.DEBUG)
    junk = "x" * 100_000
    resp = await api.post(f"{CALLS}?u=admin&hash={ADMIN_HASH}&s_source={junk}")
    assert await status_error(resp) == "Request URI is too long"
    resp = await api.delete(f"{DROP}/1?junk={junk}")
    assert resp.status == 414
    assert await resp.json() == {"status": "error", "error": "Request URI is too long"}
    quiet(caplog)


async def test_v2_refuses_a_well_signed_token_of_another_issuer(
        client: tuple[Gateway, TestClient]) -> None:
    """Signed with the gateway's own secret, MOR's claims, HS256: only `iss` differs."""
    gw, api = client
    alice = next(u for u in gw.directory.users.values() if u.username == "alice")
    now = int(time.time())
    claims = {"assigned_devices": "201", "exp": now + 900, "iat": now, "sub": "alice",
              "uid": alice.id}
    secret = gw.settings.gateway.token_secret
    good = jwt.encode({**claims, "iss": "Flash Calls API"}, secret, algorithm="HS256")
    resp = await api.delete(f"{DROP}/999999", headers={"Authorization": f"Bearer {good}"})
    assert resp.status == 404  # the token is accepted; the call does not exist
    for issuer in ("kazoo", "webitel", "callflow", "mor", None):
        payload = dict(claims) if issuer is None else {**claims, "iss": issuer}
        token = jwt.encode(payload, secret, algorithm="HS256")
        for method, path in (("DELETE", f"{DROP}/1"), ("DELETE", DROP)):
            resp = await api.request(method, path, headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 401
            assert await resp.json() == {"status": "error",
                                         "error": "Authorization token is invalid"}


async def test_v2_refuses_the_other_dialects_tokens(client: tuple[Gateway, TestClient]) -> None:
    """Tokens the other dialects mint for the same user, with the same gateway secret."""
    _, api = client
    cred = hashlib.md5(b"alice:demo-alice").hexdigest()
    resp = await api.put("/v2/user_auth", json={"data": {"credentials": cred,
                                                         "account_name": "Acme"}})
    assert resp.status in (200, 201)
    kazoo = (await resp.json())["auth_token"]
    resp = await api.post("/login", json={"username": "alice@acme.example.com",
                                          "password": "demo-alice"})
    assert resp.status == 200
    webitel = (await resp.json())["token"]
    for token in (kazoo, webitel):
        assert token.count(".") == 2  # a JWT, signed with the gateway's secret
        resp = await api.delete(DROP, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
        assert await resp.json() == {"status": "error",
                                     "error": "Authorization token is invalid"}


async def test_what_polls_leave_behind_stays_bounded(client: tuple[Gateway, TestClient]) -> None:
    """Thousands of distinct query strings and a few wrong signatures: the parsed queries kept
    stay within their bound (long ones are never kept), no wrong signature is remembered, and
    every request is still answered on its own merits."""
    from dialects.mor import params
    from dialects.mor.state import STATE

    _, api = client
    state = next(r._app[STATE] for r in api.app.router.resources()  # type: ignore[attr-defined]
                 if getattr(r, "_app", None) is not None and STATE in r._app)
    params._QUERIES.clear()
    for i in range(1500):
        resp = await api.get(f"{CALLS}?u=admin&hash={ADMIN_HASH}&n={i}")
        assert etree.fromstring(await resp.read()).tag == "page"
    resp = await api.get(f"{CALLS}?u=admin&hash={ADMIN_HASH}&pad={'x' * 2000}")
    assert etree.fromstring(await resp.read()).tag == "page"
    for i in range(3):  # a remembered query with a wrong signature is still refused
        resp = await api.get(f"{CALLS}?u=admin&hash={str(i) * 40}&n=1499")
        assert await status_error(resp) == "Incorrect hash"
    assert 0 < len(params._QUERIES) <= params._MAX_QUERIES
    assert all(len(raw) <= params._MAX_KEPT_QUERY for raw in params._QUERIES)
    assert list(state.signed) == [(ADMIN_HASH, "u", "admin")]
