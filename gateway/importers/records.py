"""What a platform reader hands the merge: directory rows by table, keyed as the configuration
keys them (accounts, users and devices by `id`, DIDs by `number`), plus notes for the operator."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

Value = str | int | bool
Record = dict[str, Value]
TABLES = ("accounts", "users", "devices", "dids")
Existing = dict[str, list[Record]]  # the directory file's tables as they are


def key_of(table: str) -> str:
    return "number" if table == "dids" else "id"


def stable_id(platform: str, kind: str, native: str | int) -> str:
    """A 32-hex id for a platform whose own ids are integers or names: the same platform, kind
    and native id always give the same id, so a re-import updates rows instead of adding."""
    return hashlib.md5(f"callgate-import:{platform}:{kind}:{native}".encode()).hexdigest()


@dataclass
class Imported:
    tables: dict[str, dict[str, Record]] = field(
        default_factory=lambda: {t: {} for t in TABLES})
    notes: list[str] = field(default_factory=list)
    # problems only the platform can word (a MOR owner_id that is no reseller); the rows
    # named here are not reported a second time by the generic checks
    conflicts: list[str] = field(default_factory=list)
    flagged: set[str] = field(default_factory=set)

    def conflict(self, key: str, line: str) -> None:
        self.conflicts.append(line)
        self.flagged.add(key)

    def put(self, table: str, record: Record) -> Record:
        """Add a row, or fill in the one already read under the same key (a Crossbar list and
        a CouchDB dump of the same user): values read later win, empty values never erase."""
        key = str(record[key_of(table)])
        row = self.tables[table].setdefault(key, {})
        owner = row.get("account")
        if (table == "dids" and owner and record.get("account") not in ("", None, owner)
                and key not in self.flagged):
            self.conflict(key, f"dids {key}: assigned to two accounts in the export, {owner} "
                          f"and {record['account']}")
        for name, value in record.items():
            if value != "" and value is not None:
                row[name] = value
        return row

    def rows(self, table: str) -> list[Record]:
        return list(self.tables[table].values())
