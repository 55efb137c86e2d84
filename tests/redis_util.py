"""A real redis-server for the scale-out tests: started on a free loopback port, stopped (and
restarted on the same port) by the test. Tests skip with the reason when the binary is absent."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import SERVER_LIMITS, build_app, wait_connected
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import Switches, load_demo, start_switches

REDIS = shutil.which("redis-server")
NEEDS_REDIS = pytest.mark.skipif(
    REDIS is None,
    reason="redis-server not installed (Debian: apt-get install -y redis-server)")


async def eventually(check: Callable[[], Awaitable[bool]], wait: float = 5.0,
                     every: float = 0.02) -> None:
    """Until `check()` holds: what another instance did reaches this one over Redis."""
    async with asyncio.timeout(wait):
        while not await check():  # noqa: ASYNC110 - the condition is on another instance
            await asyncio.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="callgate-redis-")
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        assert REDIS is not None
        self.proc = await asyncio.create_subprocess_exec(
            REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        async with asyncio.timeout(10):
            while True:
                with contextlib.suppress(OSError):
                    _, w = await asyncio.open_connection("127.0.0.1", self.port)
                    w.close()
                    return
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            await self.proc.wait()
            self.proc = None

    async def close(self) -> None:
        await self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@dataclass
class Instance:
    gw: Gateway
    client: TestClient

    async def close(self) -> None:
        await self.client.close()


@dataclass
class Pair:
    """Gateway instances over the same simulated switches and one Redis."""

    settings: Settings
    switches: Switches
    redis: RedisServer
    instances: list[Instance] = field(default_factory=list)

    async def add(self, *, wait: bool = True) -> Instance:
        gw = Gateway.build(self.settings)
        client = TestClient(TestServer(build_app(gw)))
        await client.server.start_server(**SERVER_LIMITS)
        await client.start_server()
        inst = Instance(gw, client)
        self.instances.append(inst)
        if wait and not await wait_connected(gw, 10.0):
            raise RuntimeError("instance did not sync")
        return inst

    async def kill(self, inst: Instance) -> None:
        """As a crash: connections close, the lease is not released (it expires)."""
        assert inst.gw.scale is not None
        await inst.gw.scale.stop(release=False)
        await inst.client.close()
        self.instances.remove(inst)

    async def redis_keys(self, pattern: str) -> list[Any]:
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(self.redis.url)
        try:
            return list(await r.keys(pattern))
        finally:
            await r.aclose()

    def holder(self, node: str) -> Instance:
        [inst] = [i for i in self.instances if i.gw.scale and node in i.gw.scale.holds()]
        return inst


def scaled(settings: Settings, url: str, ttl: float = 1.0) -> Settings:
    return dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, port=0, redis_url=url, redis_lease_ttl=ttl))


@contextlib.asynccontextmanager
async def pair(n: int = 2, switches: tuple[str, ...] = ("fs1",),
               traffic: bool = False) -> AsyncIterator[Pair]:
    async with redis_server() as redis:
        settings, sw = await start_switches(load_demo(), traffic=traffic, only=switches)
        p = Pair(scaled(settings, redis.url), sw, redis)
        try:
            for _ in range(n):
                await p.add()
            yield p
        finally:
            for inst in list(p.instances):
                await inst.close()
            await sw.stop()


def event_subscribers(sim: object) -> int:
    """Connections on a simulator subscribed to channel events (not just job results)."""
    count = 0
    for s in list(getattr(sim, "sessions", ())):
        if hasattr(s, "all_events"):  # ESL
            names = set(s.names) - {"BACKGROUND_JOB"}
            if s.authed and not s.writer.is_closing() and (s.all_events or names):
                count += 1
        elif s.authenticated and not s.closed and (s.events is None or s.events):  # AMI
            count += 1
    return count


class StallProxy:
    """A TCP proxy in front of Redis that can stall (hold every byte) or answer garbage."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.garbage = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()

    async def _pump(self, r: asyncio.StreamReader, w: asyncio.StreamWriter,
                    to_client: bool) -> None:
        with contextlib.suppress(Exception):
            while data := await r.read(65536):
                await self.flowing.wait()
                if to_client and self.garbage:
                    data = b"%\xff\xfegarbage\r\n" * 3
                w.write(data)
                await w.drain()
        w.close()

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            w.close()
            return
        self._writers += [w, uw]
        await asyncio.gather(self._pump(r, uw, False), self._pump(ur, w, True))
