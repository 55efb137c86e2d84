"""Imported directories served: each platform's clients log in with their old credentials and
see their calls under the platform's own ids, through `include` of the imported file."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from lxml import etree

from gateway.cli import main as cli_main
from gateway.model import Channel, State
from tests.import_util import (
    ACME,
    ALICE,
    ALICE_PASSWORD,
    BETA,
    BOB,
    DESK,
    EXPORTS,
    imported,
    md5,
    serve,
    sha1,
)

KAZOO = "[dialects.kazoo]\nenabled = true"
MOR = '[dialects.mor]\nenabled = true\napi_secret = "admin-key-456789"'
WEBITEL = "[dialects.webitel]\nenabled = true"
JSON = {"Content-Type": "application/json"}
ROOT = Path(__file__).resolve().parents[1]


def call(uuid: str, username: str, realm: str) -> Channel:
    return Channel(id=uuid, node="fs1", name=f"sofia/internal/{username}@{realm or '10.0.0.5'}",
                   username=username, realm=realm, direction="inbound", state=State.ANSWERED,
                   answered=True, created=time.time() - 30, answered_at=time.time() - 25,
                   destination="2600", call_id=f"call-{uuid}", caller_id_number=username)


async def user_auth(client, credentials: str, method: str = "md5", **account: str):
    return await client.put("/v2/user_auth", headers=JSON, json={"data": {
        "credentials": credentials, "method": method, **account}})


# ---------------------------------------------------------------------------- Kazoo


async def test_kazoo_client_logs_in_with_the_old_password_and_sees_its_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = imported(tmp_path, capsys, "kazoo", EXPORTS / "kazoo", dialects=KAZOO)
    client = await serve(settings, call("acme-1", "user_alice201", "acme.sip.example.net"),
                         call("beta-1", "user_erin301", "beta.sip.example.net"))
    try:
        resp = await user_auth(client, md5(f"alice:{ALICE_PASSWORD}"),
                               account_name="Acme Corp")
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        assert body["data"]["account_id"] == ACME and body["data"]["owner_id"] == ALICE
        token = body["auth_token"]

        resp = await client.get(f"/v2/accounts/{ACME}/channels",
                                headers={"X-Auth-Token": token})
        assert resp.status == 200
        data = (await resp.json())["data"]
        assert [c["uuid"] for c in data] == ["acme-1"]
        assert data[0]["authorizing_id"] == DESK and data[0]["owner_id"] == ALICE

        # tenancy holds for imported accounts: Acme's token does not reach Beta
        resp = await client.get(f"/v2/accounts/{BETA}/channels",
                                headers={"X-Auth-Token": token})
        assert resp.status == 403
    finally:
        await client.close()


async def test_kazoo_user_auth_answers_as_kazoo_for_every_form_of_the_hash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = imported(tmp_path, capsys, "kazoo", EXPORTS / "kazoo", dialects=KAZOO)
    client = await serve(settings)
    try:
        ok = [
            (md5("bob:Bob-Old-Pass-2"), "md5", {"account_realm": "acme.sip.example.net"}),
            (sha1("bob:Bob-Old-Pass-2"), "sha", {"account_name": "Acme Corp"}),
            (md5("bob:Bob-Old-Pass-2").upper(), "md5", {"account_name": "Acme Corp"}),
        ]
        for credentials, method, account in ok:
            resp = await user_auth(client, credentials, method, **account)
            assert resp.status == 201, (method, account)
            assert (await resp.json())["data"]["owner_id"] == BOB
        refused = [
            (md5("bob:wrong"), "md5", {"account_name": "Acme Corp"}),
            (sha1("bob:Bob-Old-Pass-2"), "md5", {"account_name": "Acme Corp"}),
            (md5("bob:Bob-Old-Pass-2"), "sha", {"account_name": "Acme Corp"}),
            (md5("bob:Bob-Old-Pass-2"), "md5", {"account_name": "Beta Ltd"}),
        ]
        for credentials, method, account in refused:
            resp = await user_auth(client, credentials, method, **account)
            assert resp.status == 401, (method, account)
            assert (await resp.json())["message"] == "invalid_credentials"
    finally:
        await client.close()


async def test_kazoo_api_key_from_the_couchdb_dump_authenticates_its_account(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = imported(tmp_path, capsys, "kazoo", EXPORTS / "kazoo", dialects=KAZOO)
    [acme] = [a for a in settings.accounts if a.id == ACME]
    client = await serve(settings)
    try:
        resp = await client.put("/v2/api_auth", headers=JSON,
                                json={"data": {"api_key": acme.api_key}})
        assert resp.status == 201
        assert (await resp.json())["data"]["account_id"] == ACME
    finally:
        await client.close()


# ------------------------------------------------------------------------------ MOR


async def test_mor_active_calls_get_with_the_imported_user_and_reseller_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = imported(tmp_path, capsys, "mor", EXPORTS / "mor" / "tables", dialects=MOR)
    client = await serve(settings, call("mor-1", "201", ""), call("mor-2", "101", ""))
    try:
        resp = await client.post("/billing/api/active_calls_get",
                                 params={"u": "carol", "hash": sha1("carol" + "reseller3-key-123")})
        assert resp.status == 200
        doc = etree.fromstring(await resp.read())
        [row] = doc.findall("active_call")
        assert (row.findtext("user_id"), row.findtext("src_device_id")) == ("5", "7")
        assert row.findtext("device_extension") == "201"

        resp = await client.post("/billing/api/active_calls_get",
                                 params={"u": "carol", "hash": sha1("carol" + "wrong-key")})
        assert etree.fromstring(await resp.read()).findtext(".//error") == "Incorrect hash"

        # a user of the admin signs with the admin's key and sees only its own call
        resp = await client.post("/billing/api/active_calls_get",
                                 params={"u": "ann", "hash": sha1("ann" + "admin-key-456789")})
        doc = etree.fromstring(await resp.read())
        assert [r.findtext("uniqueid") for r in doc.findall("active_call")] != []
        assert {r.findtext("user_id") for r in doc.findall("active_call")} == {"2"}
    finally:
        await client.close()


async def test_mor_user_login_with_the_old_password_from_the_users_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = imported(tmp_path, capsys, "mor", EXPORTS / "mor" / "tables", dialects=MOR)
    client = await serve(settings)
    try:
        for password, status in (("pw-carol", "ok"), ("wrong", "failed")):
            resp = await client.post("/billing/api/user_login",
                                     params={"u": "carol", "p": password})
            doc = etree.fromstring(await resp.read())
            assert doc.findtext("status") == status
        assert doc.findtext("status_message") == "Login failed"
        resp = await client.post("/billing/api/user_login", params={"u": "carol", "p": "pw-carol"})
        assert etree.fromstring(await resp.read()).findtext("user_id") == "5"
    finally:
        await client.close()


# -------------------------------------------------------------------------- Webitel


async def test_webitel_login_as_user_at_domain_with_the_old_password(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = imported(tmp_path, capsys, "webitel", EXPORTS / "webitel", dialects=WEBITEL)
    client = await serve(settings)
    try:
        resp = await client.post("/login", json={"username": "100@acme.webitel.example",
                                                 "password": "Webitel-Old-100"})
        assert resp.status == 200, await resp.text()
        session = await resp.json()
        assert (session["domain"], session["username"]) == ("acme.webitel.example",
                                                             "100@acme.webitel.example")
        assert (session["role"], session["roleName"]) == (1, "admin")

        for username, password in (("100@acme.webitel.example", "wrong"),
                                   ("100@beta.webitel.example", "Webitel-Old-100")):
            resp = await client.post("/login", json={"username": username,
                                                     "password": password})
            assert resp.status == 401
            assert await resp.json() == {"status": "error", "info": "secret incorrect"}
    finally:
        await client.close()


# ---------------------------------------------------------------------- check-config


def test_check_config_says_which_logins_hashed_users_have(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    imported(tmp_path, capsys, "kazoo", EXPORTS / "kazoo", dialects=KAZOO)
    assert cli_main(["check-config", str(tmp_path / "main.toml")]) == 0
    out, err = capsys.readouterr()
    assert out == "ok\n"
    directory = tmp_path / "directory.toml"
    assert (f"login: {directory}: users[0] (alice): kazoo user_auth only (md5/sha1 hash); "
            "no Webitel/MOR password") in err.splitlines()
    assert f"login: {directory}: users[2] (erin): no password or hash" in err


def test_check_config_names_the_included_file_of_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    imported(tmp_path, capsys, "webitel", EXPORTS / "webitel", dialects=WEBITEL)
    directory = tmp_path / "directory.toml"
    directory.write_text(directory.read_text().replace(
        'name = "acme.webitel.example"', 'name = "acme"\nrealmm = "x"', 1))
    assert cli_main(["check-config", str(tmp_path / "main.toml")]) == 2
    err = capsys.readouterr().err
    assert err == f"{directory}: accounts[0].realmm: unknown key\n"


def test_include_appends_to_the_including_files_tables(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = imported(tmp_path, capsys, "kazoo", EXPORTS / "kazoo",
                        dialects=KAZOO + '\n\n[[accounts]]\nid = "' + "a" * 32
                        + '"\nname = "Own"\nrealm = "own.example.com"')
    assert [a.name for a in settings.accounts] == ["Own", "Acme Corp", "Master", "Beta Ltd"]
    (tmp_path / "main.toml").write_text((tmp_path / "main.toml").read_text().replace(
        '"directory.toml"', '"missing.toml"'))
    assert cli_main(["check-config", str(tmp_path / "main.toml")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'missing.toml'}: file not found\n"


def test_check_config_notes_for_webitel_hashes_and_include_cycles(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    imported(tmp_path, capsys, "webitel", EXPORTS / "webitel", dialects=WEBITEL)
    assert cli_main(["check-config", str(tmp_path / "main.toml")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert (f"login: {tmp_path / 'directory.toml'}: users[0] (100): webitel /login as "
            "<username>@<realm> only (a1-hash); no Kazoo/MOR password") in err
    directory = tmp_path / "directory.toml"
    imported(tmp_path, capsys, "mor", EXPORTS / "mor" / "tables", dialects=WEBITEL)
    assert cli_main(["check-config", str(tmp_path / "main.toml")]) == 0
    assert (f"login: {directory}: users[6] (carol): mor user_login and v2 login only (sha1 of "
            "the password); no Kazoo/Webitel password") in capsys.readouterr().err.splitlines()
    directory.write_text('include = ["main.toml"]\n' + directory.read_text())
    assert cli_main(["check-config", str(tmp_path / "main.toml")]) == 2
    assert capsys.readouterr().err == (
        f'{directory}: include: "main.toml" is already being read (an include cycle)\n')


def test_callgate_serve_runs_on_the_included_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The operator's path: import, then `callgate serve --config main.toml`."""
    imported(tmp_path, capsys, "webitel", EXPORTS / "webitel", dialects=WEBITEL)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(tmp_path / "main.toml"),
         "--listen", f"127.0.0.1:{port}"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    body = json.dumps({"username": "100@acme.webitel.example",
                       "password": "Webitel-Old-100"}).encode()
    try:
        deadline = time.monotonic() + 20
        answer = None
        while answer is None and time.monotonic() < deadline and proc.poll() is None:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/login", data=body,
                                             headers=JSON, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=2) as resp:
                    answer = (resp.status, json.loads(resp.read()))
            except OSError:
                time.sleep(0.1)
        assert answer is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert answer[0] == 200 and answer[1]["domain"] == "acme.webitel.example"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
