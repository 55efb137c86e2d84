"""Simulated Asterisk 22 speaking AMI on loopback: the server, action dispatch, faults.

Framing lives in ``ami_wire`` and the call model in ``ast_model``; the connection and login in
``ami_session``, the call-control actions in ``ami_actions`` and Originate in ``ami_originate``
(mixed into AsteriskSimulator). This module turns client actions into handler calls and
model events into bytes for every logged-in session.
Reply texts are the ones the real switch sends (tests/fixtures/asterisk-22-real).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

from simswitch.ami_actions import CallActions
from simswitch.ami_originate import OriginateActions
from simswitch.ami_session import _PRE_AUTH, AmiSession, SessionActions
from simswitch.ami_wire import BANNER, Action, ActionReader, Fields, encode
from simswitch.ast_model import (
    PRIVILEGE,
    AsteriskModel,
    Channel,
    cause_code,
)

__all__ = ["AmiSession", "AsteriskSimulator"]

_UNKNOWN_CMD = "Invalid/unknown command: {}. Use Action: ListCommands to show available commands."


class AsteriskSimulator(SessionActions, CallActions, OriginateActions):
    """A fake Asterisk 22 with PJSIP endpoints ``extensions`` (ext -> AccountCode) and trunks."""

    def __init__(self, username: str = "gateway", secret: str = "s3cret", host: str = "127.0.0.1",
                 port: int = 0, system_name: str = "sim-ast1",
                 extensions: dict[str, str] | None = None, trunks: Iterable[str] = ("carrier1",),
                 login_failure_delay: float = 1.0, *, channelvars: Iterable[str] = (),
                 moh_exten: str = "moh", playback_exten: str = "playback",
                 park_extens: Iterable[str] = ("park", "700"),
                 busy: Iterable[str] = (), no_answer: Iterable[str] = (),
                 services: Iterable[str] = (), names: dict[str, str] | None = None,
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
            channelvars=channelvars, moh_exten=moh_exten, playback_exten=playback_exten,
            park_extens=park_extens, busy=busy, no_answer=no_answer, park_timeout=park_timeout,
            services=services, names=names)

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

    async def place_call(self, caller: str, callee: str, *, realm: str | None = None,
                         answer_after: float | None = 0.2, bridge: bool = True,
                         variables: dict[str, str] | None = None,
                         caller_name: str | None = None) -> str:
        """A phone (or the trunk) calls ``callee``; returns the A-leg Uniqueid. ``caller_name``
        is the display name the phone sends (default: its endpoint's callerid name)."""
        del realm
        a = self.model.inbound(caller, callee, variables, caller_name)
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

    def call_of(self, uid: str) -> str:
        """The call a channel belongs to: its Linkedid (the first channel's Uniqueid)."""
        ch = self.model.find(uid)
        return ch.linkedid if ch is not None else uid

    def phones_in_calls(self) -> dict[str, int]:
        """PJSIP phone endpoint -> how many live channels it has (calling or called)."""
        count: dict[str, int] = {}
        for ch in self.model.channels.values():
            if ch.alive and ch.endpoint in self.model.extensions:
                count[ch.endpoint] = count.get(ch.endpoint, 0) + 1
        return count

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
