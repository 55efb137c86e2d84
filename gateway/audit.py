"""The audit trail: one JSON line per call-control command (who, through which dialect, what,
on which channel and node, the outcome and how long it took), appended to `[gateway] audit_log`.

Who: each dialect's auth sets the `Actor` of the request (or WebSocket message) with
`set_actor`; a context variable carries it to `Control`, whose commands are wrapped here in one
place, so no dialect handler changes. Secrets never enter a line: only a fixed set of plain
arguments is recorded (no tokens, passwords, hashes, keys, channel variables or DTMF digits).
Lines are written line-buffered to a local file: one small append per command.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .store import ChannelStore


class Control(Protocol):
    """What the audit needs of `gateway.control.Control` (named here so neither imports the
    other): its store, to find a command's channel and node."""

    store: ChannelStore

log = logging.getLogger("callgate.audit")

#: The commands of `Control` that reach a switch.
COMMANDS = ("hangup", "transfer", "attended_transfer", "hold", "unhold", "park", "break_media",
            "play", "send_dtmf", "bridge", "eavesdrop", "intercept", "originate", "record")
#: Keyword arguments worth a record: none can hold a secret.
PLAIN_ARGS = ("destination", "context", "leg", "mode", "action", "node", "cause")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked: the dialect and its principal (a user or account id and a display name)."""

    dialect: str
    id: str
    name: str = ""
    account: str = ""


ACTOR: ContextVar[Actor | None] = ContextVar("callgate_actor", default=None)


def set_actor(dialect: str, id: str, name: str = "", account: str = "") -> None:
    """Called by a dialect's auth once it knows the principal of the request."""
    ACTOR.set(Actor(dialect, id, name, account))


class AuditLog:
    """Appends one JSON object per line to `path` (opened on first use)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._broken = False

    def write(self, record: dict[str, Any]) -> None:
        if self._broken:
            return
        try:
            if self._file is None:
                self._file = open(self.path, "a", buffering=1, encoding="utf-8")
            self._file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False)
                             + "\n")
        except OSError as exc:
            self._broken = True  # said once; commands go on without the trail
            log.error("audit: cannot write %s: %s", self.path, exc.strerror or exc)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def install(self, control: Control) -> None:
        """Wrap each command of `control` (on the instance) so every call leaves a line."""
        for name in COMMANDS:
            method = getattr(control, name, None)
            if method is not None:
                setattr(control, name, self._wrap(control, name, method))

    def _wrap(self, control: Control, name: str,
              method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def audited(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            record = _describe(control, name, args, kwargs)
            try:
                result = await method(*args, **kwargs)
            except BaseException as exc:
                code = getattr(exc, "code", None)
                record["outcome"] = code if isinstance(code, str) else (
                    "cancelled" if isinstance(exc, asyncio.CancelledError) else "error")
                self._finish(record, started)
                raise
            record["outcome"] = "ok"
            new_leg = getattr(result, "channel_id", "")
            if isinstance(new_leg, str) and new_leg:
                record["new_channel"] = new_leg
                ch = control.store.get(new_leg)
                if not record["node"] and ch is not None:
                    record["node"] = ch.node
            self._finish(record, started)
            return result
        return audited

    def _finish(self, record: dict[str, Any], started: float) -> None:
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        self.write(record)


def _text(value: Any) -> str:
    return str(value)[:256]


def _describe(control: Control, name: str, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> dict[str, Any]:
    """The line's fields known before the command runs."""
    actor = ACTOR.get()
    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "dialect": actor.dialect if actor else "",
        "actor": ({"id": actor.id, "name": actor.name, "account": actor.account}
                  if actor else None),
        "command": name,
        "channel": "",
        "node": "",
    }
    channel_id, node = "", kwargs.get("node") or ""
    if name == "originate":
        endpoint = args[0] if args else kwargs.get("endpoint")
        if endpoint is not None:
            kind, value = getattr(endpoint, "kind", ""), getattr(endpoint, "value", "")
            record["endpoint"] = _text(f"{kind}:{value}")
        if len(args) > 1:
            record["destination"] = _text(args[1])
    else:
        first = args[0] if args else kwargs.get("channel_id", kwargs.get("target_id"))
        channel_id = first if isinstance(first, str) else ""
        ch = control.store.get(channel_id) if channel_id else None
        if ch is not None:
            node = ch.node
        if name in ("transfer", "attended_transfer") and len(args) > 1:
            record["destination"] = _text(args[1])
        if name == "bridge" and len(args) > 1:
            record["other_channel"] = _text(args[1])
        if name == "record" and len(args) > 1:
            record["action"] = _text(args[1])
        if name == "hangup" and len(args) > 1:
            record["cause"] = _text(args[1])
    record["channel"] = channel_id
    record["node"] = node if isinstance(node, str) else ""
    for key in PLAIN_ARGS:
        value = kwargs.get(key)
        if isinstance(value, str) and value and key not in record:
            record[key] = _text(value)
    return record
