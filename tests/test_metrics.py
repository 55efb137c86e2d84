"""`GET /metrics` against the simulators: each named metric moves when its cause happens (a
call on the switch, a request, a command, a websocket, a switch going down)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import sys
import types

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import EXTRA_LISTENERS, SERVER_LIMITS, build_dialect_apps
from gateway.config import DialectSettings, Settings
from gateway.context import Gateway
from gateway.control import NotFound
from gateway.demo import load_demo
from gateway.dialect import DialectApps, Listener
from gateway.metrics import Handler, Timing
from tests.demo_ids import ACME
from tests.harness import Live, live_gateway

Sample = tuple[str, frozenset[tuple[str, str]]]


async def scrape(live: Live) -> dict[Sample, float]:
    resp = await live.client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    out: dict[Sample, float] = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict[Sample, float], name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def until_scraped(live: Live, name: str, want: float, wait: float = 5.0,
                        **labels: str) -> None:
    """Scrape until the series reads `want` (the switch's events arrive on their own)."""
    async with asyncio.timeout(wait):
        while value(await scrape(live), name, **labels) != want:  # noqa: ASYNC110 - polled
            await asyncio.sleep(0.02)


async def kazoo_token(live: Live) -> dict[str, str]:
    cred = hashlib.md5(b"alice:demo-alice").hexdigest()
    resp = await live.client.put("/v2/user_auth",
                                 json={"data": {"credentials": cred, "account_name": "Acme"}})
    assert resp.status == 201
    return {"X-Auth-Token": (await resp.json())["auth_token"]}


async def test_a_call_moves_channels_and_switch_events() -> None:
    async with live_gateway() as live:
        before = await scrape(live)
        assert value(before, "callgate_channels", node="fs1") == 0
        assert value(before, "callgate_backend_up", node="fs1") == 1
        events = value(before, "callgate_switch_events_total", node="fs1")

        a = (await live.answered_call())[0]
        during = await scrape(live)
        assert value(during, "callgate_channels", node="fs1") == 2 == len(live.gw.store)
        assert value(during, "callgate_switch_events_total", node="fs1") > events
        assert live.gw.backends["fs1"].events == value(
            during, "callgate_switch_events_total", node="fs1")

        await live.fs.hangup(a)
        await until_scraped(live, "callgate_channels", 0, node="fs1")
        after = await scrape(live)
        assert value(after, "callgate_switch_events_total", node="fs1") > value(
            during, "callgate_switch_events_total", node="fs1")


async def test_every_backend_has_its_series() -> None:
    async with live_gateway(switches=("fs1", "ast1")) as live:
        samples = await scrape(live)
        for node in ("fs1", "ast1"):
            assert value(samples, "callgate_backend_up", node=node) == 1
            assert ("callgate_channels", frozenset({("node", node)})) in samples
            assert ("callgate_switch_events_total", frozenset({("node", node)})) in samples
        await live.ast.place_call("401", "402")
        await until_scraped(live, "callgate_channels", 2, node="ast1")
        assert value(await scrape(live), "callgate_switch_events_total", node="ast1") > 0


async def test_a_switch_going_down_reads_backend_up_zero() -> None:
    async with live_gateway() as live:
        assert value(await scrape(live), "callgate_backend_up", node="fs1") == 1
        await live.fs.stop()  # the switch goes away; the backend keeps retrying
        await until_scraped(live, "callgate_backend_up", 0, node="fs1")


async def test_requests_are_counted_and_timed_per_dialect() -> None:
    async with live_gateway() as live:
        headers = await kazoo_token(live)
        before = await scrape(live)
        for _ in range(3):
            resp = await live.client.get(f"/v2/accounts/{ACME}/channels", headers=headers)
            assert resp.status == 200
        assert (await live.client.get(f"/v2/accounts/{ACME}/channels")).status == 401
        assert (await live.client.get("/v2/no/such/thing", headers=headers)).status == 404
        assert (await live.client.get("/call/list?token=token-carol")).status == 200
        assert (await live.client.get("/healthz")).status == 200
        assert (await live.client.get("/nothing-here")).status == 404
        assert (await live.client.get("/")).status == 404  # Webitel's socket path, no upgrade
        after = await scrape(live)

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert moved("callgate_http_requests_total", dialect="kazoo", code="200") == 3
        assert moved("callgate_http_requests_total", dialect="kazoo", code="401") == 1
        assert moved("callgate_http_requests_total", dialect="kazoo", code="404") == 1
        assert moved("callgate_http_requests_total", dialect="callflow", code="200") == 1
        assert moved("callgate_http_requests_total", dialect="webitel", code="404") == 1
        assert moved("callgate_http_requests_total", dialect="gateway", code="200") == 2
        assert moved("callgate_http_requests_total", dialect="gateway", code="404") == 1
        # the histogram: every kazoo request observed once, each within the +Inf bucket
        assert moved("callgate_http_request_duration_seconds_count", dialect="kazoo") == 5
        assert moved("callgate_http_request_duration_seconds_bucket", dialect="kazoo",
                     le="+Inf") == 5
        assert moved("callgate_http_request_duration_seconds_sum", dialect="kazoo") > 0
        assert moved("callgate_http_request_duration_seconds_count", dialect="callflow") == 1


async def test_commands_are_counted_with_their_outcome() -> None:
    async with live_gateway() as live:
        headers = await kazoo_token(live)
        a = (await live.answered_call())[0]
        resp = await live.client.post(f"/v2/accounts/{ACME}/channels/{a}",
                                      data='{"data": {"action": "hangup"}}', headers=headers)
        assert resp.status == 200
        samples = await scrape(live)
        assert value(samples, "callgate_commands_total",
                     node="fs1", command="hangup", outcome="ok") == 1

        b = (await live.answered_call())[0]
        await live.gw.backends["fs1"].stop()  # the switch is gone for this gateway
        resp = await live.client.post(f"/v2/accounts/{ACME}/channels/{b}",
                                      data='{"data": {"action": "hangup"}}', headers=headers)
        assert resp.status == 503
        samples = await scrape(live)
        assert value(samples, "callgate_commands_total",
                     node="fs1", command="hangup", outcome="unavailable") == 1
        assert value(samples, "callgate_commands_total",
                     node="fs1", command="hangup", outcome="ok") == 1
        assert value(samples, "callgate_backend_up", node="fs1") == 0


async def test_command_on_an_unknown_channel_counts_not_found() -> None:
    async with live_gateway() as live:
        with pytest.raises(NotFound):
            await live.gw.control.hold("no-such-channel")
        samples = await scrape(live)
        assert value(samples, "callgate_commands_total",
                     node="", command="hold", outcome="not_found") == 1


async def test_websockets_gauge_follows_open_and_close() -> None:
    async with live_gateway() as live:
        cf = await live.client.ws_connect("/notifications?token=token-carol")
        wi = await live.client.ws_connect("/")
        samples = await scrape(live)
        assert value(samples, "callgate_websockets", dialect="callflow") == 1
        assert value(samples, "callgate_websockets", dialect="webitel") == 1
        second = await live.client.ws_connect("/notifications?token=token-alice")
        assert value(await scrape(live), "callgate_websockets", dialect="callflow") == 2

        await cf.close()
        await until_scraped(live, "callgate_websockets", 1, dialect="callflow")
        await second.close()
        await wi.close()
        await until_scraped(live, "callgate_websockets", 0, dialect="callflow")
        await until_scraped(live, "callgate_websockets", 0, dialect="webitel")
        samples = await scrape(live)
        # an upgrade answers 101 and is a request of its dialect like any other
        assert value(samples, "callgate_http_requests_total", dialect="callflow",
                     code="101") == 2


async def test_a_refused_upgrade_leaves_no_socket_counted() -> None:
    async with live_gateway() as live:
        resp = await live.client.get("/notifications?token=wrong",
                                     headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                              "Sec-WebSocket-Version": "13",
                                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert resp.status == 401
        samples = await scrape(live)
        assert value(samples, "callgate_websockets", dialect="callflow") == 0
        assert value(samples, "callgate_http_requests_total", dialect="callflow",
                     code="401") == 1


def test_each_gateway_has_its_own_registry() -> None:
    one, two = Gateway.build(load_demo(), backends=False), Gateway.build(load_demo(),
                                                                          backends=False)
    assert one.metrics.registry is not two.metrics.registry
    one.metrics.requests[("kazoo", 200)] += 1
    assert one.metrics.registry.get_sample_value(
        "callgate_http_requests_total", {"dialect": "kazoo", "code": "200"}) == 1
    assert two.metrics.registry.get_sample_value(
        "callgate_http_requests_total", {"dialect": "kazoo", "code": "200"}) is None


def callflow_on_its_own_port(settings: Settings) -> Settings:
    dialects = dict(settings.dialects)
    dialects["callflow"] = dataclasses.replace(dialects["callflow"], port=1)  # served below
    return dataclasses.replace(settings, dialects=dialects)


async def test_a_dialect_on_its_own_listener_is_counted_as_itself() -> None:
    async with live_gateway(edit=callflow_on_its_own_port) as live:
        [(_host, _port, app)] = build_dialect_apps(live.gw)
        own = TestClient(TestServer(app))
        await own.server.start_server(**SERVER_LIMITS)
        await own.start_server()
        try:
            assert (await own.get("/call/list?token=token-carol")).status == 200
            assert (await own.get("/no-such-path")).status == 404
            ws = await own.ws_connect("/notifications?token=token-carol")
            assert value(await scrape(live), "callgate_websockets", dialect="callflow") == 1
            await ws.close()
        finally:
            await own.close()
        samples = await scrape(live)
        assert value(samples, "callgate_http_requests_total", dialect="callflow",
                     code="200") == 1
        assert value(samples, "callgate_http_requests_total", dialect="callflow",
                     code="404") == 1
        # not on the main listener any more
        assert (await live.client.get("/call/list?token=token-carol")).status == 404


async def test_metrics_is_on_the_main_listener_only() -> None:
    async with live_gateway() as live:
        # a dialect's own prefix does not serve the core's page
        assert (await live.client.get("/v2/metrics")).status != 200
        resp = await live.client.get("/metrics")
        text = await resp.text()
        for name in ("callgate_channels", "callgate_backend_up", "callgate_switch_events_total",
                     "callgate_http_requests_total", "callgate_http_request_duration_seconds",
                     "callgate_commands_total", "callgate_websockets"):
            assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_durations_fall_in_the_first_bucket_at_or_above_them() -> None:
    timing = Timing()
    for seconds in (0.0001, 0.001, 0.0011, 7.0, 60.0):
        timing.observe(seconds)
    buckets = dict(timing.buckets())
    assert buckets["0.0005"] == 1 and buckets["0.001"] == 2 and buckets["0.0025"] == 3
    assert buckets["5.0"] == 3 and buckets["10.0"] == 4 and buckets["+Inf"] == 5
    assert timing.total == pytest.approx(67.0022)


def with_probe_dialect(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dialects={
        **settings.dialects, "probe": DialectSettings("probe")})


async def test_a_dialect_listener_is_counted_with_the_dialects_own_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An extra listener a dialect asks for (a socket of its own) is counted as that dialect's,
    with the status its own error middleware answered, not the exception it mapped."""

    @web.middleware
    async def teapot(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except LookupError:
            return web.Response(status=418)

    async def missing(request: web.Request) -> web.Response:
        raise LookupError("nothing here")

    def create_apps(gw: Gateway, dialect_settings: DialectSettings) -> DialectApps:
        app = web.Application(middlewares=[teapot])
        app.router.add_get("/missing", missing)
        return DialectApps(listeners=[Listener("probe socket", "127.0.0.1", 0, app)])

    probe = types.ModuleType("dialects.probe")
    probe.create_apps = create_apps  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dialects.probe", probe)
    async with live_gateway(edit=with_probe_dialect) as live:
        [listener] = [x for x in live.client.app[EXTRA_LISTENERS] if x.name == "probe socket"]
        own = TestClient(TestServer(listener.app))
        await own.start_server()
        try:
            assert (await own.get("/missing")).status == 418
        finally:
            await own.close()
        samples = await scrape(live)
        assert value(samples, "callgate_http_requests_total", dialect="probe", code="418") == 1
