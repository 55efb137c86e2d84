"""Folding imported rows into the directory file: rows with the same key are updated in place
(the keys the import sets are replaced, keys an operator added by hand stay), new rows are
appended, nothing is ever duplicated; then the whole result is checked, and every conflict is
one line with its reason."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from gateway.config import ConfigError, parse

from .records import TABLES, Imported, Record, key_of


@dataclass
class Plan:
    tables: dict[str, list[Record]]
    changes: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    same: int = 0

    def summary(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.same} unchanged"


def label(table: str, row: Record) -> str:
    key = row.get(key_of(table), "?")
    name = row.get("username") or row.get("name") or row.get("sip_username") or ""
    return f"{table} {key}" + (f" ({name})" if name else "")


def plan(existing: dict[str, list[Record]], imported: Imported) -> Plan:
    tables = {t: [dict(r) for r in existing.get(t, [])] for t in TABLES}
    result = Plan(tables)
    for table in TABLES:
        index = {str(r.get(key_of(table))): i for i, r in enumerate(tables[table])}
        for row in imported.rows(table):
            key = str(row[key_of(table)])
            if key in index:
                old = tables[table][index[key]]
                new = {**old, **row}
                changed = [k for k in new if old.get(k) != new.get(k)]
                if changed:  # key names only: a value may be a key or a hash
                    tables[table][index[key]] = new
                    result.updated += 1
                    result.changes.append(f"~ {label(table, new)}: {', '.join(changed)}")
                else:
                    result.same += 1
            else:
                index[key] = len(tables[table])
                tables[table].append(dict(row))
                result.added += 1
                result.changes.append(f"+ {label(table, row)}")
    result.conflicts = [*imported.conflicts, *conflicts(tables, imported.flagged)]
    if not result.conflicts:
        result.conflicts = invalid(tables)
    return result


def conflicts(tables: dict[str, list[Record]], flagged: set[str]) -> list[str]:
    """What would make the directory ambiguous or dangling, one line each."""
    out: list[str] = []
    accounts = {str(a.get("id")): a for a in tables["accounts"]}
    users = {str(u.get("id")): u for u in tables["users"]}
    devices = {str(d.get("id")): d for d in tables["devices"]}

    by_realm: dict[str, list[Record]] = defaultdict(list)
    for a in tables["accounts"]:
        if a.get("realm"):
            by_realm[str(a["realm"]).lower()].append(a)
        parent = a.get("parent")
        if parent and parent not in accounts:
            out.append(f"{label('accounts', a)}: its parent account {parent} is missing")
    for realm, same in by_realm.items():
        if len(same) > 1:
            out.append(f"accounts: realm {realm!r} is used twice: "
                       + " and ".join(label("accounts", a) for a in same))

    logins: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for u in tables["users"]:
        if str(u.get("id")) in flagged:
            continue
        if u.get("account") not in accounts:
            out.append(f"{label('users', u)}: its account {u.get('account')} is missing")
        logins[(str(u.get("account")), str(u.get("username", "")).lower())].append(u)
    for (_, name), same in logins.items():
        if len(same) > 1:
            out.append(f"users: username {name!r} twice in one account: "
                       + " and ".join(label("users", u) for u in same))

    sip: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for d in tables["devices"]:
        if str(d.get("id")) in flagged:
            continue
        account = accounts.get(str(d.get("account")))
        if account is None:
            out.append(f"{label('devices', d)}: its account {d.get('account')} is missing")
        owner = d.get("owner")
        if owner and owner not in users:
            out.append(f"{label('devices', d)}: its owner, user {owner}, is missing")
        if d.get("sip_username"):
            realm = str(account.get("realm", "")).lower() if account else ""
            sip[(str(d["sip_username"]), realm)].append(d)
    for (name, realm), same in sip.items():
        owners = {str(d.get("account")) for d in same}
        if len(owners) > 1:
            where = f"realm {realm!r}" if realm else "accounts without a realm"
            out.append(f"devices: SIP username {name!r} in two accounts ({where}): "
                       + " and ".join(label("devices", d) for d in same))
        elif len(same) > 1:
            out.append(f"devices: SIP username {name!r} twice in one account: "
                       + " and ".join(label("devices", d) for d in same))

    for d in tables["dids"]:
        for key, known in (("account", accounts), ("device", devices), ("user", users)):
            if d.get(key) and d[key] not in known:
                out.append(f"{label('dids', d)}: its {key} {d[key]} is missing")
    return out


def invalid(tables: dict[str, list[Record]]) -> list[str]:
    """Whatever else the configuration itself would refuse, in its own words."""
    data = {"gateway": {"token_secret": "x" * 32}, **{t: rows for t, rows in tables.items()
                                                      if rows}}
    try:
        parse(data, "<import>")
    except ConfigError as exc:
        return [e.removeprefix("<import>: ") for e in exc.errors]
    return []
