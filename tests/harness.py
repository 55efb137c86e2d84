"""A running gateway against simulated switches on loopback, for integration tests.

`async with live_gateway() as live:` gives the real thing end to end: simulator <-> real backend
over a socket <-> store <-> dialects over HTTP through `live.client` (an aiohttp TestClient).
`async with dialect_client() as (gw, client):` is the same HTTP side without switches: the test
puts channels in the store itself (or serves a gateway it built).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from gateway.app import SERVER_LIMITS, build_app, wait_connected
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import Switches, load_demo, start_switches
from gateway.model import Channel


@dataclass
class Live:
    gw: Gateway
    client: TestClient
    switches: Switches
    settings: Settings

    @property
    def fs(self) -> Any:
        return self.switches.sims["fs1"]

    @property
    def ast(self) -> Any:
        return self.switches.sims["ast1"]

    async def until(self, predicate: Callable[[], bool], wait: float = 5.0) -> None:
        """Wait until the store (fed by real events) satisfies `predicate`."""
        await until(predicate, wait)

    async def answered_call(self, caller: str = "201", callee: str = "202") -> tuple[str, str]:
        """A bridged call on fs1: (A-leg uuid, B-leg uuid) once the store shows both legs
        answered."""
        a = await self.fs.place_call(caller, callee, answer_after=0.05)
        store = self.gw.store

        def ready() -> bool:
            ch = store.get(a)
            peer = store.peer(ch) if ch is not None else None
            return bool(ch and ch.answered and peer and peer.answered)

        await self.until(ready)
        ch = store.get(a)
        assert ch is not None
        return a, ch.other_leg


async def until(predicate: Callable[[], Any], wait: float = 5.0) -> None:
    """Wait until `predicate` holds (the store, fed by real events over real sockets, has no
    per-predicate event to wait on)."""
    async with asyncio.timeout(wait):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def live_gateway(
    settings: Settings | None = None,
    *,
    switches: tuple[str, ...] = ("fs1",),
    traffic: bool = False,
    edit: Callable[[Settings], Settings] | None = None,
) -> AsyncIterator[Live]:
    """The demo directory (or `settings`) against simulators for the named backends only."""
    settings = settings or load_demo()
    if edit is not None:
        settings = edit(settings)
    settings, sw = await start_switches(settings, traffic=traffic, only=switches)
    settings = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, port=0)
    )
    gw = Gateway.build(settings)
    client = TestClient(TestServer(build_app(gw)))
    try:
        await client.server.start_server(**SERVER_LIMITS)  # TestServer() drops them
        await client.start_server()
        if not await wait_connected(gw, 10.0):
            raise RuntimeError(
                "backends did not connect: "
                + ", ".join(f"{b.name}={b.state} {b.last_error}" for b in gw.backends.values())
            )
        yield Live(gw, client, sw, settings)
    finally:
        await client.close()
        await sw.stop()


@contextlib.asynccontextmanager
async def dialect_client(settings: Settings | None = None, *channels: Channel,
                          gw: Gateway | None = None
                          ) -> AsyncIterator[tuple[Gateway, TestClient]]:
    """Every dialect of a gateway (built from `settings`, the demo's by default, with no
    backends; or `gw` as the test built it) on a test server with the limits `callgate serve`
    runs with; `channels` are put in its store first."""
    if gw is None:
        gw = Gateway.build(settings or load_demo(), backends=False)
    for ch in channels:
        gw.store.add(ch)
    server = TestServer(build_app(gw, manage_backends=False))
    await server.start_server(**SERVER_LIMITS)  # TestServer() itself drops these keywords
    client = TestClient(server)
    await client.start_server()
    try:
        yield gw, client
    finally:
        await client.close()


def interrupt(proc: subprocess.Popen[str], timeout: float = 15.0) -> tuple[str, str]:
    """SIGINT to a `callgate serve` process, as Ctrl-C would; its (stdout, stderr), killed
    first if it has not exited within `timeout`."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()
