"""The directory file: read what is there, write it back byte-stable (fixed key order, no
timestamps) so an unchanged import leaves it byte-identical, and replace it atomically."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

from .records import TABLES, Record, Value

#: Key order per table: the configuration reference's order, then any other key alphabetically.
ORDER = {
    "accounts": ("id", "number", "name", "realm", "parent", "api_key", "mor_api_secret",
                 "superduper", "language", "timezone"),
    "users": ("id", "number", "account", "username", "password", "password_env", "md5_auth",
              "sha1_auth", "a1_hash", "password_sha1", "name", "role", "extension", "email"),
    "devices": ("id", "number", "account", "owner", "sip_username", "name", "type",
                "extension", "trunk", "ani", "node"),
    "dids": ("number", "account", "device", "user"),
}
HEADER = ("# callgate directory, written by `callgate import`. Include it from the main\n"
          "# configuration (include = [\"<this file>\"]); re-run the import to update it.\n")


class TomlFileError(Exception):
    pass


def read_directory(path: Path) -> dict[str, list[Record]]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TomlFileError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise TomlFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    other = [k for k in data if k not in TABLES]
    if other:
        raise TomlFileError(f"{path}: {other[0]}: this file holds more than the directory; "
                            "import into a file of its own and include it from the "
                            "main configuration")
    for table, rows in data.items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TomlFileError(f"{path}: {table}: expected an array of tables")
        for i, row in enumerate(rows):
            for key, value in row.items():
                if not isinstance(value, str | int | bool):
                    raise TomlFileError(f"{path}: {table}[{i}].{key}: expected a string, an "
                                        "integer or a boolean")
    return data


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else _value(name)


def render(tables: dict[str, list[Record]]) -> str:
    parts = [HEADER]
    for table in TABLES:
        for row in tables.get(table, []):
            order = ORDER[table]
            keys = [k for k in order if k in row] + sorted(k for k in row if k not in order)
            lines = [f"[[{table}]]"] + [f"{_key(k)} = {_value(row[k])}" for k in keys]
            parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)  # it may hold api keys and login hashes
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
