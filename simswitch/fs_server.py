"""Simulated FreeSWITCH: an inbound Event Socket server on loopback over the call model.

Sessions, auth, subscriptions, api/bgapi dispatch and fault injection live here; the
wire format is in esl_wire and the calls in fs_model. Reply texts follow FreeSWITCH 1.11
(mod_event_socket / mod_commands) as recorded in shared/fixtures/freeswitch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Iterable

from gateway.logs import brief
from simswitch import esl_wire as wire
from simswitch.fs_model import Channel, SwitchModel

log = logging.getLogger(__name__)

NO_CHANNEL = "-ERR No such channel!\n"
ApiResult = str | Awaitable[str]


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
        if not args:
            return "-ERR no keywords supplied"
        custom = False
        for name in args:
            up = name.upper()
            if up == "CUSTOM":
                custom = True
            elif up == "ALL":
                self.all_events = True
                self.nixed.clear()
            elif not custom:
                self.names.add(up)
                self.nixed.discard(up)
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
            app, arg = h.get("execute-app-name", ""), h.get("execute-app-arg", "")
            if app == "att_xfer":
                self.sim.model.att_xfer(ch, arg)
            elif app == "transfer":
                dest, dialplan, context = ([*arg.split(), "", "XML", "default"])[:3]
                self.sim.model.transfer(ch, dest, dialplan or "XML", context)
            else:
                self.sim.model.run_app(ch, app, arg)
        return "+OK"


class FreeSwitchSimulator:
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
    ) -> None:
        self.password = password
        self.auth_enabled = True
        self.host = host
        self.port = port
        self.hostname = hostname
        self.model = SwitchModel(
            hostname=hostname, extensions=extensions or {}, gateways=gateways or [],
            emit=self._broadcast, busy=busy, no_answer=no_answer, answer_after=answer_after)
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

    # ------------------------------------------------------------ lifecycle
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

    # ------------------------------------------------------------ scripted calls
    async def place_call(
        self, caller: str, callee: str, *, realm: str | None = None,
        answer_after: float | None = 0.2, bridge: bool = True,
        variables: dict[str, str] | None = None,
    ) -> str:
        """Start a call as a phone or carrier would; returns the A-leg uuid.

        bridge=False leaves the A-leg ringing on its own; answering it parks it.
        """
        m = self.model
        a = m.start_inbound(caller, callee, realm=realm, variables=variables or {})
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

    # ------------------------------------------------------------ faults
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

    # ------------------------------------------------------------ load
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

    # ------------------------------------------------------------ api
    async def run_api(self, line: str) -> str:
        cmd, _, args = line.strip().partition(" ")
        fn = self._api.get(cmd)
        self.model.fire_plain("API", [("API-Command", cmd)] + (
            [("API-Command-Argument", args)] if args else []))
        if fn is None:
            return f"-ERR {cmd} Command not found!\n"
        try:
            result = fn(args.strip())
            if not isinstance(result, str):
                result = await result
        except Exception as exc:  # a bug in the simulator must not reach the client as a trace
            log.error("api %s failed: %s", cmd, brief(exc))
            return "-ERR internal error\n"
        return result or "-ERR no reply\n"

    async def background_job(self, job: str, line: str) -> None:
        await asyncio.sleep(0)
        result = await self.run_api(line)
        cmd, _, args = line.strip().partition(" ")
        extra = [("Job-UUID", job), ("Job-Command", cmd)]
        if args:
            extra.append(("Job-Command-Arg", args))
        self.model.fire_plain("BACKGROUND_JOB", extra, body=result)

    def _status(self, _args: str) -> str:
        up = int(time.time() - self.started)
        n = len(self.model.channels)
        return (
            f"UP 0 years, 0 days, {up // 3600} hours, {up // 60 % 60} minutes, {up % 60} seconds, "
            "0 milliseconds, 0 microseconds\n"
            "FreeSWITCH (Version 1.11.1-release  64bit) is ready\n"
            f"{self.model.sessions_since_start} session(s) since startup\n"
            f"{n} session(s) - peak {n}, last 5min {n} \n"
            "0 session(s) per Sec out of max 100, peak 1, last 5min 1 \n"
            "1000 session(s) max\nmin idle cpu 0.00/98.33\nCurrent Stack Size/Max 240K/8192K\n")

    def _version(self, _args: str) -> str:
        return "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"

    def _uptime(self, _args: str) -> str:
        return f"{int(time.time() - self.started)}\n"

    def _show(self, args: str) -> str:
        a = args.split()
        what = a[0] if a else ""
        as_json = a[-2:] == ["as", "json"]
        if what == "channels" and a[1:2] == ["count"]:
            return f"\n{len(self.model.channels)} total.\n"
        if what == "channels":
            return self.model.show_channels_json() if as_json else self.model.show_channels_csv()
        if what == "calls":
            if as_json:
                return self.model.show_calls_json()
            rows = self.model.calls_rows()
            head = ",".join(rows[0].keys()) if rows else "uuid"
            body = "".join(",".join(r.values()) + "\n" for r in rows)
            return f"{head}\n{body}\n{len(rows)} total.\n"
        return ("-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|"
                "channels [count|like <match string>]|calls|detailed_calls|bridged_calls|"
                "detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|"
                "say|interfaces|interface_types|tasks|limits|status\n")

    def _hupall(self, args: str) -> str:
        cause = args.split()[0] if args.split() else "MANAGER_REQUEST"
        for ch in list(self.model.channels.values()):
            self.model.hangup(ch, cause)
        return f"+OK hangup all channels with cause {cause}\n"

    def _originate(self, args: str) -> ApiResult:
        args = args.strip()
        if not args:
            return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] " \
                   "[<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
        variables: dict[str, str] = {}
        if args.startswith("{"):
            end = args.find("}")
            for pair in args[1:end].split(","):
                k, _, v = pair.partition("=")
                if k:
                    variables[k.strip()] = v
            args = args[end + 1:]
        dialstring, _, rest = args.partition(" ")
        rest = rest.strip()
        if not rest:
            return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] " \
                   "[<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
        if len(a := rest.split()) >= 7 and a[6].isdigit():
            variables.setdefault("originate_timeout", a[6])
        if rest.startswith("&"):
            app, _, arg = rest[1:].partition("(")
            fut = self.model.originate(dialstring, variables, app.strip(), arg.rpartition(")")[0])
        else:
            parts = rest.split()
            context = parts[2] if len(parts) > 2 else "default"
            fut = self.model.originate(dialstring, variables, "", "", exten=parts[0],
                                       context=context)
        return fut

    def _chan(self, uid: str) -> Channel | None:
        return self.model.channels.get(uid)

    def _uuid_kill(self, args: str) -> str:
        a = args.split()
        if not a:
            return "-USAGE: <uuid> [cause]\n"
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        self.model.hangup(ch, a[1] if len(a) > 1 else "NORMAL_CLEARING")
        return "+OK\n"

    def _uuid_transfer(self, args: str) -> str:
        a = args.split()
        usage = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        if len(a) < 2:
            return usage
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        flag = a[1] if a[1] in ("-bleg", "-both") else ""
        rest = a[2:] if flag else a[1:]
        if not rest:
            return usage
        dest = rest[0]
        dialplan = rest[1] if len(rest) > 1 else "XML"
        context = rest[2] if len(rest) > 2 else "default"
        m = self.model
        if flag == "-bleg":
            if ch.partner is None:
                return "-ERR\n"
            m.transfer(ch.partner, dest, dialplan, context)
        elif flag == "-both":
            peer = ch.partner
            m.transfer(ch, dest, dialplan, context, keep_peer=True)
            if peer is not None:
                m.transfer(peer, dest, dialplan, context, keep_peer=True)
        else:
            m.transfer(ch, dest, dialplan, context)
        return "+OK\n"

    def _uuid_hold(self, args: str) -> str:
        a = args.split()
        mode = ""
        if a and a[0] in ("off", "toggle"):
            mode, a = a[0], a[1:]
        if not a:
            return "-USAGE: [off|toggle] <uuid> [<display>]\n-ERR Operation failed\n"
        ch = self._chan(a[0])
        if ch is not None:  # FreeSWITCH 1.11 answers +OK Success even for an unknown uuid
            on = (not ch.held) if mode == "toggle" else mode != "off"
            self.model.hold(ch, on)
        return "+OK Success\n"

    def _uuid_park(self, args: str) -> str:
        a = args.split()
        if not a:
            return "-USAGE: <uuid>\n"
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        self.model.park(ch)
        return "+OK\n"

    def _uuid_break(self, args: str) -> str:
        a = args.split()
        if not a:
            return "-USAGE: <uuid> [all]\n"
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        if ch.app in ("playback", "sleep", "echo"):
            self.model.complete_app(ch, "BREAK")
        return "+OK\n"

    def _uuid_broadcast(self, args: str) -> str:
        a = args.split()
        if len(a) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
        ch = self._chan(a[0])
        if ch is None:
            return "-ERR invalid uuid\n"
        what = a[1]
        app, sep, arg = what.partition("::")
        if not sep:
            app, arg = "playback", what
        if app == "att_xfer":
            self.model.att_xfer(ch, arg)
        elif app == "transfer":
            self.model.transfer(ch, arg.split()[0] if arg else "", "XML", "default")
        elif app in ("playback", "echo", "eavesdrop", "park"):
            self.model.execute(ch, app, arg) if app != "park" else self.model.park(ch)
        else:
            self.model.execute(ch, app, arg)
        return "+OK Message sent\n"

    def _uuid_bridge(self, args: str) -> str:
        a = args.split()
        if len(a) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        x, y = self._chan(a[0]), self._chan(a[1])
        if x is None or y is None or x is y:
            return "-ERR Invalid uuid\n"
        self.model.uuid_bridge(x, y)
        return f"+OK {a[1]}\n"

    def _uuid_getvar(self, args: str) -> str:
        a = args.split()
        if not a:
            return "-USAGE: <uuid> <var>\n"
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        if len(a) < 2:
            return "-ERR No variable name specified!\n"
        value = ch.variables.get(a[1])
        return value if value else "_undef_"

    def _uuid_setvar(self, args: str) -> str:
        a = args.split(None, 2)
        if not a:
            return "-USAGE: <uuid> <var> [value]\n"
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        if len(a) < 2:
            return "-ERR No variable specified\n"
        if len(a) > 2:
            ch.variables[a[1]] = a[2]
            if a[1] == "accountcode":
                ch.row["accountcode"] = a[2]
        else:
            ch.variables.pop(a[1], None)
        return "+OK\n"

    def _uuid_exists(self, args: str) -> str:
        a = args.split()
        return "true" if a and self._chan(a[0]) is not None else "false"

    def _uuid_send_dtmf(self, args: str) -> str:
        a = args.split()
        if len(a) < 2:
            return "-USAGE: <uuid> <dtmf_data>\n"
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        self.model.send_dtmf(ch, a[1])
        return f"+OK {a[0]} sent DTMF {a[1]}.\n"

    def _uuid_dump(self, args: str) -> str:
        a = args.split()
        if not a:
            return "-USAGE: <uuid> [format]\n"
        ch = self._chan(a[0])
        if ch is None:
            return NO_CHANNEL
        return self.model.dump(ch, a[1] if len(a) > 1 else "txt")

    def _uuid_answer(self, args: str) -> str:
        a = args.split()
        ch = self._chan(a[0]) if a else None
        if ch is None:
            return NO_CHANNEL
        self.model.mark_answered(ch)
        return "+OK\n"

    def _uuid_record(self, args: str) -> str:
        """Reply texts of mod_commands.c session_record_function."""
        a = args.split()
        usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
        if len(a) < 3:
            return usage
        ch = self._chan(a[0])
        if ch is None:
            return "-ERR Cannot locate session!\n"
        action, path, m = a[1].lower(), a[2], self.model
        if action == "start":
            ok, err = m.record_start(ch, path), "-ERR Cannot record session!\n"
        elif action == "stop":
            ok, err = m.record_stop(ch, path), "-ERR Cannot stop record session!\n"
        elif action in ("mask", "unmask"):
            ok = m.record_mask(ch, path, action == "mask")
            err = f"-ERR Cannot {action} recording session!\n"
        else:
            return usage
        return "+OK Success\n" if ok else err
