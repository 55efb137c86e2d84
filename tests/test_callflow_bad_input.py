"""Hostile request shapes get call-flow-control's own status document (4xx) and leave no
traceback or ERROR line in the log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from tests.harness import dialect_client

CAROL = "token-carol"


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    async with dialect_client() as (_, c):
        yield c


def _clean(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text and CAROL not in caplog.text


async def test_deeply_nested_json_body(client: TestClient,
                                       caplog: pytest.LogCaptureFixture) -> None:
    body = "[" * 3000 + "]" * 3000
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        r = await client.post(f"/call/hangup?token={CAROL}", data=body,
                              headers={"Content-Type": content_type})
        assert r.status == 400, content_type
        assert await r.json() == {"status": "bad parameters",
                                  "description": "Invalid or no call ID supplied"}
    _clean(caplog)


async def test_malformed_multipart_body(client: TestClient,
                                        caplog: pytest.LogCaptureFixture) -> None:
    bodies = (b"--xyz\r\nContent-Disposition: form-data\r\n\r\nno end",
              b"not a multipart body at all",
              b"--xyz\r\nContent-Disposition: form-data; name=\"call_id\"\r\n"
              b"Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xff\xfe\r\n--xyz--\r\n")
    for body in bodies:
        r = await client.post(f"/call/hangup?token={CAROL}", data=body,
                              headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        assert r.status == 400, body
        assert await r.json() == {"status": "bad parameters",
                                  "description": "Malformed form body."}
    _clean(caplog)


async def test_well_formed_multipart_is_read_as_a_form(client: TestClient) -> None:
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"call_id\"\r\n\r\n"
            b"gone-1\r\n--xyz--\r\n")
    r = await client.post(f"/call/hangup?token={CAROL}", data=body,
                          headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert (r.status, await r.json()) == (404, {"status": "not found",
                                                "description": "gone-1 may already be hung up."})


async def test_hundred_kilobyte_url(client: TestClient,
                                    caplog: pytest.LogCaptureFixture) -> None:
    pad = "a" * 100_000
    for method, path in (("GET", "/call/list"), ("POST", "/call/pickup"), ("GET", "/peer"),
                         ("GET", "/notifications"), ("GET", "/call/a/b/c")):
        r = await client.request(method, f"{path}?token={CAROL}&pad={pad}",
                                 headers={"Origin": "https://app.test"})
        assert r.status == 414, path
        assert await r.json() == {"status": "bad parameters",
                                  "description": "Request URI too long."}
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.test"
    _clean(caplog)
