"""The audit trail end to end: a command through each dialect, against the FreeSWITCH
simulator, leaves one JSON line naming who (dialect and principal), what, which channel and
node, the outcome and the duration; a failed command records its outcome; no password, token,
hash or key used on the way appears in the file."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import encode_basic_auth
from lxml import etree

from gateway.audit import COMMANDS, AuditLog
from gateway.config import Settings
from gateway.control import Control, NotFound, Unavailable
from gateway.model import Channel
from gateway.store import ChannelStore
from tests.demo_ids import ACME, ALICE
from tests.harness import Live, live_gateway


def audited(path: Path) -> Callable[[Settings], Settings]:
    def edit(s: Settings) -> Settings:
        return dataclasses.replace(s, gateway=dataclasses.replace(
            s.gateway, audit_log=str(path)))
    return edit


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def bridged(live: Live, caller: str = "201", callee: str = "202") -> str:
    a = await live.fs.place_call(caller, callee, answer_after=0.05)
    await live.until(lambda: (ch := live.gw.store.get(a)) is not None and ch.bridged)
    return a


def check_line(line: dict[str, Any], dialect: str, actor_id: str, channel: str,
               command: str = "hangup", outcome: str = "ok") -> None:
    assert line["dialect"] == dialect
    assert line["actor"]["id"] == actor_id and line["actor"]["account"] == ACME
    assert (line["command"], line["channel"], line["node"], line["outcome"]) == (
        command, channel, "fs1", outcome)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("Z")


def no_secret(path: Path, *secrets: str) -> None:
    text = path.read_text()
    for secret in secrets:
        assert secret not in text, secret


async def test_kazoo_command_and_its_failure(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    async with live_gateway(edit=audited(log)) as live:
        cred = hashlib.md5(b"alice:demo-alice").hexdigest()
        resp = await live.client.put("/v2/user_auth", json={
            "data": {"credentials": cred, "account_name": "Acme"}})
        token = (await resp.json())["auth_token"]
        headers = {"X-Auth-Token": token}
        a = await bridged(live)
        resp = await live.client.post(f"/v2/accounts/{ACME}/channels/{a}", headers=headers,
                                      json={"data": {"action": "hangup"}})
        assert resp.status == 200, await resp.text()
        [line] = lines(log)
        check_line(line, "kazoo", ALICE, a)
        assert line["actor"]["name"] == "alice"

        b = await bridged(live, "203", "204")
        await live.gw.backends["fs1"].stop()  # a command to a node that is down fails
        resp = await live.client.post(f"/v2/accounts/{ACME}/channels/{b}", headers=headers,
                                      json={"data": {"action": "hangup"}})
        assert resp.status == 503
        [_, failed] = lines(log)
        check_line(failed, "kazoo", ALICE, b, outcome="unavailable")
    no_secret(log, token, cred, "demo-alice")


async def test_webitel_socket_command(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    async with live_gateway(edit=audited(log)) as live:
        a = await bridged(live)
        ws = await live.client.ws_connect("/")
        await ws.send_json({"exec-uuid": "1", "exec-func": "auth", "exec-args": {
            "account": "alice@acme.example.com", "secret": "demo-alice"}})
        await ws.send_json({"exec-uuid": "2", "exec-func": "hangup",
                            "exec-args": {"channel-uuid": a}})
        while True:
            reply = await ws.receive_json(timeout=5)
            if reply.get("exec-uuid") == "2":
                break
        await ws.close()
        assert reply["exec-complete"] == "+OK", reply
        [line] = lines(log)
        check_line(line, "webitel", ALICE, a)
        assert line["actor"]["name"] == "alice@acme.example.com"
        assert line["cause"] == "NORMAL_CLEARING"
    no_secret(log, "demo-alice")


async def test_webitel_rest_command(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    async with live_gateway(edit=audited(log)) as live:
        resp = await live.client.post("/login", json={"username": "alice@acme.example.com",
                                                      "password": "demo-alice"})
        session = await resp.json()
        headers = {"X-Access-Token": session["token"], "X-Key": session["key"]}
        a = await bridged(live)
        resp = await live.client.delete(f"/api/v2/channels/{a}", headers=headers)
        assert resp.status == 200, await resp.text()
        [line] = lines(log)
        check_line(line, "webitel", ALICE, a)
    no_secret(log, session["token"], session["key"], "demo-alice")


async def test_mor_v2_command(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    async with live_gateway(edit=audited(log)) as live:
        a = await bridged(live)
        admin_hash = hashlib.sha1(b"admin456789").hexdigest()
        resp = await live.client.post("/billing/api/active_calls_get",
                                      params={"u": "admin", "hash": admin_hash})
        doc = etree.fromstring(await resp.read())
        ids = {c.findtext("uniqueid"): c.findtext("id") for c in doc.findall("active_call")}
        resp = await live.client.post("/billing/api/v2/authentication/login", headers={
            "Authorization": encode_basic_auth("alice", "demo-alice")})
        token = (await resp.json())["token"]
        resp = await live.client.delete(f"/billing/api/v2/active_calls/{ids[a]}",
                                        headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200, await resp.text()
        [line] = lines(log)
        check_line(line, "mor", ALICE, a)
        assert line["actor"]["name"] == "alice"
    no_secret(log, token, admin_hash, "456789", "demo-alice")


async def test_callflow_command(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    async with live_gateway(edit=audited(log)) as live:
        a = await bridged(live)
        resp = await live.client.post(f"/call/{a}/hangup", params={"token": "token-alice"})
        assert resp.status == 200, await resp.text()
        [line] = lines(log)
        check_line(line, "callflow", ALICE, a)
    no_secret(log, "token-alice")


async def test_a_command_with_no_channel_records_not_found(tmp_path: Path) -> None:
    """Straight at the one hook: nothing in the store, no principal set."""
    log = tmp_path / "audit.log"
    store = ChannelStore()
    control = Control(store, {}, audit=AuditLog(str(log)))
    with pytest.raises(NotFound):
        await control.transfer("nope", "2600", context="default")
    store.add(Channel(id="c1", node="fs9", name="x"))
    with pytest.raises(Unavailable):
        await control.send_dtmf("c1", "1234#")  # digits may be a PIN: never recorded
    first, second = lines(log)
    assert (first["command"], first["channel"], first["node"], first["outcome"]) == (
        "transfer", "nope", "", "not_found")
    assert first["destination"] == "2600" and first["actor"] is None
    assert (second["command"], second["node"], second["outcome"]) == (
        "send_dtmf", "fs9", "unavailable")
    no_secret(log, "1234#")


async def test_an_unwritable_file_leaves_commands_working(tmp_path: Path) -> None:
    audit = AuditLog(str(tmp_path / "missing-dir" / "audit.log"))
    store = ChannelStore()
    control = Control(store, {}, audit=audit)
    with pytest.raises(NotFound):  # the command's own error, not the file's
        await control.hangup("nope")
    assert not (tmp_path / "missing-dir").exists()


def test_every_command_of_control_is_audited() -> None:
    """A command added to Control later is recorded too, or this fails."""
    helpers = {"recording"}
    commands = {name for name, fn in inspect.getmembers(Control, inspect.iscoroutinefunction)
                if not name.startswith("_")}
    assert commands - helpers == set(COMMANDS)
