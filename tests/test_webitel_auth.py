"""Webitel sessions end to end over HTTP: /login, the /api/v2 token guard (every failure row of
the engine's 2017 table, with its exact body), sessions, /logout, /whoami, /api/v1 Basic auth,
CORS, and bad input answered in Webitel's own error shape."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import SERVER_LIMITS, build_app
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import load_demo

SECRET = load_demo().gateway.token_secret
HS256_HEADER = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9"  # {"typ":"JWT","alg":"HS256"}
ALICE = {"username": "alice@acme.example.com", "password": "demo-alice"}
ROOT = {"username": "root", "password": "demo-admin"}


def _settings(**options: object) -> Settings:
    s = load_demo()
    web = s.dialects["webitel"]
    if options:
        web = dataclasses.replace(web, options=dataclasses.replace(web.options, **options))
    return dataclasses.replace(s, dialects={"webitel": web})


async def _client(settings: Settings) -> TestClient:
    gw = Gateway.build(settings, backends=False)
    client = TestClient(TestServer(build_app(gw, manage_backends=False)))
    await client.start_server()
    return client


@pytest.fixture()
async def client() -> AsyncIterator[TestClient]:
    c = await _client(_settings())
    yield c
    await c.close()


async def login(client: TestClient, creds: dict[str, str]) -> dict:
    r = await client.post("/login", json=creds)
    assert r.status == 200, await r.text()
    return await r.json()


def headers(session: dict) -> dict[str, str]:
    return {"X-Access-Token": session["token"], "X-Key": session["key"]}


async def expect(resp, status: int, body: object) -> None:
    assert resp.status == status
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await resp.json() == body


# ------------------------------------------------------------------ login
async def test_domain_login_answers_the_engine_fields(client: TestClient) -> None:
    before = int(time.time() * 1000)
    s = await login(client, ALICE)
    assert list(s) == ["key", "domain", "username", "expires", "token", "role", "roleName",
                       "acl"]
    assert s["domain"] == "acme.example.com" and s["username"] == "alice@acme.example.com"
    assert (s["role"], s["roleName"]) == (1, "admin")
    # 100 days (session_days) in milliseconds
    assert before + 100 * 86_400_000 <= s["expires"] <= int(time.time() * 1000) + 100 * 86_400_000
    assert s["acl"]["channels"] == ["*"] and s["acl"]["cdr"] == ["*"]
    head, payload, _ = s["token"].split(".")
    assert head == HS256_HEADER
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims == {"exp": s["expires"],
                      "acl": {"cdr": ["*"], "cdr/files": ["*"], "cdr/media": ["*"]},
                      "iss": "webitel"}
    assert jwt.decode(s["token"], SECRET, algorithms=["HS256"],
                      options={"verify_exp": False})["exp"] == s["expires"]


async def test_roles_follow_the_design(client: TestClient) -> None:
    root = await login(client, ROOT)
    assert "domain" not in root and root["username"] == "root"
    assert (root["role"], root["roleName"]) == (2, "root")
    assert all(v == ["*"] for v in root["acl"].values())
    reseller = await login(client, {"username": "reseller@reseller.example.com",
                                    "password": "demo-reseller"})
    assert (reseller["role"], reseller["roleName"], reseller["domain"]) == (
        1, "admin", "reseller.example.com")
    bob = await login(client, {"username": "bob@acme.example.com", "password": "demo-bob"})
    assert (bob["role"], bob["roleName"]) == (0, "user")
    assert bob["acl"]["cdr"] == ["ro"] and "cdr/media" not in bob["acl"]
    carol = await login(client, {"username": "carol@acme.example.com",
                                 "password": "demo-carol"})
    assert (carol["role"], carol["roleName"]) == (0, "user")
    # the superduper admin under its own login is system-wide too
    admin = await login(client, {"username": "admin@root.example.com",
                                 "password": "demo-admin"})
    assert (admin["role"], admin["roleName"]) == (2, "root") and "domain" not in admin


@pytest.mark.parametrize(("body", "status", "answer"), [
    ({}, 401, {"status": 401, "message": "Invalid credentials"}),
    ({"username": "", "password": "x"}, 401, {"status": 401, "message": "Invalid credentials"}),
    ({"username": 7, "password": "x"}, 401, {"status": 401, "message": "Invalid credentials"}),
    ({"username": "root", "password": "nope"}, 401,
     {"status": "error", "info": "secret incorrect"}),
    ({"username": "root"}, 401, {"status": "error", "info": "secret incorrect"}),
    ({"username": "alice@acme.example.com", "password": "demo-bob"}, 401,
     {"status": "error", "info": "secret incorrect"}),
    ({"username": "zed@acme.example.com", "password": "x"}, 401,
     {"status": "error", "info": "-ERR User not found\n"}),
    # a user is only known in its own account's domain
    ({"username": "alice@beta.example.com", "password": "demo-alice"}, 401,
     {"status": "error", "info": "-ERR User not found\n"}),
    ({"username": "alice", "password": "demo-alice"}, 401,
     {"status": "error", "info": "-ERR User not found\n"}),
])
async def test_login_failures(client: TestClient, body: dict, status: int,
                              answer: dict) -> None:
    await expect(await client.post("/login", json=body), status, answer)


async def test_form_encoded_login_is_not_parsed(client: TestClient) -> None:
    r = await client.post("/login", data={"username": "root", "password": "demo-admin"})
    await expect(r, 401, {"status": 401, "message": "Invalid credentials"})


# ------------------------------------------------------------------ guard
def _token(exp: object, *, secret: str = SECRET, alg: str = "HS256", iss: str | None = "webitel",
           **claims: object) -> str:
    payload = {"exp": exp, "acl": {}, **claims}
    if iss is not None:
        payload["iss"] = iss
    return jwt.encode(payload, secret, algorithm=alg, headers={"typ": "JWT", "alg": alg},
                      sort_headers=False)


def _none_token(payload: dict) -> str:
    def part(obj: dict) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(payload)}."


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 case
async def test_every_guard_failure(client: TestClient) -> None:
    s = await login(client, ALICE)
    other = await login(client, ALICE)
    future = int(time.time() * 1000) + 3_600_000
    cases = [
        ({}, 401, "Invalid token"),
        ({"X-Key": s["key"]}, 401, "Invalid token"),
        ({"X-Access-Token": "garbage", "X-Key": s["key"]}, 401, "Invalid token"),
        ({"X-Access-Token": _token(future, secret="not-our-secret-0123456789abcdef!"),
          "X-Key": s["key"]}, 401, "Invalid token"),
        ({"X-Access-Token": _none_token({"exp": future}), "X-Key": s["key"]}, 401,
         "Invalid token"),
        ({"X-Access-Token": _token(future, alg="HS512"), "X-Key": s["key"]}, 401,
         "Invalid token"),
        ({"X-Access-Token": _token(int(time.time() * 1000) - 1), "X-Key": s["key"]}, 401,
         "Token Expired"),
        ({"X-Access-Token": _token(future, v=2, t="domain", d="acme.example.com", id="x")},
         401, "Not found token"),
        ({"X-Access-Token": s["token"]}, 401, "Invalid Token or Key"),
        ({"X-Access-Token": s["token"], "X-Key": "no-such-key"}, 401, "Invalid User"),
        # a valid token with the key of another session
        ({"X-Access-Token": s["token"], "X-Key": other["key"]}, 401, "Invalid User"),
        # a valid signature, but not the token stored for that session
        ({"X-Access-Token": _token(future), "X-Key": s["key"]}, 401, "Invalid User"),
        # well signed with our secret, but by another dialect
        ({"X-Access-Token": _token(future, iss="kazoo"), "X-Key": s["key"]}, 401,
         "Invalid token"),
        ({"X-Access-Token": _token(future, iss=None), "X-Key": s["key"]}, 401,
         "Invalid token"),
    ]
    for hdrs, status, info in cases:
        r = await client.get("/api/v2/channels", headers=hdrs)
        await expect(r, status, {"status": "error", "info": info})
    await expect(await client.get("/api/v2/channels", headers=headers(s)), 200,
                 {"status": "OK", "data": {"row_count": 0, "rows": []}})


async def test_expired_status_can_be_the_2016_one() -> None:
    c = await _client(_settings(expired_status=400))
    try:
        r = await c.get("/api/v2/whoami", headers={
            "X-Access-Token": _token(int(time.time() * 1000) - 5), "X-Key": "k"})
        await expect(r, 400, {"status": "error", "info": "Token Expired"})
    finally:
        await c.close()


async def test_credentials_from_query_and_body(client: TestClient) -> None:
    s = await login(client, ALICE)
    r = await client.get("/api/v2/whoami",
                         params={"access_token": s["token"], "x_key": s["key"]})
    assert r.status == 200 and (await r.json())["id"] == "alice@acme.example.com"
    # body first: a bad body token wins over good headers
    r = await client.put("/api/v2/channels/x", headers=headers(s),
                         json={"access_token": "bad", "state": "hold"})
    await expect(r, 401, {"status": "error", "info": "Invalid token"})
    r = await client.put("/api/v2/channels/x",
                         json={"access_token": s["token"], "x_key": s["key"], "state": "hold"})
    await expect(r, 200, {"status": "OK", "info": "+OK Success\n"})


async def test_sessions_coexist_and_logout_ends_one(client: TestClient) -> None:
    one, two = await login(client, ALICE), await login(client, ALICE)
    assert one["key"] != two["key"]
    for s in (one, two):
        assert (await client.get("/api/v2/whoami", headers=headers(s))).status == 200
    r = await client.post("/logout", headers=headers(one))
    await expect(r, 200, {"status": "OK", "info": "Successful logout."})
    await expect(await client.get("/api/v2/whoami", headers=headers(one)), 401,
                 {"status": "error", "info": "Invalid User"})
    assert (await client.get("/api/v2/whoami", headers=headers(two))).status == 200
    # logging out twice, or with another session's token
    await expect(await client.post("/logout", headers=headers(one)), 401,
                 {"status": "error", "info": "Invalid credentials."})
    await expect(await client.post("/logout", headers={"X-Access-Token": one["token"],
                                                       "X-Key": two["key"]}),
                 401, {"status": "error", "info": "Invalid credentials."})
    await expect(await client.post("/logout", headers={"X-Key": two["key"]}), 401,
                 {"status": 401, "message": "Invalid credentials"})


async def test_repeated_logins_keep_the_newest_sessions(client: TestClient) -> None:
    from dialects.webitel.sessions import MAX_PER_USER

    first = await login(client, ALICE)
    others = [await login(client, {**ALICE, "username": "ALICE@acme.example.com"})
              for _ in range(MAX_PER_USER)]
    await expect(await client.get("/api/v2/whoami", headers=headers(first)), 401,
                 {"status": "error", "info": "Invalid User"})
    assert (await client.get("/api/v2/whoami", headers=headers(others[0]))).status == 200
    # another user's sessions are not touched
    root = await login(client, ROOT)
    assert (await client.get("/api/v2/whoami", headers=headers(root))).status == 200


async def test_whoami(client: TestClient) -> None:
    s = await login(client, ALICE)
    r = await client.get("/api/v2/whoami", headers=headers(s))
    body = await r.json()
    assert list(body) == ["acl", "id", "domain", "roleName", "expires"]
    assert (body["id"], body["domain"], body["roleName"], body["expires"]) == (
        "alice@acme.example.com", "acme.example.com", "admin", s["expires"])
    root = await login(client, ROOT)
    body = await (await client.get("/api/v2/whoami", headers=headers(root))).json()
    assert body["id"] == "root" and "domain" not in body and body["roleName"] == "root"


# ------------------------------------------------------------------ v1
def _basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def test_v1_basic_auth_is_root_only(client: TestClient) -> None:
    bad = {"status": "error", "info": "Invalid credentials"}
    for hdrs in ({}, _basic("root", "nope"), _basic("alice@acme.example.com", "demo-alice"),
                 {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}):
        await expect(await client.put("/api/v1/channels/x", headers=hdrs,
                                      json={"state": "hold"}), 401, bad)
    r = await client.put("/api/v1/channels/x", headers=_basic("root", "demo-admin"),
                         json={"state": "hold"})
    await expect(r, 200, {"status": "OK", "info": "+OK Success\n"})
    # a v2 session is no v1 credential
    s = await login(client, ROOT)
    await expect(await client.delete("/api/v1/channels/x", headers=headers(s)), 401, bad)


# ------------------------------------------------------------ errors, CORS
async def test_unknown_route_401_before_auth_404_after(client: TestClient) -> None:
    await expect(await client.get("/api/v2/nope?a=1"), 401,
                 {"status": "error", "info": "Invalid token"})
    s = await login(client, ALICE)
    await expect(await client.get("/api/v2/nope?a=1", headers=headers(s)), 404,
                 {"status": "error", "info": "/api/v2/nope?a=1 not found."})
    # Express has no 405: a wrong method is an unknown route
    await expect(await client.get("/api/v2/channels/abc/eavesdrop", headers=headers(s)), 404,
                 {"status": "error", "info": "/api/v2/channels/abc/eavesdrop not found."})
    await expect(await client.get("/login"), 404,
                 {"status": "error", "info": "/login not found."})


async def test_cors_on_every_answer(client: TestClient) -> None:
    r = await client.options("/api/v2/channels", headers={"Origin": "https://app.example"})
    assert r.status == 200 and await r.text() == ""
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    for resp in (r, await client.get("/api/v2/channels"), await client.post("/login", json=ROOT)):
        assert resp.headers["X-Powered-By"] == "Webitel"
        assert resp.headers["Access-Control-Allow-Methods"] == "GET,PUT,POST,PATCH,DELETE,OPTIONS"
        assert resp.headers["Access-Control-Allow-Headers"] == \
            "Content-type,Accept,X-Access-Token,X-Key"
        assert resp.headers["Access-Control-Max-Age"] == "86400"
    assert (await client.get("/api/v2/channels")).headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(("raw", "info"), [
    ('{"username": "root",}', "Unexpected token } in JSON at position 20"),
    ('{"username"', "Unexpected end of JSON input"),
    ("root", "Unexpected token r in JSON at position 0"),
    (" null", "Unexpected token n in JSON at position 1"),  # valid JSON, but strict mode
    (b"\xff\xfe{", "Unexpected token in JSON at position 0"),
])
async def test_malformed_json_is_400_with_the_parser_message(client: TestClient, raw: str,
                                                             info: str) -> None:
    r = await client.post("/login", data=raw, headers={"Content-Type": "application/json"})
    await expect(r, 400, {"status": "error", "info": info})
    r = await client.post("/api/v2/channels", data=raw,
                          headers={"Content-Type": "application/json"})
    await expect(r, 400, {"status": "error", "info": info})


async def test_oversize_body_is_refused(client: TestClient) -> None:
    big = json.dumps({"username": "root", "pad": "x" * (2 << 20)})
    r = await client.post("/login", data=big, headers={"Content-Type": "application/json"})
    await expect(r, 413, {"status": "error", "info": "request entity too large"})


def test_expired_status_is_validated() -> None:
    import tomllib

    from gateway.config import ConfigError, parse
    from gateway.demo import DEMO_CONFIG

    data = tomllib.loads(DEMO_CONFIG.read_text())
    data["dialects"]["webitel"]["expired_status"] = 402
    with pytest.raises(ConfigError) as err:
        parse(data, "demo.toml")
    assert any("dialects.webitel.expired_status: expected 400 or 401, got 402" in e
               for e in err.value.errors)


# ------------------------------------------------------------- bad input
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing at ERROR and no traceback was logged."""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], \
        [r.getMessage() for r in caplog.records]


async def test_deeply_nested_body_is_a_webitel_400(client: TestClient,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    deep = "[" * 3000 + "]" * 3000
    s = await login(client, ALICE)
    caplog.set_level(logging.DEBUG)
    for path, hdrs in (("/login", {}), ("/api/v2/channels", headers(s))):
        for raw in (deep, " " + deep, '{"a":' * 3000 + "1" + "}" * 3000):
            r = await client.post(path, data=raw,
                                  headers={**hdrs, "Content-Type": "application/json"})
            await expect(r, 400, {"status": "error", "info": "Bad request"})
            assert r.headers["X-Powered-By"] == "Webitel"
    _quiet(caplog)


async def test_malformed_multipart_is_not_parsed(client: TestClient,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The engine parsed JSON bodies only: a broken multipart body is no body at all."""
    caplog.set_level(logging.DEBUG)
    bad = {"Content-Type": "multipart/form-data; boundary=xyz"}
    raw = b"--xyz\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nroot\r\n--x"
    r = await client.post("/login", data=raw, headers=bad)
    await expect(r, 401, {"status": 401, "message": "Invalid credentials"})
    s = await login(client, ALICE)
    r = await client.put("/api/v2/channels/x", data=raw, headers={**bad, **headers(s)})
    await expect(r, 400, {"status": "error", "info": "Bad request"})
    _quiet(caplog)


async def test_100kb_url_is_a_webitel_414(caplog: pytest.LogCaptureFixture) -> None:
    gw = Gateway.build(_settings(), backends=False)
    server = TestServer(build_app(gw, manage_backends=False))
    await server.start_server(**SERVER_LIMITS)  # TestServer(**kwargs) would drop them
    c = TestClient(server)
    caplog.set_level(logging.DEBUG)
    try:
        s = await login(c, ALICE)
        for path in ("/api/v2/channels?domain=" + "a" * 100_000, "/login/" + "b" * 100_000,
                     "/api/v2/" + "c" * 100_000):
            r = await c.get(path, headers=headers(s))
            await expect(r, 414, {"status": "error", "info": "request URI too long"})
            assert r.headers["X-Powered-By"] == "Webitel"
    finally:
        await c.close()
    _quiet(caplog)
