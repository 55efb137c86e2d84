"""Shared by the import tests: the fixture exports, running `callgate import` in-process, and
serving a configuration that includes the imported directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import SERVER_LIMITS, build_app
from gateway.cli import main as cli_main
from gateway.config import Settings, load
from gateway.context import Gateway
from gateway.model import Channel

EXPORTS = Path(__file__).resolve().parent / "fixtures" / "import"
SECRET = "import-test-token-secret-0123456789"

# the ids the fixture exports carry (tests/fixtures/import/README.md)
MASTER = "3f1e0a9b7c2d4e5f8a6b1c0d9e8f7a6b"
ACME = "6a1d3c9e0b4f4a7e9d2c8b5a7f3e1d0c"
BETA = "9c4e2a7b1d3f4c6a8e0b2d4f6a8c0e1f"
ALICE = "0d8f6c4a2e1b4d9f8c7a6e5d4c3b2a19"
BOB = "1e9a7b5c3d2f4e0a9b8c7d6e5f4a3b2c"
DESK = "4b2d0e8f6a5c4b3d2e1f0a9b8c7d6e5f"
ALICE_PASSWORD = "Alice-Old-Pass-1"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = cli_main(["import", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def main_config(tmp_path: Path, dialects: str) -> Path:
    """A main configuration whose directory is the imported file beside it."""
    path = tmp_path / "main.toml"
    path.write_text('include = ["directory.toml"]\n\n[gateway]\nlisten = "127.0.0.1:0"\n'
                    f'token_secret = "{SECRET}"\n\n{dialects}\n')
    return path


def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str], platform: str,
             *sources: Path, dialects: str) -> Settings:
    code, _, err = run(capsys, platform, *sources, "-o", tmp_path / "directory.toml")
    assert code == 0, err
    return load(main_config(tmp_path, dialects))


async def serve(settings: Settings, *channels: Channel) -> TestClient:
    gw = Gateway.build(settings, backends=False)
    for ch in channels:
        gw.store.add(ch)
    server = TestServer(build_app(gw, manage_backends=False))
    await server.start_server(**SERVER_LIMITS)
    client = TestClient(server)
    await client.start_server()
    return client
