"""The request log: one INFO line per request (dialect, method, path, status, duration) with
every token, key, hash and password hidden, and none at all with `--no-access-log`."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateway.access_log import redact
from gateway.tokens import TokenSigner
from tests.demo_ids import ACME
from tests.harness import interrupt, live_gateway

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r'(\S+) (\S+) "(\S+) (\S+) HTTP/1\.1" (\d{3}) (\d+\.\d{6})s')
JWT = TokenSigner("a-secret-for-the-access-log-tests-only", "tests").issue({"sub": "alice"})


@pytest.mark.parametrize(("target", "logged"), [
    ("/call/list?token=s3cret", "/call/list?token=***"),
    ("/v2/accounts?auth_token=s3cret&paginate=false", "/v2/accounts?auth_token=***&paginate=false"),
    ("/api/v2/channels?access_token=A&x_key=B&domain=acme",
     "/api/v2/channels?access_token=***&x_key=***&domain=acme"),
    ("/billing/api/user_details_get?u=alice&p=pw&hash=abc123",
     "/billing/api/user_details_get?u=alice&p=***&hash=***"),
    ("/x?PASSWORD=pw&Key=k", "/x?PASSWORD=***&Key=***"),
    ("/x?%74oken=s3cret", "/x?%74oken=***"),  # an escaped name is still the same name
    (f"/v2/tokens/{JWT}/info", "/v2/tokens/***/info"),
    (f"/x?whatever={JWT}", "/x?whatever=***"),
    (f"/x?{JWT}", "/x?***"),
    ("/x?token=", "/x?token="),  # nothing to hide
    ("/v2/accounts/a0000000000000000000000000000003/channels",
     "/v2/accounts/a0000000000000000000000000000003/channels"),  # ids stay readable
    ("/x?tokens=1&pp=2", "/x?tokens=1&pp=2"),
])
def test_redact(target: str, logged: str) -> None:
    assert redact(target) == logged


def test_redact_cuts_a_huge_url() -> None:
    out = redact("/x?a=" + "b" * 100_000 + "&token=s3cret")
    assert len(out) < 2100 and "s3cret" not in out


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "callgate.access" and r.levelno == logging.INFO]


async def test_one_line_per_request_with_secrets_hidden(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callgate.access")
    async with live_gateway() as live:
        cred = hashlib.md5(b"alice:demo-alice").hexdigest()
        resp = await live.client.put("/v2/user_auth", json={
            "data": {"credentials": cred, "account_name": "Acme"}})
        token = (await resp.json())["auth_token"]
        caplog.clear()
        resp = await live.client.get(f"/v2/accounts/{ACME}/channels?auth_token={token}")
        assert resp.status == 200
        resp = await live.client.get("/call/list?token=token-carol")
        assert resp.status == 200
        resp = await live.client.post(
            "/billing/api/active_calls_get?u=alice&hash=0123456789abcdef&p=demo-alice")
        await live.client.get(f"/api/v2/channels?access_token={token}&x_key=the-key")
        await live.client.get(f"/v2/accounts/{token}/channels")
        lines = access_lines(caplog)
        assert len(lines) == 5, lines
        for secret in (token, "token-carol", "0123456789abcdef", "demo-alice", "the-key"):
            assert all(secret not in line for line in lines), secret
        parsed = [LINE.fullmatch(line) for line in lines]
        assert all(parsed), lines
        rows = [m.groups() for m in parsed if m]
        assert [(d, meth, status) for d, _ip, meth, _p, status, _s in rows] == [
            ("kazoo", "GET", "200"), ("callflow", "GET", "200"), ("mor", "POST", rows[2][4]),
            ("webitel", "GET", rows[3][4]), ("kazoo", "GET", rows[4][4])]
        assert rows[0][3] == f"/v2/accounts/{ACME}/channels?auth_token=***"
        assert rows[1][3] == "/call/list?token=***"
        assert rows[2][3] == "/billing/api/active_calls_get?u=alice&hash=***&p=***"
        assert rows[3][3] == "/api/v2/channels?access_token=***&x_key=***"
        assert rows[4][3] == "/v2/accounts/***/channels"
        assert all(ip == "127.0.0.1" for _d, ip, *_ in rows)


async def test_silent_when_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callgate.access")
    async with live_gateway() as live:
        live.gw.metrics.access_log = False
        assert (await live.client.get("/call/list?token=token-carol")).status == 200
        assert (await live.client.get("/healthz")).status == 200
        assert access_lines(caplog) == []
        # counting goes on without the log
        text = await (await live.client.get("/metrics")).text()
        assert 'callgate_http_requests_total{code="200",dialect="callflow"} 1.0' in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("flag", [[], ["--no-access-log"]])
def test_serve_flag(flag: list[str]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--listen",
         f"127.0.0.1:{port}", *flag],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/call/list?token=token-carol", timeout=2) as r:
                    assert r.status == 200
                    break
            except urllib.error.HTTPError as e:
                raise AssertionError(e.code) from None
            except OSError:
                time.sleep(0.2)
    finally:
        _out, err = interrupt(proc)
    logged = [line for line in err.splitlines() if "callgate.access" in line]
    if flag:
        assert logged == []
    else:
        assert len(logged) == 1 and logged[0].endswith(
            'callflow 127.0.0.1 "GET /call/list?token=*** HTTP/1.1" 200 '
            + logged[0].rsplit(" ", 1)[1]), logged
    assert "token-carol" not in err
