"""What running schemathesis against the documents found, each pinned by a test over a real
socket: a request aiohttp cannot parse (schemathesis probes a NUL byte in a header) was logged
at ERROR with a stack trace; it is now one INFO line that quotes nothing of the request."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.harness import live_gateway

BAD_REQUESTS = (
    b"GET /v2/channels HTTP/1.1\r\nHost: x\r\nX-Probe: \x00\r\n\r\n",
    b"GET /call/list?token=token-carol HTTP/1.1\r\nHost: x\r\nX-Auth-Token: a\x01b\r\n\r\n",
    b"GET /billing/api/active_calls_get HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
)


@pytest.mark.parametrize("raw", BAD_REQUESTS)
async def test_an_unparseable_request_is_one_line_without_a_trace(
        raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    async with live_gateway() as live:
        server = live.client.server
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(raw)
        await writer.drain()
        answer = await reader.read()
        writer.close()
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "the refusal is logged"
    assert all(r.exc_info is None and r.levelno == logging.INFO for r in records)
    line = records[-1].getMessage()
    assert line.startswith("unparseable HTTP request from 127.0.0.1 refused with 400")
    assert "\x00" not in line and "X-" not in line and "token" not in line
