"""How many FreeSWITCH events per second the backend ingests from a socket (frame parse, json
decode, mapping and store update), beside bare `json.loads` of the same event bodies.

    python -m bench.ingest [--calls 3000]

1. The simulated FreeSWITCH emits `--calls` complete bridged calls (CREATE ... DESTROY on both
   legs) to a recording client subscribed with `event json ALL`; the raw bytes are kept.
2. A separate process replays those bytes on a loopback socket after an ESL handshake, so the
   switch's own cost is not charged to the gateway; the real `FreeSwitchBackend` connects,
   syncs, and ingests the stream into a real `ChannelStore` with the demo directory's
   attribution. Time runs from the go signal to the last event applied.
3. The floor: `json.loads` of every event body of the same stream, in a tight loop.
Target: ingest >= 50 % of the floor's events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing as mp
import socket
import threading
import time

from backends.esl_protocol import FrameParser
from backends.freeswitch import FreeSwitchBackend
from backends.freeswitch_settings import FreeSwitchOptions
from gateway.config import BackendSettings
from gateway.demo import load_demo
from gateway.directory import Directory
from gateway.store import ChannelStore
from simswitch.fs_server import FreeSwitchSimulator

EXTENSIONS = {"201": "acme.example.com", "202": "acme.example.com"}


async def _record(calls: int) -> bytes:
    sim = FreeSwitchSimulator(password="ClueCon", extensions=EXTENSIONS, gateways=["carrier1"])
    await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    buf = bytearray()
    parser = FrameParser()

    async def frames(n: int) -> None:
        got = 0
        while got < n:
            got += len(parser.feed(await reader.read(65536)))

    await frames(1)  # auth/request
    writer.write(b"auth ClueCon\n\n")
    await frames(1)
    writer.write(b"event json ALL\n\n")
    await frames(1)
    parser = FrameParser()
    count = 0
    sent: int | None = None

    async def drain() -> None:
        nonlocal count
        while sent is None or count < sent:
            data = await reader.read(1 << 20)
            buf.extend(data)
            count += sum(1 for m in parser.feed(data) if m.content_type == "text/event-json")
            if sent is not None and count >= sent:
                break

    task = asyncio.create_task(drain())
    sent = await sim.blast(calls)
    await asyncio.wait_for(task, 60)
    writer.close()
    await sim.stop()
    return bytes(buf)


def _replay_server(port_out: mp.connection.Connection, go: mp.Event, stream: bytes) -> None:
    """Child process: speak just enough ESL, then pour the recorded stream out.

    Commands are answered by a thread while the main thread blocks on the go signal, so the
    stream starts the moment it is given (no polling delay charged to ingest time); one lock
    keeps a command reply from landing inside the stream."""
    srv = socket.create_server(("127.0.0.1", 0))
    port_out.send(srv.getsockname()[1])
    conn, _ = srv.accept()
    lock = threading.Lock()

    def send(data: bytes) -> None:
        with lock:
            conn.sendall(data)

    def answer_commands() -> None:
        pending = b""
        while data := conn.recv(65536):
            pending += data
            while b"\n\n" in pending:
                cmd, pending = pending.split(b"\n\n", 1)
                line = cmd.split(b"\n", 1)[0].decode()
                if line.startswith("api "):
                    body = b'{"row_count": 0}\n' if "show channels" in line else b"+OK\n"
                    send(b"Content-Type: api/response\nContent-Length: %d\n\n%s"
                         % (len(body), body))
                elif line.startswith("auth "):
                    send(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
                else:
                    send(b"Content-Type: command/reply\nReply-Text: +OK\n\n")

    send(b"Content-Type: auth/request\n\n")
    replies = threading.Thread(target=answer_commands, daemon=True)
    replies.start()
    go.wait()
    send(stream)
    replies.join()  # until the backend hangs up


async def _ingest(stream: bytes, events: int) -> tuple[float, int]:
    settings = load_demo()
    directory = Directory(settings)
    store = ChannelStore(directory.attribute)
    directory.store = store
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    go = ctx.Event()
    proc = ctx.Process(target=_replay_server, args=(child, go, stream), daemon=True)
    proc.start()
    port = parent.recv()
    b = BackendSettings(name="fs1", type="freeswitch", port=port,
                        options=FreeSwitchOptions(password="ClueCon"),
                        ping_interval=60.0)
    backend = FreeSwitchBackend(dataclasses.replace(b), store)
    done = asyncio.Event()
    seen = 0
    handle = backend.mapper.handle

    def counting(ev: dict) -> None:
        nonlocal seen
        handle(ev)
        seen += 1
        if seen == events:
            done.set()

    backend.mapper.handle = counting  # type: ignore[method-assign]
    await backend.start()
    await asyncio.wait_for(backend.ready.wait(), 10)
    t0 = time.perf_counter()
    go.set()
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - t0
    left = len(store)
    await backend.stop()
    proc.kill()
    return elapsed, left


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args(argv)

    stream = asyncio.run(_record(args.calls))
    bodies = [m.body for m in FrameParser().feed(stream) if m.content_type == "text/event-json"]
    n = len(bodies)

    best_floor = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for body in bodies:
            json.loads(body)
        best_floor = min(best_floor, time.perf_counter() - t0)

    runs = [asyncio.run(_ingest(stream, n)) for _ in range(3)]
    best_ingest = min(r[0] for r in runs)
    floor_rate, ingest_rate = n / best_floor, n / best_ingest
    print(f"events in stream         : {n:,} ({args.calls:,} bridged calls, "
          f"{len(stream) / n:,.0f} bytes/event avg)")
    print(f"bare json.loads          : {floor_rate:12,.0f} events/s")
    print(f"backend ingest (socket)  : {ingest_rate:12,.0f} events/s   "
          f"= {ingest_rate / floor_rate:.0%} of bare json.loads (target >= 50 %)")
    print(f"channels left after run  : {runs[0][1]} (every call ended: expect 0)")


if __name__ == "__main__":
    main()
