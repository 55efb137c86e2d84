"""The Asterisk backend: one node over AMI, kept in the store, and the normalized commands of
gateway/control.py translated to AMI actions.

Every (re)login resyncs with CoreShowChannels; events that arrive while the list is in flight
win over it (store resync bookkeeping). Choices where AMI has no direct equivalent:

* transfer uses `Redirect`: it moves any channel (bridged or not), moves both legs at once with
  `ExtraChannel`, and so covers FreeSWITCH's uuid_transfer self / -bleg / -both, where
  `BlindTransfer` only exists for a bridged transferer and always hangs it up.
* hold: AMI has no Hold action. A dual `Redirect` sends the partner to the music-on-hold
  extension (`hold_extension@hold_context`) and the holder there too, so neither is left alone in
  a dissolving Dial bridge (which hangs the survivor up); unhold `Bridge`s the two back. `Park`
  was not chosen: it hangs up the parked channel's bridge partner. A channel in no bridge (a
  caller in an IVR, a Local `;1` leg), which FreeSWITCH's uuid_hold also takes, is redirected
  alone into music on hold; unhold redirects it back to the context, extension and priority
  `Status` reported before the hold.
* the extensions those redirects need (`callgate asterisk-dialplan` prints them) are checked with
  `ShowDialPlan` on every connect: missing ones are named in `last_error` and logged once.
* play: AMI has no playback action either. PLAYBACK_MEDIA is set on the listening leg(s) and one
  dual `Redirect` sends them to the `playback` extension of `hold_context` (whose dialplan runs
  `Playback(${PLAYBACK_MEDIA})`) and, for a one-leg play, the partner to music on hold, for the
  same reason as hold. break `Bridge`s that pair back; a channel that was alone is sent back to
  the extension it was in. AMI cannot interrupt an arbitrary dialplan application, so break on
  anything the gateway did not start is refused, never faked.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk.message import Message

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
    safe_path,
)
from gateway.logs import brief
from gateway.model import Channel, State
from gateway.store import ChannelStore

from .ami_mapping import AmiMapper, cause_code, clean
from .ami_session import AmiSession
from .asterisk_settings import AsteriskOptions, required_extensions
from .base import ConnState, ReconnectingBackend

log = logging.getLogger("callgate.asterisk")

_NOT_FOUND = ("no such channel", "does not exist", "channel not found")
_TOKEN = re.compile(r"^[A-Za-z0-9_+*#.@:=-]+$")
_DTMF = re.compile(r"^[0-9A-Da-d*#]+$")
_VAR_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
PLAYBACK_VAR = "PLAYBACK_MEDIA"
MIXMONITOR_ID_VAR = "CALLGATE_MIXMONITOR_ID"  # MixMonitor i(): the reply then carries the id
_SPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}
#: OriginateResponse `Reason` (the last control frame seen) -> Q.850 cause name.
ORIGINATE_REASONS = {
    "0": "NORMAL_TEMPORARY_FAILURE",  # the channel could not be created / dialed at all
    "1": "CALL_REJECTED",  # AST_CONTROL_HANGUP before answer
    "3": "NO_ANSWER",  # it was ringing when the timeout hit
    "5": "USER_BUSY",
    "8": "NORMAL_CIRCUIT_CONGESTION",
}


def classify(reply: Message | list[Message]) -> Result:
    """An action's reply as a Result, or the typed error its `Message` text means."""
    first = reply[0] if isinstance(reply, list) else reply
    text = clean(first.get("Message"))
    if clean(first.get("Response")).lower() in ("success", "follows", "goodbye"):
        return Result(True, detail=text)
    low = text.lower()
    if any(p in low for p in _NOT_FOUND):
        raise NotFound("no such channel", reply=text)
    raise Rejected("the switch refused the command", reply=text)


def _token(value: str, what: str) -> str:
    if not value or not _TOKEN.match(value):
        raise InvalidArgument(f"bad {what}")
    return value


def _safe(value: str, what: str) -> str:
    """Any header value: CR/LF would smuggle extra headers into the action."""
    if any(c in value for c in "\r\n\0"):
        raise InvalidArgument(f"bad {what}")
    return value


def _channel_name(channel: Channel) -> str:
    if not channel.name:
        raise NotFound("no such channel")
    return _safe(channel.name, "channel")


@dataclass(frozen=True, slots=True)
class _Playing:
    """A play the gateway started: the pair it took out of their bridge (`partner` "" when the
    channel was alone, then `context`/`exten` say where its dialplan was, to send it back)."""

    channel: str
    partner: str = ""
    context: str = ""
    exten: str = ""


class AsteriskBackend(ReconnectingBackend):
    """One Asterisk node: settings.name is the node every channel from it carries."""

    kind = "asterisk"

    def __init__(self, settings: BackendSettings, store: ChannelStore) -> None:
        super().__init__(settings, store)
        self.mapper = AmiMapper(settings.name, store, trunks=self.options.trunks,
                                on_gone=self._forget)
        self._ami: AmiSession | None = None
        self._held: dict[str, str] = {}  # holder id -> partner id parked in music on hold
        # a channel held alone -> (context, exten, priority) it was at, to send it back
        self._lone: dict[str, tuple[str, str, str]] = {}
        self._dialplan_logged: set[str] = set()  # missing-extension reports already logged
        self._playing: dict[str, _Playing] = {}  # both ids of a pair -> the play they are in
        # channel id -> (file, MixMonitorID or "", time-limit stop timer or None)
        self._mixmonitors: dict[str, tuple[str, str, asyncio.TimerHandle | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_resync: tuple[int, int, int] = (0, 0, 0)

    @property
    def options(self) -> AsteriskOptions:
        """The Asterisk-only keys of this backend's table (asterisk_settings.py)."""
        options: AsteriskOptions = self.settings.options
        return options

    # ------------------------------------------------------------ connection
    async def _session(self) -> None:
        s = self.settings
        ami = AmiSession(s.host, s.port, self.options.username, self.options.secret,
                         on_event=self._on_event,
                         connect_timeout=s.connect_timeout, command_timeout=s.command_timeout,
                         ping_interval=s.ping_interval,
                         events="on" if self.subscribe_events else "off")
        self._ami = ami
        if not self.subscribe_events:  # command connection: the store is fed elsewhere
            await ami.connect()
            self.mapper.set_version(ami.version)
            self._connected()
            self.ready.set()
            await ami.wait_closed()
            return
        self.store.begin_resync(self.name)  # events from the login on are newer than the list
        await ami.connect()
        self.mapper.set_version(ami.version)
        self._connected()
        reply = await ami.send({"Action": "CoreShowChannels"})
        items = reply if isinstance(reply, list) else []
        self.last_resync = self.store.reconcile(self.name, self.mapper.snapshot(items))
        del reply, items  # not held for the connection's life (10k list items are megabytes)
        # channels that ended while we were away get no Hangup: forget them the same way
        tracked = {*self._held, *self._held.values(), *self._playing, *self._mixmonitors,
                   *self._lone}
        for gone in tracked - {ch.id for ch in self.store.by_node(self.name)}:
            self._forget(gone)
        problem = await self._check_dialplan(ami)
        self.ready.set()
        try:
            await ami.wait_closed()
        finally:
            if problem and self.last_error == problem:
                self.last_error = ""  # the reason the link ended is the link's, not this

    async def _check_dialplan(self, ami: AmiSession) -> str:
        """ShowDialPlan for each extension hold and play redirect to; the missing ones go to
        `last_error` (the returned text) and, once per backend, to the log."""
        ctx = self.options.hold_context
        missing: list[str] = []
        for exten in required_extensions(self.options):
            try:
                reply = await ami.send({"Action": "ShowDialPlan", "Context": ctx,
                                        "Extension": exten})
            except CommandError as exc:
                log.info("%s: could not check the dialplan: %s", self.name, exc.message)
                return ""
            first = reply[0] if isinstance(reply, list) else reply
            if clean(first.get("Response")).lower() == "success":
                continue
            text = clean(first.get("Message"))
            if text.lower().startswith(("permission denied", "invalid/unknown command")):
                # the manager user may not read the dialplan: nothing to conclude
                log.info("%s: could not check the dialplan: %s", self.name, text)
                return ""
            missing.append(f"{exten}@{ctx}")
        if not missing:
            return ""
        problem = (f"dialplan lacks {', '.join(missing)}: hold and play need them "
                   f"(`callgate asterisk-dialplan` prints the extensions.conf lines)")
        self.last_error = problem
        if problem not in self._dialplan_logged:
            self._dialplan_logged.add(problem)
            log.warning("%s: %s", self.name, problem)
        return problem

    def _forget(self, channel_id: str) -> None:
        """The channel is gone (its Hangup, or a resync that no longer lists it): drop every
        bit of per-channel state kept for it, so nothing grows with calls that have ended.
        A play keeps its surviving partner's entry, so a later break on it still says that
        the other party has gone."""
        self._held.pop(channel_id, None)
        self._lone.pop(channel_id, None)
        for holder in [h for h, p in self._held.items() if p == channel_id]:
            del self._held[holder]
        self._playing.pop(channel_id, None)
        self._forget_mixmonitor(channel_id)
        self.mapper.forget_outbound(channel_id)

    async def stop(self) -> None:
        for channel_id in list(self._mixmonitors):
            self._forget_mixmonitor(channel_id)
        for task in list(self._tasks):
            task.cancel()
        await super().stop()

    def _on_event(self, msg: Message) -> None:
        if not self.subscribe_events:
            return
        self.events += 1
        try:
            self.mapper.handle(msg)
        except Exception as exc:  # one odd event must not cost the connection
            log.error("%s: could not apply %s: %s", self.name, msg.get("Event"), brief(exc))

    async def _close(self) -> None:
        ami, self._ami = self._ami, None
        if ami is not None:
            await ami.close()

    async def _fail_pending(self) -> None:
        if self._ami is not None:
            self._ami._fail(ConnectionResetError("connection lost"))

    def _live(self) -> AmiSession:
        ami = self._ami
        if ami is None or not ami.connected or self.state != ConnState.CONNECTED:
            raise Unavailable(f"node {self.name} is {self.state}")
        return ami

    async def action(self, fields: Mapping[str, Any], timeout: float | None = None  # noqa: ASYNC109
                     ) -> Message | list[Message]:
        """Send one action (values checked for header injection); raw reply, for diagnostics."""
        for k, v in fields.items():
            for item in (v if isinstance(v, list) else [v]):
                _safe(str(item), k)
        return await self._live().send(dict(fields), timeout=timeout)

    async def _do(self, fields: Mapping[str, Any]) -> Result:
        return classify(await self.action(fields))

    def _peer(self, channel: Channel) -> Channel | None:
        return self.store.peer(channel)

    # ------------------------------------------------------------ commands
    async def hangup(self, channel: Channel, cause: str = "NORMAL_CLEARING") -> Result:
        code = cause_code(cause or "")
        if code is None:
            raise InvalidArgument("bad hangup cause")
        return await self._do({"Action": "Hangup", "Channel": _channel_name(channel),
                               "Cause": str(code)})

    async def transfer(self, channel: Channel, destination: str, *, context: str | None = None,
                       leg: str = "self") -> Result:
        ctx = _token(context or self.settings.context, "context")
        dest = _token(destination, "destination")
        peer = self._peer(channel)
        if leg == "bleg":
            if peer is None:
                raise Rejected("the channel has no bridged peer")
            channel = peer
        fields: dict[str, Any] = {"Action": "Redirect", "Channel": _channel_name(channel),
                                  "Exten": dest, "Context": ctx, "Priority": "1"}
        if leg == "both" and peer is not None:
            fields.update(ExtraChannel=_channel_name(peer), ExtraExten=dest, ExtraContext=ctx,
                          ExtraPriority="1")
        return await self._do(fields)

    async def attended_transfer(self, channel: Channel, destination: str, *,
                                context: str | None = None) -> Result:
        ctx = _token(context or self.settings.context, "context")
        return await self._do({"Action": "Atxfer", "Channel": _channel_name(channel),
                               "Exten": _token(destination, "destination"), "Context": ctx})

    async def hold(self, channel: Channel) -> Result:
        ext = _token(self.options.hold_extension, "hold extension")
        ctx = _token(self.options.hold_context, "hold context")
        if channel.id in self._lone:
            return Result(True, detail="already on hold")
        peer = self._peer(channel)
        if peer is None or not self._in_bridge(channel):
            return await self._hold_alone(channel, ext, ctx)
        result = await self._do({
            "Action": "Redirect", "Channel": _channel_name(peer), "Exten": ext, "Context": ctx,
            "Priority": "1", "ExtraChannel": _channel_name(channel), "ExtraExten": ext,
            "ExtraContext": ctx, "ExtraPriority": "1"})
        self._held[channel.id] = peer.id
        self.mapper.set_held(channel.id, True)
        return result

    def _in_bridge(self, channel: Channel) -> bool:
        """In a two-party bridge (a parking bridge does not count): a Local `;1` leg has an
        other leg (its `;2` half) but no bridge."""
        bridge = self.mapper.bridge_of.get(channel.id)
        return bridge is not None and bridge not in self.mapper.parking_bridges

    async def _hold_alone(self, channel: Channel, ext: str, ctx: str) -> Result:
        """Redirect a channel that is in no bridge into music on hold, noting where its
        dialplan was (Status: Context, Exten, Priority) to send it back on unhold."""
        if not channel.answered:
            raise Rejected("the channel is not answered")
        name = _channel_name(channel)
        reply = await self.action({"Action": "Status", "Channel": name})
        classify(reply)
        status = next((m for m in (reply if isinstance(reply, list) else [reply])
                       if clean(m.get("Event")).lower() == "status"), None)
        place = (clean(status.get("Context")), clean(status.get("Exten")),
                 clean(status.get("Priority"))) if status is not None else ("", "", "")
        if not (place[0] and place[1]):
            place = (channel.context, channel.destination, "1")
        if not (_TOKEN.match(place[0]) and _TOKEN.match(place[1])):
            raise Rejected("the channel's dialplan place is unknown; it cannot be sent back")
        result = await self._do({"Action": "Redirect", "Channel": name, "Exten": ext,
                                 "Context": ctx, "Priority": "1"})
        self._lone[channel.id] = (place[0], place[1], place[2] if place[2].isdigit() else "1")
        self.mapper.set_held(channel.id, True)
        return result

    async def unhold(self, channel: Channel) -> Result:
        place = self._lone.get(channel.id)
        if place is not None:
            context, exten, priority = place
            result = await self._do({"Action": "Redirect", "Channel": _channel_name(channel),
                                     "Exten": exten, "Context": context, "Priority": priority})
            self._lone.pop(channel.id, None)
            self.mapper.set_held(channel.id, False)
            return result
        partner_id = self._held.get(channel.id)
        partner = self.store.get(partner_id) if partner_id else None
        if partner is None:
            self._held.pop(channel.id, None)
            raise Rejected("the channel is not on hold")
        result = await self._do({"Action": "Bridge", "Channel1": _channel_name(channel),
                                 "Channel2": _channel_name(partner), "Tone": "no"})
        self._held.pop(channel.id, None)
        self.mapper.set_held(channel.id, False)
        self._playing.pop(channel.id, None)
        self._playing.pop(partner.id, None)
        return result

    async def park(self, channel: Channel) -> Result:
        return await self._do({"Action": "Park", "Channel": _channel_name(channel)})

    def _apart_from(self, channel: Channel) -> Channel | None:
        """Who the channel talks to: its bridged peer, or the partner the gateway itself took
        out of the bridge (a hold or an earlier play), so a second play keeps the pair."""
        playing = self._playing.get(channel.id)
        if playing is not None:
            other = playing.partner if playing.channel == channel.id else playing.channel
            return self.store.get(other) if other else None
        held = self._held.get(channel.id) or next(
            (h for h, p in self._held.items() if p == channel.id), "")
        if held:
            return self.store.get(held)
        peer = self._peer(channel)
        return peer if peer is not None and channel.answered and peer.answered else None

    async def play(self, channel: Channel, media: str, *, leg: str = "aleg") -> Result:
        """Set PLAYBACK_MEDIA on the listening leg(s), then one Redirect: listeners into the
        playback extension and, for a one-leg play of a bridged call, the partner into music on
        hold (ExtraChannel), so nobody is left alone in a Dial bridge that hangs them up."""
        if leg not in ("aleg", "bleg", "both"):
            raise InvalidArgument(f"bad leg {leg}")
        if not (_TOKEN.match(media or "") or safe_path(media or "")):
            raise InvalidArgument("bad media")
        ctx = _token(self.options.hold_context, "hold context")
        moh = _token(self.options.hold_extension, "hold extension")
        playback = _token(self.options.playback_extension, "playback extension")
        partner = self._apart_from(channel)
        if leg == "bleg" and partner is None:
            raise Rejected("the channel has no bridged peer")
        chosen: dict[str, list[Channel | None]] = {"aleg": [channel], "bleg": [partner],
                                                   "both": [channel, partner]}
        listeners = [ch for ch in chosen[leg] if ch is not None]
        for ch in listeners:
            await self._do({"Action": "Setvar", "Channel": _channel_name(ch),
                            "Variable": PLAYBACK_VAR, "Value": media})
        fields: dict[str, Any] = {"Action": "Redirect", "Channel": _channel_name(listeners[0]),
                                  "Exten": playback, "Context": ctx, "Priority": "1"}
        if partner is not None:
            extra = listeners[1] if len(listeners) == 2 else (
                partner if listeners[0] is channel else channel)
            fields.update(ExtraChannel=_channel_name(extra),
                          ExtraExten=playback if len(listeners) == 2 else moh,
                          ExtraContext=ctx, ExtraPriority="1")
        # read before the Redirect: its events move the row to the playback extension
        playing = (_Playing(channel.id, partner.id) if partner is not None
                   else self._playing.get(channel.id)  # a second play keeps the return place
                   or _Playing(channel.id, context=channel.context, exten=channel.destination))
        result = await self._do(fields)
        self._playing[channel.id] = playing
        if partner is not None:
            self._playing[partner.id] = playing
        return result

    async def break_media(self, channel: Channel) -> Result:
        """Stop a play the gateway started: `Bridge` the pair back together (clearing any
        hold), or Redirect a lone channel back to its extension. Anything else is Rejected:
        AMI cannot interrupt an arbitrary dialplan application."""
        playing = self._playing.get(channel.id)
        if playing is None:
            raise Rejected("nothing this gateway started is playing on the channel; Asterisk "
                           "cannot interrupt other media over AMI")
        if not playing.partner:
            if not (_TOKEN.match(playing.context) and _TOKEN.match(playing.exten)):
                raise Rejected("the channel's dialplan place is unknown; transfer it instead")
            result = await self._do({"Action": "Redirect", "Channel": _channel_name(channel),
                                     "Exten": playing.exten, "Context": playing.context,
                                     "Priority": "1"})
            self._playing.pop(channel.id, None)
            return result
        first, second = self.store.get(playing.channel), self.store.get(playing.partner)
        if first is None or second is None:
            self._forget_play(playing)
            raise Rejected("the other party of the call has gone")
        result = await self._do({"Action": "Bridge", "Channel1": _channel_name(first),
                                 "Channel2": _channel_name(second), "Tone": "no"})
        self._forget_play(playing)
        for ch in (first, second):
            if self._held.pop(ch.id, None) is not None or ch.held:
                self.mapper.set_held(ch.id, False)
        return result

    def _forget_play(self, playing: _Playing) -> None:
        for key in (playing.channel, playing.partner):
            if self._playing.get(key) is playing:
                del self._playing[key]

    async def send_dtmf(self, channel: Channel, digits: str) -> Result:
        if not _DTMF.match(digits or ""):
            raise InvalidArgument("bad DTMF digits")
        name = _channel_name(channel)
        result = Result(True)
        for digit in digits:  # PlayDTMF takes one digit per action
            result = await self._do({"Action": "PlayDTMF", "Channel": name, "Digit": digit,
                                     "Duration": "250"})
        return result

    async def bridge(self, channel: Channel, other: Channel) -> Result:
        return await self._do({"Action": "Bridge", "Channel1": _channel_name(channel),
                               "Channel2": _channel_name(other), "Tone": "no"})

    async def eavesdrop(self, target: Channel, listener: Endpoint, *, mode: str = "listen",
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result:
        options = _SPY_OPTIONS.get(mode)
        if options is None:
            raise InvalidArgument(f"bad eavesdrop mode {mode}")
        return await self.originate(listener, "", variables=variables, channel_id=channel_id,
                                    application="ChanSpy",
                                    application_data=f"{_channel_name(target)},{options}")

    async def intercept(self, target: Channel, listener: Endpoint, *,
                        channel_id: str | None = None,
                        variables: Mapping[str, str] | None = None) -> Result:
        """`PickupChan` only takes a ringing callee (a leg the switch is dialing out to); any
        other leg (a caller, an answered, held or parked leg) is joined by originating the
        listener into the `Bridge` application with it, which pulls it out of where it is."""
        ringing_callee = (target.direction == "outbound" and not target.answered
                          and target.state in (State.RINGING, State.EARLY))
        # the listener's phone shows who it picks up (the target's caller id)
        return await self.originate(listener, "", variables=variables, channel_id=channel_id,
                                    application="PickupChan" if ringing_callee else "Bridge",
                                    application_data=_channel_name(target),
                                    caller_id_number=target.caller_id_number,
                                    caller_id_name=target.caller_id_name)

    async def record(self, channel: Channel, action: str = "start", *, path: str | None = None,
                     time_limit: int | None = None) -> Result:
        """`MixMonitor` (both directions mixed, format from the extension; a relative file goes
        to Asterisk's monitor directory) and `StopMixMonitor`. Option `i(<var>)` is what makes
        Asterisk report the MixMonitorID, which the stop then names so it ends this recording
        and not another one on the channel. MixMonitor has no duration option: `time_limit` is
        a timer here that sends the StopMixMonitor. Arguments arrive checked by Control."""
        name = _channel_name(channel)
        if action == "stop":
            file, mixmonitor_id, _timer = self._mixmonitors.get(channel.id, ("", "", None))
            fields = {"Action": "StopMixMonitor", "Channel": name}
            if mixmonitor_id and path in (None, file):
                fields["MixMonitorID"] = mixmonitor_id
            result = await self._do(fields)
            if path in (None, file):
                self._forget_mixmonitor(channel.id)
            result.extra["path"] = path or file
            return result
        if path is None:
            path = recording_file(self.settings.recordings_dir, channel.id)
        reply = await self.action({"Action": "MixMonitor", "Channel": name, "File": path,
                                   "Options": f"i({MIXMONITOR_ID_VAR})"})
        result = classify(reply)
        first = reply[0] if isinstance(reply, list) else reply
        mixmonitor_id = clean(first.get("MixMonitorID"))
        timer = None
        if time_limit:
            timer = asyncio.get_running_loop().call_later(
                time_limit, self._time_up, channel, mixmonitor_id)
        self._forget_mixmonitor(channel.id)
        self._mixmonitors[channel.id] = (path, mixmonitor_id, timer)
        result.extra["path"] = path
        if mixmonitor_id:
            result.extra["mixmonitor_id"] = mixmonitor_id
        return result

    def _forget_mixmonitor(self, channel_id: str) -> None:
        _file, _id, timer = self._mixmonitors.pop(channel_id, ("", "", None))
        if timer is not None:
            timer.cancel()

    def _time_up(self, channel: Channel, mixmonitor_id: str) -> None:
        """A recording's time limit: stop it, unless the call (or the connection) went first."""
        entry = self._mixmonitors.get(channel.id)
        if entry is None or entry[1] != mixmonitor_id:
            return
        self._mixmonitors.pop(channel.id, None)
        if channel.id not in self.store:
            return

        async def stop() -> None:
            fields = {"Action": "StopMixMonitor", "Channel": _channel_name(channel)}
            if mixmonitor_id:
                fields["MixMonitorID"] = mixmonitor_id
            try:
                await self._do(fields)
            except CommandError as exc:  # the call ended meanwhile, or the switch is away
                log.info("%s: time limit: could not stop recording %s: %s", self.name,
                         entry[0], exc.reply or exc.message)

        task = asyncio.get_running_loop().create_task(stop())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def dialstring(self, endpoint: Endpoint) -> str:
        """device -> its PJSIP endpoint; extension/number -> a Local channel into the dialplan,
        which is where the routes to carriers live."""
        value = _token(endpoint.value, "endpoint")
        if "@" in value or "/" in value:
            raise InvalidArgument("bad endpoint")
        if endpoint.kind == "device":
            return f"PJSIP/{value}"
        if endpoint.kind in ("extension", "number"):
            ctx = _token(endpoint.context or self.settings.context, "context")
            return f"Local/{value}@{ctx}"
        raise InvalidArgument(f"bad endpoint kind {endpoint.kind}")

    async def originate(self, endpoint: Endpoint, destination: str, *,
                        context: str | None = None, caller_id_number: str = "",
                        caller_id_name: str = "", variables: Mapping[str, str] | None = None,
                        channel_id: str | None = None, ring_timeout: float = 30.0,
                        application: str = "", application_data: str = "") -> Result:
        if not 0 < ring_timeout <= 600:
            raise InvalidArgument("bad ring timeout")
        uid = _token(channel_id, "channel id") if channel_id else str(uuid.uuid4())
        fields: dict[str, Any] = {"Action": "Originate", "Channel": self.dialstring(endpoint),
                                  "Async": "true", "ChannelId": uid,
                                  "Timeout": str(int(ring_timeout * 1000))}
        if application:
            if not _VAR_NAME.match(application):
                raise InvalidArgument("bad application")
            fields.update(Application=application, Data=_safe(application_data, "data"))
        else:
            fields.update(Exten=_token(destination, "destination"),
                          Context=_token(context or self.settings.context, "context"),
                          Priority="1")
        if caller_id_number or caller_id_name:
            name = _safe(caller_id_name, "caller id name").replace('"', "")
            num = _safe(caller_id_number, "caller id number")
            fields["CallerID"] = f'"{name}" <{num}>' if name else num
        if variables:
            pairs = []
            for k, v in variables.items():
                if not _VAR_NAME.match(k) or "," in str(v):
                    raise InvalidArgument(f"bad variable {k[:40]!r}")
                pairs.append(f"{k}={_safe(str(v), 'variable')}")
            fields["Variable"] = pairs
        self.mapper.expect_outbound(uid)
        try:
            return await self._originated(uid, fields, ring_timeout)
        except BaseException:
            self.mapper.forget_outbound(uid)  # no channel will come under this id
            raise

    async def _originated(self, uid: str, fields: Mapping[str, Any],
                          ring_timeout: float) -> Result:
        """Send the Originate and read its reply (and OriginateResponse) as a Result."""
        reply = await self.action(fields, timeout=ring_timeout + self.settings.command_timeout)
        first = reply[0] if isinstance(reply, list) else reply
        if clean(first.get("Response")).lower() != "success":
            text = clean(first.get("Message"))
            if "extension does not exist" in text.lower():
                raise OriginateFailed("NO_ROUTE_DESTINATION", reply=text)
            if "invalid channel" in text.lower():
                raise InvalidArgument("bad endpoint", reply=text)
            raise Rejected("the switch refused the originate", reply=text)
        final = reply[-1] if isinstance(reply, list) else first
        if clean(final.get("Event")).lower() != "originateresponse":
            return Result(True, channel_id=uid, detail=clean(first.get("Message")))
        if clean(final.get("Response")).lower() != "success":
            reason = clean(final.get("Reason"))
            raise OriginateFailed(ORIGINATE_REASONS.get(reason, "NORMAL_UNSPECIFIED"),
                                  reply=f"Reason: {reason}")
        return Result(True, channel_id=clean(final.get("Uniqueid")) or uid,
                      detail="Originate successfully queued", extra={"reason": "4"})
