"""A channel as it travels on a node's stream: the switch-learnt fields as JSON, checked on the
way in so a forged entry is refused whole, never half applied. Attribution is left out: every
instance derives it from the same directory."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from gateway.model import Channel, Initial, State, Waiting

#: Derived on each instance (directory attribution) or local (render caches).
LOCAL = frozenset({"account_id", "owner_id", "authorizing_id", "authorizing_type", "agent_id",
                   "version"})
_FIELDS = {f.name: f for f in fields(Channel)
           if f.name not in LOCAL and f.name not in ("id", "node")}


class BadRecord(ValueError):
    """A record that is not a channel this gateway could have published."""


def dump(ch: Channel, names: Any = None) -> dict[str, Any]:
    """The fields `names` (all shared ones when None) of `ch`, as JSON values."""
    out: dict[str, Any] = {}
    for name in (names if names is not None else _FIELDS):
        if name in _FIELDS:
            value = getattr(ch, name)
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _check(name: str, value: Any) -> Any:
    if name == "state":
        return State(value)
    if name == "waiting":
        return Waiting(value)
    if name == "initial":
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 6 or not all(
                isinstance(v, str) for v in value):
            raise BadRecord(name)
        return Initial(*value)
    if name == "variables":
        if value is None:
            return None
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise BadRecord(name)
        return value
    default = _FIELDS[name].default
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise BadRecord(name)
    return value


def load(record: Any) -> dict[str, Any]:
    """Field values from a record; raises BadRecord on any unknown field or wrong type."""
    if not isinstance(record, dict):
        raise BadRecord("not an object")
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name not in _FIELDS:
            raise BadRecord(f"unknown field {str(name)[:40]}")
        try:
            out[name] = _check(name, value)
        except (ValueError, TypeError):
            raise BadRecord(name) from None
    return out
