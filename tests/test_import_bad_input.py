"""Bad exports: one line naming the file, the record and the field; exit 2; nothing written;
never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_util import EXPORTS, run

COUCH = next((EXPORTS / "kazoo" / "couchdb").glob("account*"))


def refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str | Path) -> str:
    out = tmp_path / "directory.toml"
    code, stdout, err = run(capsys, *argv, "-o", out)
    assert code == 2 and stdout == "" and not out.exists()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("callgate import: ")
    return err.removeprefix("callgate import: ").rstrip("\n")


def test_truncated_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "dump.json"
    bad.write_bytes(COUCH.read_bytes()[:2000])
    err = refused(capsys, tmp_path, "kazoo", bad)
    assert err.startswith(f"{bad}: line ") and "not valid JSON" in err
    assert err.endswith("the export is truncated or damaged")


def test_truncated_xml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "users_get.xml"
    bad.write_bytes((EXPORTS / "mor" / "api" / "users_get.xml").read_bytes()[:300])
    err = refused(capsys, tmp_path, "mor", bad)
    assert err.startswith(f"{bad}: line ") and "not valid XML" in err


def test_csv_with_a_missing_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "users.csv"
    text = (EXPORTS / "mor" / "tables" / "users.csv").read_text()
    bad.write_text(text.replace(",owner_id,", ",owner,"))
    assert refused(capsys, tmp_path, "mor", bad) == (
        f"{bad}: header: owner_id: column missing (a MOR users table export has id, username, "
        "usertype, owner_id)")


def test_csv_row_cut_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "devices.csv"
    lines = (EXPORTS / "mor" / "tables" / "devices.csv").read_text().splitlines()
    bad.write_text("\n".join([*lines[:2], lines[2][:40]]) + "\n")
    err = refused(capsys, tmp_path, "mor", bad)
    assert err.startswith(f"{bad}: line 3: ") and "missing value" in err


@pytest.mark.parametrize(("platform", "export", "why"), [
    ("kazoo", EXPORTS / "webitel" / "domains.json", "a Webitel answer"),
    ("kazoo", EXPORTS / "mor" / "api" / "users_get.xml", "XML, not JSON: not a Kazoo export"),
    ("webitel", COUCH, "a CouchDB dump (Kazoo), not a Webitel export"),
    ("webitel", EXPORTS / "kazoo" / "crossbar", "a Kazoo Crossbar answer, not a Webitel export"),
    ("mor", COUCH, "JSON: not a MOR export"),
    ("mor", EXPORTS / "webitel" / "domains.json", "JSON: not a MOR export"),
])
def test_an_export_of_another_platform(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       platform: str, export: Path, why: str) -> None:
    err = refused(capsys, tmp_path, platform, export)
    assert ": document: " in err and why in err


def test_ids_that_are_not_32_hex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "dump.json"
    bad.write_text(COUCH.read_text().replace("0d8f6c4a2e1b4d9f8c7a6e5d4c3b2a19", "alice-0001"))
    err = refused(capsys, tmp_path, "kazoo", bad)
    assert err.startswith(f"{bad}: rows[") and "]: _id: not a 32-hex Kazoo id: 'alice-0001'" in err

    listing = tmp_path / "3f1e0a9b7c2d4e5f8a6b1c0d9e8f7a6b" / "descendants.json"
    listing.parent.mkdir()
    listing.write_text((EXPORTS / "kazoo" / "crossbar" / listing.parent.name / listing.name)
                       .read_text().replace("9c4e2a7b1d3f4c6a8e0b2d4f6a8c0e1f", "9C4E-beta"))
    assert refused(capsys, tmp_path, "kazoo", listing) == (
        f"{listing}: data[1]: id: not a 32-hex Kazoo id: '9C4E-beta'")


def test_mor_ids_that_are_not_integers(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "users_get.xml"
    bad.write_text((EXPORTS / "mor" / "api" / "users_get.xml").read_text()
                   .replace("<id>5</id>", "<id>five</id>"))
    assert refused(capsys, tmp_path, "mor", bad) == (
        f"{bad}: user[3]: id: expected an integer id, got 'five'")


def test_non_utf8_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "users.csv"
    csv.write_bytes((EXPORTS / "mor" / "tables" / "users.csv").read_bytes()
                    .replace(b",Carol,", b",Caf\xe9 Carol,"))
    assert refused(capsys, tmp_path, "mor", csv) == (
        f"{csv}: line 5: first_name: not UTF-8 text (export the file as UTF-8)")

    dump = tmp_path / "dump.json"
    dump.write_bytes(COUCH.read_bytes().replace(b'"Bob Jones"', b'"Bob J\xf6nes"')
                     .replace(b'"last_name": "Jones"', b'"last_name": "J\xf6nes"'))
    err = refused(capsys, tmp_path, "kazoo", dump)
    assert err.startswith(f"{dump}: rows[") and err.endswith(
        "]: last_name: not UTF-8 text (export the file as UTF-8)")

    domains = tmp_path / "domains.json"
    domains.write_bytes((EXPORTS / "webitel" / "accounts-acme.webitel.example.json")
                        .read_bytes().replace(b'"id": "101"', b'"id": "1\xff1"'))
    assert refused(capsys, tmp_path, "webitel", domains) == (
        f"{domains}: data['101']: id: not UTF-8 text (export the file as UTF-8)")


def test_a_crossbar_list_saved_without_its_account(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "users.json"
    shutil.copy(EXPORTS / "kazoo" / "crossbar" / "9c4e2a7b1d3f4c6a8e0b2d4f6a8c0e1f" / "users.json",
                bad)
    assert refused(capsys, tmp_path, "kazoo", bad) == (
        f"{bad}: data[0]: account: a Crossbar list does not name its account: save it under "
        "the account id, e.g. export/<ACCOUNT_ID>/users.json")


def test_a_dump_without_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "dump.json"
    bad.write_text('{"total_rows": 1, "offset": 0, "rows": [{"id": "' + "a" * 32
                   + '", "key": "x", "value": {"rev": "1-a"}}]}')
    assert refused(capsys, tmp_path, "kazoo", bad) == (
        f"{bad}: rows[0]: doc: missing: dump with ?include_docs=true")


def test_a_missing_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert refused(capsys, tmp_path, "kazoo", tmp_path / "nope") == (
        f"{tmp_path / 'nope'}: no such file or directory")


def test_the_console_script_exits_2_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "dump.json"
    bad.write_bytes(COUCH.read_bytes()[:100])
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "import", "kazoo", str(bad),
                           "-o", str(tmp_path / "directory.toml")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "directory.toml").exists()


def test_non_utf8_in_xml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "users_get.xml"
    bad.write_bytes((EXPORTS / "mor" / "api" / "users_get.xml").read_bytes()
                    .replace(b"<username>carol<", b"<username>car\xf6l<"))
    assert refused(capsys, tmp_path, "mor", bad) == (
        f"{bad}: user[3]: username: not UTF-8 text (export the file as UTF-8)")


def test_an_output_that_cannot_be_written(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "directory.toml"  # under a file: no directory can be made there
    code, _, err = run(capsys, "webitel", EXPORTS / "webitel", "-o", out)
    assert code == 2 and err.startswith(f"callgate import: {out}: cannot write: ")
    assert err.count("\n") == 1
