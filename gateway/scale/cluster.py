"""Several instances over one Redis: one ingester per switch by lease, every instance applying
every node's stream to its own store.

* Lease `callgate:lease:<node>`: SET NX with a short TTL, renewed at a third of it by its holder
  only. The holder opens the node's event connection (subscribe + full dump + reconcile), and
  publishes each change of that node's channels on `callgate:events:<node>` (XADD, MAXLEN ~).
  After every (re)sync it also publishes the node's whole table (`dump`), so instances that
  missed anything (a new instance, a holder change, a gap, an outage) converge: no ghost, no
  missing channel.
* Every instance reads every node's stream and applies what another instance published.
  An entry that is not JSON, names another node or carries a malformed channel is logged once
  and skipped. A gap in the holder's sequence asks the holder for a dump (`callgate:want:<node>`).
* Redis down: the holder keeps ingesting into its own store and lists are served from memory
  everywhere; when Redis returns the holder re-asserts its lease (or drops its subscription if
  another took it) and publishes a dump. An instance that cannot renew sees the lease expire
  and another take it. After an outage nobody takes a free lease for one lease time, so a
  Redis restarted empty leaves each switch with the holder it had.
* A holder whose event connection has not been up for three lease times releases the lease
  and leaves it to the others for three more: an instance that can reach the switch takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.store import Change, ChangeKind, ChannelStore
from gateway.switch import ConnState, SwitchBackend

from . import records
from .link import FAILURES, RedisLink, client
from .redis_shared import RedisShared

log = logging.getLogger("callgate.scale")

LEASE = "callgate:lease:{}"
STREAM = "callgate:events:{}"
WANT = "callgate:want:{}"
MAXLEN = 100_000  # entries kept per node stream (trimmed approximately)
VERSION = 1

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

EventsBackend = Callable[[str], SwitchBackend]


async def cancel(tasks: list[asyncio.Task[None]], wait: float = 2.0) -> None:
    """Cancel and wait a bounded time: a Redis call stuck in its socket must not hold up
    the shutdown of the whole gateway."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=wait)


@dataclass
class _Node:
    name: str
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    holding: bool = False
    events: SwitchBackend | None = None
    watcher: asyncio.Task[None] | None = None
    epoch: str = ""
    seq: int = 0
    last_id: str = "0-0"
    seen: tuple[str, int] = ("", 0)  # (epoch, seq) of the last entry applied
    down_since: float = 0.0  # loop time our event connection was last seen not up
    resting_until: float = 0.0  # after handing the lease over: leave it to the others


class Cluster:
    def __init__(self, url: str, store: ChannelStore, nodes: Iterable[str],
                 events_backend: EventsBackend, *, lease_ttl: float = 5.0,
                 timeout: float = 1.0) -> None:
        self.instance = uuid.uuid4().hex
        self.link = RedisLink(url, timeout=timeout, probe=min(0.5, lease_ttl / 4))
        self.shared = RedisShared(self.link, self.instance)
        self.store = store
        self.nodes = {name: _Node(name) for name in nodes}
        self._events_backend = events_backend
        self.lease_ttl = lease_ttl
        self._sub = store.subscribe(maxsize=100_000)
        self._dumps: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._warned: set[str] = set()
        self._asks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._reads = client(url, timeout + 2.0)  # XREAD blocks on a connection of its own
        self.applied = 0  # entries from other instances applied (bench, tests)

    # ------------------------------------------------------------ life
    async def start(self) -> None:
        """Raises `RedisUnavailable` (one line) when Redis is not there."""
        await self.link.connect()
        await self.shared.start()
        for node in self.nodes.values():
            node.last_id = await self._tail(node.name)
            await self.link.redis.set(WANT.format(node.name), "1")
        self.link.recovered.append(self._recover)
        self._tasks = [asyncio.create_task(self._publisher(), name="scale-publish"),
                       asyncio.create_task(self._reader(), name="scale-read")]
        self._tasks += [asyncio.create_task(self._lease(n), name=f"lease-{n.name}")
                        for n in self.nodes.values()]

    async def stop(self, *, release: bool = True) -> None:
        """Stop; `release=False` leaves the leases to expire, as a crash would (tests)."""
        if self._stopped:
            return
        self._stopped = True
        await cancel(self._tasks + list(self._asks))
        for node in self.nodes.values():
            await self._drop(node)
            if release and self.link.up:
                with contextlib.suppress(*FAILURES):
                    async with asyncio.timeout(self.link.timeout):
                        await self.link.redis.eval(_RELEASE, 1, LEASE.format(node.name),
                                                   self.instance)
        self._sub.close()
        await self.shared.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.link.timeout):
                await self._reads.aclose()
        await self.link.close()

    def holds(self) -> list[str]:
        return sorted(n.name for n in self.nodes.values() if n.holding)

    def health(self) -> dict[str, Any]:
        return {**self.link.health(), "holds": self.holds()}

    async def wait_synced(self) -> None:
        await asyncio.gather(*(n.synced.wait() for n in self.nodes.values()))

    async def _recover(self) -> None:
        """Redis is back: we may have missed entries, and others may have missed ours."""
        for node in self.nodes.values():
            if node.holding:
                self._dump(node.name)
            else:
                await self.link.redis.set(WANT.format(node.name), "1")

    async def _tail(self, node: str) -> str:
        last: Any = await self.link.redis.xrevrange(STREAM.format(node), count=1)
        return str(last[0][0].decode()) if last else "0-0"

    # ------------------------------------------------------------ lease
    async def _lease(self, node: _Node) -> None:
        key = LEASE.format(node.name)
        ttl_ms = max(100, int(self.lease_ttl * 1000))
        while True:
            lost = False
            try:
                async with asyncio.timeout(self.link.timeout * 2):
                    if node.holding:
                        mine = await self.link.redis.eval(_RENEW, 1, key, self.instance, ttl_ms)
                        if not mine:  # expired while we could not renew, then taken (or not)
                            mine = await self.link.redis.set(key, self.instance, nx=True,
                                                             px=ttl_ms)
                            if mine:
                                self._dump(node.name)
                        lost = not mine
                        if mine and await self.link.redis.getdel(WANT.format(node.name)):
                            self._dump(node.name)
                    elif self._may_take(node) and await self.link.redis.set(
                            key, self.instance, nx=True, px=ttl_ms):
                        self._hold(node)
            except FAILURES as exc:
                self.link.failed(exc)
            if lost:  # outside the Redis timeout: closing the event connection takes its time
                log.warning("%s: lease lost to another instance", node.name)
                await self._drop(node)
            elif node.holding and self._cannot_reach(node):
                log.warning("%s: the switch is unreachable from here; lease handed over",
                            node.name)
                await self._drop(node)
                node.resting_until = asyncio.get_running_loop().time() + 3 * self.lease_ttl
                with contextlib.suppress(*FAILURES):
                    async with asyncio.timeout(self.link.timeout):
                        await self.link.redis.eval(_RELEASE, 1, key, self.instance)
            await asyncio.sleep(self.lease_ttl / 3)

    def _may_take(self, node: _Node) -> bool:
        """Not within one lease time after an outage: a Redis that restarted empty has lost
        the leases, and their holders, still subscribed, get that long to re-assert them.
        Nor while resting after handing a lease over."""
        now = asyncio.get_running_loop().time()
        since = self.link.recovered_at
        return (not since or now - since >= self.lease_ttl) and now >= node.resting_until

    def _cannot_reach(self, node: _Node) -> bool:
        """Our event connection has not been up for three lease times: another instance may
        reach the switch where we cannot, so the lease should move."""
        now = asyncio.get_running_loop().time()
        events = node.events
        if events is not None and events.state is ConnState.CONNECTED:
            node.down_since = 0.0
            return False
        if not node.down_since:
            node.down_since = now
        return now - node.down_since >= 3 * self.lease_ttl

    def _hold(self, node: _Node) -> None:
        log.info("%s: lease taken; this instance ingests its events", node.name)
        node.holding = True
        node.down_since = 0.0
        node.epoch = uuid.uuid4().hex[:12]
        node.seq = 0
        backend = self._events_backend(node.name)
        node.events = backend
        node.watcher = asyncio.create_task(self._watch_events(node, backend),
                                           name=f"events-{node.name}")

    async def _watch_events(self, node: _Node, backend: SwitchBackend) -> None:
        """Publish the node's table after each (re)sync of the event connection."""
        await backend.start()
        connects = -1
        while True:
            await backend.ready.wait()
            now = getattr(backend, "connects", 0)
            if now != connects:
                connects = now
                node.synced.set()
                self._dump(node.name)
            await asyncio.sleep(0.05)

    async def _drop(self, node: _Node) -> None:
        if not node.holding:
            return
        node.holding = False
        watcher, node.watcher = node.watcher, None
        if watcher is not None:
            await cancel([watcher])
        events, node.events = node.events, None
        if events is not None:
            await events.stop()

    # ------------------------------------------------------------ publish
    def _dump(self, node: str) -> None:
        self._dumps.add(node)
        self._wake.set()

    def _entries(self, change: Change) -> tuple[str, dict[str, Any]] | None:
        ch = change.channel
        if ch is None:  # fell behind the store: the whole table of every node we hold
            for name in self.holds():
                self._dump(name)
            return None
        node = self.nodes.get(ch.node)
        if node is None or not node.holding:
            return None
        if change.kind is ChangeKind.REMOVED:
            return node.name, {"k": "rm", "id": ch.id}
        names = None if change.kind is ChangeKind.ADDED else change.before.keys()
        fields = records.dump(ch, names)
        if not fields and change.kind is ChangeKind.UPDATED:
            return None  # only attribution moved: every instance derives that itself
        return node.name, {"k": "up", "id": ch.id, "f": fields}

    def _envelope(self, node: _Node, body: dict[str, Any]) -> bytes:
        node.seq += 1
        body.update(v=VERSION, n=node.name, o=self.instance, e=node.epoch, s=node.seq)
        return json.dumps(body, separators=(",", ":")).encode()

    async def _publisher(self) -> None:
        sub = self._sub
        while True:
            if sub.pending() == 0 and not self._dumps:
                waiter = asyncio.ensure_future(sub.get())
                woke = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait({waiter, woke},
                                             return_when=asyncio.FIRST_COMPLETED)
                woke.cancel()
                first = [waiter.result()] if waiter in done else []
                if waiter not in done:
                    # not awaited: a cancellation of this task arriving meanwhile must not be
                    # taken for the waiter's and swallowed
                    waiter.cancel()
            else:
                first = []
            self._wake.clear()
            batch = first
            while len(batch) < 1000 and (c := sub.get_nowait()) is not None:
                batch.append(c)
            out: list[tuple[str, bytes]] = []
            for change in batch:
                entry = self._entries(change)
                if entry is not None:
                    node = self.nodes[entry[0]]
                    out.append((node.name, self._envelope(node, entry[1])))
            for name in sorted(self._dumps):
                node = self.nodes[name]
                if node.holding:
                    table = [{"id": ch.id, **records.dump(ch)}
                             for ch in self.store.by_node(name)]
                    out.append((name, self._envelope(node, {"k": "dump", "ch": table})))
            self._dumps.clear()
            if out:
                await self._xadd(out)

    async def _xadd(self, out: list[tuple[str, bytes]]) -> None:
        try:
            async with asyncio.timeout(self.link.timeout * 2):
                pipe = self.link.redis.pipeline(transaction=False)
                for node, data in out:
                    pipe.xadd(STREAM.format(node), {"d": data}, maxlen=MAXLEN,
                              approximate=True)
                await pipe.execute()
        except FAILURES as exc:
            # lost entries: when Redis is back, the node's full table goes out instead
            self.link.failed(exc)

    # ------------------------------------------------------------ apply
    async def _reader(self) -> None:
        while True:
            streams: dict[Any, Any] = {STREAM.format(n.name): n.last_id
                                       for n in self.nodes.values()}
            try:
                got: Any = await self._reads.xread(streams, block=1000, count=1000)
            except FAILURES as exc:
                self.link.failed(exc)
                await self.link.wait_up()
                await asyncio.sleep(0.05)
                continue
            for stream, entries in got or ():
                name = stream.decode()[len(STREAM.format("")):]
                node = self.nodes.get(name)
                if node is None:
                    continue
                for entry_id, data in entries:
                    node.last_id = entry_id.decode()
                    self._entry(node, data.get(b"d", b""))

    def _bad(self, node: str, what: str, detail: str = "") -> None:
        key = f"{node}:{what}"  # one line per node and kind, whatever the details vary
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s: stream entry skipped: %s%s (said once)", node, what,
                        f" ({detail[:80]})" if detail else "")

    def _entry(self, node: _Node, data: bytes) -> None:
        try:
            body = json.loads(data)
            if not isinstance(body, dict):
                raise ValueError
            origin, kind, epoch, seq = body["o"], body["k"], body["e"], body["s"]
        except (ValueError, KeyError, TypeError):
            self._bad(node.name, "not a gateway entry (bad JSON)")
            return
        if body.get("n") != node.name or body.get("v") != VERSION:
            self._bad(node.name, "names another node or version")
            return
        if origin == self.instance or node.holding:
            return
        try:
            changes: list[tuple[str, dict[str, Any] | None]]
            if kind == "up":
                changes = [(str(body["id"]), records.load(body["f"]))]
            elif kind == "rm":
                changes = [(str(body["id"]), None)]
            elif kind == "dump":
                changes = [(str(r.pop("id")), records.load(r)) for r in body["ch"]]
            else:
                raise records.BadRecord(f"kind {str(kind)[:20]}")
        except (records.BadRecord, KeyError, TypeError, AttributeError) as exc:
            self._bad(node.name, "malformed channel", str(exc))
            return
        if not isinstance(seq, int) or not isinstance(epoch, str):
            self._bad(node.name, "malformed sequence")
            return
        if kind != "dump" and epoch == node.seen[0] and seq != node.seen[1] + 1:
            self._ask_dump(node)  # a gap: entries were trimmed or lost
        node.seen = (epoch, seq)
        self.applied += 1
        store = self.store
        for channel_id, fields in changes:
            current = store.get(channel_id)
            if current is not None and current.node != node.name:
                self._bad(node.name, "channel of another node")
                continue
            if fields is None:
                store.remove(channel_id)
            else:
                store.apply(node.name, channel_id, fields)
        if kind == "dump":
            listed = {cid for cid, _ in changes}
            for ch in list(store.by_node(node.name)):
                if ch.id not in listed:
                    store.remove(ch.id)
            node.synced.set()

    def _ask_dump(self, node: _Node) -> None:
        async def ask() -> None:
            with contextlib.suppress(*FAILURES):
                await self.link.redis.set(WANT.format(node.name), "1")
        task = asyncio.get_running_loop().create_task(ask())
        self._asks.add(task)
        task.add_done_callback(self._asks.discard)
