"""`callgate serve --demo` as a user runs it, /healthz, and commands to a switch that is down."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import build_app
from gateway.context import Gateway
from gateway.control import NotFound, Unavailable
from gateway.demo import load_demo
from gateway.model import Channel
from tests.harness import interrupt

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve_demo_reports_connected_switches_with_live_channels() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        body: dict = {}
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
            except (OSError, ValueError):
                time.sleep(0.2)
                continue
            if status == 200 and all(b["channels"] > 0 for b in body["backends"]):
                break
            time.sleep(0.3)
        assert status == 200, body
        assert {(b["name"], b["type"], b["state"]) for b in body["backends"]} == {
            ("fs1", "freeswitch", "connected"), ("ast1", "asterisk", "connected")}
        assert all(b["channels"] > 0 for b in body["backends"]), body
        assert all(b["last_error"] == "" for b in body["backends"])
    finally:
        out, err = interrupt(proc)
    assert proc.returncode == 0, err[-2000:]
    assert f"http://127.0.0.1:{port}" in out  # the demo banner names the listen address
    assert "Traceback" not in err
    for secret in ("ClueCon", "demo-ami-secret", "demo-token-secret"):
        assert secret not in err


async def test_healthz_503_and_commands_unavailable_when_switch_is_down() -> None:
    settings = load_demo()
    dead = _free_port()  # nothing listens here
    settings = dataclasses.replace(settings, backends=tuple(
        dataclasses.replace(b, port=dead, backoff_initial=0.05, backoff_max=0.2)
        for b in settings.backends if b.type == "freeswitch"))
    gw = Gateway.build(settings)
    async with TestClient(TestServer(build_app(gw))) as client:
        await asyncio.sleep(0.3)
        resp = await client.get("/healthz")
        assert resp.status == 503
        (fs,) = (await resp.json())["backends"]
        assert fs["name"] == "fs1" and fs["state"] in ("down", "connecting")
        assert fs["last_error"] == "connection refused"
        gw.store.add(Channel(id="c1", node="fs1"))
        t0 = time.monotonic()
        with pytest.raises(Unavailable):
            await gw.control.hangup("c1")
        assert time.monotonic() - t0 < 0.1  # at once, no hang
        with pytest.raises(NotFound):
            await gw.control.hangup("no-such-channel")


def test_busy_port_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--listen",
             f"127.0.0.1:{port}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"callgate: cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "127.0.0.1", "127.0.0.1:http", ":"])
def test_bad_listen_option_is_a_clear_error(listen: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--listen", listen],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f'--listen: expected "host:port", got "{listen}"' in proc.stderr
    assert "Traceback" not in proc.stderr
