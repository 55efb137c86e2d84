"""Webitel exports: the engine's REST answers `GET /api/v2/domains`, `GET /api/v2/accounts?domain=D`
and, for the login hashes, `GET /api/v2/accounts/<id>?domain=D` (the directory entry with its
`a1-hash`), each saved as returned: `{"status": "OK", "data": {...}}`.

A domain is a tenant: it becomes an account whose realm is the domain. A Webitel account
(`<ext>@<domain>`) becomes a user (login `<ext>`) and its SIP device. Webitel has no numeric ids
(domains are names, accounts are extensions within a domain), so ids are derived from the names
and no `number` is written. The `a1-hash` (md5 of `<ext>:<domain>:<password>`) becomes the user's
`a1_hash`, which `/login` as `<ext>@<domain>` checks as the engine does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .records import Existing, Imported, stable_id
from .sources import Source, load_json, open_source

PLATFORM = "Webitel"
ROLES = {"admin": "admin", "user": "user", "root": "superduper_admin"}
_CONTACT = re.compile(r"sofia_contact\([^)]*?/([^/@)]+)@([^)]+)\)")


def read(paths: list[Path], existing: Existing | None = None) -> Imported:
    out = Imported()
    for path in paths:
        src = open_source(path)
        doc = load_json(src, PLATFORM)
        if not (isinstance(doc, dict) and doc.get("status") == "OK"
                and isinstance(doc.get("data"), dict)):
            raise src.fail("document", "-", _not_webitel(doc))
        data = doc["data"]
        if "a1-hash" in data or "variable_w_domain" in data:
            _detail(src, data, out)
            continue
        for key, item in data.items():
            label = f"data[{key!r}]"
            if not isinstance(item, dict):
                raise src.fail(label, "-", "expected an object")
            if "scheme" in item or "state" in item:
                _listed_account(src, label, item, out)
            elif "domain" in item:
                _domain(out, _domain_name(src, label, item.get("domain")))
            else:
                raise src.fail(label, "-", "neither a domain nor an account of a Webitel list")
    return out


def _not_webitel(doc: Any) -> str:
    if isinstance(doc, dict) and doc.get("status") == "success":
        return "a Kazoo Crossbar answer, not a Webitel export"
    if isinstance(doc, dict) and "rows" in doc:
        return "a CouchDB dump (Kazoo), not a Webitel export"
    return "not a Webitel export (an /api/v2 answer with {\"status\": \"OK\", \"data\": {...}})"


def _domain_name(src: Source, label: str, value: Any) -> str:
    name = src.string(label, "domain", value, required=True).lower()
    if not re.fullmatch(r"[a-z0-9.:_-]+", name):
        raise src.fail(label, "domain", f"not a domain name: {name[:60]!r}")
    return name


def _domain(out: Imported, domain: str) -> str:
    account_id = stable_id("webitel", "domain", domain)
    out.put("accounts", {"id": account_id, "name": domain, "realm": domain})
    return account_id


def _account(out: Imported, src: Source, label: str, ext: str, domain: str, **user: Any
             ) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", ext):
        raise src.fail(label, "id", f"not a Webitel account id: {ext[:40]!r}")
    account_id = _domain(out, domain)
    login = f"{ext}@{domain}"
    user_id = stable_id("webitel", "user", login)
    out.put("users", {"id": user_id, "account": account_id, "username": ext, **user})
    out.tables["users"][user_id].setdefault("role", "user")
    out.put("devices", {"id": stable_id("webitel", "device", login), "account": account_id,
                        "owner": user_id, "sip_username": ext, "name": ext, "extension": ext})


def _listed_account(src: Source, label: str, item: dict[str, Any], out: Imported) -> None:
    ext = src.string(label, "id", item.get("id"), required=True)
    _account(out, src, label, ext, _domain_name(src, label, item.get("domain")),
             extension=ext)


def _detail(src: Source, data: dict[str, Any], out: Imported) -> None:
    label = "data"
    contact = _CONTACT.search(src.string(label, "dial-string", data.get("dial-string")))
    domain = _domain_name(src, label, data.get("variable_w_domain")
                          or (contact[2] if contact else None))
    if contact is None:
        raise src.fail(label, "dial-string", "no sofia_contact(*/<id>@<domain>) to tell the "
                       "account id")
    ext = contact[1]
    a1 = src.string(label, "a1-hash", data.get("a1-hash")).lower()
    if a1 and not re.fullmatch(r"[0-9a-f]{32}", a1):
        raise src.fail(label, "a1-hash", "expected 32 hex digits")
    role = src.string(label, "variable_account_role", data.get("variable_account_role"))
    _account(out, src, label, ext, domain, a1_hash=a1,
             role=ROLES.get(role, "user") if role else "",
             name=src.string(label, "variable_effective_caller_id_name",
                             data.get("variable_effective_caller_id_name")))
