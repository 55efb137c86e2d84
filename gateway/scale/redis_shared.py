"""Shared state kept in Redis and mirrored in every instance.

A map's key lives at `callgate:kv:<map>:<key>`; each write is also announced on the
`callgate:kv` channel so other instances update their mirror at once. Reads never leave the
process, and writes go out from a background task, so a slow or absent Redis never holds up a
request: writes made while it is down are sent when it returns, and every mirror is then
reloaded from Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from redis.asyncio.client import PubSub

from .link import FAILURES, RedisLink, client
from .shared import JSON, Codec, OnRemote, local_counts, local_hit

log = logging.getLogger("callgate.shared")

CHANNEL = "callgate:kv"
PREFIX = "callgate:kv:"
MAX_PENDING = 100_000


class RedisMap(MutableMapping[str, Any]):
    """A dict whose writes every instance sees."""

    def __init__(self, owner: RedisShared, name: str, codec: Codec[Any],
                 on_remote: OnRemote | None) -> None:
        self._owner = owner
        self.name = name
        self._codec = codec
        self._on_remote = on_remote
        self._data: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._owner._send(self.name, key, self._codec.encode(value))

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._owner._send(self.name, key, None)

    def _remote(self, key: str, raw: str | None) -> None:
        if raw is None:
            if self._data.pop(key, None) is None:
                return
            value = None
        else:
            try:
                value = self._codec.decode(raw)
            except Exception:
                self._owner._bad(f"undecodable value in shared map {self.name}")
                return
            self._data[key] = value
        if self._on_remote is not None:
            try:
                self._on_remote(key, value)
            except Exception as exc:  # a dialect's hook must not stop the feed
                log.error("shared map %s: hook failed: %s", self.name, type(exc).__name__)

    def _replace(self, remote: dict[str, str]) -> None:
        """Make the mirror equal to what Redis holds (after an outage or at start)."""
        for key in [k for k in self._data if k not in remote]:
            self._remote(key, None)
        for key, raw in remote.items():
            self._remote(key, raw)


class RedisShared:
    def __init__(self, link: RedisLink, instance: str) -> None:
        self.link = link
        self.instance = instance
        self._maps: dict[str, RedisMap] = {}
        self._pending: deque[tuple[str, str, str | None]] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._buckets: dict[str, tuple[int, float]] = {}
        self._warned: set[str] = set()
        self._pubsub: PubSub | None = None
        self._stopped = False
        # a connection of its own: the feed blocks on it
        self._feed = client(link.url, link.timeout + 2.0)

    def map(self, name: str, codec: Codec[Any] = JSON,
            on_remote: OnRemote | None = None) -> MutableMapping[str, Any]:
        if name not in self._maps:
            self._maps[name] = RedisMap(self, name, codec, on_remote)
        return self._maps[name]

    async def hit(self, bucket: str, window: float) -> int:
        """Counted in Redis so every instance shares the bucket; locally while it is down."""
        if self.link.up:
            try:
                key = f"callgate:hit:{bucket}"
                async with asyncio.timeout(self.link.timeout):
                    pipe = self.link.redis.pipeline(transaction=True)
                    pipe.incr(key)
                    pipe.pexpire(key, max(1, int(window * 1000)), nx=True)
                    count, _ = await pipe.execute()
                return int(count)
            except FAILURES as exc:
                self.link.failed(exc)
        return local_hit(self._buckets, bucket, window)

    async def counts(self, buckets: Sequence[str]) -> list[int]:
        """Read in Redis in one round trip (an expired bucket is gone there); locally while it
        is down, as `hit` counts."""
        if self.link.up:
            try:
                async with asyncio.timeout(self.link.timeout):
                    found = await self.link.redis.mget([f"callgate:hit:{b}" for b in buckets])
                return [int(v) if v is not None else 0 for v in found]
            except FAILURES as exc:
                self.link.failed(exc)
        return local_counts(self._buckets, buckets)

    async def clear(self, bucket: str) -> None:
        """Cleared in Redis for every instance, and here (the count kept while it was down)."""
        self._buckets.pop(bucket, None)
        if self.link.up:
            try:
                async with asyncio.timeout(self.link.timeout):
                    await self.link.redis.delete(f"callgate:hit:{bucket}")
            except FAILURES as exc:
                self.link.failed(exc)

    # ------------------------------------------------------------ life
    async def start(self) -> None:
        await self._subscribe()
        await self._reload()
        self._tasks = [asyncio.create_task(self._writer(), name="shared-writer"),
                       asyncio.create_task(self._reader(), name="shared-reader")]
        self.link.recovered.append(self._recover)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        await self._flush()  # what was granted last still reaches the others
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.link.timeout):
                if self._pubsub is not None:
                    await self._pubsub.aclose()
                await self._feed.aclose()

    async def _recover(self) -> None:
        await self._flush()
        await self._reload(merge=True)

    # ------------------------------------------------------------ writes
    def _send(self, name: str, key: str, raw: str | None) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
        self._pending.append((name, key, raw))
        self._wake.set()

    async def _flush(self) -> None:
        with contextlib.suppress(*FAILURES):
            async with asyncio.timeout(self.link.timeout * 4):
                while self._pending:
                    await self._send_batch()

    async def _send_batch(self) -> None:
        batch = [self._pending.popleft() for _ in range(min(len(self._pending), 500))]
        try:
            async with asyncio.timeout(self.link.timeout * 2):
                pipe = self.link.redis.pipeline(transaction=False)
                for name, key, raw in batch:
                    if raw is None:
                        pipe.delete(PREFIX + f"{name}:{key}")
                    else:
                        pipe.set(PREFIX + f"{name}:{key}", raw)
                    pipe.publish(CHANNEL, json.dumps(
                        {"o": self.instance, "n": name, "k": key, "v": raw},
                        separators=(",", ":")))
                await pipe.execute()
        except BaseException:
            self._pending.extendleft(reversed(batch))
            raise

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                try:
                    await self._send_batch()
                except FAILURES as exc:
                    self.link.failed(exc)
                    await self.link.wait_up()
                    await asyncio.sleep(0.05)

    # ------------------------------------------------------------ reads
    async def _subscribe(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        self._pubsub = self._feed.pubsub(ignore_subscribe_messages=True)
        await asyncio.wait_for(self._pubsub.subscribe(CHANNEL), self.link.timeout * 2)

    async def _reload(self, *, merge: bool = False) -> None:
        """Mirror what Redis holds. `merge` (after an outage): keys we hold that Redis lacks
        are sent back, since no instance could delete them while Redis was away but a Redis
        restarted without persistence has forgotten them."""
        for name, m in self._maps.items():
            remote: dict[str, str] = {}
            keys: list[Any] = []
            async with asyncio.timeout(self.link.timeout * 10):
                async for key in self.link.redis.scan_iter(match=f"{PREFIX}{name}:*", count=1000):
                    keys.append(key)
                for i in range(0, len(keys), 500):
                    chunk = keys[i:i + 500]
                    values: list[Any] = await self.link.redis.mget(chunk)
                    for key, raw in zip(chunk, values, strict=True):
                        if raw is not None:
                            remote[key.decode()[len(PREFIX) + len(name) + 1:]] = raw.decode()
            pending = {k for n, k, _ in self._pending if n == name}
            for key in pending:  # our own unsent writes are newer than what Redis holds
                remote.pop(key, None)
                if key in m._data:
                    remote[key] = m._codec.encode(m._data[key])
            if merge:
                for key in [k for k in m._data if k not in remote]:
                    self._send(name, key, m._codec.encode(m._data[key]))
                    remote[key] = m._codec.encode(m._data[key])
            m._replace(remote)

    async def _reader(self) -> None:
        while True:
            try:
                assert self._pubsub is not None
                msg = await self._pubsub.get_message(timeout=1.0)
            except FAILURES as exc:
                self.link.failed(exc)
                await self.link.wait_up()
                try:
                    await self._subscribe()
                    await self._reload(merge=True)
                except FAILURES as again:
                    self.link.failed(again)
                    await asyncio.sleep(self.link.probe)
                continue
            if msg is not None:
                self._apply(msg.get("data"))

    def _bad(self, what: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("shared state: %s (skipped; said once)", what)

    def _apply(self, data: Any) -> None:
        try:
            note = json.loads(data)
            origin, name, key, raw = note["o"], note["n"], note["k"], note["v"]
            if not (isinstance(name, str) and isinstance(key, str)
                    and (raw is None or isinstance(raw, str))):
                raise ValueError
        except Exception:
            self._bad("malformed change notice")
            return
        if origin == self.instance:
            return
        m = self._maps.get(name)
        if m is None:
            return  # a map this instance does not use (a dialect it has off)
        m._remote(key, raw)
