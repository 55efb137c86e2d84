"""Soak: call churn on both simulated switches while their connections are cut, and after every
resync the store compared with each switch's own channel table.

    python -m bench.soak [--drops 100] [--big 10000] [--seed 1]

1. The demo configuration's FreeSWITCH and Asterisk simulators run with steady churn: calls
   placed between random phones (some answered, some left ringing) and random live calls hung
   up, on both switches at once.
2. `--drops` times per switch, at a random moment, the switch's side of the connection sends
   the first bytes of a frame and closes (so the gateway sees a frame cut in the middle, besides
   whatever else was in flight), and the backend reconnects and resyncs on its own.
3. After each resync the churn pauses and the store's channels of that node are compared with
   the simulator's table (polled up to 3 s while the events in flight arrive): ghosts are ids
   the store has and the switch does not, missing the reverse.
4. RSS is read after the first sync and after the last drop; then `--big` channels are put on
   each switch and one more cut measures how long a resync of that many channels takes (cut to
   ready, reconnect delay included). Target: 0 ghosts, 0 missing, flat RSS, <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import multiprocessing as mp
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backends import create_backend
from backends.base import ReconnectingBackend
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import Switches, load_demo, start_switches
from gateway.store import ChannelStore

#: The start of a frame each switch sends; a cut sends a random prefix of it, then closes.
PARTIAL = {
    "freeswitch": b'Content-Length: 1713\nContent-Type: text/event-json\n\n{"Event-Name":'
                  b'"CHANNEL_STATE","Core-UUID":"4f73461e-4836-43a9-8998-8a1a07401a00",',
    "asterisk": b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/201-00000001\r\n"
                b"ChannelState: 0\r\nUniqueid: 1795344478.",
}
SETTLE = 3.0  # how long a comparison waits for the events in flight


@dataclass
class Check:
    node: str
    ghosts: int
    missing: int
    resync: float  # cut to ready, seconds
    channels: int  # the switch's channels when compared


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    rss_start: int = 0
    rss_end: int = 0
    heap_start: int = 0  # the gateway's own Python heap (--heap), bytes
    heap_end: int = 0
    big: dict[str, tuple[int, float, float, float, int, int]] = field(default_factory=dict)

    @property
    def ghosts(self) -> int:
        return sum(c.ghosts for c in self.checks)

    @property
    def missing(self) -> int:
        return sum(c.missing for c in self.checks)


#: Where the gateway's own allocations come from (the simulators share the process).
GATEWAY_CODE = ("/gateway/", "/backends/", "/panoramisk/", "/aiohttp/", "/msgspec/")


def gateway_heap() -> int:
    """Bytes the gateway's code holds on the Python heap (0 unless tracemalloc runs)."""
    if not tracemalloc.is_tracing():
        return 0
    snap = tracemalloc.take_snapshot()
    return sum(s.size for s in snap.statistics("filename")
               if any(part in s.traceback[0].filename for part in GATEWAY_CODE))


async def quiet(gw: Gateway, sw: Switches, nodes: list[str]) -> None:
    """Every call hung up and the store empty again, so start and end compare like for like."""
    for node in nodes:
        sim = sw.sims[node]
        for uid in list(sim.channel_ids()):
            await sim.hangup(uid)
    for node in nodes:
        await settled(gw, node, sw.sims[node], 10)
    await asyncio.sleep(0.3)  # timers of the ended calls
    gc.collect()


def rss() -> int:
    """This process's resident set size in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class Churn:
    """Calls placed and hung up at random on one simulator until stopped; `paused` holds it."""

    def __init__(self, sim: Any, phones: list[str], rng: random.Random,
                 rate: float = 40.0, max_live: int = 60) -> None:
        self.sim, self.phones, self.rng = sim, phones, rng
        self.rate, self.max_live = rate, max_live
        self.paused = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            if task.done() and task.exception() is not None:
                raise RuntimeError("the churn stopped") from task.exception()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        rng = self.rng
        while True:
            await asyncio.sleep(rng.expovariate(self.rate))
            if self.paused:
                continue
            live = self.sim.channel_ids()
            if live and (len(live) >= self.max_live or rng.random() < 0.45):
                await self.sim.hangup(rng.choice(live))
                continue
            caller, callee = rng.sample(self.phones, 2)
            answer = None if rng.random() < 0.2 else rng.uniform(0.0, 0.3)
            await self.sim.place_call(caller, callee, answer_after=answer,
                                      bridge=rng.random() < 0.85)


async def cut(sim: Any, kind: str, rng: random.Random) -> None:
    """Close every connection of `sim` right after a random prefix of a frame."""
    prefix = PARTIAL[kind][:rng.randrange(1, len(PARTIAL[kind]))]
    for s in list(sim.sessions):
        transport = s.writer.transport
        if transport is None or transport.is_closing():
            continue
        s.writer.write(prefix)
        transport.abort()
    await asyncio.sleep(0)


async def until(predicate: Callable[[], bool], wait: float) -> bool:
    deadline = time.monotonic() + wait
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def difference(gw: Gateway, node: str, sim: Any) -> tuple[set[str], set[str]]:
    """(ghosts, missing) of the node's channels in the store against the switch's table."""
    truth = set(sim.channel_ids())
    held = {ch.id for ch in gw.store.by_node(node)}
    return held - truth, truth - held


async def compare(gw: Gateway, node: str, sim: Any) -> tuple[int, int]:
    await settled(gw, node, sim, SETTLE)
    ghosts, missing = difference(gw, node, sim)
    return len(ghosts), len(missing)


async def settled(gw: Gateway, node: str, sim: Any, wait: float) -> bool:
    return await until(lambda: difference(gw, node, sim) == (set(), set()), wait)


async def drop_and_resync(gw: Gateway, node: str, sim: Any, rng: random.Random) -> float:
    """Cut the node's connection mid-frame; seconds until the backend has resynced."""
    backend = gw.backends[node]
    assert isinstance(backend, ReconnectingBackend)
    before = backend.connects
    t0 = time.monotonic()
    await cut(sim, backend.kind, rng)
    if not await until(lambda: backend.connects > before and backend.ready.is_set(), 30):
        raise RuntimeError(f"{node} did not resync: {backend.state} {backend.last_error}")
    return time.monotonic() - t0


def soak_settings(settings: Settings) -> Settings:
    """The demo with reconnects that wait milliseconds, not seconds (the drops are ours)."""
    return dataclasses.replace(settings, backends=tuple(
        dataclasses.replace(b, backoff_initial=0.01, backoff_max=0.05)
        for b in settings.backends))


async def fill(sim: Any, phones: list[str], n: int) -> None:
    """`n` lone legs on the switch: FreeSWITCH's ring unanswered, Asterisk's listen to music
    on hold (an extension no phone answers would be hung up at once)."""
    dest = getattr(sim.model, "moh_exten", "999")
    for i in range(n):
        await sim.place_call(phones[i % len(phones)], dest, answer_after=None, bridge=False)
        if i % 200 == 199:
            await asyncio.sleep(0)


async def run(drops: int = 100, big: int = 10_000, seed: int = 1,
              on_check: Callable[[Check], None] | None = None) -> Report:
    rng = random.Random(seed)
    settings, sw = await start_switches(load_demo(), traffic=False, only=("fs1", "ast1"))
    settings = soak_settings(settings)
    gw = Gateway.build(settings)
    report = Report()
    churns: list[Churn] = []
    nodes: list[str] = []
    try:
        for backend in gw.backends.values():
            await backend.start()
        ok = await until(lambda: all(b.ready.is_set() for b in gw.backends.values()), 10)
        if not ok:
            raise RuntimeError("the backends did not connect")
        phones = _phones(settings, sw)
        nodes = list(phones)
        await quiet(gw, sw, nodes)
        report.rss_start, report.heap_start = rss(), gateway_heap()
        churns = [Churn(sw.sims[n], phones[n], random.Random(rng.random())) for n in phones]
        for churn in churns:
            churn.start()
        for _ in range(drops):
            for node in rng.sample(nodes, len(nodes)):
                await asyncio.sleep(rng.uniform(0.0, 0.15))  # churn in flight
                took = await drop_and_resync(gw, node, sw.sims[node], rng)
                for churn in churns:
                    churn.paused = True
                ghosts, missing = await compare(gw, node, sw.sims[node])
                for churn in churns:
                    churn.paused = False
                check = Check(node, ghosts, missing, took, len(sw.sims[node].channel_ids()))
                report.checks.append(check)
                if on_check is not None:
                    on_check(check)
        for churn in churns:
            await churn.stop()
        await quiet(gw, sw, nodes)
        report.rss_end, report.heap_end = rss(), gateway_heap()
    finally:
        for churn in churns:
            await churn.stop()
        for backend in gw.backends.values():
            await backend.stop()
        await sw.stop()
    for node in nodes if big else ():
        report.big[node] = await timed_resync(node, big)
    return report


def _serve_many(node: str, n: int, conn: Any) -> None:
    """Child process: the node's simulator holding `n` channels, until the parent is done."""
    async def serve() -> None:
        settings, sw = await start_switches(load_demo(), traffic=False, only=(node,))
        sim = sw.sims[node]
        await fill(sim, _phones(settings, sw)[node], n)
        conn.send((sim.port, sorted(sim.channel_ids())))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await sw.stop()

    asyncio.run(serve())


async def timed_resync(node: str, n: int) -> tuple[int, float, float, float, int, int]:
    """A resync of `n` channels with the switch in another process, so its own work is not
    charged to the gateway: (channels, first sync s, resync after a cut s, the gateway's CPU
    seconds in that resync, ghosts, missing). The cut is the gateway closing its side (the
    switch's side is the soak's)."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve_many, args=(node, n, child))
    proc.start()
    try:
        port, truth = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        by_name = {b.name: b for b in soak_settings(load_demo()).backends}
        settings = dataclasses.replace(by_name[node], host="127.0.0.1", port=port)
        store = ChannelStore()
        backend = create_backend(settings, store)
        assert isinstance(backend, ReconnectingBackend)
        t0 = time.monotonic()
        await backend.start()
        try:
            await until(backend.ready.is_set, 120)
            first = time.monotonic() - t0
            before = backend.connects
            t0, cpu0 = time.monotonic(), time.process_time()
            await backend._close()  # the session ends: reconnect and resync
            await until(lambda: backend.connects > before and backend.ready.is_set(), 120)
            again, cpu = time.monotonic() - t0, time.process_time() - cpu0
            held = {ch.id for ch in store.by_node(node)}
            return (len(truth), first, again, cpu, len(held - set(truth)),
                    len(set(truth) - held))
        finally:
            await backend.stop()
    finally:
        parent.send("done")
        proc.join(10)


def _phones(settings: Settings, sw: Switches) -> dict[str, list[str]]:
    """Node -> the phones its simulator knows (the demo's extensions)."""
    return {d.backend: list(d.extensions) for d in settings.demo
            if d.backend in sw.sims and len(d.extensions) >= 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drops", type=int, default=100, help="cuts per switch connection")
    ap.add_argument("--big", type=int, default=10_000,
                    help="channels per switch for the timed resync (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heap", action="store_true",
                    help="also trace the gateway's own Python heap (slower; the simulators "
                         "share the process, so RSS counts them too)")
    args = ap.parse_args()
    if args.heap:
        tracemalloc.start()
    logging.basicConfig(level=logging.ERROR)  # each cut logs a reconnect: expected, not news

    def progress(c: Check) -> None:
        if c.ghosts or c.missing:
            print(f"  {c.node}: {c.ghosts} ghosts, {c.missing} missing after a resync")

    report = asyncio.run(run(args.drops, args.big, args.seed, progress))
    times = [c.resync for c in report.checks]
    print(f"drops                : {args.drops} per switch, {len(report.checks)} resyncs")
    print(f"ghosts               : {report.ghosts}")
    print(f"missing              : {report.missing}")
    print(f"resync (cut to ready): median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms (churn of up to 60 channels per switch)")
    print(f"RSS                  : {report.rss_start / 2**20:.1f} MiB at start, "
          f"{report.rss_end / 2**20:.1f} MiB at end (simulators included; no calls up at "
          f"either point)")
    if report.heap_start:
        print(f"gateway Python heap  : {report.heap_start / 2**20:.2f} MiB at start, "
              f"{report.heap_end / 2**20:.2f} MiB at end")
    for node, (n, first, again, cpu, ghosts, missing) in report.big.items():
        print(f"{n} channels on {node}   : first sync {first:.2f} s; resync after a cut "
              f"{again:.2f} s, of which the gateway's own CPU {cpu:.2f} s (the switch runs in "
              f"its own process); {ghosts} ghosts, {missing} missing")


if __name__ == "__main__":
    main()
