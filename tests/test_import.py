"""`callgate import`: ids kept, re-imports idempotent and in place, conflicts refused with one
line each and nothing written, `--dry-run` only says what would change."""

from __future__ import annotations

import csv
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from gateway.importers.records import stable_id
from tests.import_util import ACME, ALICE, BETA, DESK, EXPORTS, MASTER, run


def tables(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------------------ ids


def test_kazoo_ids_are_kept_and_hashes_become_credentials(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    code, stdout, _ = run(capsys, "kazoo", EXPORTS / "kazoo", "-o", out)
    assert code == 0
    assert stdout.splitlines()[-1] == f"{out}: written (10 added, 0 updated, 0 unchanged)"
    data = tables(out)
    accounts = {a["id"]: a for a in data["accounts"]}
    assert set(accounts) == {MASTER, ACME, BETA}
    assert accounts[ACME]["parent"] == MASTER and accounts[BETA]["parent"] == MASTER
    assert accounts[MASTER]["superduper"] is True
    assert len(accounts[ACME]["api_key"]) == 64
    alice = next(u for u in data["users"] if u["id"] == ALICE)
    assert alice["account"] == ACME and alice["role"] == "admin"
    assert alice["md5_auth"] == "3a606098e08f03e0a7c0cba50f166389"  # md5("alice:Alice-Old-Pass-1")
    assert "password" not in alice
    desk = next(d for d in data["devices"] if d["id"] == DESK)
    assert (desk["owner"], desk["sip_username"]) == (ALICE, "user_alice201")
    assert data["dids"] == [{"number": "14155550100", "account": ACME}]
    assert out.stat().st_mode & 0o077 == 0  # api keys and hashes: owner only


def test_mor_integer_ids_become_numbers_with_stable_ids(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    code, _, err = run(capsys, "mor", EXPORTS / "mor" / "tables", "-o", out)
    assert code == 0
    assert "the admin's API_Secret_Key is not part of the directory" in err
    assert "admin-key-456789" not in err  # never a secret in the output
    data = tables(out)
    carol = next(u for u in data["users"] if u["username"] == "carol")
    assert carol["id"] == stable_id("mor", "user", 5) and carol["number"] == 5
    reseller = next(a for a in data["accounts"] if a.get("number") == 3)
    assert carol["account"] == reseller["id"]
    assert reseller["mor_api_secret"] == "reseller3-key-123"
    admin = next(u for u in data["users"] if u["username"] == "admin")
    assert admin["role"] == "superduper_admin" and "number" not in admin  # MOR's user 0
    phone = next(d for d in data["devices"] if d["number"] == 7)
    assert (phone["owner"], phone["account"]) == (carol["id"], reseller["id"])

    # the API's XML of the same MOR names the same rows: nothing new
    code, stdout, _ = run(capsys, "mor", EXPORTS / "mor" / "api", "-o", out)
    assert code == 0 and stdout.splitlines()[-1].endswith("(0 added, 0 updated, 8 unchanged)")


def test_webitel_domains_and_accounts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    assert run(capsys, "webitel", EXPORTS / "webitel", "-o", out)[0] == 0
    data = tables(out)
    assert sorted(a["realm"] for a in data["accounts"]) == ["acme.webitel.example",
                                                            "beta.webitel.example"]
    realm = {a["id"]: a["realm"] for a in data["accounts"]}
    logins = sorted(f"{u['username']}@{realm[u['account']]}" for u in data["users"])
    assert logins == ["100@acme.webitel.example", "100@beta.webitel.example",
                      "101@acme.webitel.example"]
    hundred = next(u for u in data["users"]
                   if u["id"] == stable_id("webitel", "user", "100@acme.webitel.example"))
    assert (hundred["role"], hundred["name"], len(hundred["a1_hash"])) == ("admin", "Igor", 32)
    assert all("number" not in u for u in data["users"])


# ------------------------------------------------------------------------ re-imports


def test_second_import_changes_nothing_byte_for_byte(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for platform, source in (("kazoo", EXPORTS / "kazoo"), ("mor", EXPORTS / "mor" / "tables"),
                             ("webitel", EXPORTS / "webitel")):
        out = tmp_path / f"{platform}.toml"
        assert run(capsys, platform, source, "-o", out)[0] == 0
        first = out.read_bytes()
        code, stdout, _ = run(capsys, platform, source, "-o", out)
        assert code == 0
        assert stdout.strip().endswith("no change (0 added, 0 updated, "
                                       f"{first.count(b'[[')} unchanged)")
        assert out.read_bytes() == first


def test_reimport_updates_in_place_and_keeps_what_the_operator_added(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    assert run(capsys, "kazoo", EXPORTS / "kazoo", "-o", out)[0] == 0
    # the operator gives alice a call-flow-control extension by hand
    out.write_text(out.read_text().replace('username = "alice"\n',
                                           'username = "alice"\nextension = "201"\n'))
    export = copy(EXPORTS / "kazoo", tmp_path / "export")
    dump = next((export / "couchdb").glob("account*"))
    dump.write_text(dump.read_text().replace('"last_name": "Smith"', '"last_name": "Jones-Smith"'))

    code, stdout, _ = run(capsys, "kazoo", export, "-o", out)
    assert code == 0
    assert f"~ users {ALICE} (alice): name" in stdout.splitlines()
    assert stdout.splitlines()[-1] == f"{out}: written (0 added, 1 updated, 9 unchanged)"
    data = tables(out)
    assert len(data["users"]) == 3
    alice = next(u for u in data["users"] if u["id"] == ALICE)
    assert (alice["name"], alice["extension"]) == ("Alice Jones-Smith", "201")


def test_dry_run_prints_the_changes_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    code, stdout, _ = run(capsys, "webitel", EXPORTS / "webitel", "-o", out, "--dry-run")
    assert code == 0 and not out.exists()
    lines = stdout.splitlines()
    assert sum(line.startswith("+ users ") for line in lines) == 3
    assert lines[-1] == f"dry run: 8 added, 0 updated, 0 unchanged; {out} not written"


def test_two_platforms_in_one_directory_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    assert run(capsys, "kazoo", EXPORTS / "kazoo", "-o", out)[0] == 0
    assert run(capsys, "webitel", EXPORTS / "webitel", "-o", out)[0] == 0
    assert len(tables(out)["accounts"]) == 5


def test_a_file_holding_more_than_the_directory_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "main.toml"
    out.write_text('[gateway]\ntoken_secret = "0123456789abcdef0123"\n')
    code, _, err = run(capsys, "kazoo", EXPORTS / "kazoo", "-o", out)
    assert code == 2
    assert err == (f"callgate import: {out}: gateway: this file holds more than the directory; "
                   "import into a file of its own and include it from the main configuration\n")
    assert out.read_text() == '[gateway]\ntoken_secret = "0123456789abcdef0123"\n'


# ------------------------------------------------------------------------- conflicts


def refused(capsys: pytest.CaptureFixture[str], out: Path, *argv: str | Path) -> list[str]:
    before = out.read_bytes() if out.exists() else None
    code, stdout, err = run(capsys, *argv, "-o", out)
    assert code == 2 and stdout == ""
    assert (out.read_bytes() if out.exists() else None) == before  # nothing written
    lines = err.splitlines()
    assert lines[-1].startswith("callgate import: ") and "nothing written" in lines[-1]
    return [line for line in lines if line.startswith("conflict: ")]


def test_one_sip_username_in_two_accounts(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    export = copy(EXPORTS / "mor" / "tables", tmp_path / "export")
    devices = export / "devices.csv"
    devices.write_text(devices.read_text().replace("4,101,dynamic", "4,201,dynamic")
                       .replace(",101,0,101,SIP,2,", ",101,0,201,SIP,2,"))
    lines = refused(capsys, tmp_path / "directory.toml", "mor", export)
    assert lines == [
        "conflict: devices: SIP username '201' in two accounts (accounts without a realm): "
        f"devices {stable_id('mor', 'device', 4)} (201) and "
        f"devices {stable_id('mor', 'device', 7)} (201)"]


def test_a_device_whose_owner_is_missing(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    export = copy(EXPORTS / "mor" / "tables", tmp_path / "export")
    devices = export / "devices.csv"
    devices.write_text(devices.read_text().replace(",201,SIP,5,", ",201,SIP,99,"))
    assert refused(capsys, tmp_path / "directory.toml", "mor", export) == [
        "conflict: devices: MOR device 7 (201): its owner, user_id 99, is not in the users "
        "export"]

    kazoo = copy(EXPORTS / "kazoo", tmp_path / "kazoo")
    listing = kazoo / "crossbar" / BETA / "devices.json"
    listing.write_text(listing.read_text().replace('"owner_id": "2f0b', '"owner_id": "ffff'))
    [line] = refused(capsys, tmp_path / "directory.toml", "kazoo", kazoo)
    assert line.startswith("conflict: devices 7e5a3b1c9d8f4e6a5b4c3d2e1f0a9b8c (Erin desk): "
                           "its owner, user ffff") and line.endswith("is missing")


def test_a_realm_used_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = copy(EXPORTS / "kazoo", tmp_path / "export")
    listing = export / "crossbar" / MASTER / "descendants.json"
    listing.write_text(listing.read_text().replace("beta.sip.example.net",
                                                   "ACME.sip.example.net"))
    dump = next((export / "couchdb").glob("account*"))
    assert refused(capsys, tmp_path / "directory.toml", "kazoo", export) == [
        "conflict: accounts: realm 'acme.sip.example.net' is used twice: "
        f"accounts {ACME} (Acme Corp) and accounts {BETA} (Beta Ltd)"]
    assert dump.exists()


def test_conflicts_with_the_existing_file_refuse_and_leave_it_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    assert run(capsys, "kazoo", EXPORTS / "kazoo", "-o", out)[0] == 0
    # the Webitel domain takes a realm the Kazoo import already uses
    export = copy(EXPORTS / "webitel", tmp_path / "export")
    for f in export.iterdir():
        f.write_text(f.read_text().replace("beta.webitel.example", "beta.sip.example.net"))
    lines = refused(capsys, out, "webitel", export)
    assert len(lines) == 1 and "realm 'beta.sip.example.net' is used twice" in lines[0]


def test_each_conflict_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = copy(EXPORTS / "kazoo", tmp_path / "export")
    users = export / "crossbar" / BETA / "users.json"
    doc = json.loads(users.read_text())
    doc["data"].append(dict(doc["data"][0], id="e" * 32))  # erin twice in Beta
    users.write_text(json.dumps(doc))
    listing = export / "crossbar" / MASTER / "descendants.json"
    listing.write_text(listing.read_text().replace("beta.sip.example.net",
                                                   "acme.sip.example.net"))
    lines = refused(capsys, tmp_path / "directory.toml", "kazoo", export)
    assert len(lines) == 2
    assert any("username 'erin' twice in one account" in line for line in lines)


def test_mysql_batch_output_is_read_as_tab_separated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "export"
    export.mkdir()
    for name in ("users", "devices", "conflines"):
        rows = (EXPORTS / "mor" / "tables" / f"{name}.csv").read_text().splitlines()
        tsv = ["\t".join(r) for r in csv.reader(rows)]
        (export / f"{name}.csv").write_text("\n".join(tsv) + "\n")
    out = tmp_path / "directory.toml"
    assert run(capsys, "mor", EXPORTS / "mor" / "tables", "-o", out)[0] == 0
    code, stdout, _ = run(capsys, "mor", export, "-o", out)
    assert code == 0 and stdout.strip().endswith("no change (0 added, 0 updated, 8 unchanged)")


def test_rows_gone_from_the_export_stay(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    assert run(capsys, "webitel", EXPORTS / "webitel", "-o", out)[0] == 0
    code, stdout, _ = run(capsys, "webitel", EXPORTS / "webitel" / "domains.json", "-o", out)
    assert code == 0 and stdout.strip().endswith("no change (0 added, 0 updated, 2 unchanged)")
    assert len(tables(out)["users"]) == 3


def test_one_accounts_dump_alone_keeps_roles_from_the_tree_already_imported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "directory.toml"
    assert run(capsys, "kazoo", EXPORTS / "kazoo", "-o", out)[0] == 0
    admin = {"_id": "c" * 32, "_rev": "1-a", "username": "root", "priv_level": "admin",
             "pvt_type": "user", "pvt_account_id": MASTER, "pvt_md5_auth": "d" * 32}
    dump = tmp_path / "master.json"
    dump.write_text(json.dumps({"total_rows": 1, "offset": 0, "rows": [
        {"id": admin["_id"], "key": admin["_id"], "value": {"rev": "1-a"}, "doc": admin}]}))
    assert run(capsys, "kazoo", dump, "-o", out)[0] == 0
    root = next(u for u in tables(out)["users"] if u["id"] == "c" * 32)
    assert root["role"] == "superduper_admin"  # the Master account is superduper


def test_a_number_assigned_to_two_accounts(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    export = copy(EXPORTS / "kazoo", tmp_path / "export")
    numbers = next((export / "couchdb").glob("numbers*"))
    numbers.write_text(numbers.read_text().replace(f'"pvt_assigned_to": "{ACME}"',
                                                   f'"pvt_assigned_to": "{BETA}"'))
    assert refused(capsys, tmp_path / "directory.toml", "kazoo", export) == [
        f"conflict: dids 14155550100: assigned to two accounts in the export, {ACME} and {BETA}"]
