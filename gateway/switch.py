"""The switch as the core sees it: connection states, where a new leg goes, what a command
returns, and the one `SwitchBackend` protocol every backend implements.

A leaf of the core (it needs only the channel model), so the store, control and the app can all
name a backend's type without importing any backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from .model import Channel


class ConnState(StrEnum):
    """A backend's connection, as /healthz prints it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    AUTH_FAILED = "auth_failed"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a new leg goes. `device`: a phone by SIP username (+ realm); `extension`: a dialplan
    extension; `number`: an external number through the switch's default route."""

    kind: str
    value: str
    realm: str = ""
    context: str = ""


@dataclass(slots=True)
class Result:
    ok: bool = True
    channel_id: str = ""  # the new leg, for originate / eavesdrop / intercept
    detail: str = ""  # the switch's reply text, for logs
    extra: dict[str, str] = field(default_factory=dict)


class SwitchBackend(Protocol):
    """What the core needs of a switch backend: its connection for /healthz and for routing
    commands, its life (start, stop), and the normalized commands.

    Implemented by `backends.base.ReconnectingBackend` and its subclasses; the core reaches
    them only through this protocol and `backends.create_backend`, so it names no switch.

    `Control` is the only caller and checks every argument with a fixed set of values
    (transfer `leg`, record `action`, `path`, `time_limit`) before the call, so backends rely
    on it instead of repeating the check; they still check what only they know (their own
    dialplan tokens, header and command-line safety of free text)."""

    name: str  # the node name, as channels carry it
    kind: str  # "freeswitch", "asterisk": the /healthz `type`
    state: ConnState
    last_error: str  # why the connection is not up, safe to show
    ready: asyncio.Event  # set on every successful (re)sync of the store
    events: int  # events received from the switch, for /metrics

    def health(self) -> dict[str, Any]:
        """The /healthz entry: name, type, state, channels, last_error."""
        ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def dialstring(self, endpoint: Endpoint) -> str:
        """The switch's own name for the endpoint's contact (`user/201@realm`, `PJSIP/201`),
        so a dialect can name a device without knowing a switch's format."""
        ...
    async def hangup(self, channel: Channel, cause: str = "NORMAL_CLEARING") -> Result: ...
    async def transfer(self, channel: Channel, destination: str, *, context: str | None = None,
                       leg: str = "self") -> Result: ...
    async def attended_transfer(self, channel: Channel, destination: str, *,
                                context: str | None = None) -> Result: ...
    async def hold(self, channel: Channel) -> Result: ...
    async def unhold(self, channel: Channel) -> Result: ...
    async def park(self, channel: Channel) -> Result: ...
    async def break_media(self, channel: Channel) -> Result: ...
    async def play(self, channel: Channel, media: str, *, leg: str = "aleg") -> Result: ...
    async def send_dtmf(self, channel: Channel, digits: str) -> Result: ...
    async def bridge(self, channel: Channel, other: Channel) -> Result: ...
    async def eavesdrop(self, target: Channel, listener: Endpoint, *, mode: str = "listen",
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result: ...
    async def intercept(self, target: Channel, listener: Endpoint, *,
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result: ...
    async def originate(self, endpoint: Endpoint, destination: str, *,
                        context: str | None = None, caller_id_number: str = "",
                        caller_id_name: str = "", variables: Mapping[str, str] | None = None,
                        channel_id: str | None = None, ring_timeout: float = 30.0,
                        application: str = "", application_data: str = "") -> Result: ...
    async def record(self, channel: Channel, action: str = "start", *, path: str | None = None,
                     time_limit: int | None = None) -> Result: ...
