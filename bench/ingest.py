"""How many FreeSWITCH events per second the backend ingests from a socket (frame parse, json
decode, mapping and store update), beside two floors: bare `json.loads` and bare `orjson.loads`
of the same event bodies, measured in the same run.

    python -m bench.ingest [--calls 3000] [--traffic tests/fixtures/freeswitch]

1. The simulated FreeSWITCH emits `--calls` complete bridged calls (CREATE ... DESTROY on both
   legs) to a recording client subscribed exactly as the backend subscribes (`event json` with
   the mapping's event list, so the simulator filters as the switch does); the raw bytes are kept.
2. A separate process replays those bytes on a loopback socket after an ESL handshake, so the
   switch's own cost is not charged to the gateway; the real `FreeSwitchBackend` connects,
   syncs, and ingests the stream into a real `ChannelStore` with the demo directory's
   attribution and list watches armed (gateway/watch.py), as a gateway whose lists are polled
   has them. Time runs from the go signal to the last event applied.
3. The floors: `json.loads` and `orjson.loads` of every event body of the same stream, each in a
   tight loop, best of 5.
4. What the subscription saves: the recorded FreeSWITCH traffic under `--traffic` was captured
   with `event ... ALL`; the events (and bytes) in it that the backend's subscription would not
   receive are counted.
Target: ingest >= 60 % of the orjson floor's events/s.
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
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

import orjson

from backends.esl_protocol import FrameParser, decode_event, decode_json
from backends.freeswitch import FreeSwitchBackend
from backends.freeswitch_settings import FreeSwitchOptions
from backends.fs_mapping import EVENTS, FsMapper
from gateway.config import BackendSettings
from gateway.demo import load_demo
from gateway.directory import Directory
from gateway.store import ChannelStore
from gateway.watch import Watch
from simswitch.fs_server import FreeSwitchSimulator

EXTENSIONS = {"201": "acme.example.com", "202": "acme.example.com"}
TRAFFIC = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "freeswitch"


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
    writer.write(f"event json {' '.join(EVENTS)}\n\n".encode())  # as the backend subscribes
    await frames(1)
    parser = FrameParser()
    end: list[bytes] = []

    async def drain() -> None:
        """Keep every byte up to the reply of the `api` sent after the blast: the switch
        answers in order, so the events before it are the whole stream."""
        while not end:
            data = await reader.read(1 << 20)
            if not data:
                raise ConnectionResetError("the simulator hung up")
            buf.extend(data)
            end.extend(m.body for m in parser.feed(data) if m.content_type == "api/response")

    task = asyncio.create_task(drain())
    await sim.blast(calls)
    writer.write(b"api version\n\n")
    await asyncio.wait_for(task, 60)
    tail = b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(end[0]), end[0])
    assert buf.endswith(tail), "the api reply is not the last frame"
    writer.close()
    await sim.stop()
    return bytes(buf[: -len(tail)])


def _replay_server(port_out: Connection, go: MpEvent, stream: bytes) -> None:
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


def _demo_store(watched: bool = False) -> ChannelStore:
    """The demo directory's store; `watched`: with a list watch armed on every account, as in
    a gateway whose lists are polled, so each change also asks the store's watch registry."""
    directory = Directory(load_demo())
    store = ChannelStore(directory.attribute)
    directory.store = store
    if watched:
        store.watch(Watch(), buckets=[("account_id", a) for a in directory.accounts])
    return store


def _handled(bodies: list[bytes]) -> int:
    """How many events the mapping counts as handled after the whole stream (a dry run), so the
    timed run knows its end without a hook on every event."""
    mapper = FsMapper(_demo_store(), "fs1")
    for body in bodies:
        mapper.handle(decode_json(body))
    return mapper.events


async def _ingest(stream: bytes, handled: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, channels left) for one ingest of `stream`."""
    store = _demo_store(watched=True)
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
    await backend.start()
    await asyncio.wait_for(backend.ready.wait(), 10)
    session, mapper = backend._esl, backend.mapper
    assert session is not None and mapper.events == 0
    received = session._received

    def counting(nbytes: int) -> None:  # once per read: every frame in it is applied by now
        received(nbytes)
        if mapper.events >= handled:
            done.set()

    session._received = counting  # type: ignore[method-assign]
    t0, c0 = time.perf_counter(), time.process_time()
    go.set()
    await asyncio.wait_for(done.wait(), 120)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    left = len(store)
    await backend.stop()
    proc.kill()
    return elapsed, cpu, left


def _floor(parse: Callable[[bytes], object], bodies: list[bytes]) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of 5 passes of `parse` over every body."""
    wall = cpu = float("inf")
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        for body in bodies:
            parse(body)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


def subscription_savings(traffic: Path) -> tuple[int, int, int, int, Counter[str]] | None:
    """In recorded traffic captured with `event ... ALL`: (events, events not subscribed,
    body bytes, body bytes not subscribed, count per unsubscribed name); None when no file."""
    files = sorted(traffic.glob("*.server_raw.txt"))
    if not files:
        return None
    wanted = set(EVENTS)
    events = dropped = size = dropped_size = 0
    names: Counter[str] = Counter()
    for path in files:
        for msg in FrameParser().feed(path.read_bytes()):
            ev = decode_event(msg)
            if ev is None:
                continue
            events += 1
            size += len(msg.body)
            name = ev.get("Event-Name", "")
            if name not in wanted:
                dropped += 1
                dropped_size += len(msg.body)
                names[name if name != "CUSTOM" else f"CUSTOM {ev.get('Event-Subclass', '')}"] += 1
    return events, dropped, size, dropped_size, names


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--traffic", type=Path, default=TRAFFIC,
                    help="recorded FreeSWITCH traffic (*.server_raw.txt, event ... ALL)")
    args = ap.parse_args(argv)

    stream = asyncio.run(_record(args.calls))
    bodies = [m.body for m in FrameParser().feed(stream) if m.content_type == "text/event-json"]
    n = len(bodies)
    handled = _handled(bodies)

    # three rounds, each measuring the floors right before the ingest, so that the ratio of
    # one round is taken on the same machine load; the best round is reported
    rounds = []
    for _ in range(3):
        json_t, orjson_t = _floor(json.loads, bodies), _floor(orjson.loads, bodies)
        rounds.append((json_t, orjson_t, asyncio.run(_ingest(stream, handled))))
    json_t, orjson_t, (wall, _, left) = max(rounds, key=lambda r: r[1][0] / r[2][0])
    cpu_json, cpu_orjson, (_, cpu, _) = max(rounds, key=lambda r: r[1][1] / r[2][1])
    json_rate, orjson_rate, ingest_rate = n / json_t[0], n / orjson_t[0], n / wall
    print(f"events in stream         : {n:,} ({args.calls:,} bridged calls, "
          f"{len(stream) / n:,.0f} bytes/event avg, {len(EVENTS)} subscribed event types)")
    print(f"floor: bare json.loads   : {json_rate:12,.0f} events/s")
    print(f"floor: bare orjson.loads : {orjson_rate:12,.0f} events/s")
    print(f"backend ingest (socket)  : {ingest_rate:12,.0f} events/s   "
          f"= {ingest_rate / orjson_rate:.0%} of orjson.loads (target >= 60 %), "
          f"{ingest_rate / json_rate:.0%} of json.loads")
    print(f"  on CPU time            : {n / cpu:12,.0f} events/s   "
          f"= {cpu_orjson[1] / cpu:.0%} of orjson.loads, {cpu_json[1] / cpu:.0%} of json.loads "
          f"(the gateway process's own CPU, so load from elsewhere on the machine counts less)")
    print(f"channels left after run  : {left} (every call ended: expect 0)")
    saved = subscription_savings(args.traffic)
    if saved is None:
        print(f"subscription savings     : no recorded traffic under {args.traffic}")
        return
    events, dropped, size, dropped_size, names = saved
    top = ", ".join(f"{name} {count}" for name, count in names.most_common(6))
    print(f"subscription savings     : of {events:,} events a real FreeSWITCH 1.11 sent with "
          f"`event ... ALL` (recorded traffic), {dropped:,} = {dropped / events:.0%} of the "
          f"events and {dropped_size / size:.0%} of the event bytes are no longer sent "
          f"(not read, not parsed): {top}")


if __name__ == "__main__":
    main()
