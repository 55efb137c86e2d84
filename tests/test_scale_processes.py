"""Two `callgate serve` processes over one real Redis and the same simulated switches: the same
channel lists, one event subscription per switch, and a holder killed with SIGKILL replaced
within 10 s by the survivor, whose lists then equal the switch's own table."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from gateway.demo import load_demo, start_switches

from .redis_util import NEEDS_REDIS, event_subscribers, eventually, free_port, redis_server

pytestmark = NEEDS_REDIS

ROOT = Path(__file__).resolve().parents[1]
ACME = "a0000000000000000000000000000003"


def config(fs_port: int, ast_port: int, url: str) -> str:
    text = (ROOT / "gateway" / "demo.toml").read_text()
    text = text.replace("port = 8021", f"port = {fs_port}", 1)
    text = text.replace("port = 5038", f"port = {ast_port}", 1)
    return text.replace("[gateway]\n",
                        f'[gateway]\nredis_url = "{url}"\nredis_lease_ttl = 1.0\n', 1)


@contextlib.asynccontextmanager
async def serve(conf: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "serve", "--config", str(conf),
        "--listen", f"127.0.0.1:{port}", cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def health(s: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    try:
        async with s.get(f"{base}/healthz") as r:
            body: dict[str, Any] = await r.json()
            body["status"] = r.status
            return body
    except (aiohttp.ClientError, OSError, ValueError):
        return {"status": 0}


async def channels(s: aiohttp.ClientSession, base: str, token: str) -> set[str]:
    async with s.get(f"{base}/v2/accounts/{ACME}/channels",
                     headers={"X-Auth-Token": token}) as r:
        assert r.status == 200
        return {c["uuid"] for c in (await r.json())["data"]}


async def test_two_processes_one_subscription_and_failover(tmp_path: Path) -> None:
    async with redis_server() as redis:
        _, sw = await start_switches(load_demo(), traffic=False, only=("fs1", "ast1"))
        fs, ast = sw.sims["fs1"], sw.sims["ast1"]
        conf = tmp_path / "gw.toml"
        conf.write_text(config(fs.port, ast.port, redis.url))
        try:
            async with serve(conf) as (pa, a), serve(conf) as (pb, b), \
                    aiohttp.ClientSession() as s:
                async def up() -> bool:
                    return all([(await health(s, base))["status"] == 200 for base in (a, b)])

                await eventually(up, 30, every=0.2)
                creds = hashlib.md5(b"alice:demo-alice").hexdigest()
                async with s.put(f"{a}/v2/user_auth", json={
                        "data": {"credentials": creds, "account_name": "Acme"}}) as r:
                    token = (await r.json())["auth_token"]
                for _ in range(3):
                    await fs.place_call("201", "202", realm="acme.example.com")

                def acme_truth() -> set[str]:  # every fs1 call here is Acme's
                    return set(fs.channel_ids())

                async def same() -> bool:
                    truth = acme_truth()
                    return bool(truth) and all(
                        [await channels(s, base, token) == truth for base in (a, b)])

                await eventually(same, 10)
                assert event_subscribers(fs) == 1 and event_subscribers(ast) == 1

                holds = {base: (await health(s, base))["redis"]["holds"] for base in (a, b)}
                assert sorted(holds[a] + holds[b]) == ["ast1", "fs1"]
                victim, survivor = (pa, b) if "fs1" in holds[a] else (pb, a)
                victim.kill()  # SIGKILL: no lease released, the switch sees the socket drop
                await victim.wait()
                for _ in range(3):
                    await fs.place_call("203", "201", realm="acme.example.com")

                async def taken() -> bool:
                    body = await health(s, survivor)
                    return body.get("redis", {}).get("holds") == ["ast1", "fs1"]

                await eventually(taken, 10, every=0.1)
                async def survivor_matches() -> bool:
                    return await channels(s, survivor, token) == acme_truth()

                await eventually(survivor_matches, 10)
                assert event_subscribers(fs) == 1 and event_subscribers(ast) == 1
        finally:
            await sw.stop()
