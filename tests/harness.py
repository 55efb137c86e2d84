"""A running gateway against simulated switches on loopback, for integration tests.

`async with live_gateway() as live:` gives the real thing end to end: simulator <-> real backend
over a socket <-> store <-> dialects over HTTP through `live.client` (an aiohttp TestClient).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from gateway.app import SERVER_LIMITS, build_app, wait_connected
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import Switches, load_demo, start_switches


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
        async with asyncio.timeout(wait):
            while not predicate():  # noqa: ASYNC110 - the store has no per-predicate event
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
