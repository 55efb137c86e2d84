"""Kazoo exports: Crossbar answers saved with their envelope (`/v2/accounts/{A}`,
`/descendants`, `/users`, `/devices`, `/phone_numbers`, `/api_key`) and CouchDB dumps
(`_all_docs?include_docs=true` of the account databases and number databases).

Ids are Kazoo's own 32-hex ids, kept as they are. Crossbar's user and device lists do not say
which account they list, so such a file is saved under a directory (or name) holding the
account id: `export/<ACCOUNT_ID>/users.json`. CouchDB documents carry `pvt_account_id`, the
account tree (`pvt_tree`), the api key (`pvt_api_key`) and the login hashes
(`pvt_md5_auth`/`pvt_sha1_auth`, md5/sha1 of `username:password`), which become the user's
`md5_auth`/`sha1_auth`: the user logs in with the old password, which nobody needs to know.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .records import Existing, Imported, Record
from .sources import BadExport, Source, load_json, open_source

PLATFORM = "Kazoo"
_HEX_IN_PATH = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_PRIV = "_priv_level"  # kept until the tree is known, then turned into a role


def read(paths: list[Path], existing: Existing | None = None) -> Imported:
    out = Imported()
    for path in paths:
        src = open_source(path)
        doc = load_json(src, PLATFORM)
        if isinstance(doc, dict) and isinstance(doc.get("rows"), list):
            _couch_dump(src, doc["rows"], out)
        elif isinstance(doc, dict) and doc.get("status") == "success" and "data" in doc:
            _crossbar(src, doc["data"], out)
        else:
            raise src.fail("document", "-", _not_kazoo(doc))
    _roles(out, existing or {})
    return out


def _not_kazoo(doc: Any) -> str:
    if isinstance(doc, dict) and doc.get("status") == "OK":
        return "a Webitel answer ({\"status\": \"OK\"}), not a Kazoo export"
    if isinstance(doc, dict) and doc.get("status") == "error":
        return "a Crossbar error answer, not data (export again with a valid token)"
    return ("not a Kazoo export (a Crossbar answer with {\"status\": \"success\", \"data\": ...} "
            "or a CouchDB _all_docs dump with \"rows\")")


# ---------------------------------------------------------------------------- CouchDB


def _couch_dump(src: Source, rows: list[Any], out: Imported) -> None:
    for i, row in enumerate(rows):
        label = f"rows[{i}]"
        if not isinstance(row, dict):
            raise src.fail(label, "-", "expected an object")
        if "error" in row:  # a deleted or missing key in a keys= request
            continue
        doc_id = row.get("id", "")
        if isinstance(doc_id, str) and doc_id.startswith("_design/"):
            continue
        doc = row.get("doc")
        if not isinstance(doc, dict):
            raise src.fail(label, "doc", "missing: dump with ?include_docs=true")
        if doc.get("pvt_deleted") is True:
            continue
        kind = doc.get("pvt_type")
        if kind == "account":
            _account_doc(src, label, doc, out)
        elif kind == "user":
            _user_doc(src, label, doc, out)
        elif kind == "device":
            _device_doc(src, label, doc, out)
        elif kind == "number":
            _number_doc(src, label, doc, out)
        elif doc.get("_id") == "phone_numbers":
            _phone_numbers_doc(src, label, doc, out)


def _account_doc(src: Source, label: str, doc: dict[str, Any], out: Imported) -> None:
    account_id = src.hex_id(label, "_id", doc.get("_id"))
    tree = doc.get("pvt_tree") or []
    if not isinstance(tree, list):
        raise src.fail(label, "pvt_tree", "expected a list of account ids")
    parent = src.hex_id(label, "pvt_tree", tree[-1]) if tree else ""
    out.put("accounts", _account(src, label, doc, account_id, parent=parent,
                                 api_key=src.string(label, "pvt_api_key",
                                                    doc.get("pvt_api_key")),
                                 superduper=doc.get("pvt_superduper_admin") is True))


def _account(src: Source, label: str, doc: dict[str, Any], account_id: str, **extra: Any
             ) -> Record:
    record: Record = {
        "id": account_id,
        "name": src.string(label, "name", doc.get("name")) or account_id,
        "realm": src.string(label, "realm", doc.get("realm")).lower(),
        "language": src.string(label, "language", doc.get("language")),
        "timezone": src.string(label, "timezone", doc.get("timezone")),
    }
    for key, value in extra.items():
        if value not in ("", None, False):
            record[key] = value
    return record


def _user_doc(src: Source, label: str, doc: dict[str, Any], out: Imported) -> None:
    account_id = src.hex_id(label, "pvt_account_id", doc.get("pvt_account_id"))
    record = _user(src, label, doc, src.hex_id(label, "_id", doc.get("_id")), account_id)
    for field, key, size in (("pvt_md5_auth", "md5_auth", 32), ("pvt_sha1_auth", "sha1_auth", 40)):
        value = src.string(label, field, doc.get(field)).lower()
        if value and not re.fullmatch(f"[0-9a-f]{{{size}}}", value):
            raise src.fail(label, field, f"expected {size} hex digits")
        if value:
            record[key] = value
    out.put("users", record)


def _user(src: Source, label: str, doc: dict[str, Any], user_id: str, account_id: str
          ) -> Record:
    first = src.string(label, "first_name", doc.get("first_name"))
    last = src.string(label, "last_name", doc.get("last_name"))
    email = src.string(label, "email", doc.get("email"))
    # a Kazoo user without a login still owns devices: keep it under its e-mail or id
    username = src.string(label, "username", doc.get("username")) or email or user_id
    return {
        "id": user_id, "account": account_id, "username": username,
        "name": " ".join(p for p in (first, last) if p), "email": email,
        _PRIV: src.string(label, "priv_level", doc.get("priv_level")) or "user",
    }


def _device_doc(src: Source, label: str, doc: dict[str, Any], out: Imported) -> None:
    account_id = src.hex_id(label, "pvt_account_id", doc.get("pvt_account_id"))
    sip: dict[str, Any] = doc["sip"] if isinstance(doc.get("sip"), dict) else {}
    out.put("devices", _device(src, label, doc, src.hex_id(label, "_id", doc.get("_id")),
                               account_id, src.string(label, "sip.username",
                                                      sip.get("username"))))


def _device(src: Source, label: str, doc: dict[str, Any], device_id: str, account_id: str,
            sip_username: str) -> Record:
    owner = doc.get("owner_id")
    return {
        "id": device_id, "account": account_id,
        "owner": src.hex_id(label, "owner_id", owner) if owner else "",
        "sip_username": sip_username,
        "name": src.string(label, "name", doc.get("name")) or sip_username,
    }


def _number_doc(src: Source, label: str, doc: dict[str, Any], out: Imported) -> None:
    assigned = doc.get("pvt_assigned_to")
    if not assigned:
        return  # a number in the pool, nobody's yet
    number = src.string(label, "_id", doc.get("_id"), required=True)
    out.put("dids", {"number": _did(src, label, "_id", number),
                     "account": src.hex_id(label, "pvt_assigned_to", assigned)})


def _phone_numbers_doc(src: Source, label: str, doc: dict[str, Any], out: Imported) -> None:
    owner = doc.get("pvt_account_id")
    for number, info in doc.items():
        if number.startswith(("_", "pvt_")) or not isinstance(info, dict):
            continue
        assigned = info.get("assigned_to") or owner
        if assigned:
            out.put("dids", {"number": _did(src, label, number, number),
                             "account": src.hex_id(label, f"{number}.assigned_to", assigned)})


def _did(src: Source, label: str, field: str, number: str) -> str:
    """As the directory looks DIDs up: digits, without Kazoo's E.164 `+`."""
    digits = number.lstrip("+")
    if not digits.isdigit():
        raise src.fail(label, field, f"not a phone number: {number[:40]!r}")
    return digits


# ---------------------------------------------------------------------------- Crossbar


def _path_account(src: Source, label: str) -> str:
    found = _HEX_IN_PATH.findall(str(src.path.resolve()).lower())
    if not found:
        raise src.fail(label, "account", "a Crossbar list does not name its account: save it "
                       "under the account id, e.g. export/<ACCOUNT_ID>/users.json")
    return found[-1]


def _crossbar(src: Source, data: Any, out: Imported) -> None:
    if isinstance(data, dict):
        if isinstance(data.get("numbers"), dict):
            account = ""
            for number, info in data["numbers"].items():
                label = f"data.numbers.{number}"
                info = info if isinstance(info, dict) else {}
                assigned = info.get("assigned_to") or account or _path_account(src, label)
                out.put("dids", {"number": _did(src, label, "number", number),
                                 "account": src.hex_id(label, "assigned_to", assigned)})
        elif set(data) == {"api_key"}:
            account_id = _path_account(src, "data")
            out.put("accounts", {"id": account_id,
                                 "api_key": src.string("data", "api_key", data["api_key"])})
        elif "id" in data and "name" in data and "username" not in data:
            account_id = src.hex_id("data", "id", data["id"])
            out.put("accounts", _account(src, "data", data, account_id,
                                         superduper=data.get("superduper_admin") is True))
        else:
            raise src.fail("data", "-", "a Crossbar answer this import does not read (want "
                           "the account, descendants, users, devices, phone_numbers, api_key)")
        return
    if not isinstance(data, list):
        raise src.fail("data", "-", "expected a list or an object")
    for i, item in enumerate(data):
        label = f"data[{i}]"
        if not isinstance(item, dict):
            raise src.fail(label, "-", "expected an object")
        if "tree" in item:  # /descendants, /children, /siblings
            account_id = src.hex_id(label, "id", item.get("id"))
            tree = item["tree"] if isinstance(item["tree"], list) else []
            parent = src.hex_id(label, "tree", tree[-1]) if tree else ""
            out.put("accounts", _account(src, label, item, account_id, parent=parent))
        elif "device_type" in item or "mac_address" in item:
            account_id = _path_account(src, label)
            out.put("devices", _device(src, label, item, src.hex_id(label, "id", item.get("id")),
                                       account_id, src.string(label, "username",
                                                              item.get("username"))))
        elif "priv_level" in item or "first_name" in item or "features" in item:
            account_id = _path_account(src, label)
            out.put("users", _user(src, label, item, src.hex_id(label, "id", item.get("id")),
                                   account_id))
        else:
            raise BadExport(f"{src.path}: {label}: -: neither an account, a user nor a device "
                            "of a Crossbar list")


def _roles(out: Imported, existing: Existing) -> None:
    """Kazoo's priv_level as the directory's role: an admin of the superduper account is
    superduper_admin, of an account with children a reseller, else admin. The accounts already
    in the directory count too, so re-importing one account's dump keeps its roles."""
    accounts = {str(a.get("id")): a for a in existing.get("accounts", [])}
    accounts.update(out.tables["accounts"])
    parents = {a.get("parent") for a in accounts.values()}
    for user in out.tables["users"].values():
        priv = user.pop(_PRIV, "user")
        account = accounts.get(str(user.get("account")), {})
        if priv != "admin":
            user["role"] = "user"
        elif account.get("superduper"):
            user["role"] = "superduper_admin"
        elif user.get("account") in parents:
            user["role"] = "reseller"
        else:
            user["role"] = "admin"
