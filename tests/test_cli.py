"""The command line as a user meets it: help, version, usage mistakes, placeholder secrets, the
Asterisk dialplan snippet, and a stop (SIGTERM) with a websocket open."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.cli import main as cli_main
from gateway.demo import DEMO_CONFIG

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.toml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_log_level_is_one_line_and_exit_2() -> None:
    proc = _run("serve", "--demo", "--log-level", "loud")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "--log-level" in lines[0] and "'LOUD'" in lines[0] and "DEBUG" in lines[0]


def test_unknown_command_and_missing_argument_are_one_line() -> None:
    for args in (("frobnicate",), ("check-config",), ("serve",)):
        proc = _run(*args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("callgate ") and out != "callgate "


@pytest.mark.parametrize(("command", "words"), [
    ("serve", ("--config FILE", "--demo", "--listen HOST:PORT", "--log-level LEVEL",
               "WARNING", "1001")),
    ("check-config", ("FILE", "placeholder", "exit 2")),
    ("asterisk-dialplan", ("--config FILE", "--backend NAME", "ShowDialPlan")),
])
def test_every_subcommand_help_names_its_arguments(
        command: str, words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main([command, "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for word in words:
        assert word in text, word


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "check-config", "asterisk-dialplan", "--version"):
        assert command in out


def test_check_config_flags_the_examples_placeholder_secrets(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["check-config", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    assert "gateway.token_secret: still the example's placeholder" in err
    assert "change-me" not in err  # names the key, never echoes the value
    assert cli_main(["check-config", str(DEMO_CONFIG)]) == 0


def test_serve_refuses_placeholder_secrets_in_one_line_each() -> None:
    proc = _run("serve", "--config", str(EXAMPLE))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "gateway.token_secret: still the example's placeholder" in proc.stderr


def test_bad_backend_type_is_one_line(tmp_path: Path) -> None:
    text = DEMO_CONFIG.read_text().replace('type = "asterisk"', 'type = "asterix"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    proc = _run("check-config", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f'{bad}: backends[1].type: expected one of freeswitch, asterisk, got "asterix"']


def test_asterisk_dialplan_prints_the_extensions_the_backend_needs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["asterisk-dialplan"]) == 0
    out = capsys.readouterr().out
    assert "[default]\nexten => moh,1,Answer()\n same => n,MusicOnHold(default)\n" in out
    assert "exten => playback,1,Answer()\n same => n,Playback(${PLAYBACK_MEDIA})\n" in out
    text = DEMO_CONFIG.read_text().replace(
        'trunks = ["carrier2"]',
        'trunks = ["carrier2"]\nhold_context = "callgate"\nhold_extension = "hold"')
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    assert cli_main(["asterisk-dialplan", "--config", str(cfg), "--backend", "ast1"]) == 0
    out = capsys.readouterr().out
    assert "[callgate]\nexten => hold,1,Answer()" in out
    assert cli_main(["asterisk-dialplan", "--config", str(cfg), "--backend", "fs1"]) == 2
    assert "no asterisk backend named 'fs1'" in capsys.readouterr().err


async def _open_socket_then_sigterm(port: int, proc: subprocess.Popen[str]) -> int | None:
    """Wait for the demo, open the call-flow websocket, SIGTERM the server; the close code the
    socket received (None when it got none before the safety timeout)."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        ws = await http.ws_connect(f"{base}/notifications?token=token-carol")
        proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):  # a safety net, not a speed claim
                async for _msg in ws:  # call events keep coming until the close
                    pass
        except TimeoutError:
            return None
        return ws.close_code


def test_sigterm_closes_open_websockets_with_1001_and_exits_0() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--listen",
         f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        code = asyncio.run(_open_socket_then_sigterm(port, proc))
        assert code == 1001
        deadline = time.monotonic() + 10  # safety timeout only
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() == 0, proc.stderr.read() if proc.poll() is not None else "running"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
