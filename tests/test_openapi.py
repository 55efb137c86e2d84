"""OpenAPI 3.1 per dialect: every registered route is documented, the documents are served at
`/openapi/<dialect>.json`, and schemathesis's generated requests against a gateway over the
simulators get no undocumented 5xx, no answer that breaks its documented schema or media type,
and no traceback in the log."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from lxml import etree
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

import dialects
from dialects.webitel.auth import root_user
from gateway import openapi
from gateway.app import DIALECT_MOUNTS, build_app
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import load_demo
from tests.harness import Live, live_gateway

#: MOR last: its DELETE of every visible call ends the fixed calls the others list
DIALECTS = ("callflow", "kazoo", "webitel", "mor")
#: generated cases per operation: enough to reach every parser branch, small enough for CI
EXAMPLES = 25
#: and cases that break the documented schemas (wrong types, missing or extra fields)
NEGATIVE_EXAMPLES = 10
ACME = "a0000000000000000000000000000003"


def _settings(settings: Settings) -> Settings:
    """Kazoo's system-wide list on (off, it answers Kazoo's own deliberate 500), the
    call-flow originate wait short (a fuzzed originate rings a simulated phone), and the login
    throttle out of reach: generated requests send thousands of wrong credentials from one
    address, and the fixed credentials must still log in."""
    settings = dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, login_attempts=1_000_000))
    for name, option, value in (("kazoo", "system_wide_channels_list", True),
                                ("callflow", "originate_timeout", 0.5)):
        opts = settings.dialect(name)
        if opts is not None and hasattr(opts, option):
            object.__setattr__(opts, option, value)
    return settings


def _settings_no_5xx(settings: Settings) -> Settings:
    """As `_settings` with `platform_5xx = false`, and Kazoo's system-wide list left off (its
    deliberate 500 is then a 403)."""
    settings = _settings(settings)
    opts = settings.dialect("kazoo")
    if opts is not None:
        object.__setattr__(opts, "system_wide_channels_list", False)
    return dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, platform_5xx=False))


# ------------------------------------------------------------------ documents
def test_every_route_has_a_doc() -> None:
    app = build_app(Gateway.build(load_demo()), manage_backends=False)
    mounts = app[DIALECT_MOUNTS]
    assert sorted(mounts) == sorted(DIALECTS)
    for name, apps in mounts.items():
        assert isinstance(getattr(dialects.load(name), "OPENAPI", None), openapi.Api), name
        assert openapi.undocumented(apps) == [], name
        doc = openapi.document(dialects.load(name).OPENAPI, apps, name)
        assert doc["openapi"] == "3.1.0" and doc["paths"], name
        schemathesis.openapi.from_dict(doc)  # loads: a well-formed document


def test_a_route_without_a_doc_is_reported() -> None:
    from aiohttp import web

    from gateway.endpoint import Endpoint, add_endpoints

    async def handle(request: web.Request, ctx: None) -> web.Response:
        return web.Response()

    async def auth(request: web.Request) -> None:
        return None

    app = web.Application()
    doc = openapi.RouteDoc({"get": openapi.Op("x", {"200": openapi.Reply("ok")}),
                            "post": openapi.Op("y", {"200": openapi.Reply("ok")})})
    add_endpoints(app, [("/a", Endpoint(("GET",), handle, auth)),
                        ("/b/{id}", Endpoint(("GET",), handle, auth))], docs={"/b/{id}": doc})
    assert openapi.undocumented({"/p": app}) == ["/a", "POST /b/{id}"]


def test_document_shape() -> None:
    """Path parameters come from the route template (regex dropped), a fallback is left out,
    `security=()` is an open operation, the default security is the API's."""
    from aiohttp import web

    from gateway.endpoint import Endpoint, add_endpoints

    async def handle(request: web.Request, ctx: None) -> web.Response:
        return web.Response()

    async def auth(request: web.Request) -> None:
        return None

    ok = {"200": openapi.Reply("ok", {"application/json": {"type": "object"}})}
    app = web.Application()
    add_endpoints(app, [
        ("/calls/{id:[0-9]+}", Endpoint(("GET", "DELETE"), handle, auth)),
        ("/login", Endpoint(("POST",), handle, auth)),
        ("/{tail:.*}", Endpoint(("GET",), handle, auth)),
    ], docs={
        "/calls/{id:[0-9]+}": openapi.RouteDoc({
            "get": openapi.Op("one", ok, params=(openapi.Param("full"),)),
            "delete": openapi.Op("drop", ok)}),
        "/login": openapi.RouteDoc({"post": openapi.Op("in", ok, security=())}),
        "/{tail:.*}": openapi.FALLBACK,
    })
    root = web.Application()
    root.add_subapp("/x", app)
    api = openapi.Api("T", security_schemes={"k": {"type": "apiKey", "in": "header",
                                                  "name": "K"}}, security=("k",))
    doc = openapi.document(api, {"/x": app}, "t")
    assert openapi.undocumented({"/x": app}) == []
    assert list(doc["paths"]) == ["/x/calls/{id}", "/x/login"]
    get = doc["paths"]["/x/calls/{id}"]["get"]
    assert get["parameters"] == [
        {"name": "id", "in": "path", "schema": {"type": "string"}, "required": True},
        {"name": "full", "in": "query", "schema": {"type": "string"}}]
    assert doc["paths"]["/x/login"]["post"]["security"] == []
    assert doc["security"] == [{"k": []}]
    assert "security" not in get


def test_documents_hold_every_route_and_no_secret() -> None:
    """Each document has every documented route of the running code, and none of the
    configuration's secrets (API keys, passwords, token secret)."""
    gw = Gateway.build(load_demo())
    app = build_app(gw, manage_backends=False)
    secrets = {gw.settings.gateway.token_secret}
    for user in gw.directory.users.values():
        secrets |= {v for v in (user.password, user.callflow_token) if v}
    secrets |= {a.api_key for a in gw.directory.accounts.values() if a.api_key}
    for name, apps in app[DIALECT_MOUNTS].items():
        opts = gw.settings.dialect(name)
        secrets |= {v for v in (getattr(opts, "api_secret", ""),) if v}
        doc = openapi.document(dialects.load(name).OPENAPI, apps, name)
        shown = {r.path for r in openapi.routes(apps) if r.doc and r.doc.ops}
        assert {p.replace(":[^{}/]+", "") for p in shown} <= set(doc["paths"]), name
        text = json.dumps(doc)
        assert not [s for s in secrets if len(s) >= 6 and s in text], name


# ------------------------------------------------------------ a live gateway
@dataclass
class Running:
    """A gateway over the simulators on its own event loop in a thread: schemathesis calls
    it over real sockets with a blocking client."""

    edit: Any = _settings
    live: Live | None = None
    base: str = ""
    loop: asyncio.AbstractEventLoop | None = None
    stop: asyncio.Event | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    async def calls(self) -> None:
        """The fixed channel set the lists render, placed again if fuzzed commands ended it:
        Acme's 201 talking to 202, and 203 ringing 204."""
        live = self.live
        assert live is not None
        if len(live.gw.store.by_account(ACME)) >= 4:
            return
        for ch in list(live.gw.store.by_account(ACME)):
            await live.fs.hangup(ch.id)
        await live.until(lambda: not live.gw.store.by_account(ACME))
        await live.fs.place_call("201", "202", answer_after=0.05)
        await live.fs.place_call("203", "204", answer_after=None)
        await live.until(lambda: len(live.gw.store.by_account(ACME)) >= 4)

    def ensure_calls(self) -> None:
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self.calls(), self.loop).result(15)

    async def main(self) -> None:
        try:
            async with live_gateway(edit=self.edit) as live:
                self.live, self.loop, self.stop = live, asyncio.get_running_loop(), asyncio.Event()
                await self.calls()
                self.base = str(live.client.make_url("")).rstrip("/")
                self.ready.set()
                await self.stop.wait()
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    yield from _run(Running())


@pytest.fixture(scope="module")
def running_no_5xx() -> Iterator[Running]:
    yield from _run(Running(edit=_settings_no_5xx))


def _run(run: Running) -> Iterator[Running]:
    thread = threading.Thread(target=asyncio.run, args=(run.main(),), daemon=True)
    thread.start()
    assert run.ready.wait(30)
    if run.error is not None:
        raise run.error
    yield run
    assert run.loop is not None and run.stop is not None
    run.loop.call_soon_threadsafe(run.stop.set)
    thread.join(30)


def test_documents_are_served(running: Running) -> None:
    for name in DIALECTS:
        got = requests.get(f"{running.base}/openapi/{name}.json", timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"].startswith(
            "application/json")
        assert got.json()["openapi"] == "3.1.0"
    assert requests.get(f"{running.base}/openapi/nope.json", timeout=10).status_code == 404


# ------------------------------------------------------------------ fuzzing
def _credentials(run: Running, name: str) -> dict[str, dict[str, Any]]:
    """Fixed auth for every generated case, so requests get past the login to the parsers:
    path, query and header values as `as_strategy` takes them."""
    assert run.live is not None
    gw = run.live.gw
    if name == "callflow":
        return {"query": {"token": "token-carol"}}
    if name == "kazoo":
        md5 = hashlib.md5(b"alice:demo-alice").hexdigest()
        got = requests.put(f"{run.base}/v2/user_auth", timeout=10, json={
            "data": {"credentials": md5, "account_name": "Acme"}}).json()
        acme = gw.directory.account_by_name("Acme")
        assert acme is not None
        return {"headers": {"X-Auth-Token": got["auth_token"]},
                "path_parameters": {"account_id": acme.id}}
    if name == "webitel":
        got = requests.post(f"{run.base}/login", timeout=10, json={
            "username": "alice@acme.example.com", "password": "demo-alice"}).json()
        root = root_user(gw.directory)
        assert root is not None
        basic = base64.b64encode(f"root:{root.password}".encode()).decode()
        # the session headers for /api/v2, root's Basic auth for /api/v1
        return {"headers": {"X-Access-Token": got["token"], "X-Key": got["key"],
                            "Authorization": f"Basic {basic}"}}
    opts = gw.settings.dialect("mor")
    secret = opts.api_secret if opts is not None else ""
    digest = hashlib.sha1(("admin" + secret).encode()).hexdigest()
    got = requests.post(f"{run.base}/billing/api/v2/authentication/login", timeout=10,
                        auth=("admin", "demo-admin")).json()
    return {"query": {"u": "admin", "hash": digest},
            "headers": {"Authorization": f"Bearer {got['token']}"}}


def _undocumented(responses: dict[str, Any], status: int, media: str) -> str | None:
    """Why an answer is not one its operation documents: its status (exact, `4XX`-style or
    `default`) or its media type."""
    reply = (responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
             or responses.get("default"))
    if reply is None:
        return f"status {status} undocumented"
    content = reply.get("content") or {}
    if content and media not in content:
        return f"media type {media!r} undocumented for {status} (documented: {list(content)})"
    if not content and media and status not in (101, 204, 304):
        return f"a {media!r} body where none is documented for {status}"
    return None


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _xml_conforms(schema: dict[str, Any], element: Any, doc: dict[str, Any]) -> bool:
    """An XML element against a schema, as far as OpenAPI describes XML: the element's name
    (`xml.name`), and each child a documented property (a list's items, an object's own
    children, a scalar's text only)."""
    schema = _resolve(schema, doc)
    if "oneOf" in schema:
        return any(_xml_conforms(s, element, doc) for s in schema["oneOf"])
    name = schema.get("xml", {}).get("name")
    if name is not None and name != element.tag:
        return False
    props = schema.get("properties", {})
    for child in element:
        prop = props.get(child.tag)
        if prop is None:
            return False
        prop = _resolve(prop, doc)
        if prop.get("type") == "array":
            prop = _resolve(prop["items"], doc)
        if prop.get("type") == "object":
            if not _xml_conforms({**prop, "xml": {"name": child.tag}}, child, doc):
                return False
        elif len(child) or not _leaf_ok(prop, child.text or ""):
            return False
    return True


def _leaf_ok(schema: dict[str, Any], text: str) -> bool:
    """A leaf's text against its enum or const (XML text is always a string)."""
    if "enum" in schema:
        return text in schema["enum"]
    return "const" not in schema or text == schema["const"]


def _xml_break(raw: dict[str, Any], responses: dict[str, Any], status: int, media: str,
               body: bytes) -> str | None:
    reply = responses.get(str(status)) or responses.get("default") or {}
    schema = (reply.get("content") or {}).get(media, {}).get("schema")
    if schema is None or media not in ("text/html", "text/xml", "application/xml"):
        return None
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError as exc:
        return f"not XML: {exc}"
    if not _xml_conforms(schema, root, raw):
        return f"XML breaks its schema: {body[:300]!r}"
    return None


def _run_operation(run: Running, raw: dict[str, Any], op: Any, fixed: dict[str, Any],
                   session: requests.Session, found: list[str], mode: GenerationMode,
                   examples: int, strict: bool) -> None:
    responses = op.definition.raw["responses"]
    checks = [response_schema_conformance, content_type_conformance]
    if strict or not any(str(s).startswith("5") for s in responses):
        # a 5xx only where the platform itself answers one, and none at all when strict
        checks.append(not_a_server_error)

    @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=op.as_strategy(mode, **fixed))
    def check(case: Any) -> None:
        response = case.call(base_url=run.base, session=session, timeout=15)
        kind = {k.lower(): v for k, v in response.headers.items()}.get("content-type", "")
        media = (kind[0] if isinstance(kind, list) else kind).split(";")[0].strip()
        status = response.status_code
        why = (_undocumented(responses, status, media if response.content else "")
               or _xml_break(raw, responses, status, media, response.content))
        if why is not None:
            found.append(f"{op.label} -> {why}")
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup
            found.append(f"{op.label} -> {status}: {str(exc)[:600]}")

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing of the operation can be made invalid (no parameters, no body)


def _fuzz(run: Running, name: str, *, strict: bool = False) -> list[str]:
    raw = requests.get(f"{run.base}/openapi/{name}.json", timeout=10).json()
    fixed = _credentials(run, name)
    session = requests.Session()
    found: list[str] = []
    for result in schemathesis.openapi.from_dict(raw).get_all_operations():
        op = result.ok()
        _run_operation(run, raw, op, fixed, session, found, GenerationMode.POSITIVE, EXAMPLES,
                       strict)
        # schema-breaking cases where something is parsed: a body or a query/header
        # parameter (a path segment is a string whatever it holds; the router 404s the rest)
        definition = op.definition.raw
        if "requestBody" in definition or any(
                p["in"] != "path" for p in definition.get("parameters", [])):
            _run_operation(run, raw, op, fixed, session, found, GenerationMode.NEGATIVE,
                           NEGATIVE_EXAMPLES, strict)
    return found


@pytest.mark.parametrize("name", DIALECTS)
def test_schemathesis(running: Running, name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    running.ensure_calls()
    found = _fuzz(running, name)
    assert found == [], "\n".join(found)
    traces = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert traces == [], [r.getMessage() for r in traces]
    # a documented 5xx must be the platform's answer, never the core's net for a bug
    bugs = [r.getMessage() for r in caplog.records if r.name == "callgate.errors"]
    assert bugs == []


@pytest.mark.parametrize("name", DIALECTS)
def test_schemathesis_answers_no_5xx_with_platform_5xx_off(
        running_no_5xx: Running, name: str, caplog: pytest.LogCaptureFixture) -> None:
    """`[gateway] platform_5xx = false`: no generated request gets any 5xx at all (the
    platforms' own 500s for a gone channel, bad parameters or a switch's refusal are 4xx with
    the same bodies), and every answer still keeps its documented schema."""
    caplog.set_level(logging.INFO)
    running_no_5xx.ensure_calls()
    found = _fuzz(running_no_5xx, name, strict=True)
    assert found == [], "\n".join(found)
    traces = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert traces == [], [r.getMessage() for r in traces]
