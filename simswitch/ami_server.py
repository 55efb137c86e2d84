"""Simulated Asterisk 22 speaking AMI on loopback: sessions, login, action dispatch, faults.

Framing lives in ``ami_wire`` and the call model in ``ast_model``; this module only turns
client actions into model calls and model events into bytes for every logged-in session.
Reply texts are the ones the real switch sends (fixtures/asterisk-22-real).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from simswitch.ami_wire import BANNER, Action, ActionReader, Fields, encode
from simswitch.ast_model import (
    PRIVILEGE,
    RING,
    RINGING,
    STATE_DESC,
    UP,
    AsteriskModel,
    Channel,
    cause_code,
)

SIM_AMI_VERSION = "11.0.0"
_UNKNOWN_CMD = "Invalid/unknown command: {}. Use Action: ListCommands to show available commands."
_PRE_AUTH = {"login", "logoff", "challenge"}


class AmiSession:
    """One manager connection: auth state, event mask and a stall-aware writer."""

    def __init__(self, sim: AsteriskSimulator, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.username = ""
        self.challenge: str | None = None
        self.events: set[str] | None = None  # None = all classes; empty = off
        self.closed = False
        self.send_closed = False

    def wants(self, privilege: str) -> bool:
        if not self.authenticated:
            return False
        if self.events is None:
            return True
        return any(c in self.events for c in privilege.split(",") if c != "all")

    def send(self, data: bytes) -> None:
        if self.closed or self.send_closed:
            return
        if self.sim._stalled:
            self.sim._stall_buffer.append((self, data))
            return
        self.writer.write(data)

    def reply(self, act: Action, response: str, *fields: tuple[str, str]) -> None:
        out: Fields = [("Response", response)]
        if act.action_id is not None:
            out.append(("ActionID", act.action_id))
        out.extend(fields)
        self.send(encode(out))

    def ok(self, act: Action, message: str | None = None, *fields: tuple[str, str]) -> None:
        self.reply(act, "Success", *((("Message", message),) if message is not None else ()),
                   *fields)

    def error(self, act: Action, message: str) -> None:
        self.reply(act, "Error", ("Message", message))

    def list_item(self, act: Action, event: str, fields: Fields) -> None:
        """EventList items carry the ActionID and no Privilege line."""
        head: Fields = [("Event", event)]
        if act.action_id is not None:
            head.append(("ActionID", act.action_id))
        self.send(encode([*head, *fields]))

    def list_start(self, act: Action, message: str) -> None:
        self.reply(act, "Success", ("EventList", "start"), ("Message", message))

    def list_complete(self, act: Action, event: str, count: int, *extra: tuple[str, str]) -> None:
        self.list_item(act, event, [("EventList", "Complete"), ("ListItems", str(count)), *extra])

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.writer.close()


class AsteriskSimulator:
    """A fake Asterisk 22 with PJSIP endpoints ``extensions`` (ext -> AccountCode) and trunks."""

    def __init__(self, username: str = "gateway", secret: str = "s3cret", host: str = "127.0.0.1",
                 port: int = 0, system_name: str = "sim-ast1",
                 extensions: dict[str, str] | None = None, trunks: Iterable[str] = ("carrier1",),
                 login_failure_delay: float = 1.0, *, channelvars: Iterable[str] = (),
                 moh_exten: str = "moh", park_extens: Iterable[str] = ("park", "700"),
                 busy: Iterable[str] = (), no_answer: Iterable[str] = (),
                 originate_answer_after: float = 0.05, park_timeout: int = 45,
                 timestamps: bool = True) -> None:
        self.username = username
        self.secret = secret
        self.host = host
        self._port = port
        self.system_name = system_name
        self.login_failure_delay = login_failure_delay
        self.originate_answer_after = originate_answer_after
        self.timestamps = timestamps
        self.started = time.time()
        self.actions: list[dict[str, str]] = []
        self.sessions: list[AmiSession] = []
        self.global_vars: dict[str, str] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._stalled = False
        self._stall_buffer: list[tuple[AmiSession, bytes]] = []
        self.model = AsteriskModel(
            system_name=system_name,
            extensions=extensions if extensions is not None else {"201": "", "202": ""},
            trunks=trunks, emit=self._emit, schedule=self._schedule, cancel=self._cancel,
            channelvars=channelvars, moh_exten=moh_exten, park_extens=park_extens, busy=busy,
            no_answer=no_answer, park_timeout=park_timeout)

    # ---- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self._port)

    async def stop(self) -> None:
        for h in list(self._timers):
            h.cancel()
        self._timers.clear()
        for s in list(self.sessions):
            s.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> AsteriskSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return self._server.sockets[0].getsockname()[1]

    @property
    def connections(self) -> int:
        return sum(1 for s in self.sessions if not s.closed)

    # ---- model plumbing -------------------------------------------------------------------
    def _schedule(self, delay: float, fn: Callable[[], None]) -> asyncio.TimerHandle:
        def run() -> None:
            self._timers.discard(handle)
            fn()
        handle = asyncio.get_running_loop().call_later(delay, run)
        self._timers.add(handle)
        return handle

    def _cancel(self, handle: object) -> None:
        if isinstance(handle, asyncio.TimerHandle):
            handle.cancel()
            self._timers.discard(handle)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit(self, event: str, fields: Fields) -> None:
        """Broadcast a manager event: Event, Privilege, Timestamp, SystemName, then the body."""
        priv = PRIVILEGE.get(event, "call,all")
        head: Fields = [("Event", event), ("Privilege", priv)]
        if self.timestamps:
            head.append(("Timestamp", f"{time.time():.6f}"))
        if self.system_name:
            head.append(("SystemName", self.system_name))
        data: bytes | None = None
        for s in self.sessions:
            if s.wants(priv):
                if data is None:
                    data = encode([*head, *fields])
                s.send(data)

    # ---- public call-control API (phone / trunk side) -------------------------------------
    async def place_call(self, caller: str, callee: str, *, realm: str | None = None,
                         answer_after: float | None = 0.2, bridge: bool = True,
                         variables: dict[str, str] | None = None) -> str:
        """A phone (or the trunk) calls ``callee``; returns the A-leg Uniqueid."""
        del realm
        a = self.model.inbound(caller, callee, variables)
        self.model.run_exten(a, callee, answer_after=answer_after, bridge=bridge)
        return a.uniqueid

    def _chan(self, uid: str) -> Channel:
        ch = self.model.find(uid)
        if ch is None:
            raise KeyError(f"no such channel: {uid}")
        return ch

    async def answer(self, uid: str) -> None:
        """Callee picks up (uid may be either leg); unknown/gone ids are ignored (races)."""
        ch = self.model.find(uid)
        if ch is not None:
            self.model.answer(ch)

    async def hangup(self, uid: str, cause: str | int = "NORMAL_CLEARING") -> None:
        ch = self.model.find(uid)
        if ch is not None:
            self.model.hangup(ch, cause_code(cause))

    async def hold(self, uid: str) -> None:
        """Phone-side hold (re-INVITE): Hold on uid, MusicOnHoldStart on its bridge peer."""
        ch = self.model.find(uid)
        if ch is not None:
            self.model.hold(ch)

    async def unhold(self, uid: str) -> None:
        ch = self.model.find(uid)
        if ch is not None:
            self.model.unhold(ch)

    async def park(self, uid: str) -> int:
        return self.model.park(self._chan(uid))

    def channel(self, uid: str) -> dict[str, str] | None:
        ch = self.model.find(uid)
        return dict(self._show_fields(ch)) if ch is not None else None

    def channel_ids(self) -> list[str]:
        return [c.uniqueid for c in self.model.all_channels()]

    def truth(self) -> dict[str, dict[str, str]]:
        """Uniqueid -> CoreShowChannel fields: what the switch itself believes is up."""
        return {c.uniqueid: dict(self._show_fields(c)) for c in self.model.all_channels()}

    def _show_fields(self, ch: Channel) -> Fields:
        return [*self.model.snap(ch), ("Application", ch.application),
                ("ApplicationData", ch.appdata), ("Duration", ch.duration()),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else "")]

    async def blast(self, n_calls: int) -> int:
        """Emit ``n_calls`` complete calls (setup, answer, bridge, teardown) back to back."""
        exts = list(self.model.extensions)
        sent = 0
        for i in range(n_calls):
            caller = exts[i % len(exts)] if exts else "+37060000001"
            callee = exts[(i + 1) % len(exts)] if len(exts) > 1 else "+447700900123"
            a = self.model.inbound(caller, callee, None)
            self.model.run_exten(a, callee, answer_after=None)
            if a.dial_peer is not None:
                self.model.answer(a.dial_peer)
            self.model.hangup(a, 16)
            sent += 1
            if i % 20 == 19:
                await self._drain_all()
        await self._drain_all()
        return sent

    async def _drain_all(self) -> None:
        for s in list(self.sessions):
            if not s.closed:
                with contextlib.suppress(Exception):
                    await s.writer.drain()

    # ---- faults ---------------------------------------------------------------------------
    async def drop_connections(self) -> None:
        """Abort every TCP connection (RST-like), as a crashed or restarted Asterisk would."""
        for s in list(self.sessions):
            s.closed = True
            transport = s.writer.transport
            if transport is not None:
                transport.abort()
        await asyncio.sleep(0)

    def stall(self, seconds: float) -> None:
        """Stop sending anything for ``seconds`` (a hung switch); output is queued meanwhile."""
        self._stalled = True

        def release() -> None:
            self._stalled = False
            queued, self._stall_buffer = self._stall_buffer, []
            for s, data in queued:
                s.send(data)
        self._schedule(seconds, release)

    async def send_garbage(self) -> None:
        """Bytes no AMI parser should accept as a message (binary junk, header without colon)."""
        junk = b"\x00\xff\xfe garbage without colon\r\n\x1b[31m\r\n\r\n"
        for s in list(self.sessions):
            s.send(junk)
        await self._drain_all()

    async def send_oversize(self, size: int = 1 << 20) -> None:
        """A single event with a ``size``-byte value (tests client buffer limits)."""
        self._emit("UserEvent", [("UserEvent", "Oversize"), ("Payload", "x" * size)])
        await self._drain_all()

    async def half_close(self) -> None:
        """Send FIN (write side shut) but keep reading: the client sees EOF, we see no close."""
        for s in list(self.sessions):
            if not s.closed and s.writer.can_write_eof():
                with contextlib.suppress(Exception):
                    await s.writer.drain()
                    s.writer.write_eof()
                s.send_closed = True

    # ---- connection handling --------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        s = AmiSession(self, reader, writer)
        self.sessions.append(s)
        parser = ActionReader()
        try:
            writer.write(BANNER)
            while not s.closed:
                data = await reader.read(65536)
                if not data:
                    break
                for act in parser.feed(data):
                    await self._dispatch(s, act)
                    if s.closed:
                        break
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            s.close()
            if s in self.sessions:
                self.sessions.remove(s)

    async def _dispatch(self, s: AmiSession, act: Action) -> None:
        name = act.name
        if not name:
            s.error(act, "Missing action in request")
            return
        lname = name.lower()
        if not s.authenticated and lname not in _PRE_AUTH:
            s.error(act, "Permission denied")
            return
        if s.authenticated and lname != "login":
            self.actions.append(act.as_dict())
        handler = getattr(self, f"_act_{lname}", None)
        if handler is None:
            s.error(act, _UNKNOWN_CMD.format(name))
            return
        await handler(s, act)

    # ---- session actions ------------------------------------------------------------------
    async def _act_challenge(self, s: AmiSession, act: Action) -> None:
        if act.get("AuthType").lower() != "md5":
            s.error(act, "Must specify AuthType")
            return
        if s.challenge is None:
            s.challenge = str(random.randint(100000000, 999999999))
        s.ok(act, None, ("Challenge", s.challenge))

    async def _act_login(self, s: AmiSession, act: Action) -> None:
        if s.authenticated:
            s.ok(act, "Already authenticated")
            return
        user = act.get("Username")
        if act.get("AuthType").lower() == "md5":
            want = hashlib.md5(f"{s.challenge or ''}{self.secret}".encode()).hexdigest()
            good = s.challenge is not None and act.get("Key").lower() == want
        else:
            good = act.get("Secret") == self.secret
        if not good or user != self.username:
            await asyncio.sleep(self.login_failure_delay)
            s.error(act, "Authentication failed")
            with contextlib.suppress(Exception):
                await s.writer.drain()
            s.close()
            return
        s.authenticated, s.username = True, user
        s.events = self._parse_mask(act.get("Events", "on"))
        s.ok(act, "Authentication accepted")
        if s.events is None or s.events:
            up = str(int(time.time() - self.started))
            s.send(encode([("Event", "FullyBooted"), ("Privilege", "system,all"),
                           ("Uptime", up), ("LastReload", up), ("Status", "Fully Booted")]))

    @staticmethod
    def _parse_mask(mask: str) -> set[str] | None:
        m = mask.strip().lower()
        if m in ("on", "yes", "true", "all", ""):
            return None
        if m in ("off", "no", "false", "none"):
            return set()
        return {c.strip() for c in m.split(",") if c.strip()}

    async def _act_logoff(self, s: AmiSession, act: Action) -> None:
        s.reply(act, "Goodbye", ("Message", "Thanks for all the fish."))
        with contextlib.suppress(Exception):
            await s.writer.drain()
        s.close()

    async def _act_ping(self, s: AmiSession, act: Action) -> None:
        s.ok(act, None, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))

    async def _act_events(self, s: AmiSession, act: Action) -> None:
        s.events = self._parse_mask(act.get("EventMask", "on"))
        s.reply(act, "Success", ("Events", "On" if s.events is None or s.events else "Off"))

    async def _act_userevent(self, s: AmiSession, act: Action) -> None:
        ue = act.get("UserEvent")
        if not ue:
            s.error(act, "UserEvent header missing")
            return
        s.ok(act, "Event Sent")
        extra = [(k, v) for k, v in act.fields
                 if k.lower() not in ("action", "userevent", "actionid")]
        aid = [("ActionID", act.action_id)] if act.action_id is not None else []
        self._emit("UserEvent", [("UserEvent", ue), *aid, *extra])

    # ---- listing actions ------------------------------------------------------------------
    async def _act_coreshowchannels(self, s: AmiSession, act: Action) -> None:
        chans = self.model.all_channels()
        s.list_start(act, "Channels will follow")
        for ch in chans:
            s.list_item(act, "CoreShowChannel", self._show_fields(ch))
        s.list_complete(act, "CoreShowChannelsComplete", len(chans))

    async def _act_status(self, s: AmiSession, act: Action) -> None:
        name = act.get("Channel")
        chans = self.model.all_channels()
        if name:
            one = self.model.find(name)
            if one is None:
                s.error(act, "No such channel")
                return
            chans = [one]
        s.list_start(act, "Channel status will follow")
        for ch in chans:
            body: Fields = [("Event", "Status"), ("Privilege", "Call"), *self.model.snap(ch),
                            ("Type", "PJSIP"), ("DNID", ""),
                            ("EffectiveConnectedLineNum", ch.conn_num or "<unknown>"),
                            ("EffectiveConnectedLineName", ch.conn_name or "<unknown>"),
                            ("TimeToHangup", "0"),
                            ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                            ("Application", ch.application), ("Data", ch.appdata),
                            ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""),
                            ("Writeformat", "ulaw"), ("Writetrans", ""), ("Callgroup", "0"),
                            ("Pickupgroup", "0"),
                            ("Seconds", str(int(time.monotonic() - ch.created)))]
            if act.action_id is not None:
                body.append(("ActionID", act.action_id))
            s.send(encode(body))
        n = str(len(chans))
        s.list_complete(act, "StatusComplete", len(chans), ("Items", n))

    async def _act_parkedcalls(self, s: AmiSession, act: Action) -> None:
        calls = sorted(self.model.parked.values(), key=lambda p: p.space)
        s.list_start(act, "Parked calls will follow")
        for pc in calls:
            s.list_item(act, "ParkedCall", self.model._park_fields(pc))
        s.list_complete(act, "ParkedCallsComplete", len(calls), ("Total", str(len(calls))))

    async def _act_parkinglots(self, s: AmiSession, act: Action) -> None:
        start, stop = self.model.lot_range
        s.list_start(act, "Parking lots will follow")
        s.list_item(act, "Parkinglot", [("Name", "default"), ("StartSpace", str(start)),
                                        ("StopSpace", str(stop)),
                                        ("Timeout", str(self.model.park_timeout))])
        s.list_complete(act, "ParkinglotsComplete", 1)

    async def _act_command(self, s: AmiSession, act: Action) -> None:
        cmd = " ".join(act.get("Command").split())
        if not cmd:
            s.error(act, "No command provided")
            return
        chans = self.model.all_channels()
        if cmd == "core show channels concise":
            lines = [
                "!".join([c.name, c.context, c.exten, str(c.priority), _desc(c), c.application,
                          c.appdata, c.cid_num, c.accountcode, "", "3",
                          str(int(time.monotonic() - c.created)),
                          c.bridge.uniqueid if c.bridge else "", c.uniqueid])
                for c in chans]
        elif cmd in ("core show channels", "core show channels verbose"):
            lines = ["Channel                                                          "
                     "Location                         State   Application(Data)"]
            for c in chans:
                loc = f"{c.exten}@{c.context}:{c.priority}"
                app = f"{c.application}({c.appdata})"
                lines.append(f"{c.name:<64} {loc:<32} {_desc(c):<7} {app}")
            calls = len({c.linkedid for c in chans})
            lines += [f"{len(chans)} active channel{'s' if len(chans) != 1 else ''}",
                      f"{calls} active call{'s' if calls != 1 else ''}",
                      f"{len(chans)} call{'s' if len(chans) != 1 else ''} processed"]
        elif cmd == "core show version":
            lines = ["Asterisk 22.10.1 built by simswitch"]
        else:
            s.reply(act, "Error", ("Message", "Command output follows"),
                    ("Output", f"No such command '{cmd}' (type 'core show help {cmd}' for other "
                               "possible commands)"))
            return
        s.ok(act, "Command output follows", *(("Output", line) for line in lines))

    # ---- variables ------------------------------------------------------------------------
    async def _act_getvar(self, s: AmiSession, act: Action) -> None:
        var = act.get("Variable")
        if not var:
            s.error(act, "No variable specified")
            return
        name = act.get("Channel")
        if name:
            ch = self.model.find(name)
            if ch is None:
                s.error(act, "No such channel")
                return
            value = ch.variables.get(var, "")
        else:
            value = self.global_vars.get(var, "")
        s.ok(act, None, ("Variable", var), ("Value", value))

    async def _act_setvar(self, s: AmiSession, act: Action) -> None:
        var = act.get("Variable")
        if not var:
            s.error(act, "No variable specified")
            return
        name = act.get("Channel")
        ch = self.model.find(name) if name else None
        if name and ch is None:
            s.error(act, "No such channel")
            return
        s.ok(act, "Variable Set")
        if ch is not None:
            self.model.set_var(ch, var, act.get("Value"))
        else:
            self.global_vars[var] = act.get("Value")

    # ---- call control ---------------------------------------------------------------------
    async def _act_hangup(self, s: AmiSession, act: Action) -> None:
        name = act.get("Channel")
        if not name:
            s.error(act, "No channel specified")
            return
        cause = cause_code(act.get("Cause") or 16)
        if len(name) > 2 and name.startswith("/") and name.endswith("/"):
            rx = re.compile(name[1:-1])
            hits = [c for c in self.model.all_channels() if rx.search(c.name)]
            s.list_start(act, "Channels hung up will follow")
            for c in hits:
                s.list_item(act, "ChannelHungup", [("Channel", c.name)])
            s.list_complete(act, "ChannelsHungupListComplete", len(hits))
            for c in hits:
                self.model.hangup(c, cause, soft=True)
            return
        ch = self.model.find(name)
        if ch is None:
            s.error(act, "No such channel")
            return
        s.ok(act, "Channel Hungup")
        self.model.hangup(ch, cause, soft=True)

    async def _act_mixmonitor(self, s: AmiSession, act: Action) -> None:
        """app_mixmonitor.c manager_mixmonitor: success carries no Message line."""
        ch = self._action_channel(s, act)
        if ch is None:
            return
        mid = self.model.mixmonitor_id(ch)
        # option i(<var>) stores the id in <var>, and only then does the reply report it
        m = re.search(r"i\(([^)]*)\)", act.get("Options"))
        id_var = m.group(1) if m else ""
        s.ok(act, None, *((("MixMonitorID", mid),) if id_var else ()))
        self.model.mixmonitor_start(ch, act.get("File"), mid, id_var)

    async def _act_stopmixmonitor(self, s: AmiSession, act: Action) -> None:
        ch = self._action_channel(s, act)
        if ch is None:
            return
        mid = self.model.mixmonitor_find(ch, act.get("MixMonitorID"))
        if mid is None:
            s.error(act, "Could not stop monitoring channel")
            return
        s.ok(act)
        self.model.mixmonitor_stop(ch, mid)

    def _action_channel(self, s: AmiSession, act: Action) -> Channel | None:
        """The Channel header resolved, or the manager error already sent."""
        name = act.get("Channel")
        if not name:
            s.error(act, "No channel specified")
            return None
        ch = self.model.find(name)
        if ch is None:
            s.error(act, "No such channel")
        return ch

    async def _act_redirect(self, s: AmiSession, act: Action) -> None:
        name, extra_name = act.get("Channel"), act.get("ExtraChannel")
        if not name:
            s.error(act, "Channel not specified")
            return
        if not act.get("Context"):
            s.error(act, "Context not specified")
            return
        ch = self.model.find(name)
        if ch is None:
            s.error(act, f"Channel does not exist: {name}")
            return
        extra = self.model.find(extra_name) if extra_name else None
        if extra_name and extra is None:
            s.error(act, f"ExtraChannel does not exist: {extra_name}")
            return
        s.ok(act, "Dual Redirect successful" if extra is not None else "Redirect successful")
        ctx, exten = act.get("Context"), act.get("Exten")
        if extra is None:
            self.model.redirect(ch, ctx, exten)
            return
        # both legs leave together, so neither is orphaned and hung up
        bridge = ch.bridge
        for c in (ch, extra):
            self.model.leave_bridge(c)
            c.dial_peer, c.is_callee = None, False
        if bridge is not None and not bridge.members:
            self.model.destroy_bridge(bridge)
        self.model.run_exten(ch, exten, context=ctx)
        self.model.run_exten(extra, act.get("ExtraExten") or exten,
                             context=act.get("ExtraContext") or ctx)

    async def _act_blindtransfer(self, s: AmiSession, act: Action) -> None:
        name, exten = act.get("Channel"), act.get("Exten")
        if not name:
            s.error(act, "No channel specified")
            return
        if not exten:
            s.error(act, "No extension specified")
            return
        t = self.model.find(name)
        if t is None:
            s.error(act, "Channel specified does not exist")
            return
        bridge = t.bridge
        peers = self.model.peers(t)
        if bridge is None or len(peers) != 1:
            s.error(act, "Transfer invalid")
            return
        s.ok(act, "Transfer succeeded")
        e = peers[0]
        ctx = act.get("Context") or t.context
        self.model.emit("BlindTransfer", [
            ("Result", "Success"), *self.model.snap(t, "Transferer"),
            *self.model.snap(e, "Transferee"), *bridge.fields(), ("IsExternal", "Yes"),
            ("Context", ctx), ("Extension", exten)])
        self.model.leave_bridge(e)
        self.model.leave_bridge(t)
        e.dial_peer = t.dial_peer = None
        e.is_callee = False
        self.model.hangup(t, 16, soft=True)
        self.model.destroy_bridge(bridge)
        self.model.run_exten(e, exten, context=ctx)

    async def _act_atxfer(self, s: AmiSession, act: Action) -> None:
        name, exten = act.get("Channel"), act.get("Exten")
        if not name:
            s.error(act, "No channel specified")
            return
        if not exten:
            s.error(act, "No extension specified")
            return
        t = self.model.find(name)
        if t is None:
            s.error(act, "Channel specified does not exist")
            return
        route = self.model.route(exten)
        peers = self.model.peers(t)
        if t.bridge is None or len(peers) != 1 or route is None or route[0] not in ("ext",
                                                                                     "trunk"):
            s.error(act, "Atxfer failed")  # sim-specific: real Asterisk queues and fails later
            return
        s.ok(act, "Atxfer successfully queued")
        m = self.model
        orig, e = t.bridge, peers[0]
        m.chan_event("Hold", t)
        m.leave_bridge(t)
        m.chan_event("MusicOnHoldStart", e, ("Class", "default"))
        t.dial_peer, t.is_callee = None, False
        target = m.dial(t, exten, route[0], route[1], answer_after=self.originate_answer_after,
                        bridge=True)

        def complete() -> None:
            if not (t.alive and e.alive and target.alive and target.bridge is not None):
                return
            second = target.bridge
            m.emit("AttendedTransfer", [
                ("Result", "Success"), *m.snap(t, "OrigTransferer"), *orig.fields("Orig"),
                *m.snap(t, "SecondTransferer"), *second.fields("Second"),
                *m.snap(e, "Transferee"), *m.snap(target, "TransferTarget"),
                ("IsExternal", "No"), ("DestType", "Bridge"),
                ("DestBridgeUniqueid", orig.uniqueid)])
            m.leave_bridge(target)
            m.leave_bridge(t)
            m.destroy_bridge(second)
            target.dial_peer = t.dial_peer = None
            m.chan_event("MusicOnHoldStop", e)
            m.bridge_channels([target], orig)
            m.hangup(t, 16, soft=True)

        target.on_up.append(lambda: self._schedule(0, complete))

    async def _act_park(self, s: AmiSession, act: Action) -> None:
        name = act.get("Channel")
        if not name:
            s.error(act, "Channel not specified")
            return
        lot = act.get("Parkinglot") or "default"
        if lot != "default":
            s.error(act, "Requested parking lot could not be found.")
            return
        ch = self.model.find(name)
        if ch is None:
            s.error(act, f"Channel does not exist: {name}")
            return
        timeout_ms = act.get("Timeout")
        timeout = int(timeout_ms) // 1000 if timeout_ms.isdigit() else None
        if len(self.model.parked) > self.model.lot_range[1] - self.model.lot_range[0]:
            s.error(act, "Park action failed")
            return
        s.ok(act, "Park successful\n")  # the real switch sends this stray LF
        parker = self.model.find(act.get("TimeoutChannel")) if act.get("TimeoutChannel") else None
        self.model.park(ch, lot=lot, timeout=timeout, parker=parker)

    async def _act_bridge(self, s: AmiSession, act: Action) -> None:
        n1, n2 = act.get("Channel1"), act.get("Channel2")
        if not n1 or not n2:
            s.error(act, "Missing channel parameter in request")
            return
        c1 = self.model.find(n1)
        if c1 is None:
            s.error(act, f"Channel1 does not exist: {n1}")
            return
        c2 = self.model.find(n2)
        if c2 is None:
            s.error(act, f"Channel2 does not exist: {n2}")
            return
        s.ok(act, "Channels have been bridged")
        self.bridge_pair(c1, c2)

    def bridge_pair(self, c1: Channel, c2: Channel) -> None:
        """Pull both channels out of apps/bridges (orphans hang up) and join them."""
        m = self.model
        for c in (c1, c2):
            if c.parked is not None:
                m._unpark(c, "UnParkedCall")
            if c.application in ("MusicOnHold", "Park"):
                m.chan_event("MusicOnHoldStop", c)
            if c.bridge is not None:
                for o in m._dissolve(c):
                    if o is not c1 and o is not c2:
                        m.hangup(o, 16, soft=True)
            c.dial_peer, c.is_callee = None, False
            if c.state != UP:
                m.set_state(c, UP)
            c.application, c.appdata = "Bridge", ""
        m.bridge_channels([c1, c2])

    async def _act_playdtmf(self, s: AmiSession, act: Action) -> None:
        ch = self.model.find(act.get("Channel"))
        if ch is None:
            s.error(act, "Channel not found")
            return
        digit = act.get("Digit")
        if not digit:
            s.error(act, "No digit specified")
            return
        s.ok(act, "DTMF successfully queued")
        dur = act.get("Duration") or "250"
        self.model.chan_event("DTMFBegin", ch, ("Digit", digit[0]), ("Direction", "Sent"))
        self.model.chan_event("DTMFEnd", ch, ("Digit", digit[0]), ("DurationMs", dur),
                              ("Direction", "Sent"))

    # ---- originate ------------------------------------------------------------------------
    async def _act_originate(self, s: AmiSession, act: Action) -> None:
        name = act.get("Channel")
        if not name:
            s.error(act, "Channel not specified")
            return
        tech, sep, data = name.partition("/")
        if not sep or not data or tech.upper() not in ("PJSIP", "LOCAL", "SIP"):
            s.error(act, "Invalid channel")
            return
        exten, context, app = act.get("Exten"), act.get("Context"), act.get("Application")
        if exten and not app and (not context or not act.get("Priority")):
            s.error(act, "Originate with 'Exten' requires 'Context' and 'Priority'")
            return
        if exten and not app and self.model.route(exten) is None:
            s.error(act, "Extension does not exist.")
            return
        is_async = act.get("Async").lower() in ("true", "yes", "1", "on")
        fut: asyncio.Future[tuple[bool, int, Channel | None]] = (
            asyncio.get_running_loop().create_future())
        if is_async:
            s.ok(act, "Originate successfully queued")
        try:
            self._originate(act, tech.upper(), data, fut)
        except LookupError:
            if not fut.done():
                fut.set_result((False, 0, None))
        if is_async:
            fut.add_done_callback(lambda f: self._originate_response(act, name, *f.result()))
            return
        ok, _reason, _ch = await fut
        if ok:
            s.ok(act, "Originate successfully queued")
        else:
            s.error(act, "Originate failed")

    def _originate_response(self, act: Action, name: str, ok: bool, reason: int,
                            ch: Channel | None) -> None:
        body: Fields = []
        if act.action_id is not None:
            body.append(("ActionID", act.action_id))
        body += [("Response", "Success" if ok else "Failure"),
                 ("Channel", ch.name if ok and ch is not None else name)]
        if act.get("Application"):
            body += [("Application", act.get("Application")), ("Data", act.get("Data"))]
        else:
            body += [("Context", act.get("Context")), ("Exten", act.get("Exten"))]
        num, cname = _parse_callerid(act.get("CallerID"))
        body += [("Reason", str(reason)),
                 ("Uniqueid", ch.uniqueid if ok and ch is not None else "<unknown>"),
                 ("CallerIDNum", num or "<unknown>"), ("CallerIDName", cname or "<unknown>")]
        self._emit("OriginateResponse", body)

    def _originate(self, act: Action, tech: str, data: str,
                   fut: asyncio.Future[tuple[bool, int, Channel | None]]) -> None:
        m = self.model
        variables: list[tuple[str, str]] = []
        for v in act.getall("Variable"):
            for part in v.split(","):
                k, _, val = part.partition("=")
                if k.strip():
                    variables.append((k.strip(), val))
        num, cname = _parse_callerid(act.get("CallerID"))
        timeout = int(act.get("Timeout") or 30000) / 1000.0

        def done(ok: bool, reason: int, ch: Channel | None) -> None:
            if not fut.done():
                fut.set_result((ok, reason, ch))

        if tech == "LOCAL":
            exten, _, ctx = data.partition("@")
            ctx = ctx.split("/")[0] or m.context
            if m.route(exten) is None:
                raise LookupError(exten)
            o = self._local_pair(exten, ctx, act.get("ChannelId"), act.get("OtherChannelId"),
                                 variables, num, cname)
            two = o.dial_peer
            assert two is not None
            o.on_up.append(lambda: (done(True, 4, o), self._after_answer(o, act)))
            o.on_gone.append(lambda cause: done(False, _reason_for(cause), None))
            m.run_exten(two, exten, context=ctx, ring_timeout=timeout)
            if two.alive and two.dial_peer is None and two.state == UP:
                m.answer(o)
            return
        endpoint, _, host = data.partition("@")
        trunk = host if host in m.trunks else None
        if trunk is None and endpoint not in m.extensions and endpoint not in m.trunks:
            raise LookupError(endpoint)
        ep = trunk or endpoint
        o = m.new_channel(ep, state=0, context=m.trunk_context if trunk else m.context,
                          exten="s", accountcode=act.get("Account") or m.extensions.get(ep, ""),
                          uniqueid=act.get("ChannelId") or None)
        o.is_callee = True
        for k, v in variables:
            m.set_var(o, k, v)
        m.newexten(o, "AppDial2", "(Outgoing Line)")
        if num or cname:
            m.set_callerid(o, num, cname)
            m.set_connected(o, num, cname)
        m.emit("DialBegin", [*m.snap(o, "Dest"), ("DialString", data)])
        o.on_up.append(lambda: (done(True, 4, o), self._after_answer(o, act)))
        o.on_gone.append(lambda cause: done(False, _reason_for(cause), None))
        if endpoint in m.busy:
            m.set_state(o, 7)
            self._schedule(0.01, lambda: m.hangup(o, 17))
            return
        m.set_state(o, RINGING)
        m.emit("DialState", [*m.snap(o, "Dest"), ("DialStatus", "RINGING")])
        if endpoint not in m.no_answer:
            self._schedule(self.originate_answer_after, lambda: m.answer(o))
        self._schedule(timeout, lambda: m.hangup(o, 19) if o.alive and o.state != UP else None)

    def _local_pair(self, exten: str, ctx: str, id1: str, id2: str,
                    variables: list[tuple[str, str]], num: str, cname: str) -> Channel:
        """Create ``Local/exten@ctx-N;1`` (runs the app) and ``;2`` (runs the dialplan)."""
        m = self.model
        base = f"Local/{exten}@{ctx}-{next(m._chan_seq):08x}"
        one = m.new_channel("Local", state=0, context=ctx, exten=exten, name=f"{base};1",
                            uniqueid=id1 or None)
        two = m.new_channel("Local", state=RING, context=ctx, exten=exten, name=f"{base};2",
                            uniqueid=id2 or None, linkedid=one.linkedid)
        m.newexten(one, "AppDial2", "(Outgoing Line)")
        for k, v in variables:
            m.set_var(one, k, v)
            m.set_var(two, k, v)
        if num or cname:
            for c in (one, two):
                m.set_callerid(c, num, cname)
                m.set_connected(c, num, cname)
        m.emit("LocalBridge", [*m.snap(one, "LocalOne"), *m.snap(two, "LocalTwo"),
                               ("Context", ctx), ("Exten", exten), ("LocalOptimization", "Yes")])
        m.emit("DialBegin", [*m.snap(one, "Dest"), ("DialString", f"{exten}@{ctx}")])
        one.is_callee = True
        one.dial_peer = two  # the ;2 half; answered when ;2 comes up

        def two_up() -> None:
            one.dial_peer = None
            m.answer(one)

        def two_gone(cause: int) -> None:
            if one.alive and one.state != UP:
                one.dial_peer = None
                m.hangup(one, cause)

        two.on_up.append(two_up)
        two.on_gone.append(two_gone)
        return one

    def _after_answer(self, o: Channel, act: Action) -> None:
        """Run the Originate's Application or Exten on the answered channel."""
        m = self.model
        app, data = act.get("Application"), act.get("Data")
        if not app:
            m.run_exten(o, act.get("Exten"), context=act.get("Context"))
            return
        o.application, o.appdata = app, data
        lapp = app.lower()
        if lapp == "musiconhold":
            m.chan_event("MusicOnHoldStart", o, ("Class", data.split(",")[0] or "default"))
        elif lapp == "park":
            m.park(o)
        elif lapp == "chanspy":
            spyee = self._find_prefix(data.split(",")[0])
            if spyee is not None:
                spyee.spies.append(o)
                m.emit("ChanSpyStart", [*m.snap(o, "Spyer"), *m.snap(spyee, "Spyee")])
        elif lapp == "pickupchan":
            target = self._find_prefix(data.split(",")[0])
            if target is not None and target.is_callee and target.state == RINGING:
                self._pickup(o, target)
        elif lapp == "bridge":
            other = m.find(data.split(",")[0])
            if other is not None:
                self.bridge_pair(o, other)

    def _find_prefix(self, name: str) -> Channel | None:
        ch = self.model.find(name)
        if ch is not None or not name:
            return ch
        return next((c for c in self.model.all_channels() if c.name.startswith(name)), None)

    def _pickup(self, picker: Channel, target: Channel) -> None:
        """PickupChan: the picker answers in place of the ringing callee and joins the caller."""
        m = self.model
        caller = target.dial_peer
        m.emit("Pickup", [*m.snap(picker), *m.snap(target, "Target")])
        target.alive = False
        if caller is not None and caller.alive:
            m.emit("DialEnd", [*m.snap(caller), *m.snap(target, "Dest"),
                               ("DialStatus", "ANSWER")])
            caller.dial_peer = None
        m._finish(target, 26)
        if caller is not None and caller.alive:
            m.set_state(caller, UP)
            m.bridge_channels([picker, caller])


def _desc(c: Channel) -> str:
    return STATE_DESC.get(c.state, "Unknown")


def _reason_for(cause: int) -> int:
    """OriginateResponse Reason (last control frame): 5 busy, 3 ringing/no answer, 8 congestion,
    1 hangup, 0 failed."""
    return {17: 5, 19: 3, 18: 3, 34: 8, 16: 1, 1: 0}.get(cause, 0)


def _parse_callerid(cid: str) -> tuple[str, str]:
    """``"Name" <num>`` / ``Name <num>`` / ``num`` -> (num, name)."""
    cid = cid.strip()
    mt = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', cid)
    if mt:
        return mt.group(2).strip(), mt.group(1).strip()
    return cid, ""
