"""Each dialect's list endpoint over HTTP, beside a bare aiohttp handler in the same run.

    python -m bench.http [--channels 100000] [--requests 2000] [--concurrency 8]
    python -m bench.http --channels 1000,100000    # the same lists from two table sizes

A server process holds the demo directory and a store of `--channels` channels, 100 of them in
Acme's account (50 bridged calls), and serves every dialect plus a bare aiohttp route,
`/bare?size=N`, that returns a prebuilt body of N bytes (built once per size). The client (this
process) measures each dialect's response size first and sets the bare route beside it to that
size, so each floor moves the same bytes as the dialect it is compared with; it sends the same
number of requests to each. The machine's load drifts, so the floor and the dialect take turns
of 100 requests until each has had `--requests`; three such passes, and the best pass's
requests/s and ratio are printed. Several `--channels` start one server each, and all of them
(floors and dialect) take turns in the same passes, so their rates compare directly.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import random
import socket
import time
import uuid

import aiohttp
from aiohttp import web

from gateway.app import build_app
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import Channel, Initial, State

ACME = "a0000000000000000000000000000003"


def _fill(gw: Gateway, total: int) -> None:
    now = time.time()
    rng = random.Random(total)
    for i in range(50):  # 50 bridged calls of Acme's phones
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        # each call at its own phase of the second, as real calls are: their durations tick
        # at 50 different instants of each second, not all at once
        start = now - i - rng.random()
        answered = start + 2 + rng.random()
        for leg, peer, user, direction in ((a, b, "201", "inbound"), (b, a, "202", "outbound")):
            gw.store.add(Channel(
                id=leg, node="fs1", name=f"sofia/internal/{user}@acme.example.com",
                direction=direction, state=State.ANSWERED, answered=True, created=start,
                answered_at=answered, caller_id_number="201", caller_id_name="Alice",
                destination="202", other_leg=peer, call_id=a, context="default",
                dialplan="XML", read_codec="PCMU", read_rate="8000", write_codec="PCMU",
                write_rate="8000", presence_id=f"{user}@acme.example.com",
                switch_state="CS_EXCHANGE_MEDIA", callstate="ACTIVE", username=user,
                realm="acme.example.com", hostname="fs1",
                initial=Initial("Alice", "201", "10.0.0.5", "202", "XML", "default")))
    for i in range(total - 100):  # everybody else: other tenants' traffic
        gw.store.add(Channel(id=str(uuid.uuid4()), node="fs1",
                             name=f"sofia/external/+1555{i:07d}@203.0.113.9", created=now,
                             caller_id_number=f"+1555{i:07d}", destination="5000"))


def _serve(port_out: mp.connection.Connection, total: int) -> None:
    async def main() -> None:
        gw = Gateway.build(load_demo(), backends=False)
        _fill(gw, total)
        app = build_app(gw, manage_backends=False)
        bodies: dict[int, bytes] = {}

        async def bare(request: web.Request) -> web.Response:
            size = int(request.query.get("size", "0"))
            body = bodies.get(size)
            if body is None:  # built once per size, so the floor serves a prebuilt body
                body = bodies[size] = b'{"data": "' + b"x" * max(0, size - 12) + b'"}'
            return web.Response(body=body, content_type="application/json")

        app.router.add_get("/bare", bare)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        port_out.send(sock.getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def _run(session: aiohttp.ClientSession, method: str, url: str, n: int, conc: int,
               **kw: object) -> tuple[int, float, int]:
    """(requests answered, seconds spent, size of the last body) for `n` requests, `conc` at
    a time."""
    size = 0

    async def worker(count: int) -> None:
        nonlocal size
        for _ in range(count):
            async with session.request(method, url, **kw) as r:  # type: ignore[arg-type]
                body = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{url}: HTTP {r.status} {body[:200]!r}")
                size = len(body)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(n // conc) for _ in range(conc)))
    return n // conc * conc, time.perf_counter() - t0, size


Target = tuple[str, str, dict]  # method, url, request keywords


def server_cpu(pid: int) -> float:
    """CPU seconds the server process `pid` has run so far, to the nanosecond (Linux
    /proc/<pid>/schedstat; 0.0 where there is none, and the CPU column then reads 0)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0

#: Requests sent to one target before the next takes its turn.
CHUNK = 100


async def _interleaved(session: aiohttp.ClientSession, targets: list[Target], pids: list[int],
                       n: int, conc: int) -> list[tuple[float, int, float]]:
    """(requests/s, body size, server CPU seconds per request) of each target over `n`
    requests, sent `CHUNK` at a time to each in turn, so a change in the machine's load falls
    on all of them alike. `pids`: each target's server process."""
    done = [0] * len(targets)
    spent = [0.0] * len(targets)
    cpu = [0.0] * len(targets)
    sizes = [0] * len(targets)
    sent = 0
    while sent < n:
        k = max(conc, min(CHUNK, n - sent))
        for i, (method, url, kw) in enumerate(targets):
            c0 = server_cpu(pids[i])
            count, seconds, sizes[i] = await _run(session, method, url, k, conc, **kw)
            cpu[i] += server_cpu(pids[i]) - c0
            done[i] += count
            spent[i] += seconds
        sent += k
    return [(d / t, size, c / d)
            for d, t, size, c in zip(done, spent, sizes, cpu, strict=True)]


async def _targets(session: aiohttp.ClientSession, base: str) -> list[tuple[str, Target]]:
    cred = hashlib.md5(b"alice:demo-alice").hexdigest()
    async with session.put(f"{base}/v2/user_auth", json={"data": {
            "credentials": cred, "account_name": "Acme"}}) as r:
        token = (await r.json())["auth_token"]
    async with session.post(f"{base}/login", json={"username": "alice@acme.example.com",
                                                   "password": "demo-alice"}) as r:
        w = await r.json()
    mor_hash = hashlib.sha1(b"alice456789").hexdigest()
    return [
        ("kazoo  GET /v2/accounts/{A}/channels", ("GET",
         f"{base}/v2/accounts/{ACME}/channels", {"headers": {"X-Auth-Token": token}})),
        ("webitel GET /api/v2/channels", ("GET", f"{base}/api/v2/channels",
         {"headers": {"X-Access-Token": w["token"], "X-Key": w["key"]}})),
        ("mor    POST active_calls_get", ("POST",
         f"{base}/billing/api/active_calls_get?u=alice&hash={mor_hash}", {})),
        ("callflow GET /call/list", ("GET", f"{base}/call/list?token=token-alice", {})),
    ]


async def _client(ports: list[int], pids: list[int], sizes: list[int], n: int,
                  conc: int) -> None:
    async with aiohttp.ClientSession() as s:
        per_size = [await _targets(s, f"http://127.0.0.1:{port}") for port in ports]
        for port in ports:  # warm up
            await _run(s, "GET", f"http://127.0.0.1:{port}/bare?size=1000", 200, conc)
        for which in range(len(per_size[0])):
            label = per_size[0][which][0]
            # each store's dialect beside a bare body as large as its own answer, all in
            # turns; three passes, the one with the best ratios is printed
            targets: list[Target] = []
            target_pids: list[int] = []
            for port, pid, named in zip(ports, pids, per_size, strict=True):
                own = named[which][1]
                _, _, own_size = await _run(s, own[0], own[1], 50, conc, **own[2])
                bare_url = f"http://127.0.0.1:{port}/bare?size={own_size}"
                await _run(s, "GET", bare_url, 50, conc)  # builds and caches that body
                targets += [("GET", bare_url, {}), own]
                target_pids += [pid, pid]
            passes = []
            for _ in range(3):
                got = await _interleaved(s, targets, target_pids, n, conc)
                ratios = [got[i + 1][0] / got[i][0] for i in range(0, len(got), 2)]
                passes.append((min(ratios), got))
            got = max(passes, key=lambda p: p[0])[1]
            for j, channels in enumerate(sizes):
                (bare, bare_size, bare_cpu), (rate, size, own_cpu) = got[2 * j], got[2 * j + 1]
                # a list's size moves by a few bytes as elapsed times gain digits
                assert abs(bare_size - size) <= size // 100, (bare_size, size)
                print(f"{label:38s} {channels:>7,} ch {rate:6,.0f} req/s {size:7,} B   "
                      f"bare beside it {bare:6,.0f} req/s  {rate / bare:4.0%} of bare; "
                      f"server CPU {own_cpu * 1e6:4.0f} us/request, bare "
                      f"{bare_cpu * 1e6:4.0f} us", flush=True)
            if len(sizes) > 1:
                rates = [got[2 * j + 1][0] for j in range(len(sizes))]
                floors = [got[2 * j][0] for j in range(len(sizes))]
                print(f"{'':38s} at {sizes[-1]:,} vs {sizes[0]:,} channels: "
                      f"{rates[-1] / rates[0]:.2f}x the requests/s "
                      f"(bare: {floors[-1] / floors[0]:.2f}x)", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--channels", default="100000",
                    help="channels in the store; several, comma-separated, start one server "
                         "each and are measured side by side")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.channels.split(",")]
    ctx = mp.get_context("fork")
    procs, ports = [], []
    for total in sizes:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, total), daemon=True)
        proc.start()
        procs.append(proc)
        ports.append(parent.recv())
    print(f"store: {' and '.join(f'{n:,}' for n in sizes)} channels, 100 in the listed "
          f"account; {args.requests:,} requests per endpoint and pass, {args.concurrency} at a "
          f"time, in turns of {CHUNK}")
    try:
        asyncio.run(_client(ports, [p.pid or 0 for p in procs], sizes, args.requests,
                            args.concurrency))
    finally:
        for proc in procs:
            proc.kill()


if __name__ == "__main__":
    main()
