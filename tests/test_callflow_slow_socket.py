"""A notification socket that never reads: the gateway closes it with 1013 instead of queueing
without bound, and the other sockets keep receiving every event."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

from tests.harness import live_gateway

CAROL = "token-carol"
RECEPTION = "37052000000"  # Acme's DID


def calls_needed() -> int:
    """Enough calls (four events of ~400 bytes each) to overflow what the kernel may buffer
    towards the stalled client (its send buffer grows up to tcp_wmem's maximum), aiohttp's
    64 KiB write buffer and the socket's 512-event queue."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem_max = 4 << 20
    return max(1000, (wmem_max + (256 << 10)) // (4 * 350) + 200)


async def stalled_websocket(host: str, port: int, path: str) -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter]:
    """A websocket client with tiny buffers that completes the handshake and then reads
    nothing, so the gateway's writes back up as they would to a frozen desk."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def read_frames(reader: asyncio.StreamReader) -> tuple[list[dict[str, Any]], int | None]:
    """Server frames until the close frame: the JSON messages and the close code."""
    messages: list[dict[str, Any]] = []
    while True:
        b0, b1 = await reader.readexactly(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        opcode = b0 & 0x0F
        if opcode == 0x8:
            return messages, struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        if opcode == 0x1:
            messages.append(json.loads(payload))


async def test_a_socket_that_never_reads_is_closed_with_1013_and_others_keep_receiving():
    async with live_gateway() as live:
        url = live.client.make_url("/")
        reader, writer = await stalled_websocket(url.host, url.port,
                                                 f"/notifications?token={CAROL}")
        healthy = await live.client.ws_connect(f"/notifications?token={CAROL}")
        received: list[dict[str, Any]] = []

        async def drain() -> None:
            async for msg in healthy:
                received.append(json.loads(msg.data))

        reading = asyncio.create_task(drain())
        calls = [await live.fs.place_call("+37060000001", RECEPTION, bridge=False,
                                          answer_after=0.0) for _ in range(calls_needed())]
        await live.until(lambda: all((ch := live.gw.store.get(a)) is not None and ch.parked
                                     for a in calls), wait=60)
        for a in calls:
            await live.fs.hangup(a)
        await live.until(lambda: all(live.gw.store.get(a) is None for a in calls), wait=60)

        # the healthy socket heard every call arrive and leave, in order, after the other
        # socket was dropped too
        def hung_up() -> set[str]:
            return {m["notification"]["call"]["id"] for m in received
                    if m["notification"]["event"] == "call_hangup"}

        await live.until(lambda: hung_up() == set(calls), wait=60)
        offers = [m["notification"]["call"]["id"] for m in received
                  if m["notification"]["event"] == "call_offer"]
        assert offers == calls

        # the frozen desk now reads what had reached it: a truncated stream, then 1013
        async with asyncio.timeout(15):
            messages, code = await read_frames(reader)
        assert code == 1013
        assert 0 < len(messages) < len(received)
        assert [m["notification"] for m in messages] == \
            [m["notification"] for m in received[:len(messages)]]

        # and a new socket (the desk reconnecting) is served again
        again = await live.client.ws_connect(f"/notifications?token={CAROL}")
        b = await live.fs.place_call("+37060000001", RECEPTION, bridge=False, answer_after=0.0)
        msg = await again.receive_json(timeout=5)
        assert msg["notification"] == {"event": "call_offer",
                                       "call": msg["notification"]["call"]}
        assert msg["notification"]["call"]["id"] == b
        writer.close()
        await again.close()
        await healthy.close()
        reading.cancel()
