"""The `api` / `bgapi` commands of the simulated FreeSWITCH and their reply texts.

Replies follow mod_commands.c of FreeSWITCH 1.11 as recorded in tests/fixtures/freeswitch
(and as its source writes them); each handler takes the argument string and returns the body
of the api/response (or a future of it, for a synchronous originate).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from simswitch.fs_model import Channel, SwitchModel
from simswitch.logs import brief

log = logging.getLogger(__name__)

NO_CHANNEL = "-ERR No such channel!\n"
ApiResult = str | Awaitable[str]


class ApiCommands:
    """Command handlers, mixed into FreeSwitchSimulator (which owns `model` and `_api`)."""

    model: SwitchModel
    started: float
    _api: dict[str, Callable[[str], ApiResult]]

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
        self.model.send_app(ch, app, arg)
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
