"""The panel's HTTP side over a real socket: its files come from the package with a policy that
lets the page load nothing from elsewhere, nothing but those files is served, and the two
helpers answer only what a caller may know."""

from __future__ import annotations

from importlib import resources

import pytest

from tests.harness import live_gateway

CSP = "Content-Security-Policy"


async def test_page_and_files_are_the_packaged_ones() -> None:
    async with live_gateway() as live:
        r = await live.client.get("/panel", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/panel/"
        static = resources.files("panel").joinpath("static")
        for path, name, kind in (("/panel/", "index.html", "text/html"),
                                 ("/panel/panel.js", "panel.js", "text/javascript"),
                                 ("/panel/panel.css", "panel.css", "text/css"),
                                 ("/panel/favicon.svg", "favicon.svg", "image/svg+xml")):
            r = await live.client.get(path)
            assert r.status == 200, path
            assert r.content_type == kind
            assert await r.read() == static.joinpath(name).read_bytes()
            assert "default-src 'none'" in r.headers[CSP]
            assert "connect-src 'self'" in r.headers[CSP]
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["X-Frame-Options"] == "DENY"


async def test_the_page_loads_nothing_from_elsewhere() -> None:
    static = resources.files("panel").joinpath("static")
    for name in ("index.html", "panel.js", "panel.css"):
        text = static.joinpath(name).read_text()
        assert "http://" not in text.replace("http://www.w3.org", "")
        assert "https://" not in text
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text


@pytest.mark.parametrize("path", ["/panel/nope.js", "/panel/..%2Fpyproject.toml",
                                  "/panel/%2e%2e/gateway/app.py", "/panel/static/panel.js",
                                  "/panel/__init__.py", "/panel/routes.py"])
async def test_nothing_else_is_served(path: str) -> None:
    async with live_gateway() as live:
        r = await live.client.get(path)
        assert r.status == 404
        assert b"import" not in await r.read()


async def test_signin_name_needs_the_password() -> None:
    async with live_gateway() as live:
        async def ask(body: object) -> tuple[int, dict[str, str]]:
            r = await live.client.post("/panel/signin-name", json=body)
            return r.status, await r.json()

        assert await ask({"username": "alice", "password": "demo-alice"}) == (
            200, {"login": "alice@acme.example.com"})
        assert await ask({"username": "ALICE", "password": "demo-alice"}) == (
            200, {"login": "alice@acme.example.com"})
        # the superduper user is the engine's root
        assert await ask({"username": "admin", "password": "demo-admin"}) == (
            200, {"login": "root"})
        wrong = (401, {"error": "Wrong username or password."})
        assert await ask({"username": "alice", "password": "demo-erin"}) == wrong
        assert await ask({"username": "nobody", "password": "demo-alice"}) == wrong
        assert await ask({"username": "alice", "password": ""}) == wrong
        for bad in ({}, {"username": "alice"}, {"username": 1, "password": "x"}, [1]):
            status, body = await ask(bad)
            assert status == 400 and "error" in body
        r = await live.client.post("/panel/signin-name", data=b"{nope")
        assert r.status == 400
        r = await live.client.post("/panel/signin-name", data=b"x" * 10000)
        assert r.status == 400


async def test_signin_name_is_throttled_like_every_login() -> None:
    async with live_gateway() as live:
        limit = live.gw.logins.limits.attempts
        for _ in range(limit):
            r = await live.client.post("/panel/signin-name",
                                       json={"username": "alice", "password": "guess"})
            assert r.status == 401
        r = await live.client.post("/panel/signin-name",
                                   json={"username": "alice", "password": "demo-alice"})
        assert r.status == 429  # locked, the right password included: no oracle
        assert "login" not in await r.json()


async def test_signin_name_of_a_username_in_two_accounts() -> None:
    import dataclasses

    def twin(settings):  # type: ignore[no-untyped-def]
        alice = next(u for u in settings.users if u.username == "alice")
        beta = next(a for a in settings.accounts if a.name == "Beta")
        other = dataclasses.replace(alice, id="b00000000000000000000000000000aa", number=99,
                                    account=beta.id, callflow_token="")
        return dataclasses.replace(settings, users=[*settings.users, other])

    async with live_gateway(edit=twin) as live:
        r = await live.client.post("/panel/signin-name",
                                   json={"username": "alice", "password": "demo-alice"})
        assert r.status == 409
        assert "realm" in (await r.json())["error"]


async def test_nodes_names_only_hostnames_asked_for() -> None:
    async with live_gateway(switches=("fs1", "ast1")) as live:
        a = await live.fs.place_call("201", "202")
        await live.until(lambda: live.gw.store.get(a) is not None)
        ch = live.gw.store.get(a)
        assert ch is not None
        host = ch.hostname
        assert host and host != "fs1"
        r = await live.client.get("/panel/nodes", params=[("hostname", host),
                                                          ("hostname", "ast1"),
                                                          ("hostname", "elsewhere")])
        assert await r.json() == {"nodes": {host: "fs1", "ast1": "ast1"}}
        r = await live.client.get("/panel/nodes")
        assert await r.json() == {"nodes": {}}
