"""Call-control and listing actions of the simulated Asterisk: CoreShowChannels, Status,
ParkedCalls, Command, Getvar/Setvar, Hangup, MixMonitor/StopMixMonitor, Redirect, BlindTransfer,
Atxfer, Park, Bridge, PlayDTMF. Reply Message texts are the ones manager.c and the apps send.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from simswitch.ami_session import AmiSession
from simswitch.ami_wire import Action, Fields, encode
from simswitch.ast_model import (
    STATE_DESC,
    AsteriskModel,
    Channel,
    cause_code,
)


class CallActions:
    """Action handlers, mixed into AsteriskSimulator (which owns `model`)."""

    model: AsteriskModel
    global_vars: dict[str, str]
    originate_answer_after: float

    if TYPE_CHECKING:  # from AsteriskSimulator
        def _schedule(self, delay: float, fn: Callable[[], None]) -> asyncio.TimerHandle: ...
        def _show_fields(self, ch: Channel) -> Fields: ...

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
            s.list_item(act, "ParkedCall", self.model.park_fields(pc))
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

    def _transfer_channel(self, s: AmiSession, act: Action) -> tuple[Channel, str] | None:
        """Channel and Exten of a BlindTransfer/Atxfer, or None with the error already sent
        (both actions check the same headers with the same texts in manager.c)."""
        name, exten = act.get("Channel"), act.get("Exten")
        if not name:
            s.error(act, "No channel specified")
            return None
        if not exten:
            s.error(act, "No extension specified")
            return None
        t = self.model.find(name)
        if t is None:
            s.error(act, "Channel specified does not exist")
            return None
        return t, exten

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
        moves = [(ch, ctx, exten)]
        priorities = {ch.uniqueid: _priority(act.get("Priority"))}
        if extra is not None:  # both legs leave together, so neither is orphaned and hung up
            moves.append((extra, act.get("ExtraContext") or ctx, act.get("ExtraExten") or exten))
            priorities[extra.uniqueid] = _priority(
                act.get("ExtraPriority") or act.get("Priority"))
        self.model.redirect(moves, priorities)

    async def _act_showdialplan(self, s: AmiSession, act: Action) -> None:
        """`ShowDialPlan` [Context] [Extension], as manager_show_dialplan answers: the list
        start, one ListDialplan per priority, ShowDialPlanComplete; an unknown context or
        extension is an error and no list."""
        context, exten = act.get("Context"), act.get("Extension")
        names = [context] if context else [self.model.context, self.model.trunk_context,
                                           "default"]
        found: list[tuple[str, str, list[tuple[str, str]]]] = []
        for name in names:
            plan = self.model.dialplan(name)
            if plan is None:
                continue
            found += [(name, e, steps) for e, steps in plan.items() if not exten or e == exten]
        if context and self.model.dialplan(context) is None:
            s.error(act, f"Did not find context {context}")
            return
        if exten and not found:
            s.error(act, f"Did not find extension {exten}@{context}" if context
                    else f"Did not find extension {exten} in any context")
            return
        s.list_start(act, "DialPlan list will follow")
        items = 0
        for ctx, e, steps in found:
            for n, (app, data) in enumerate(steps, start=1):
                s.list_item(act, "ListDialplan", [
                    ("Context", ctx), ("Extension", e), ("Priority", str(n)),
                    ("Application", app), ("AppData", data), ("Registrar", "pbx_config")])
                items += 1
        s.list_complete(act, "ShowDialPlanComplete", items,
                        ("ListExtensions", str(len(found))), ("ListPriorities", str(items)),
                        ("ListContexts", str(len({ctx for ctx, _, _ in found}))))

    async def _act_blindtransfer(self, s: AmiSession, act: Action) -> None:
        found = self._transfer_channel(s, act)
        if found is None:
            return
        t, exten = found
        if t.bridge is None or len(self.model.peers(t)) != 1:
            s.error(act, "Transfer invalid")
            return
        s.ok(act, "Transfer succeeded")
        self.model.blind_transfer(t, exten, act.get("Context") or t.context)

    async def _act_atxfer(self, s: AmiSession, act: Action) -> None:
        found = self._transfer_channel(s, act)
        if found is None:
            return
        t, exten = found
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
        self.model.bridge_pair(c1, c2)

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


def _priority(value: str | None) -> int:
    """A Redirect's Priority: a number (labels are not modelled: they count as 1)."""
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


def _desc(c: Channel) -> str:
    return STATE_DESC.get(c.state, "Unknown")
