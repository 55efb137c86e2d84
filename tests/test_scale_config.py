"""`redis_url` at the edges: checked by check-config, and a Redis that is not there at start is
one line on stderr and exit 2 (no traceback, no password). Needs no Redis server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.config import parse
from gateway.context import Gateway

from .redis_util import free_port

ROOT = Path(__file__).resolve().parents[1]
BASE = '[gateway]\nlisten = "127.0.0.1:0"\ntoken_secret = "0123456789abcdef0123"\n'


def run(tmp_path: Path, command: str, extra: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "gw.toml"
    conf.write_text(BASE + extra)
    return subprocess.run([sys.executable, "-m", "gateway.cli", command, "--config", str(conf)]
                          if command == "serve" else
                          [sys.executable, "-m", "gateway.cli", command, str(conf)],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)


def test_redis_down_at_start_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    proc = run(tmp_path, "serve", f'redis_url = "redis://:hunter2@127.0.0.1:{port}/0"\n')
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"callgate: cannot reach Redis at redis://127.0.0.1:{port}/0: connection refused"]
    assert "hunter2" not in proc.stderr + proc.stdout


def test_check_config_names_a_bad_redis_url(tmp_path: Path) -> None:
    proc = run(tmp_path, "check-config", 'redis_url = "http://127.0.0.1:6379"\n')
    assert proc.returncode == 2
    assert "gateway.redis_url: expected redis://HOST:PORT/DB" in proc.stderr
    proc = run(tmp_path, "check-config", 'redis_lease_ttl = 0\n')
    assert proc.returncode == 2 and "gateway.redis_lease_ttl" in proc.stderr


def test_without_redis_url_nothing_of_scale_runs() -> None:
    settings = parse({"gateway": {"token_secret": "0123456789abcdef0123"}})
    gw = Gateway.build(settings)
    assert gw.scale is None
    assert isinstance(gw.shared.map("x"), dict)


async def test_memory_bucket_counts_within_its_window() -> None:
    from gateway.scale.shared import MemoryShared

    shared = MemoryShared()
    assert [await shared.hit("k", 60) for _ in range(3)] == [1, 2, 3]
    assert await shared.hit("other", 60) == 1
    assert await shared.hit("gone", 0) == 1 and await shared.hit("gone", 0) == 1
    assert await shared.counts(["k", "other", "gone", "none"]) == [3, 1, 0, 0]
