"""The import rules that keep the layers apart, checked on the source with `ast`.

Every import counts, wherever it is written: at module level, inside a function, or under
`if TYPE_CHECKING:` (a type-only import is still a dependency a reader must follow). So does
`importlib.import_module("literal.name")`: naming a module in a string is naming it.

The rules:
- the core (`gateway/`) never names a dialect or a backend module: it reaches them only through
  the `dialects` and `backends` packages, which discover their members;
- `gateway/config.py` imports nothing from `gateway/` (everything else reads settings);
- no cycles among `gateway/` modules;
- `simswitch/` imports nothing from the gateway, the backends or the dialects (it is the
  independent oracle the tests trust), and the core proper never imports the simulators: only
  the demo wiring (`gateway/demo.py`) does;
- backends never import dialects; a dialect imports no backend and no other dialect;
- the directory importers (`gateway/importers/`) read the platforms' exports, not the gateway's
  wire formats: they import no dialect, backend or simulator (not even the packages), nothing
  of the core but `gateway.config`, and one platform's reader never imports another's; in the
  core only the command line (`gateway.cli`) imports them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "backends", "dialects", "simswitch")
#: Modules of the core allowed to import the simulators (the demo wiring).
DEMO_WIRING = {"gateway.demo"}
IMPORTERS = "gateway.importers"
#: The one platform reader per module of the importers.
IMPORT_PLATFORMS = ("kazoo", "mor", "webitel")


@dataclass(frozen=True)
class Arrow:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a submodule when the name is one)
    where: str  # path:line

    def __str__(self) -> str:
        return f"{self.where}: {self.source} -> {self.target}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str, root: Path) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of `from <level dots><name> import ...` written in `module`."""
    if level == 0:
        return name or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, name] if name else parts)


def arrows(path: Path, root: Path = ROOT) -> Iterator[Arrow]:
    """Every module `path` imports, by any statement anywhere in the file."""
    module = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    rel = path.relative_to(root)
    for node in ast.walk(tree):
        where = f"{rel}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Arrow(module, alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                yield Arrow(module, sub if _is_module(sub, root) else base, where)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (called in ("import_module", "__import__") and isinstance(first, ast.Constant)
                    and isinstance(first.value, str)):
                yield Arrow(module, first.value, where)


def project_arrows(root: Path = ROOT) -> list[Arrow]:
    out: list[Arrow] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            out.extend(a for a in arrows(path, root) if a.target.split(".")[0] in PACKAGES)
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


def _dialect(name: str) -> str:
    """`dialects.kazoo.auth` -> `kazoo`; the package `dialects` itself -> ""."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "dialects" else ""


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _importer_rule(a: Arrow) -> str:
    """Why an arrow from or to the importers breaks their rule ("" when it does not)."""
    if _in(a.source, IMPORTERS):
        if _top(a.target) in ("dialects", "backends", "simswitch"):
            return "the importers read exports: no dialect, backend or simulator"
        if (_top(a.target) == "gateway" and not _in(a.target, IMPORTERS)
                and a.target != "gateway.config"):
            return "the importers use nothing of the core but gateway.config"
        mine, theirs = a.source.split(".")[2:3], a.target.split(".")[2:3]
        if (mine and theirs and mine != theirs and mine[0] in IMPORT_PLATFORMS
                and theirs[0] in IMPORT_PLATFORMS):
            return "one platform's reader never imports another's"
    elif _in(a.target, IMPORTERS) and _top(a.source) == "gateway" and a.source != "gateway.cli":
        return "only the command line runs the importers"
    return ""


def broken_rules(found: list[Arrow]) -> list[str]:
    """One line per arrow that breaks a rule, saying which."""
    bad: list[str] = []
    for a in found:
        why = _importer_rule(a)
        if why:
            bad.append(f"{a}  ({why})")
        src, dst = _top(a.source), _top(a.target)
        if src == "gateway":
            if dst in ("dialects", "backends") and a.target != dst:
                bad.append(f"{a}  (the core names no dialect or backend module; "
                           f"it asks the {dst} package)")
            if dst == "simswitch" and a.source not in DEMO_WIRING:
                bad.append(f"{a}  (only the demo wiring may start simulators)")
            if a.source == "gateway.config" and dst == "gateway":
                bad.append(f"{a}  (config is a leaf: it imports nothing from gateway)")
        elif src == "simswitch" and dst != "simswitch":
            bad.append(f"{a}  (the simulators import nothing of the gateway)")
        elif src == "backends" and dst == "dialects":
            bad.append(f"{a}  (backends never import dialects)")
        elif src == "dialects":
            if dst == "backends":
                bad.append(f"{a}  (dialects never import backends)")
            elif (dst == "dialects" and _dialect(a.source)
                  and _dialect(a.target) != _dialect(a.source)):
                bad.append(f"{a}  (a dialect never imports another dialect)")
    return bad


def cycles(found: list[Arrow], package: str = "gateway") -> list[list[str]]:
    """Import cycles among the modules of `package`, each as a closed path."""
    graph: dict[str, set[str]] = {}
    for a in found:
        if _top(a.source) == package and _top(a.target) == package and a.source != a.target:
            graph.setdefault(a.source, set()).add(a.target)
    out: list[list[str]] = []
    seen_cycles: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            loop = [*stack[stack.index(node):], node]
            key = frozenset(loop)
            if key not in seen_cycles:
                seen_cycles.add(key)
                out.append(loop)
            return
        if node in done:
            return
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, stack)
        stack.pop()
        done.add(node)

    for start in sorted(graph):
        visit(start, [])
    return out


def test_import_rules() -> None:
    bad = broken_rules(project_arrows())
    assert not bad, "imports that break the layering:\n" + "\n".join(bad)


def test_no_cycles_in_the_core() -> None:
    found = cycles(project_arrows())
    assert not found, "import cycles in gateway/:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """A tree that breaks each rule once, in each way an import can be written."""
    files = {
        "gateway/__init__.py": "",
        "gateway/config.py": "def f():\n    from .control import x\n",
        "gateway/control.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                               "    from .config import S\n"),
        "gateway/app.py": ("import importlib\nimport dialects\n"
                           "m = importlib.import_module('dialects.kazoo')\n"),
        "gateway/store.py": "from backends import freeswitch\n",
        "gateway/cli.py": "from simswitch.fs_server import Sim\n",
        "backends/__init__.py": "",
        "backends/freeswitch.py": "from dialects.kazoo import render\n",
        "dialects/__init__.py": "",
        "dialects/kazoo/__init__.py": "from ..mor import x\n",
        "dialects/kazoo/render.py": "from backends.freeswitch import y\n",
        "dialects/mor/__init__.py": "x = 1\n",
        "simswitch/__init__.py": "",
        "simswitch/fs_server.py": "from gateway.logs import brief\n",
        "gateway/importers/__init__.py": "from . import kazoo\n",
        "gateway/importers/kazoo.py": "import dialects\nfrom gateway.directory import D\n",
        "gateway/importers/mor.py": "from .webitel import x\nfrom gateway.config import C\n",
        "gateway/importers/webitel.py": "from .records import R\n",
        "gateway/importers/records.py": "",
        "gateway/directory.py": "from .importers import records\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    bad = "\n".join(broken_rules(project_arrows(tmp_path)))
    for arrow in ("gateway.config -> gateway.control", "gateway.app -> dialects.kazoo",
                  "gateway.store -> backends.freeswitch", "gateway.cli -> simswitch.fs_server",
                  "backends.freeswitch -> dialects.kazoo", "dialects.kazoo -> dialects.mor",
                  "dialects.kazoo.render -> backends.freeswitch",
                  "simswitch.fs_server -> gateway",
                  "gateway.importers.kazoo -> dialects  (the importers",
                  "gateway.importers.kazoo -> gateway.directory  (the importers use",
                  "gateway.importers.mor -> gateway.importers.webitel  (one platform",
                  "gateway.directory -> gateway.importers.records  (only the command"):
        assert arrow in bad, arrow
    assert "gateway.importers.mor -> gateway.config" not in bad
    assert "gateway.importers.webitel -> gateway.importers.records" not in bad
    assert "gateway.importers -> gateway.importers.kazoo" not in bad
    assert "gateway.app -> dialects\n" not in bad + "\n"  # the package itself is fine
    assert cycles(project_arrows(tmp_path)) == [
        ["gateway.config", "gateway.control", "gateway.config"]]
