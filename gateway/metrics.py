"""`GET /metrics` in Prometheus text format, and the middleware that counts, times and logs
every HTTP request.

Each `Gateway` has its own `CollectorRegistry` (tests run many gateways in one process).
What the gateway already knows is read when Prometheus scrapes, never kept twice: channels per
switch from the store, a switch's connection from its backend, switch events from the
backend's own count, commands from `Control`'s tally, open websockets from the requests in
flight. Only the per-request counter and histogram are updated as requests happen, as plain
counts (a prometheus-client `Counter`/`Histogram` takes a lock per update: ~9 us a request
here against ~1 us) turned into metric families at scrape time too.

The dialect a request belongs to is the tag (`DIALECT`) the core put on the sub-application it
was routed to, or on its root route, when mounting; the core's own routes and requests that
reached no dialect are `gateway`.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, Metric, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from . import access_log
from .switch import ConnState

if TYPE_CHECKING:
    from .control import Control
    from .store import ChannelStore
    from .switch import SwitchBackend

#: The dialect a sub-application (or a listener's application) serves, set by the core.
DIALECT = web.AppKey("dialect", str)

#: Requests that belong to no dialect: /healthz, /metrics, and paths nothing serves.
CORE = "gateway"

#: Seconds; list requests are sub-millisecond to a few ms, commands wait on a switch.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: The classic text format every Prometheus version reads (names here need no escaping).
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Timing:
    """One dialect's request durations as histogram buckets: plain counts, one per bound of
    `BUCKETS` plus +Inf, not yet cumulative."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1  # the first bound >= seconds
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, n in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += n
            out.append((floatToGoString(bound), float(running)))
        return out


class _Live(Collector):
    """The gauges and counters computed at scrape time from what the gateway holds."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.m
        channels = GaugeMetricFamily(
            "callgate_channels", "Live channels in the store, per switch.", labels=["node"])
        up = GaugeMetricFamily(
            "callgate_backend_up", "1 while the gateway's connection to the switch is up, else 0.",
            labels=["node"])
        events = CounterMetricFamily(
            "callgate_switch_events", "Events received from the switch since start.",
            labels=["node"])
        for name, backend in m.backends.items():
            channels.add_metric([name], m.store.count_by_node(name))
            up.add_metric([name], 1.0 if backend.state is ConnState.CONNECTED else 0.0)
            events.add_metric([name], backend.events)
        commands = CounterMetricFamily(
            "callgate_commands",
            "Call-control commands by switch, command and outcome (ok, or the error's code).",
            labels=["node", "command", "outcome"])
        for (node, command, outcome), n in sorted(m.control.outcomes.items()):
            commands.add_metric([node, command, outcome], n)
        sockets = GaugeMetricFamily(
            "callgate_websockets", "Open websockets, per dialect.", labels=["dialect"])
        for dialect, n in sorted(m.sockets.items()):
            sockets.add_metric([dialect], n)
        requests = CounterMetricFamily(
            "callgate_http_requests", "HTTP requests answered, by dialect and status code.",
            labels=["dialect", "code"])
        for (dialect, code), n in sorted(m.requests.items()):
            requests.add_metric([dialect, str(code)], n)
        duration = HistogramMetricFamily(
            "callgate_http_request_duration_seconds",
            "Time from routing a request to its handler's answer, by dialect.",
            labels=["dialect"])
        for dialect, timing in sorted(m.timings.items()):
            duration.add_metric([dialect], timing.buckets(), timing.total)
        return [channels, up, events, commands, sockets, requests, duration]


class Metrics:
    """One gateway's registry, request middleware and access log."""

    def __init__(self, store: ChannelStore, backends: Mapping[str, SwitchBackend],
                 control: Control) -> None:
        self.store = store
        self.backends = backends
        self.control = control
        self.access_log = True  # `callgate serve --no-access-log` turns it off
        self.sockets: Tally[str] = Tally()  # dialect -> websocket requests in flight
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests: Tally[tuple[str, int]] = Tally()  # (dialect, status) -> answered
        self.timings: dict[str, Timing] = {}  # dialect -> durations
        self._routes: dict[web.AbstractRoute, str] = {}  # root routes a dialect asked for
        self._by_route: dict[web.AbstractRoute, str] = {}  # what dialect_of found, per route
        self.registry.register(_Live(self))

    def tag_route(self, route: web.AbstractRoute, dialect: str) -> None:
        """A route a dialect added at the root of a listener is counted as that dialect's."""
        self._routes[route] = dialect

    def dialect_of(self, request: web.Request) -> str:
        info = request.match_info
        dialect = self._by_route.get(info.route)
        if dialect is None:
            dialect = next((t for a in reversed(info.apps) if (t := a.get(DIALECT))), "")
            dialect = dialect or self._routes.get(info.route, CORE)
            if info.http_exception is None:  # a route of the app (errors get one per request)
                self._by_route[info.route] = dialect
        return dialect

    def _count(self, dialect: str, status: int, seconds: float) -> None:
        self.requests[(dialect, status)] += 1
        timing = self.timings.get(dialect)
        if timing is None:
            timing = self.timings[dialect] = Timing()
        timing.observe(seconds)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Outermost on every listener: count, time and log the request whatever the dialect
        answered. A websocket's handler runs for the socket's whole life, so an upgrade
        request in flight is an open websocket."""
        start = time.perf_counter()
        dialect = self.dialect_of(request)
        upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if upgrade:
            self.sockets[dialect] += 1
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if upgrade:
                self.sockets[dialect] -= 1
            seconds = time.perf_counter() - start
            self._count(dialect, status, seconds)
            if self.access_log and access_log.log.isEnabledFor(logging.INFO):
                access_log.log.info("%s", access_log.line(
                    dialect, request.remote, request.method, request.raw_path, request.version,
                    status, seconds))

    async def handle(self, request: web.Request) -> web.Response:
        """`GET /metrics`."""
        response = web.Response(body=generate_latest(self.registry))
        response.headers[hdrs.CONTENT_TYPE] = TEXT_FORMAT
        return response
