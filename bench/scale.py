"""Scale-out over Redis: read capacity with one instance and with two, and how soon a switch
event is visible on the instance that does not ingest it.

    python -m bench.scale [--seconds 5] [--clients 4] [--calls 200] [--redis-url URL]

Starts a redis-server on a free port (unless --redis-url names one), a simulated FreeSWITCH
with --calls bridged calls, and gateway processes with `redis_url`. Reads: an account's Kazoo
channel list requested by --clients client processes for --seconds, against one instance, then
round robin over two; printed side by side. Delay: the ingesting instance in this process, the
other in a process of its own; for each new call, the time from the switch sending its events
to the channel being in the store of the instance that does not hold the lease (p50/p99;
target p99 <= 20 ms on loopback), beside the same for the ingesting instance.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import multiprocessing
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from multiprocessing.synchronize import Event as EventLike

import aiohttp
from aiohttp import web

from gateway.app import SERVER_LIMITS, build_app, wait_connected
from gateway.config import Settings
from gateway.context import Gateway
from gateway.demo import load_demo, start_switches

ACME = "a0000000000000000000000000000003"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def redis_server(url: str | None) -> AsyncIterator[str]:
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found (Debian: apt-get install -y redis-server), "
                 "or pass --redis-url")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="callgate-bench-redis-")
    proc = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(10):
            while True:
                with contextlib.suppress(OSError):
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                await asyncio.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        await proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def scaled(settings: Settings, url: str, port: int = 0) -> Settings:
    return dataclasses.replace(settings, gateway=dataclasses.replace(
        settings.gateway, port=port, redis_url=url, redis_lease_ttl=2.0))


# ------------------------------------------------------------------ gateway processes
def _serve(fs_port: int, url: str, port: int) -> None:
    async def main() -> None:
        settings = load_demo()
        backends = tuple(dataclasses.replace(b, host="127.0.0.1", port=fs_port)
                         for b in settings.backends if b.name == "fs1")
        settings = scaled(dataclasses.replace(settings, backends=backends), url, port)
        gw = Gateway.build(settings)
        runner = web.AppRunner(build_app(gw), access_log=None, **SERVER_LIMITS)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


async def _token(base: str) -> str:
    creds = hashlib.md5(b"alice:demo-alice").hexdigest()
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with s.put(f"{base}/v2/user_auth", json={
                        "data": {"credentials": creds, "account_name": "Acme"}}) as r:
                    if r.status == 201:
                        return str((await r.json())["auth_token"])
            await asyncio.sleep(0.1)
    raise RuntimeError(f"no token from {base}")


def _client(bases: list[str], token: str, seconds: float, out: multiprocessing.Queue) -> None:
    async def main() -> int:
        done = 0
        deadline = time.monotonic() + seconds
        headers = {"X-Auth-Token": token}
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as s:
            async def worker(i: int) -> None:
                nonlocal done
                n = i
                while time.monotonic() < deadline:
                    base = bases[n % len(bases)]  # round robin
                    n += 1
                    async with s.get(f"{base}/v2/accounts/{ACME}/channels",
                                     headers=headers) as r:
                        await r.read()
                        if r.status == 200:
                            done += 1
            await asyncio.gather(*(worker(i) for i in range(16)))
        return done

    out.put(asyncio.run(main()))


def reads_per_second(bases: list[str], token: str, clients: int, seconds: float) -> float:
    out: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_client, args=(bases, token, seconds, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


# ------------------------------------------------------------------ delay
def _observer(fs_port: int, url: str, out: multiprocessing.Queue, ready: EventLike,
              stop: EventLike) -> None:
    """The non-holding instance, in a process of its own as in production: reports when each
    new channel lands in its store (perf_counter is the system's monotonic clock on Linux,
    the same in every process)."""
    async def main() -> None:
        settings = load_demo()
        backends = tuple(dataclasses.replace(b, host="127.0.0.1", port=fs_port)
                         for b in settings.backends if b.name == "fs1")
        gw = Gateway.build(scaled(dataclasses.replace(settings, backends=backends), url))
        runner = web.AppRunner(build_app(gw), access_log=None)
        await runner.setup()
        await wait_connected(gw, 15.0)
        sub = gw.store.subscribe()
        ready.set()
        while not stop.is_set():
            try:
                change = await asyncio.wait_for(sub.get(), 0.5)
            except TimeoutError:
                continue
            if change.kind == "added" and change.channel is not None:
                out.put((change.channel.id, time.perf_counter()))
        await runner.cleanup()

    asyncio.run(main())


async def delay(url: str, calls: int) -> tuple[list[float], list[float]]:
    """(on the holder, on the non-holder) seconds from placing a call to seeing it."""
    settings, sw = await start_switches(load_demo(), traffic=False, only=("fs1",))
    fs = sw.sims["fs1"]
    gw = Gateway.build(scaled(settings, url))
    runner = web.AppRunner(build_app(gw), access_log=None)
    ctx = multiprocessing.get_context("spawn")
    out, ready, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    observer = ctx.Process(target=_observer, args=(fs.port, url, out, ready, stop), daemon=True)
    try:
        await runner.setup()
        await wait_connected(gw, 15.0)  # this instance holds the lease: it started first
        observer.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, ready.wait, 60)
        sub = gw.store.subscribe()
        here: list[float] = []
        started: dict[str, float] = {}
        for i in range(calls):
            t0 = time.perf_counter()
            uid = await fs.place_call("201", "202", realm="acme.example.com",
                                      answer_after=None, bridge=False)
            started[uid] = t0
            while True:
                change = await sub.get()
                if change.channel is not None and change.channel.id == uid:
                    here.append(time.perf_counter() - t0)
                    break
            await fs.hangup(uid)
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        there: list[float] = []
        deadline = time.monotonic() + 10
        while len(there) < len(started) and time.monotonic() < deadline:
            try:
                uid, seen = await loop.run_in_executor(None, out.get, True, 1.0)
            except Exception:
                continue
            if uid in started:
                there.append(seen - started[uid])
        sub.close()
        return here, there
    finally:
        stop.set()
        observer.join(5)
        if observer.is_alive():
            observer.kill()
        await runner.cleanup()
        await sw.stop()


async def main_async(args: argparse.Namespace) -> None:
    async with redis_server(args.redis_url) as url:
        # reads: gateway processes over one simulated switch with a steady table
        _, sw = await start_switches(load_demo(), traffic=False, only=("fs1",))
        fs = sw.sims["fs1"]
        for _ in range(args.calls // 2):
            await fs.place_call("201", "202", realm="acme.example.com", answer_after=None)
        ports = [free_port(), free_port()]
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_serve, args=(fs.port, url, p), daemon=True) for p in ports]
        for p in procs:
            p.start()
        try:
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            token = await _token(bases[0])
            await _token(bases[1])
            await asyncio.sleep(1.0)  # both have the table
            loop = asyncio.get_running_loop()
            one = await loop.run_in_executor(None, reads_per_second, bases[:1], token,
                                             args.clients, args.seconds)
            two = await loop.run_in_executor(None, reads_per_second, bases, token,
                                             args.clients, args.seconds)
        finally:
            for p in procs:
                p.kill()
            await sw.stop()
        print(f"account channel list ({args.calls} legs on the switch), "
              f"{args.clients} client processes x 16 connections, {args.seconds:g}s each")
        print(f"  {'instances':<12}{'reads/s':>10}")
        print(f"  {'1':<12}{one:>10.0f}")
        print(f"  {'2 (rr)':<12}{two:>10.0f}   x{two / one if one else 0:.2f}")

        on_holder, on_other = await delay(url, args.delay_calls)
        for label, samples in (("the ingesting instance (no Redis in the path)", on_holder),
                               ("the non-holding instance (over Redis)", on_other)):
            ms = sorted(s * 1000 for s in samples)
            p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
            print(f"switch event -> visible on {label}, {len(ms)} calls: "
                  f"p50 {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms")
        print("target: p99 <= 20 ms on the non-holding instance, loopback")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--delay-calls", type=int, default=500)
    ap.add_argument("--redis-url", default=None)
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
