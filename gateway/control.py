"""Normalized call control: what a dialect may ask of a channel, routed to the switch that owns it.

Dialects never know a switch's wire format: they call `Control`, which finds the channel in the
store, picks its node's backend and returns a `Result` or raises one typed `CommandError`. Each
dialect renders those errors in its own platform's shape.
"""

from __future__ import annotations

import functools
import inspect
import posixpath
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .config import SAFE_PATH, safe_path
from .model import Channel
from .switch import ConnState, Endpoint, Result, SwitchBackend

if TYPE_CHECKING:
    from .audit import AuditLog
    from .directory import Directory
    from .store import ChannelStore


__all__ = [  # also the home of what backends and dialects import from the switch contract
    "SAFE_PATH", "CommandError", "CommandTimeout", "Control", "Endpoint", "InvalidArgument",
    "NotFound", "OriginateFailed", "Rejected", "Result", "SwitchBackend", "Unavailable",
    "Unsupported", "recording_file", "safe_path",
]

RECORD_ACTIONS = ("start", "stop")
TRANSFER_LEGS = ("self", "bleg", "both")


def recording_file(directory: str, channel_id: str) -> str:
    """The file a recording gets when the command names none: `<dir>/<channel id>-<unix
    time>.wav`, or the bare name when `directory` is "" (the switch's own default place)."""
    name = f"{channel_id}-{int(time.time())}.wav"
    return posixpath.join(directory, name) if directory else name


class CommandError(Exception):
    """A command did not do what was asked. `code` is stable; `message` is safe to show."""

    code = "failed"

    def __init__(self, message: str = "", *, reply: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.reply = reply  # the switch's own reply text, for logs


class NotFound(CommandError):
    """No such channel (never seen, already gone, or outside the caller's scope)."""

    code = "not_found"


class Unavailable(CommandError):
    """The owning switch is not connected, or dropped while the command was in flight."""

    code = "unavailable"


class CommandTimeout(Unavailable):
    code = "timeout"


class Rejected(CommandError):
    """The switch refused or failed the operation."""

    code = "rejected"


class Unsupported(CommandError):
    code = "unsupported"


class InvalidArgument(CommandError):
    code = "invalid"


class OriginateFailed(CommandError):
    """The new leg never answered; `cause` is a Q.850 name such as USER_BUSY or NO_ANSWER."""

    code = "originate_failed"

    def __init__(self, cause: str, *, reply: str = "") -> None:
        super().__init__(cause, reply=reply)
        self.cause = cause


Command = TypeVar("Command", bound=Callable[..., Awaitable[Result]])


def counted(command: Command) -> Command:
    """Tally each call by (node, command, outcome) in `Control.outcomes` for /metrics: the
    outcome is `ok` or the `CommandError`'s code (`error` for anything else); the node is the
    target channel's, or the switch an originate goes to, taken before the command runs (a
    hung-up channel leaves the store), "" when there is none."""
    first = list(inspect.signature(command).parameters)[1]  # after self

    @functools.wraps(command)
    async def run(self: Control, *args: Any, **kwargs: Any) -> Result:
        target = args[0] if args else kwargs.get(first)
        node = self._node_of(target, kwargs.get("node"))
        outcome = "error"
        try:
            result = await command(self, *args, **kwargs)
            outcome = "ok"
            return result
        except CommandError as exc:
            outcome = exc.code
            raise
        finally:
            self.outcomes[(node, command.__name__, outcome)] += 1

    return cast(Command, run)


class Control:
    """Routes normalized commands to the backend of the node that owns the channel."""

    def __init__(self, store: ChannelStore, backends: Mapping[str, SwitchBackend],
                 directory: Directory | None = None, audit: AuditLog | None = None) -> None:
        self.store = store
        self.backends = dict(backends)
        self.directory = directory
        # channel id -> (file, monotonic deadline or None) of the recording started through
        # this gateway, so a stop (or a toggle) without a path ends that one; a recording past
        # its time limit was ended by the switch. Pruned as channels go.
        self.recordings: dict[str, tuple[str, float | None]] = {}
        self.outcomes: Counter[tuple[str, str, str]] = Counter()  # (node, command, outcome)
        if audit is not None:  # the one place every command is recorded (gateway/audit.py)
            audit.install(self)

    def channel(self, channel_id: str) -> Channel:
        ch = self.store.get(channel_id)
        if ch is None:
            raise NotFound(f"no such channel {channel_id}")
        return ch

    def _answered(self, channel_id: str) -> Channel:
        """The channel, for a command only an answered call can take (hold, an attended
        transfer): one still ringing is the caller's mistake, not the switch's failure."""
        ch = self.channel(channel_id)
        if not ch.answered:
            raise InvalidArgument("channel is not answered")
        return ch

    def _peer_of(self, ch: Channel) -> Channel:
        """The channel's other leg, for a command aimed at it; a channel with none is the
        caller's mistake (InvalidArgument), not something to send the switch."""
        peer = self.store.peer(ch)
        if peer is None:
            raise InvalidArgument("channel has no other leg")
        return peer

    def backend_for(self, channel: Channel) -> SwitchBackend:
        return self.backend(channel.node)

    def backend(self, node: str | None = None) -> SwitchBackend:
        """The named node's backend, or the first connected one; raises Unavailable at once
        when it is not connected, so no command waits on a dead switch."""
        if node:
            backend = self.backends.get(node)
            if backend is None:
                raise Unavailable(f"unknown node {node}")
            if backend.state is not ConnState.CONNECTED:
                raise Unavailable(f"node {node} is {backend.state}")
            return backend
        for backend in self.backends.values():
            if backend.state is ConnState.CONNECTED:
                return backend
        raise Unavailable("no switch connected")

    def _node_of(self, target: object, node: str | None) -> str:
        """For the command tally: the node a command on `target` (a channel id, or the
        endpoint of an originate) goes to."""
        if isinstance(target, str):
            ch = self.store.get(target)
            return ch.node if ch is not None else ""
        if isinstance(target, Endpoint):
            node = node or self.node_for_endpoint(target)
            if node:
                return node
            return next((b.name for b in self.backends.values()
                         if b.state is ConnState.CONNECTED), "")
        return ""

    def node_for_endpoint(self, endpoint: Endpoint) -> str | None:
        """Where a phone lives: its device's configured `node`, else the default switch."""
        if endpoint.kind != "device" or self.directory is None:
            return None
        dev = self.directory.device_by_sip(endpoint.value, endpoint.realm)
        return dev.node if dev is not None and dev.node else None

    @counted
    async def hangup(self, channel_id: str, cause: str = "NORMAL_CLEARING") -> Result:
        ch = self.channel(channel_id)
        return await self.backend_for(ch).hangup(ch, cause)

    @counted
    async def transfer(self, channel_id: str, destination: str, *, context: str | None = None,
                       leg: str = "self") -> Result:
        if leg not in TRANSFER_LEGS:
            raise InvalidArgument(f"bad leg {leg}")
        if not destination:
            raise InvalidArgument("no transfer destination")
        ch = self.channel(channel_id)
        if leg != "self":
            self._peer_of(ch)
        return await self.backend_for(ch).transfer(ch, destination, context=context, leg=leg)

    @counted
    async def attended_transfer(self, channel_id: str, destination: str, *,
                                context: str | None = None) -> Result:
        if not destination:
            raise InvalidArgument("no transfer destination")
        ch = self._answered(channel_id)
        return await self.backend_for(ch).attended_transfer(ch, destination, context=context)

    @counted
    async def hold(self, channel_id: str) -> Result:
        ch = self._answered(channel_id)
        return await self.backend_for(ch).hold(ch)

    @counted
    async def unhold(self, channel_id: str) -> Result:
        ch = self._answered(channel_id)
        return await self.backend_for(ch).unhold(ch)

    @counted
    async def park(self, channel_id: str) -> Result:
        ch = self.channel(channel_id)
        return await self.backend_for(ch).park(ch)

    @counted
    async def break_media(self, channel_id: str) -> Result:
        ch = self.channel(channel_id)
        return await self.backend_for(ch).break_media(ch)

    @counted
    async def play(self, channel_id: str, media: str, *, leg: str = "aleg") -> Result:
        ch = self.channel(channel_id)
        if leg in ("bleg", "holdb"):
            self._peer_of(ch)
        return await self.backend_for(ch).play(ch, media, leg=leg)

    @counted
    async def send_dtmf(self, channel_id: str, digits: str) -> Result:
        ch = self.channel(channel_id)
        return await self.backend_for(ch).send_dtmf(ch, digits)

    @counted
    async def bridge(self, channel_id: str, other_id: str) -> Result:
        ch, other = self.channel(channel_id), self.channel(other_id)
        if ch.id == other.id:
            raise InvalidArgument("cannot bridge a channel to itself")
        if ch.node != other.node:
            raise Unsupported("cannot bridge channels on different switches")
        return await self.backend_for(ch).bridge(ch, other)

    @counted
    async def eavesdrop(self, target_id: str, listener: Endpoint, *, mode: str = "listen",
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result:
        if mode not in ("listen", "whisper", "barge"):
            raise InvalidArgument(f"bad eavesdrop mode {mode}")
        ch = self.channel(target_id)
        return await self.backend_for(ch).eavesdrop(ch, listener, mode=mode,
                                                    channel_id=channel_id, variables=variables)

    @counted
    async def intercept(self, target_id: str, listener: Endpoint, *,
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result:
        ch = self.channel(target_id)
        return await self.backend_for(ch).intercept(ch, listener, channel_id=channel_id,
                                                    variables=variables)

    @counted
    async def originate(self, endpoint: Endpoint, destination: str, *, node: str | None = None,
                        context: str | None = None, caller_id_number: str = "",
                        caller_id_name: str = "", variables: Mapping[str, str] | None = None,
                        channel_id: str | None = None, ring_timeout: float = 30.0,
                        application: str = "", application_data: str = "") -> Result:
        backend = self.backend(node or self.node_for_endpoint(endpoint))
        return await backend.originate(
            endpoint, destination, context=context, caller_id_number=caller_id_number,
            caller_id_name=caller_id_name, variables=variables, channel_id=channel_id,
            ring_timeout=ring_timeout, application=application, application_data=application_data,
        )

    def recording(self, channel_id: str) -> str | None:
        """The file of the recording this gateway started on the channel and has not stopped."""
        path, deadline = self.recordings.get(channel_id, (None, None))
        if deadline is not None and time.monotonic() >= deadline:
            return None
        return path

    @counted
    async def record(self, channel_id: str, action: str = "start", *, path: str | None = None,
                     time_limit: int | None = None) -> Result:
        """Start or stop recording the channel (both directions, mixed) to a file on the
        switch; `extra["path"]` names it. Without `path` a start writes
        `<recordings_dir>/<channel id>-<unix time>.wav` and a stop ends the recording started
        here. Arguments are checked before anything reaches the switch."""
        if action not in RECORD_ACTIONS:
            raise InvalidArgument(f"bad record action {action[:20]!r}")
        if path is not None and not safe_path(path):
            raise InvalidArgument("bad recording path")
        if time_limit is not None and (isinstance(time_limit, bool)
                                       or not isinstance(time_limit, int) or time_limit <= 0):
            raise InvalidArgument("bad recording time limit")
        ch = self.channel(channel_id)
        backend = self.backend_for(ch)
        if action == "stop" and path is None:
            path = self.recording(ch.id)
        result = await backend.record(ch, action, path=path, time_limit=time_limit)
        for gone in [k for k in self.recordings if k not in self.store]:
            del self.recordings[gone]
        if action == "start":
            deadline = time.monotonic() + time_limit if time_limit else None
            self.recordings[ch.id] = (result.extra.get("path", ""), deadline)
        elif path is None or self.recording(ch.id) in (path, None):
            self.recordings.pop(ch.id, None)
        return result
