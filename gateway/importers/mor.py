"""MOR exports: the API's `users_get` and `devices_get` XML answers, or CSV exports of the
database tables `users`, `devices` and `conflines` (`mysqldump --tab` or any SQL client's CSV).

MOR has one tree of users: the admin (id 0), resellers, and users owned by the admin or by a
reseller (`owner_id`). A reseller becomes an account of its own (its users and their devices are
its tenants) under one root account for the admin's own users; each reseller's
`API_Secret_Key` (a `conflines` row owned by the reseller) becomes the account's
`mor_api_secret`, so billing systems keep signing with the key they have. MOR's integer user and
device ids become `number` (what MOR's API answers with); ids are derived from them.
`devices_get` answers for one user, whose id is the last number in the file's name
(`devices_get-12.xml`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .records import Existing, Imported, Record, stable_id
from .sources import Source, kind_of, load_csv, load_xml, open_source

PLATFORM = "MOR"
ROLES = {"admin": "superduper_admin", "reseller": "reseller", "partner": "reseller",
         "accountant": "admin", "user": "user"}
USER_COLUMNS = ("id", "username", "usertype", "owner_id")
DEVICE_COLUMNS = ("id", "user_id", "username", "device_type")
CONFLINE_COLUMNS = ("name", "value", "owner_id")
ROOT = stable_id("mor", "account", "admin")


def read(paths: list[Path], existing: Existing | None = None) -> Imported:
    users: dict[int, dict[str, str]] = {}
    devices: dict[int, dict[str, str]] = {}
    keys: dict[int, str] = {}
    out = Imported()
    for path in paths:
        src = open_source(path)
        kind = kind_of(src)
        if kind == "xml":
            _xml(src, users, devices)
        elif kind == "csv":
            _csv(src, users, devices, keys, out)
        else:
            raise src.fail("document", "-", f"{kind.upper()}: not a MOR export (MOR exports "
                           "are the API's XML or CSV of the users/devices/conflines tables)")
    _build(users, devices, keys, out)
    return out


def _xml(src: Source, users: dict[int, dict[str, str]], devices: dict[int, dict[str, str]]
         ) -> None:
    root = load_xml(src, PLATFORM)
    user_elems = root.findall(".//users/user")
    device_elems = root.findall(".//devices/device")
    if root.tag != "page" or not (user_elems or device_elems):
        error = root.findtext(".//error")
        why = f"a MOR error answer ({error.strip()})" if error else "not a MOR users_get or " \
              "devices_get answer"
        raise src.fail("document", root.tag, why)
    for i, elem in enumerate(user_elems):
        label = f"user[{i}]"
        row = {child.tag: (child.text or "").strip() for child in elem}
        _user_row(src, label, row, users)
    if device_elems:
        numbers = re.findall(r"\d+", src.path.stem)
        if not numbers:
            raise src.fail("document", "user_id", "devices_get answers for one user: put "
                           "its user_id last in the file name, e.g. devices_get-12.xml")
        for i, elem in enumerate(device_elems):
            label = f"device[{i}]"
            row = {child.tag: (child.text or "").strip() for child in elem}
            row["id"] = row.get("device_id", "")
            row["user_id"] = numbers[-1]
            _device_row(src, label, row, devices)


def _csv(src: Source, users: dict[int, dict[str, str]], devices: dict[int, dict[str, str]],
         keys: dict[int, str], out: Imported) -> None:
    header = src.text.lstrip("\ufeff").splitlines()[0].lower()
    if "usertype" in header:
        for label, row in load_csv(src, USER_COLUMNS, "MOR users table"):
            _user_row(src, label, row, users)
    elif "device_type" in header or "istrunk" in header:
        for label, row in load_csv(src, DEVICE_COLUMNS, "MOR devices table"):
            _device_row(src, label, row, devices)
    elif "value" in header and "name" in header:
        for label, row in load_csv(src, CONFLINE_COLUMNS, "MOR conflines table"):
            if row["name"] != "API_Secret_Key":
                continue
            owner = src.integer(label, "owner_id", row["owner_id"])
            value = src.string(label, "value", row["value"])
            if owner == 0:
                out.notes.append(f"{src.path}: the admin's API_Secret_Key is not part of the "
                                 "directory: set [dialects.mor] api_secret to it")
            elif value:
                keys[owner] = value
    else:
        raise src.fail("header", "-", "not a MOR export (want the users table with usertype, "
                       "the devices table with device_type, or conflines)")


def _user_row(src: Source, label: str, row: dict[str, Any], users: dict[int, dict[str, str]]
              ) -> None:
    uid = src.integer(label, "id", row.get("id"))
    usertype = src.string(label, "usertype", row.get("usertype"), required=True)
    if usertype not in ROLES:
        raise src.fail(label, "usertype", f"unknown MOR user type {usertype[:20]!r}")
    users[uid] = {
        "username": src.string(label, "username", row.get("username"), required=True),
        "usertype": usertype,
        "owner_id": str(src.integer(label, "owner_id", row.get("owner_id") or "0")),
        "name": " ".join(p for p in (src.string(label, "first_name", row.get("first_name")),
                                     src.string(label, "last_name", row.get("last_name"))) if p),
        "password_sha1": _sha1(src, label, row.get("password")),
    }


def _sha1(src: Source, label: str, value: Any) -> str:
    """The users table's `password` column: SHA1 of the password, as MOR stores it."""
    text = src.string(label, "password", value).lower()
    if text and not re.fullmatch(r"[0-9a-f]{40}", text):
        raise src.fail(label, "password", "expected MOR's stored SHA1 (40 hex digits)")
    return text


def _device_row(src: Source, label: str, row: dict[str, Any],
                devices: dict[int, dict[str, str]]) -> None:
    did = src.integer(label, "id", row.get("id"))
    username = src.string(label, "username", row.get("username"))
    devices[did] = {
        "user_id": str(src.integer(label, "user_id", row.get("user_id"))),
        "username": username,
        "name": src.string(label, "name", row.get("name")) or username,
        "extension": src.string(label, "extension", row.get("extension")),
        "device_type": src.string(label, "device_type", row.get("device_type")) or "SIP",
        "istrunk": src.string(label, "istrunk", row.get("istrunk")),
        "ani": src.string(label, "ani", row.get("ani")),
    }


def _build(users: dict[int, dict[str, str]], devices: dict[int, dict[str, str]],
           keys: dict[int, str], out: Imported) -> None:
    resellers = {uid for uid, u in users.items() if ROLES[u["usertype"]] == "reseller"}
    if users or devices:
        out.put("accounts", {"id": ROOT, "name": "MOR"})
    for uid in sorted(resellers):
        u = users[uid]
        account: Record = {"id": _account_of(uid, resellers), "name": u["name"] or u["username"],
                           "parent": ROOT}
        if uid >= 1:
            account["number"] = uid
        if uid in keys:
            account["mor_api_secret"] = keys[uid]
        out.put("accounts", account)
    for uid, u in sorted(users.items()):
        owner = int(u["owner_id"])
        home = uid if uid in resellers else owner
        record: Record = {"id": stable_id("mor", "user", uid),
                          "account": _account_of(home, resellers),
                          "username": u["username"], "name": u["name"],
                          "role": ROLES[u["usertype"]], "password_sha1": u["password_sha1"]}
        if uid >= 1:  # MOR's admin is user 0; the configuration numbers from 1
            record["number"] = uid
        out.put("users", record)
        if home != 0 and home not in resellers:
            out.conflict(str(record["id"]), f"users: MOR user {uid} ({u['username']}): owner_id "
                         f"{owner} is not a reseller in the export")
    for did, d in sorted(devices.items()):
        uid = int(d["user_id"])
        owner_row = users.get(uid)
        home = uid if uid in resellers else (int(owner_row["owner_id"]) if owner_row else 0)
        if owner_row is None:
            out.conflict(stable_id("mor", "device", did), f"devices: MOR device {did} "
                         f"({d['name']}): its owner, user_id {uid}, is not in the users export")
        out.put("devices", {
            "id": stable_id("mor", "device", did), "number": did,
            "account": _account_of(home, resellers),
            "owner": stable_id("mor", "user", uid), "sip_username": d["username"],
            "name": d["name"], "type": d["device_type"], "extension": d["extension"],
            "trunk": d["istrunk"] == "1", "ani": d["ani"] == "1",
        })
    for uid in keys:
        if uid not in resellers:
            out.notes.append(f"API_Secret_Key of user {uid} is not imported: only a reseller "
                             "has a key of its own")


def _account_of(uid: int, resellers: set[int]) -> str:
    """A reseller's own account, or the root account (the admin and its users); an owner
    missing from the export gets the account id it would have, so the merge names it."""
    if uid == 0:
        return ROOT
    return stable_id("mor", "reseller", uid)
