"""Each dialect's list endpoint over HTTP, beside a bare aiohttp handler in the same run.

    python -m bench.http [--channels 100000] [--requests 2000] [--concurrency 8]

A server process holds the demo directory and a store of `--channels` channels, 100 of them in
Acme's account (50 bridged calls), and serves every dialect plus a bare aiohttp route,
`/bare?size=N`, that returns a prebuilt body of N bytes (built once per size). The client (this
process) measures each dialect's response size first and sets the bare route beside it to that
size, so each floor moves the same bytes as the dialect it is compared with; it sends the same
number of requests to each. The floor drifts with the machine, so it is measured right
before each dialect, three times over, and the best pair's requests/s and ratio are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import socket
import time
import uuid

import aiohttp
from aiohttp import web

from gateway.app import build_app
from gateway.context import Gateway
from gateway.demo import load_demo
from gateway.model import Channel, State

ACME = "a0000000000000000000000000000003"


def _fill(gw: Gateway, total: int) -> None:
    now = time.time()
    for i in range(50):  # 50 bridged calls of Acme's phones
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        for leg, peer, user, direction in ((a, b, "201", "inbound"), (b, a, "202", "outbound")):
            gw.store.add(Channel(
                id=leg, node="fs1", name=f"sofia/internal/{user}@acme.example.com",
                direction=direction, state=State.ANSWERED, answered=True, created=now - i,
                answered_at=now - i + 2, caller_id_number="201", caller_id_name="Alice",
                destination="202", other_leg=peer, call_id=a, context="default",
                dialplan="XML", read_codec="PCMU", read_rate="8000", write_codec="PCMU",
                write_rate="8000", presence_id=f"{user}@acme.example.com",
                switch_state="CS_EXCHANGE_MEDIA", callstate="ACTIVE", username=user,
                realm="acme.example.com", hostname="fs1",
                initial=("Alice", "201", "10.0.0.5", "202", "XML", "default")))
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


async def _rate(session: aiohttp.ClientSession, method: str, url: str, n: int, conc: int,
                **kw: object) -> tuple[float, int]:
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
    return (n // conc * conc) / (time.perf_counter() - t0), size


async def _client(port: int, n: int, conc: int) -> None:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as s:
        cred = hashlib.md5(b"alice:demo-alice").hexdigest()
        async with s.put(f"{base}/v2/user_auth", json={"data": {
                "credentials": cred, "account_name": "Acme"}}) as r:
            token = (await r.json())["auth_token"]
        async with s.post(f"{base}/login", json={"username": "alice@acme.example.com",
                                                 "password": "demo-alice"}) as r:
            w = await r.json()
        mor_hash = hashlib.sha1(b"alice456789").hexdigest()
        targets = [
            ("kazoo  GET /v2/accounts/{A}/channels", "GET",
             f"{base}/v2/accounts/{ACME}/channels", {"headers": {"X-Auth-Token": token}}),
            ("webitel GET /api/v2/channels", "GET", f"{base}/api/v2/channels",
             {"headers": {"X-Access-Token": w["token"], "X-Key": w["key"]}}),
            ("mor    POST active_calls_get", "POST",
             f"{base}/billing/api/active_calls_get?u=alice&hash={mor_hash}", {}),
            ("callflow GET /call/list", "GET", f"{base}/call/list?token=token-alice", {}),
        ]
        await _rate(s, "GET", f"{base}/bare?size=1000", 200, conc)  # warm up
        # the floor drifts with the machine: measure it right beside each dialect, best of 3,
        # with a bare body as large as that dialect's own response
        for label, method, url, kw in targets:
            _, own_size = await _rate(s, method, url, 100, conc, **kw)
            bare_url = f"{base}/bare?size={own_size}"
            await _rate(s, "GET", bare_url, 50, conc)  # builds and caches that body
            pairs = []
            for _ in range(3):
                bare, bare_size = await _rate(s, "GET", bare_url, n, conc)
                assert bare_size == own_size, (bare_size, own_size)
                rate, size = await _rate(s, method, url, n, conc, **kw)
                pairs.append((rate / bare, rate, bare, size))
            ratio, rate, bare, size = max(pairs)
            print(f"{label:40s} {rate:7,.0f} req/s {size:7,} B   bare beside it "
                  f"{bare:7,.0f} req/s   {ratio:4.0%} of bare")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--channels", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args(argv)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, args.channels), daemon=True)
    proc.start()
    port = parent.recv()
    print(f"store: {args.channels:,} channels, 100 in the listed account; "
          f"{args.requests:,} requests per endpoint, {args.concurrency} at a time")
    try:
        asyncio.run(_client(port, args.requests, args.concurrency))
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
