"""The FreeSWITCH backend: one node over the inbound Event Socket, kept in the store, and the
normalized commands of gateway/control.py translated to `api`/`bgapi` commands.

Every (re)connect subscribes first, then snapshots (`show channels as json` plus `uuid_dump` per
channel for the variables attribution needs, which the table lacks), so no event is lost between
the two; the store's resync bookkeeping lets events seen meanwhile win over the older snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Mapping

from gateway.config import BackendSettings
from gateway.control import (
    CommandError,
    Endpoint,
    InvalidArgument,
    NotFound,
    OriginateFailed,
    Rejected,
    Result,
    Unavailable,
    recording_file,
)
from gateway.logs import brief
from gateway.model import Channel
from gateway.store import ChannelStore

from .base import ConnState, ProtocolError, ReconnectingBackend
from .esl_protocol import Event, decode_json
from .esl_session import EslSession
from .freeswitch_settings import FreeSwitchOptions
from .fs_mapping import (
    EVENTS,
    FsMapper,
    decode_dump,
    merge_dump,
    parse_show_channels,
    row_to_channel,
)

log = logging.getLogger("callgate.freeswitch")

_NOT_FOUND = ("no such channel", "invalid uuid", "invalid session id", "cannot locate session")
_TOKEN = re.compile(r"^[A-Za-z0-9_+*#.@:/=-]+$")  # one ESL argument: no spaces, no braces
_DTMF = re.compile(r"^[0-9A-Da-d*#wW]+$")
_UUID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_VAR_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_CAUSE = re.compile(r"^[A-Z_0-9]+$")
DUMP_WINDOW = 256  # uuid_dump requests on the wire at once during a resync


def classify(reply: str) -> Result:
    """A uuid_* reply text as a Result, or the typed error it means."""
    text = reply.strip()
    if text.startswith("+OK") or text == "true":
        return Result(True, detail=text)
    low = text.lower()
    if any(p in low for p in _NOT_FOUND):
        raise NotFound("no such channel", reply=text)
    if text.startswith("-USAGE"):
        raise InvalidArgument("the switch rejected the arguments", reply=text)
    raise Rejected("the switch refused the command", reply=text)


def _token(value: str, what: str) -> str:
    if not value or not _TOKEN.match(value):
        raise InvalidArgument(f"bad {what}")
    return value


def _uuid_arg(value: str) -> str:
    if not _UUID.match(value or ""):
        raise InvalidArgument("bad channel id")
    return value


def _var_value(value: str) -> str:
    """A `{name=value}` value: commas escaped as FreeSWITCH expects, spaces single-quoted."""
    if any(c in value for c in "'{}[]<>\n\r\t\0") or "^^" in value:
        raise InvalidArgument("bad variable value")
    value = value.replace(",", "\\,")
    return f"'{value}'" if " " in value else value


def originate_vars(variables: Mapping[str, str]) -> str:
    parts = []
    for k, v in variables.items():
        if not _VAR_NAME.match(k):
            raise InvalidArgument(f"bad variable name {k[:40]!r}")
        parts.append(f"{k}={_var_value(str(v))}")
    return "{" + ",".join(parts) + "}"


class FreeSwitchBackend(ReconnectingBackend):
    """One FreeSWITCH node: settings.name is the node every channel from it carries."""

    kind = "freeswitch"

    def __init__(self, settings: BackendSettings, store: ChannelStore) -> None:
        super().__init__(settings, store)
        self.mapper = FsMapper(store, settings.name)
        self._esl: EslSession | None = None
        self.last_resync: tuple[int, int, int] = (0, 0, 0)

    @property
    def options(self) -> FreeSwitchOptions:
        """The FreeSWITCH-only keys of this backend's table (freeswitch_settings.py)."""
        options: FreeSwitchOptions = self.settings.options
        return options

    # ------------------------------------------------------------ connection
    async def _session(self) -> None:
        s = self.settings
        esl = await EslSession.connect(
            s.host, s.port, self.options.password, self._on_event, wait=s.connect_timeout,
            ingest=self._ingest if self.subscribe_events else decode_json)
        self._esl = esl
        self._connected()
        if not self.subscribe_events:  # command connection: background job results only
            await esl.subscribe(["BACKGROUND_JOB"], wait=s.command_timeout)
            self.ready.set()
            await self._watch(esl)
            return
        await esl.subscribe(list(EVENTS), wait=s.command_timeout)
        self.store.begin_resync(self.name)
        snapshot = await self._snapshot(esl)  # on failure the next connect restarts the resync
        self.last_resync = self.store.reconcile(self.name, snapshot)
        del snapshot  # not held for the connection's life (10k channels are megabytes)
        self.ready.set()
        await self._watch(esl)

    async def _snapshot(self, esl: EslSession) -> list[Channel]:
        t = self.settings.command_timeout
        text = await esl.api("show channels as json", wait=t)
        try:
            rows = parse_show_channels(text)
        except ValueError as exc:
            raise ConnectionResetError(f"show channels failed: {str(exc)[:80]}") from None
        channels = [row_to_channel(r, self.name) for r in rows]
        async with contextlib.aclosing(esl.api_each(
                (f"uuid_dump {ch.id} json" for ch in channels), window=DUMP_WINDOW,
                wait=t)) as dumps:
            for ch in channels:
                dump = await anext(dumps)
                if dump.startswith("{"):
                    with contextlib.suppress(Exception):
                        merge_dump(ch, decode_dump(dump.encode()))
        return channels

    async def _watch(self, esl: EslSession) -> None:
        """Wait for the connection to end; probe a silent switch so a half-open socket or a
        stalled switch is noticed and the node reconnects instead of hanging."""
        interval = self.settings.ping_interval
        loop = asyncio.get_running_loop()
        while True:
            done, _ = await asyncio.wait({esl.closed}, timeout=interval)
            if done:
                break
            if loop.time() - esl.last_frame >= interval:
                try:
                    await esl.api("status", wait=self.settings.command_timeout)
                except CommandError:
                    break
        err = esl.error
        if err is not None:
            raise err if isinstance(err, Exception) else ConnectionResetError(str(err))
        raise ConnectionResetError("switch did not answer a keepalive")

    def _ingest(self, body: bytes) -> Event | None:
        """The event connection's per-event path: the mapping decodes and applies each event
        at once; what it has no use for (job results) comes back for the session."""
        try:
            ev = self.mapper.ingest(body)
        except ProtocolError:
            raise  # not a FreeSWITCH event: the session ends, and the next one resyncs
        except Exception as exc:  # one odd event must not cost the connection
            self.events += 1
            log.error("%s: could not apply an event: %s", self.name, brief(exc))
            return None
        if ev is None:
            self.events += 1  # counted by `_on_event` otherwise
        return ev

    def _on_event(self, ev: Event) -> None:
        if not self.subscribe_events:
            return  # a command connection never feeds the store
        self.events += 1
        try:
            self.mapper.handle(ev)
        except Exception as exc:  # one odd event must not cost the connection
            log.error("%s: could not apply %s: %s", self.name, ev.get("Event-Name"), brief(exc))

    async def _close(self) -> None:
        esl, self._esl = self._esl, None
        if esl is not None:
            await esl.close()

    async def _fail_pending(self) -> None:
        if self._esl is not None:
            self._esl._shutdown(ConnectionResetError("connection lost"))

    def _live(self) -> EslSession:
        esl = self._esl
        if esl is None or not esl.is_open or self.state != ConnState.CONNECTED:
            raise Unavailable(f"node {self.name} is {self.state}")
        return esl

    async def _api(self, cmd: str) -> Result:
        reply = await self._live().api(cmd, wait=self.settings.command_timeout)
        return classify(reply)

    async def api(self, cmd: str) -> str:
        """Raw api access for diagnostics and tests."""
        return await self._live().api(cmd, wait=self.settings.command_timeout)

    # ------------------------------------------------------------ commands
    async def hangup(self, channel: Channel, cause: str = "NORMAL_CLEARING") -> Result:
        if not _CAUSE.match(cause or ""):
            raise InvalidArgument("bad hangup cause")
        return await self._api(f"uuid_kill {_uuid_arg(channel.id)} {cause}")

    async def transfer(self, channel: Channel, destination: str, *, context: str | None = None,
                       leg: str = "self") -> Result:
        flag = {"self": "", "bleg": "-bleg ", "both": "-both "}[leg]  # checked by Control
        ctx = _token(context or channel.context or self.settings.context, "context")
        dest = _token(destination, "destination")
        result = await self._api(f"uuid_transfer {_uuid_arg(channel.id)} {flag}{dest} XML {ctx}")
        return result

    async def attended_transfer(self, channel: Channel, destination: str, *,
                                context: str | None = None) -> Result:
        # uuid_broadcast runs att_xfer on the transferor's leg (default flags: the peer hears
        # hold music), one api call with a documented reply, unlike sendmsg's bare +OK
        ctx = _token(context or channel.context or self.settings.context, "context")
        dest = _token(destination, "destination")
        dial = dest if "/" in dest else f"loopback/{dest}/{ctx}"
        return await self._api(f"uuid_broadcast {_uuid_arg(channel.id)} att_xfer::{dial}")

    async def hold(self, channel: Channel) -> Result:
        return await self._api(f"uuid_hold {_uuid_arg(channel.id)}")

    async def unhold(self, channel: Channel) -> Result:
        return await self._api(f"uuid_hold off {_uuid_arg(channel.id)}")

    async def park(self, channel: Channel) -> Result:
        return await self._api(f"uuid_park {_uuid_arg(channel.id)}")

    async def break_media(self, channel: Channel) -> Result:
        return await self._api(f"uuid_break {_uuid_arg(channel.id)} all")

    async def play(self, channel: Channel, media: str, *, leg: str = "aleg") -> Result:
        if leg not in ("aleg", "bleg", "holdb", "both"):
            raise InvalidArgument(f"bad leg {leg}")
        return await self._api(f"uuid_broadcast {_uuid_arg(channel.id)} "
                               f"{_token(media, 'media')} {leg}")

    async def send_dtmf(self, channel: Channel, digits: str) -> Result:
        if not _DTMF.match(digits or ""):
            raise InvalidArgument("bad DTMF digits")
        return await self._api(f"uuid_send_dtmf {_uuid_arg(channel.id)} {digits}")

    async def bridge(self, channel: Channel, other: Channel) -> Result:
        return await self._api(f"uuid_bridge {_uuid_arg(channel.id)} {_uuid_arg(other.id)}")

    async def eavesdrop(self, target: Channel, listener: Endpoint, *, mode: str = "listen",
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result:
        # mod_dptools eavesdrop: DTMF 2/3 switch whisper to a leg, 1 back to listen; barge is
        # whispering to both legs. eavesdrop_whisper_aleg/bleg start the call in that mode.
        extra = {"eavesdrop_enable_dtmf": "true"}
        if mode in ("whisper", "barge"):
            extra["eavesdrop_whisper_aleg"] = "true"
        if mode == "barge":
            extra["eavesdrop_whisper_bleg"] = "true"
        extra.update(variables or {})
        return await self.originate(listener, "", variables=extra, channel_id=channel_id,
                                    application="eavesdrop",
                                    application_data=_uuid_arg(target.id))

    async def intercept(self, target: Channel, listener: Endpoint, *,
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result:
        # the listener's phone shows who it picks up, not originate's default 0000000000
        return await self.originate(listener, "", variables=variables, channel_id=channel_id,
                                    application="intercept",
                                    application_data=_uuid_arg(target.id),
                                    caller_id_number=target.caller_id_number,
                                    caller_id_name=target.caller_id_name)

    async def record(self, channel: Channel, action: str = "start", *, path: str | None = None,
                     time_limit: int | None = None) -> Result:
        """`uuid_record <uuid> start <path> [<limit>]` (mixed, both directions; the format
        follows the extension). A stop needs a path: without one, `stop all` ends every
        recording of the channel, the only safe guess. Arguments arrive checked by Control."""
        uid = _uuid_arg(channel.id)
        if action == "stop":
            target = path or "all"
            result = await self._api(f"uuid_record {uid} stop {target}")
            result.extra["path"] = path or ""
            return result
        if path is None:
            path = recording_file(self.settings.recordings_dir, uid)
        limit = f" {int(time_limit)}" if time_limit else ""
        result = await self._api(f"uuid_record {uid} start {path}{limit}")
        result.extra["path"] = path
        return result

    def dialstring(self, endpoint: Endpoint) -> str:
        """device -> the registered phone (`user/`), extension/number -> the switch's own
        dialplan through a loopback leg, which is where its routes to carriers live."""
        value = _token(endpoint.value, "endpoint")
        if "/" in value:
            raise InvalidArgument("bad endpoint")
        if endpoint.kind == "device":
            realm = _token(endpoint.realm, "realm") if endpoint.realm else ""
            return f"user/{value}@{realm}" if realm else f"user/{value}"
        if endpoint.kind in ("extension", "number"):
            ctx = _token(endpoint.context or self.settings.context, "context")
            return f"loopback/{value}/{ctx}"
        raise InvalidArgument(f"bad endpoint kind {endpoint.kind}")

    async def originate(self, endpoint: Endpoint, destination: str, *,
                        context: str | None = None, caller_id_number: str = "",
                        caller_id_name: str = "", variables: Mapping[str, str] | None = None,
                        channel_id: str | None = None, ring_timeout: float = 30.0,
                        application: str = "", application_data: str = "") -> Result:
        uid = _uuid_arg(channel_id) if channel_id else str(uuid.uuid4())
        if not 0 < ring_timeout <= 600:
            raise InvalidArgument("bad ring timeout")
        vars_: dict[str, str] = {"origination_uuid": uid}
        if caller_id_number:
            vars_["origination_caller_id_number"] = caller_id_number
        if caller_id_name:
            vars_["origination_caller_id_name"] = caller_id_name
        vars_["originate_timeout"] = str(int(ring_timeout))
        for k, v in (variables or {}).items():
            vars_.setdefault(k, v)
        dial = self.dialstring(endpoint)
        if application:
            if not _VAR_NAME.match(application) or any(c in application_data for c in "()\n\r"):
                raise InvalidArgument("bad application")
            if " " in application_data:
                raise InvalidArgument("bad application data")
            target = f"&{application}({application_data})"
        else:
            ctx = _token(context or self.settings.context, "context")
            target = f"{_token(destination, 'destination')} XML {ctx}"
        esl = self._live()
        reply = (await esl.bgapi(f"originate {originate_vars(vars_)}{dial} {target}",
                                 wait=ring_timeout + self.settings.command_timeout,
                                 reply_wait=self.settings.command_timeout)).strip()
        if reply.startswith("+OK"):
            return Result(True, channel_id=uid, detail=reply)
        if reply.startswith("-ERR"):
            words = reply[4:].split()
            cause = words[0] if words else "NORMAL_TEMPORARY_FAILURE"
            if _CAUSE.match(cause):
                raise OriginateFailed(cause, reply=reply)
            raise Rejected("the switch refused the originate", reply=reply)
        if reply.startswith("-USAGE"):
            raise InvalidArgument("the switch rejected the arguments", reply=reply)
        raise Rejected("the switch refused the originate", reply=reply)
