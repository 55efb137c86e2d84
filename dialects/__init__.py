"""Dialects: each package renders the channel store in one platform's wire format.

A dialect package `dialects/<name>/` offers the same shape, like Kazoo crossbar's modules:
- `settings.parse(section) -> options`: validates its `[dialects.<name>]` table;
- `create_apps(gateway, dialect_settings) -> {prefix: web.Application}`: its sub-applications,
  mounted at their prefixes on the shared listener (or on the dialect's own `listen`);
- `demo_lines(gateway) -> list[str]`: how to try it, printed by `callgate serve --demo`.
Inside, `routes` (URL -> handler), `auth` (request -> principal or native 401), `render`
(Channel -> wire dict/XML) and `errors` (exception -> native error body).
"""

from __future__ import annotations

import importlib
from types import ModuleType


def load(name: str) -> ModuleType:
    return importlib.import_module(f"dialects.{name}")
