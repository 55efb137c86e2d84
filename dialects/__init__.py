"""Dialects: each package renders the channel store in one platform's wire format.

A dialect package `dialects/<name>/` offers the same shape, like Kazoo crossbar's modules:
- `settings.parse(section) -> options`: validates its `[dialects.<name>]` table;
- `create_apps(gateway, dialect_settings) -> DialectApps | {prefix: web.Application}`: its
  sub-applications, mounted at their prefixes on the shared listener (or on the dialect's own
  `listen`), root routes and extra listeners;
- `demo_lines(gateway) -> list[str]`: how to try it, printed by `callgate serve --demo`.
Inside, `routes` (URL -> handler), `auth` (request -> principal or native 401), `render`
(Channel -> wire dict/XML) and `errors` (exception -> native error body).

The core names no dialect: the dialects are the packages found here, so a new dialect is one
new package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType
from typing import Any


def names() -> tuple[str, ...]:
    """Every dialect package in this directory, sorted."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)
                        if m.ispkg and not m.name.startswith("_")))


def load(name: str) -> ModuleType:
    """The dialect's package; whatever it fails to import propagates."""
    return importlib.import_module(f"{__name__}.{name}")


def settings_parser(name: str) -> Callable[[Any], Any]:
    """The dialect's `settings.parse`. Loading it loads the whole package first, so a dialect
    that cannot be imported (a missing library, a broken module) fails here, at configuration
    time, and never runs with defaults. `LookupError` when the package has no parser."""
    load(name)
    module = importlib.import_module(f"{__name__}.{name}.settings")
    parse = getattr(module, "parse", None)
    if not callable(parse):
        raise LookupError(f"{module.__name__} has no parse()")
    return parse
