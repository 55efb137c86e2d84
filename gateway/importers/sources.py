"""Reading export files: every problem becomes one line naming the file, the record and the
field (`BadExport`), never a traceback; text that is not UTF-8 is found field by field."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEX32 = re.compile(r"^[0-9a-f]{32}$")
EXPORT_SUFFIXES = (".json", ".xml", ".csv", ".txt")
BROKEN = "\ufffd"


class BadExport(Exception):
    """One line: `FILE: RECORD: FIELD: what is wrong`."""


def source_files(sources: Sequence[str]) -> list[Path]:
    """The files named, a directory standing for the export files below it (sorted)."""
    out: list[Path] = []
    for name in sources:
        p = Path(name)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()
                              and f.suffix.lower() in EXPORT_SUFFIXES
                              and not any(part.startswith(".") for part in f.parts)))
        elif p.is_file():
            out.append(p)
        else:
            raise BadExport(f"{p}: no such file or directory")
    if not out:
        raise BadExport(f"{', '.join(sources)}: no export files (.json, .xml, .csv)")
    return out


@dataclass
class Source:
    """One export file, decoded. `damaged`: it held bytes that are not UTF-8 (replaced by
    U+FFFD), so a field carrying U+FFFD is refused by name."""

    path: Path
    text: str
    damaged: bool

    def fail(self, record: str, field: str, message: str) -> BadExport:
        return BadExport(f"{self.path}: {record}: {field}: {message}")

    def string(self, record: str, field: str, value: Any, *, required: bool = False) -> str:
        if value is None or value == "":
            if required:
                raise self.fail(record, field, "missing")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(record, field, f"expected text, got {type(value).__name__}")
        text = str(value).strip()
        if self.damaged and BROKEN in text:
            raise self.fail(record, field, "not UTF-8 text (export the file as UTF-8)")
        if any(ord(c) < 32 for c in text):
            raise self.fail(record, field, "control characters in the value")
        if required and not text:
            raise self.fail(record, field, "missing")
        return text

    def integer(self, record: str, field: str, value: Any) -> int:
        text = self.string(record, field, value, required=True)
        if not text.isdigit() or len(text) > 18:
            raise self.fail(record, field, f"expected an integer id, got {text[:40]!r}")
        return int(text)

    def hex_id(self, record: str, field: str, value: Any, platform: str = "Kazoo") -> str:
        text = self.string(record, field, value, required=True)
        if not HEX32.match(text):
            raise self.fail(record, field, f"not a 32-hex {platform} id: {text[:40]!r}")
        return text


def open_source(path: Path) -> Source:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadExport(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return Source(path, raw.decode("utf-8-sig"), False)
    except UnicodeDecodeError:
        return Source(path, raw.decode("utf-8-sig", "replace"), True)


def kind_of(src: Source) -> str:
    """`json`, `xml` or `csv`, by the first character (an export's name may say nothing)."""
    head = src.text.lstrip()[:1]
    if head in ("{", "["):
        return "json"
    if head == "<":
        return "xml"
    return "csv" if head else "empty"


def load_json(src: Source, platform: str) -> Any:
    kind = kind_of(src)
    if kind != "json":
        raise src.fail("document", "-", f"{kind.upper()}, not JSON: not a {platform} export")
    try:
        return json.loads(src.text)
    except json.JSONDecodeError as exc:
        raise src.fail(f"line {exc.lineno} column {exc.colno}", "-",
                       f"not valid JSON ({exc.msg}): the export is truncated or damaged"
                       ) from None
    except RecursionError:
        raise src.fail("document", "-", "JSON nested too deep") from None


def load_xml(src: Source, platform: str) -> Any:
    from lxml import etree  # type: ignore[import-untyped]

    if kind_of(src) != "xml":
        raise src.fail("document", "-", f"{kind_of(src).upper()}, not XML")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(src.text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        raise src.fail(f"line {line}", "-", f"not valid XML ({exc.msg}): the export is "
                       "truncated or damaged") from None


def load_csv(src: Source, required: Sequence[str], what: str) -> list[tuple[str, dict[str, str]]]:
    """Rows as (label, {column: value}); the columns `required` must all be in the header."""
    first = src.text.lstrip("\ufeff").splitlines()[0] if src.text.strip() else ""
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(src.text), delimiter=delimiter)
    try:
        header = [h.strip().strip("`").lower() for h in next(reader)]
    except StopIteration:
        raise src.fail("header", "-", "empty file") from None
    except csv.Error as exc:
        raise src.fail("header", "-", f"not valid CSV ({exc})") from None
    for column in required:
        if column not in header:
            raise src.fail("header", column, f"column missing (a {what} export has "
                           f"{', '.join(required)})")
    rows: list[tuple[str, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            label = f"line {reader.line_num}"
            if len(values) < len(header):
                missing = header[len(values)]
                raise src.fail(label, missing, f"missing value ({len(values)} of "
                               f"{len(header)} columns)")
            row = {h: (v if v != "NULL" else "") for h, v in zip(header, values, strict=False)}
            rows.append((label, row))
    except csv.Error as exc:
        raise src.fail(f"line {reader.line_num}", "-", f"not valid CSV ({exc})") from None
    return rows
