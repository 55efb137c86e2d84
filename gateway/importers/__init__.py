"""`callgate import kazoo|mor|webitel SOURCE... -o FILE`: the directory tables (`[[accounts]]`,
`[[users]]`, `[[devices]]`, `[[dids]]`) built from what an operator exports from the platform
being replaced, its ids and logins kept, so that platform's clients keep working unchanged.

One small module per platform turns its exports into records (`kazoo`, `mor`, `webitel`);
`merge` folds them into the existing file, refuses conflicts and says what changes; `tomlfile`
writes the file. Nothing here imports a dialect or a backend: the formats are the platforms'
exports, not the gateway's wire formats.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import kazoo, mor, webitel
from .merge import plan
from .records import Existing, Imported
from .sources import BadExport, source_files
from .tomlfile import TomlFileError, read_directory, render, write_atomically

#: platform -> reader of its exports (given the directory file as it is, for context)
PLATFORMS: dict[str, Callable[[list[Path], Existing], Imported]] = {
    "kazoo": kazoo.read,
    "mor": mor.read,
    "webitel": webitel.read,
}


def run(platform: str, sources: Sequence[str], output: str, dry_run: bool = False) -> int:
    """Import and write (or, with `dry_run`, only say what would change); 0 when done or
    nothing changes, 2 when an export is bad or the result has conflicts (nothing written)."""
    out = Path(output)
    try:
        existing = read_directory(out)
        imported = PLATFORMS[platform](source_files(sources), existing)
    except (BadExport, TomlFileError) as exc:
        print(f"callgate import: {exc}", file=sys.stderr)
        return 2
    result = plan(existing, imported)
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.conflicts:
        for line in result.conflicts:
            print(f"conflict: {line}", file=sys.stderr)
        print(f"callgate import: {len(result.conflicts)} conflict(s), nothing written to {out}",
              file=sys.stderr)
        return 2
    for line in result.changes:
        print(line)
    text = render(result.tables)
    unchanged = out.is_file() and out.read_bytes() == text.encode()
    summary = result.summary()
    if dry_run:
        print(f"dry run: {summary}; {out} not written")
        return 0
    if unchanged:
        print(f"{out}: no change ({summary})")
        return 0
    try:
        write_atomically(out, text)
    except OSError as exc:
        print(f"callgate import: {out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"{out}: written ({summary})")
    return 0
