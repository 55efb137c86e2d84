"""Kazoo blackhole latency: from a call event written on the simulated FreeSWITCH's socket to the
frame read by blackhole clients, beside the same path with no sockets.

    python -m bench.blackhole [--events 10000] [--sockets 100]

One process runs the FreeSWITCH simulator and the gateway (the real ESL backend, store and
blackhole listener) with one bridged Acme call. A second process opens `--sockets` websockets,
each subscribed to that call (`call.*.<A-leg>`), and timestamps every frame as it reads it. The
main process toggles hold on the A-leg `--events` times, one at a time: it notes the time just
before the simulator writes the event, and waits until every socket has read the frame before
the next toggle, so latencies are not queueing behind each other. Both processes read the same
monotonic clock, and the clients timestamp each frame in the transport's callback (a lean
websocket client), so their own overhead stays out. p50 and p99 are over every (event, socket)
read.

The same path with no sockets: the same toggles, timed from the simulator's write to the
change arriving on a store subscription in the gateway process. Target: p99 <= 5 ms with 100
sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import multiprocessing as mp
import statistics
import struct
import time
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from aiohttp import web

from gateway.app import EXTRA_LISTENERS, build_app, wait_connected
from gateway.context import Gateway
from gateway.demo import load_demo, start_switches
from gateway.store import ChangeKind

ACME = "a0000000000000000000000000000003"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# ------------------------------------------------------------------- the clients' process
class _Socket(asyncio.Protocol):
    """A lean websocket client: handshake, one subscribe, then a timestamp per frame read, in
    the transport callback itself, so the clients' own overhead stays out of the figure."""

    def __init__(self, on_frame: Any) -> None:
        self.buf = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.replied = asyncio.get_running_loop().create_future()
        self.on_frame = on_frame
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        b"Sec-WebSocket-Version: 13\r\n\r\n")

    def send(self, text: str) -> None:
        payload, mask = text.encode(), b"\x01\x02\x03\x04"
        head = (bytes([0x81, 0xFE]) + struct.pack(">H", len(payload)) if len(payload) > 125
                else bytes([0x81, 0x80 | len(payload)]))
        assert self.transport is not None
        self.transport.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buf += data
        if not self.upgraded.done():
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            self.upgraded.set_result(head.startswith(b"HTTP/1.1 101"))
            self.buf = rest
        while len(self.buf) >= 2:
            n, at = self.buf[1] & 0x7F, 2
            if n == 126:
                n, at = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
            if len(self.buf) < at + n:
                return
            payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
            if not self.replied.done():
                self.replied.set_result(json.loads(payload))
            else:
                self.on_frame(now)


async def _clients(port: int, token: str, call: str, sockets: int, events: int,
                   pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    reads: list[list[float]] = [[] for _ in range(sockets)]
    done = [0] * events
    finished = asyncio.Event()

    def reader(i: int) -> Any:
        def on_frame(now: float) -> None:
            k = len(reads[i])
            reads[i].append(now)
            done[k] += 1
            if done[k] == sockets:
                pipe.send(("ack", k))
                if k == events - 1:
                    finished.set()
        return on_frame

    socks = []
    for i in range(sockets):
        _, sock = await loop.create_connection(partial(_Socket, reader(i)), "127.0.0.1", port)
        assert await sock.upgraded
        sock.send(json.dumps({"action": "subscribe", "auth_token": token, "request_id": f"r{i}",
                              "data": {"account_id": ACME, "binding": f"call.*.{call}"}}))
        reply = await sock.replied
        assert reply["status"] == "success", reply
        socks.append(sock)
    pipe.send(("ready", 0))
    await finished.wait()
    pipe.send(("reads", reads))
    for sock in socks:
        assert sock.transport is not None
        sock.transport.close()


def _client_main(port: int, token: str, call: str, sockets: int, events: int,
                 pipe: Connection) -> None:
    asyncio.run(_clients(port, token, call, sockets, events, pipe))


# ----------------------------------------------------------------------- the gateway side
async def _run(events: int, sockets: int) -> None:
    settings = load_demo()
    kazoo = settings.dialects["kazoo"]
    settings = dataclasses.replace(settings, dialects={"kazoo": dataclasses.replace(
        kazoo, options=dataclasses.replace(kazoo.options, socket_listen=("127.0.0.1", 0),
                                           socket_queue=max(1000, events)))})
    settings, switches = await start_switches(settings, traffic=False, only=("fs1",))
    settings = dataclasses.replace(settings,
                                   gateway=dataclasses.replace(settings.gateway, port=0))
    gw = Gateway.build(settings)
    app = build_app(gw)
    [listener] = app[EXTRA_LISTENERS]
    runners = [web.AppRunner(app, access_log=None), web.AppRunner(listener.app,
                                                                   access_log=None)]
    ports = []
    for runner in runners:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports.append(runner.addresses[0][1])
    try:
        if not await wait_connected(gw, 10.0):
            raise RuntimeError("the backend did not connect")
        sim = switches.sims["fs1"]
        a = await sim.place_call("201", "202", answer_after=0.01)
        while not ((ch := gw.store.get(a)) and ch.bridged):  # noqa: ASYNC110 - a bench
            await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as session:
            cred = hashlib.md5(b"alice:demo-alice").hexdigest()
            async with session.put(f"http://127.0.0.1:{ports[0]}/v2/user_auth", json={
                    "data": {"credentials": cred, "account_name": "Acme"}}) as resp:
                token = (await resp.json())["auth_token"]

        # the same path with no sockets: switch write -> change on a store subscription
        sub = gw.store.subscribe()
        bare: list[float] = []
        for _ in range(events):
            held = gw.store.get(a).held  # type: ignore[union-attr]
            t0 = time.perf_counter()
            await (sim.unhold(a) if held else sim.hold(a))
            while True:
                change = await sub.get()
                if (change.kind is ChangeKind.UPDATED and change.channel is not None
                        and change.channel.id == a and "held" in change.before):
                    break
            bare.append(time.perf_counter() - t0)
        sub.close()

        # with sockets
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_client_main, args=(
            ports[1], token, a, sockets, events, theirs))
        proc.start()
        loop = asyncio.get_running_loop()
        kind, _ = await loop.run_in_executor(None, ours.recv)
        assert kind == "ready"
        sent: list[float] = []
        for k in range(events):
            held = gw.store.get(a).held  # type: ignore[union-attr]
            sent.append(time.perf_counter())
            await (sim.unhold(a) if held else sim.hold(a))
            kind, got = await loop.run_in_executor(None, ours.recv)
            assert (kind, got) == ("ack", k), (kind, got)
        kind, reads = await loop.run_in_executor(None, ours.recv)
        await loop.run_in_executor(None, proc.join)  # the loop keeps serving the closes
        latencies = [r[k] - sent[k] for r in reads for k in range(events)]
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        await switches.stop()

    def row(name: str, values: list[float]) -> str:
        return (f"{name:<34} p50 {_pct(values, 50) * 1000:7.3f} ms   "
                f"p99 {_pct(values, 99) * 1000:7.3f} ms   mean "
                f"{statistics.fmean(values) * 1000:7.3f} ms   n={len(values)}")

    print(f"{events} hold/unhold events on one call, FreeSWITCH simulator -> gateway")
    print(row("no sockets (store subscription)", bare))
    print(row(f"{sockets} blackhole sockets (frame read)", latencies))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--sockets", type=int, default=100)
    args = parser.parse_args(argv)
    asyncio.run(_run(args.events, args.sockets))


if __name__ == "__main__":
    main()

