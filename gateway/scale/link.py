"""The Redis connection as the gateway sees it: up or down, why, and who to tell when it
comes back. Every component that talks to Redis reports failures here; one watcher pings while
it is down and announces the recovery, so nothing needs a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from . import RedisUnavailable

__all__ = ["FAILURES", "RedisLink", "RedisUnavailable", "client", "describe", "where"]

log = logging.getLogger("callgate.redis")

#: What a Redis call can raise when the server is away, slow or answers garbage.
FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError, ValueError,
                                             EOFError)


def where(url: str) -> str:
    """The URL without its credentials, for messages."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return f"unix:{parts.path}"
        return f"{parts.scheme}://{parts.hostname or '127.0.0.1'}:{parts.port or 6379}{parts.path}"
    except ValueError:
        return "the configured redis_url"


def describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Error 111 " in text or "Connection refused" in text:
        return "connection refused"
    if isinstance(exc, TimeoutError) or "Timeout" in text:
        return "timed out"
    return text[:160]


def client(url: str, timeout: float) -> aioredis.Redis:
    # no retries inside redis-py: a failure is reported at once, and the link's watcher
    # (not each call) decides when Redis is back
    return aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                   retry=Retry(NoBackoff(), 0), retry_on_timeout=False,
                                   health_check_interval=0)


class RedisLink:
    def __init__(self, url: str, *, timeout: float = 1.0, probe: float = 0.5) -> None:
        self.url = url
        self.timeout = timeout
        self.probe = probe
        self.redis = client(url, timeout)
        self.up = False
        self.last_error = ""
        self.recovered_at = 0.0  # loop time Redis last came back after an outage (0: never)
        self.recovered: list[Callable[[], Awaitable[None]]] = []
        self._back = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Fail with one line when Redis is not there at start."""
        try:
            await asyncio.wait_for(self.redis.ping(), self.timeout * 2)
        except FAILURES as exc:
            raise RedisUnavailable(
                f"cannot reach Redis at {where(self.url)}: {describe(exc)}") from None
        self._mark_up()
        self._task = asyncio.create_task(self._watch(), name="redis-link")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2.0)
            self._task = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.timeout):
                await self.redis.aclose()

    def failed(self, exc: BaseException) -> None:
        """A Redis call failed: down until a ping answers again."""
        reason = describe(exc)
        if self.up:
            log.warning("redis at %s: %s", where(self.url), reason)
        self.up = False
        self.last_error = reason
        self._back.clear()

    def _mark_up(self) -> None:
        self.up = True
        self.last_error = ""
        self._back.set()

    async def wait_up(self) -> None:
        await self._back.wait()

    def health(self) -> dict[str, str]:
        return {"state": "up" if self.up else "down", "last_error": self.last_error}

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.probe)
            try:
                await asyncio.wait_for(self.redis.ping(), self.timeout)
            except FAILURES as exc:
                self.failed(exc)
                continue
            if not self.up:
                log.info("redis at %s: back", where(self.url))
                self.recovered_at = asyncio.get_running_loop().time()
                self._mark_up()
                for hook in list(self.recovered):
                    try:
                        await hook()
                    except FAILURES as exc:
                        self.failed(exc)
