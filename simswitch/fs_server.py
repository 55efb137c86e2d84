"""Simulated FreeSWITCH: an inbound Event Socket server on loopback over the call model.

Sessions, auth, subscriptions, api/bgapi dispatch and fault injection live here; the
wire format is in esl_wire, the api command handlers in fs_api and the calls in fs_model.
Reply texts follow FreeSWITCH 1.11 (mod_event_socket / mod_commands) as recorded in
tests/fixtures/freeswitch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Iterable

from simswitch import esl_wire as wire
from simswitch.fs_api import ApiCommands, ApiResult
from simswitch.fs_channel import event_type
from simswitch.fs_model import Channel, SwitchModel
from simswitch.logs import brief

log = logging.getLogger(__name__)



class EslSession:
    """One client connection: auth state, event subscription and ordered output."""

    def __init__(self, sim: FreeSwitchSimulator, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.authed = False
        self.fmt = "plain"
        self.all_events = False
        self.names: set[str] = set()
        self.nixed: set[str] = set()
        self._blocking = False
        self._held: list[bytes] = []

    # output ---------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue bytes unless output is paused (blocking api or a stalled switch)."""
        if self._blocking or self.sim.stalled:
            self._held.append(data)
        elif not self.writer.is_closing():
            self.writer.write(data)

    def flush(self) -> None:
        if self._blocking or self.sim.stalled or not self._held:
            return
        held, self._held = self._held, []
        if not self.writer.is_closing():
            self.writer.write(b"".join(held))

    def wants(self, name: str) -> bool:
        if self.all_events:
            return name not in self.nixed
        return name in self.names

    def deliver(self, ev: wire.Event) -> None:
        if self.authed and self.wants(ev.name):
            self.send(ev.frame(self.fmt))

    # input ----------------------------------------------------------------
    async def run(self) -> None:
        self.send(wire.AUTH_REQUEST)
        try:
            while True:
                try:
                    cmd = await wire.read_command(self.reader)
                except wire.FrameError:
                    break
                if cmd is None:
                    break
                await self.sim.wait_unstalled()
                if not await self.handle(cmd):
                    break
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:  # never leak a traceback to the client
            log.error("esl session failed: %s", brief(exc))
        finally:
            self.sim.sessions.discard(self)
            self.writer.close()

    async def handle(self, cmd: wire.ClientCommand) -> bool:
        """Process one client message; False closes the connection."""
        line = cmd.line
        word, _, rest = line.partition(" ")
        word = word.lower()
        if not self.authed:
            if word == "auth":
                if self.sim.auth_enabled and rest.strip() == self.sim.password:
                    self.authed = True
                    self.send(wire.command_reply("+OK accepted"))
                    return True
                self.send(wire.command_reply("-ERR invalid"))
                self.send(wire.DISCONNECT_NOTICE)
                self.flush()
                return False
            self.send(wire.command_reply("-ERR command not found"))
            return True
        self.sim.commands.append(line)
        if word in ("exit", "..."):
            self.send(wire.command_reply("+OK bye"))
            self.send(wire.DISCONNECT_NOTICE)
            self.flush()
            return False
        if word == "api":
            self._blocking = True
            try:
                result = await self.sim.run_api(rest)
            finally:
                self._blocking = False
            # the reply precedes the events the command caused, as on a real switch
            self._held.insert(0, wire.api_response(result))
            self.flush()
            return True
        if word == "bgapi":
            job = cmd.headers.get("Job-UUID") or str(uuidlib.uuid4())
            self.send(wire.command_reply(f"+OK Job-UUID: {job}", job_uuid=job))
            self.sim.spawn(self.sim.background_job(job, rest))
            return True
        handler = {
            "event": self._event, "nixevent": self._nixevent, "noevents": self._noevents,
            "filter": self._filter, "sendmsg": self._sendmsg, "linger": self._linger,
            "nolinger": self._linger, "myevents": self._myevents,
        }.get(word)
        if handler is None:
            self.send(wire.command_reply("-ERR command not found"))
        else:
            self.send(wire.command_reply(handler(rest.split(), cmd)))
        return True

    def _event(self, args: list[str], _cmd: wire.ClientCommand) -> str:
        if args and args[0].lower() in ("plain", "json", "xml"):
            self.fmt = "json" if args[0].lower() == "json" else "plain"
            fmt_word = args[0].lower()
            args = args[1:]
        else:
            fmt_word = self.fmt
        keys = 0
        custom = False
        for word in args:
            if custom:  # subclass names follow CUSTOM (the simulator fires no CUSTOM events)
                continue
            name = event_type(word)
            if name is None:  # as mod_event_socket: an unknown name is skipped, not an error
                continue
            keys += 1
            if name == "CUSTOM":
                custom = True
            elif name == "ALL":
                self.all_events = True
                self.nixed.clear()
            else:
                self.names.add(name)
                self.nixed.discard(name)
        if not keys:
            return "-ERR no keywords supplied"
        return f"+OK event listener enabled {fmt_word}"

    def _nixevent(self, args: list[str], _cmd: wire.ClientCommand) -> str:
        if not args:
            return "-ERR no keywords supplied"
        for name in args:
            self.names.discard(name.upper())
            self.nixed.add(name.upper())
        return "+OK events nixed"

    def _noevents(self, _args: list[str], _cmd: wire.ClientCommand) -> str:
        if not (self.all_events or self.names):
            return "-ERR not listening for events"
        self.all_events = False
        self.names.clear()
        self.nixed.clear()
        return "+OK no longer listening for events"

    def _filter(self, args: list[str], _cmd: wire.ClientCommand) -> str:
        # Accepted for compatibility; the simulator does not filter.
        if args and args[0] == "delete":
            return f"+OK filter deleted. [{' '.join(args[1:2])}][{' '.join(args[2:])}]"
        if len(args) < 2:
            return "-ERR invalid syntax"
        return f"+OK filter added. [{args[0]}]=[{' '.join(args[1:])}]"

    def _linger(self, _args: list[str], _cmd: wire.ClientCommand) -> str:
        return "-ERR not controlling a session"

    def _myevents(self, args: list[str], _cmd: wire.ClientCommand) -> str:
        if not args or self.sim.model.channels.get(args[0]) is None:
            return "-ERR invalid uuid"
        return "+OK Events Enabled"

    def _sendmsg(self, args: list[str], cmd: wire.ClientCommand) -> str:
        uid = args[0] if args else cmd.headers.get("Unique-ID", "")
        ch = self.sim.model.channels.get(uid)
        if ch is None:
            return f"-ERR invalid session id [{uid}]"
        h = {k.lower(): v for k, v in cmd.headers.items()}
        what = h.get("call-command", "")
        if what == "hangup":
            self.sim.model.hangup(ch, h.get("hangup-cause", "NORMAL_CLEARING"))
        elif what == "execute":
            self.sim.model.send_app(ch, h.get("execute-app-name", ""),
                                    h.get("execute-app-arg", ""))
        return "+OK"


class FreeSwitchSimulator(ApiCommands):
    """A FreeSWITCH 1.11 look-alike on loopback, with a scriptable call model and faults."""

    def __init__(
        self,
        password: str = "ClueCon",
        host: str = "127.0.0.1",
        port: int = 0,
        hostname: str = "sim-fs1",
        extensions: dict[str, str] | None = None,
        gateways: Iterable[str] | None = None,
        *,
        busy: Iterable[str] = (),
        no_answer: Iterable[str] = (),
        answer_after: float = 0.2,
        services: Iterable[str] = (),
    ) -> None:
        self.password = password
        self.auth_enabled = True
        self.host = host
        self.port = port
        self.hostname = hostname
        self.model = SwitchModel(
            hostname=hostname, extensions=extensions or {}, gateways=gateways or [],
            emit=self._broadcast, busy=busy, no_answer=no_answer, answer_after=answer_after)
        self.model.services = frozenset(services)
        self.commands: list[str] = []
        self.sessions: set[EslSession] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stall_until = 0.0
        self._unstall_handle: asyncio.TimerHandle | None = None
        self._unstalled = asyncio.Event()
        self._unstalled.set()
        self.started = time.time()
        self._api: dict[str, Callable[[str], ApiResult]] = {
            "status": self._status, "version": self._version, "uptime": self._uptime,
            "show": self._show, "hupall": self._hupall, "originate": self._originate,
            "uuid_kill": self._uuid_kill, "uuid_transfer": self._uuid_transfer,
            "uuid_hold": self._uuid_hold, "uuid_park": self._uuid_park,
            "uuid_break": self._uuid_break, "uuid_broadcast": self._uuid_broadcast,
            "uuid_bridge": self._uuid_bridge, "uuid_getvar": self._uuid_getvar,
            "uuid_setvar": self._uuid_setvar, "uuid_exists": self._uuid_exists,
            "uuid_send_dtmf": self._uuid_send_dtmf, "uuid_dump": self._uuid_dump,
            "uuid_answer": self._uuid_answer, "uuid_record": self._uuid_record,
            "module_exists": lambda a: "true\n",
            "global_getvar": lambda a: "127.0.0.1\n" if a.strip() == "local_ip_v4" else "",
        }

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.writer.transport.abort()
        for t in list(self._tasks):
            t.cancel()
        for ch in list(self.model.channels.values()):
            ch.cancel_timers()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = EslSession(self, reader, writer)
        self.sessions.add(s)
        await s.run()

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _broadcast(self, ev: wire.Event) -> None:
        for s in self.sessions:
            s.deliver(ev)

    @property
    def connections(self) -> int:
        return sum(1 for s in self.sessions if s.authed)

    async def place_call(
        self, caller: str, callee: str, *, realm: str | None = None,
        answer_after: float | None = 0.2, bridge: bool = True,
        variables: dict[str, str] | None = None, caller_name: str | None = None,
    ) -> str:
        """Start a call as a phone or carrier would; returns the A-leg uuid.

        bridge=False leaves the A-leg ringing on its own; answering it parks it. `caller_name`
        is the display name the phone sends (default: its number).
        """
        m = self.model
        a = m.start_inbound(caller, callee, realm=realm, variables=variables or {},
                            name=caller_name)
        if not bridge:
            a.on_answer = lambda: m.park(a)
            if answer_after is not None:
                m._later(a, answer_after, lambda: m.answer(a))
            return a.uuid
        ds = m.dialstring_for(callee, from_internal=a.kind == "internal")
        if ds is None:
            m.execute(a, "bridge", f"user/{callee}")
            m.complete_app(a, "NO_ROUTE_DESTINATION")
            m.hangup(a, "NO_ROUTE_DESTINATION")
            return a.uuid
        m.bridge_out(a, ds, answer_after=answer_after)
        await asyncio.sleep(0)
        return a.uuid

    def _get(self, channel_id: str) -> Channel:
        ch = self.model.channels.get(channel_id)
        if ch is None:
            raise KeyError(channel_id)
        return ch

    async def answer(self, channel_id: str) -> None:
        self.model.answer(self._get(channel_id))

    async def hangup(self, channel_id: str, cause: str = "NORMAL_CLEARING") -> None:
        ch = self.model.channels.get(channel_id)
        if ch is not None:
            self.model.hangup(ch, cause)

    async def hold(self, channel_id: str) -> None:
        self.model.hold(self._get(channel_id), True)

    async def unhold(self, channel_id: str) -> None:
        self.model.hold(self._get(channel_id), False)

    async def park(self, channel_id: str) -> None:
        self.model.park(self._get(channel_id))

    def truth(self) -> dict[str, dict[str, str]]:
        return {u: self.model.row(ch) for u, ch in self.model.channels.items()}

    def channel(self, uuid: str) -> Channel | None:
        return self.model.channels.get(uuid)

    def channel_ids(self) -> list[str]:
        return list(self.model.channels)

    def call_of(self, channel_id: str) -> str:
        """The call a leg belongs to: its A-leg's uuid (Call-UUID), or its own."""
        ch = self.model.channels.get(channel_id)
        return ch.call_uuid if ch is not None else channel_id

    def phones_in_calls(self) -> dict[str, int]:
        """Registered phone -> how many live legs it has (calling or called)."""
        count: dict[str, int] = {}
        for ch in self.model.channels.values():
            if ch.alive and ch.user in self.model.extensions:
                count[ch.user] = count.get(ch.user, 0) + 1
        return count

    async def drop_connections(self) -> None:
        for s in list(self.sessions):
            s.writer.transport.abort()
        await asyncio.sleep(0)

    @property
    def stalled(self) -> bool:
        return self._stall_until > 0

    def stall(self, seconds: float) -> None:
        """Stop answering and sending for a while; everything queued goes out afterwards."""
        loop = asyncio.get_running_loop()
        self._stall_until = loop.time() + seconds
        self._unstalled.clear()
        if self._unstall_handle is not None:
            self._unstall_handle.cancel()
        self._unstall_handle = loop.call_later(seconds, self._unstall)

    def _unstall(self) -> None:
        self._stall_until = 0.0
        self._unstall_handle = None
        self._unstalled.set()
        for s in list(self.sessions):
            s.flush()

    async def wait_unstalled(self) -> None:
        await self._unstalled.wait()

    async def send_malformed(self, kind: str = "bad_length") -> None:
        """Send a broken frame to every authenticated client.

        bad_length: `Content-Length: abc`; short_body: a body shorter than announced,
        then garbage that is not a header block.
        """
        if kind == "short_body":
            data = b"Content-Type: api/response\nContent-Length: 500\n\n+OK short\n\x00\xffgarbage"
        else:
            data = b"Content-Length: abc\nContent-Type: text/event-plain\n\nEvent-Name: X\n\n"
        for s in list(self.sessions):
            if s.authed and not s.writer.is_closing():
                s.writer.write(data)
                with contextlib.suppress(ConnectionError):
                    await s.writer.drain()

    async def blast(self, n_calls: int, caller: str | None = None,
                    callee: str | None = None) -> int:
        """Emit n complete bridged-call event sequences as fast as subscribers drain.

        Returns the number of events sent per subscriber.
        """
        exts = list(self.model.extensions) or ["201", "202"]
        a = caller or exts[0]
        b = callee or (exts[1] if len(exts) > 1 else exts[0])
        counter = [0]
        emit = self.model.emit

        def counting(ev: wire.Event) -> None:
            counter[0] += 1
            emit(ev)

        self.model.emit = counting
        try:
            for i in range(n_calls):
                self.model.flash_call(a, b)
                if i % 8 == 7:
                    await self._drain_all()
            await self._drain_all()
        finally:
            self.model.emit = emit
        return counter[0]

    async def _drain_all(self) -> None:
        for s in list(self.sessions):
            with contextlib.suppress(ConnectionError):
                await s.writer.drain()
