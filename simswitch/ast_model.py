"""Call model of the simulated Asterisk: channels, bridges, dial, hold, parking, dialplan.

No sockets here: every state change is reported through ``emit(event, fields)`` in the order a
real Asterisk 22 sends it (see tests/fixtures/asterisk-22-real), and timers go through
``schedule`` so the AMI server decides how they run. Field order follows the channel snapshot of
``ast_manager_build_channel_state_string``.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from simswitch.ami_wire import Fields

STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing",
              6: "Up", 7: "Busy", 8: "Dialing Offhook", 9: "Pre-ring"}
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7

# Q.850 cause -> (symbolic name, Asterisk's Cause-txt)
CAUSES: dict[int, tuple[str, str]] = {
    0: ("NOTDEFINED", "Unknown"),
    1: ("UNALLOCATED", "Unallocated (unassigned) number"),
    3: ("NO_ROUTE_DESTINATION", "No route to destination"),
    16: ("NORMAL_CLEARING", "Normal Clearing"),
    17: ("USER_BUSY", "User busy"),
    18: ("NO_USER_RESPONSE", "No user responding"),
    19: ("NO_ANSWER", "User alerting, no answer"),
    21: ("CALL_REJECTED", "Call Rejected"),
    27: ("DESTINATION_OUT_OF_ORDER", "Destination out of order"),
    28: ("INVALID_NUMBER_FORMAT", "Invalid number format"),
    31: ("NORMAL_UNSPECIFIED", "Normal, unspecified"),
    34: ("NORMAL_CIRCUIT_CONGESTION", "Circuit/channel congestion"),
    38: ("NETWORK_OUT_OF_ORDER", "Network out of order"),
}
_CAUSE_BY_NAME = {name: code for code, (name, _) in CAUSES.items()}
_CAUSE_BY_NAME.update(ORIGINATOR_CANCEL=16, CONGESTION=34, BUSY=17, NOANSWER=19)

PRIVILEGE = {"Newexten": "dialplan,all", "VarSet": "dialplan,all", "DTMFBegin": "dtmf,all",
             "DTMFEnd": "dtmf,all", "FullyBooted": "system,all", "UserEvent": "user,all"}


def cause_code(cause: str | int) -> int:
    """Accept 16, "16" or "NORMAL_CLEARING" (AST_CAUSE names) and return the Q.850 number."""
    if isinstance(cause, int):
        return cause
    s = str(cause).strip().upper()
    if s.isdigit():
        return int(s)
    return _CAUSE_BY_NAME.get(s.removeprefix("AST_CAUSE_"), 16)


def cause_text(code: int) -> str:
    return CAUSES.get(code, ("", "Unknown"))[1]


def dial_status(code: int) -> str:
    """What Dial() reports for a callee that ended with ``code`` before answering."""
    return {17: "BUSY", 19: "NOANSWER", 18: "NOANSWER", 34: "CONGESTION",
            16: "CANCEL"}.get(code, "CHANUNAVAIL")


def unknown(v: str) -> str:
    """Asterisk 12+ prints unset caller-id parts as ``<unknown>``."""
    return v if v else "<unknown>"


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    endpoint: str
    accountcode: str = ""
    context: str = "from-internal"
    exten: str = "s"
    priority: int = 1
    state: int = DOWN
    cid_num: str = ""
    cid_name: str = ""
    conn_num: str = ""
    conn_name: str = ""
    language: str = "en"
    application: str = ""
    appdata: str = ""
    created: float = field(default_factory=time.monotonic)
    bridge: Bridge | None = None
    variables: dict[str, str] = field(default_factory=dict)
    dial_peer: Channel | None = None  # callee while dialing (on the caller) / caller (on callee)
    is_callee: bool = False
    held: bool = False
    bridge_after_answer: bool = True
    parked: ParkedCall | None = None
    on_up: list[Callable[[], object]] = field(default_factory=list)  # results are ignored
    on_gone: list[Callable[[int], None]] = field(default_factory=list)
    spies: list[Channel] = field(default_factory=list)
    mixmonitors: dict[str, str] = field(default_factory=dict)  # MixMonitor id -> file
    alive: bool = True

    def snapshot(self, prefix: str = "", channelvars: Iterable[str] = ()) -> Fields:
        p = prefix
        out: Fields = [
            (f"{p}Channel", self.name), (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC.get(self.state, f"Unknown ({self.state})")),
            (f"{p}CallerIDNum", unknown(self.cid_num)),
            (f"{p}CallerIDName", unknown(self.cid_name)),
            (f"{p}ConnectedLineNum", unknown(self.conn_num)),
            (f"{p}ConnectedLineName", unknown(self.conn_name)),
            (f"{p}Language", self.language), (f"{p}AccountCode", self.accountcode),
            (f"{p}Context", self.context), (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)), (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]
        for var in channelvars:
            if var in self.variables:
                out.append((f"{p}ChanVariable", f"{var}={self.variables[var]}"))
        return out

    def duration(self) -> str:
        s = int(time.monotonic() - self.created)
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Bridge:
    uniqueid: str
    type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    name: str = "<unknown>"
    members: list[Channel] = field(default_factory=list)

    def fields(self, prefix: str = "") -> Fields:
        p = prefix
        return [(f"{p}BridgeUniqueid", self.uniqueid), (f"{p}BridgeType", self.type),
                (f"{p}BridgeTechnology", self.technology), (f"{p}BridgeCreator", self.creator),
                (f"{p}BridgeName", self.name), (f"{p}BridgeNumChannels", str(len(self.members))),
                (f"{p}BridgeVideoSourceMode", "none")]


@dataclass
class ParkedCall:
    channel: Channel
    lot: str
    space: int
    timeout: int
    parker_dial: str
    since: float = field(default_factory=time.monotonic)
    timer: object | None = None


Emit = Callable[[str, Fields], None]
Schedule = Callable[[float, Callable[[], None]], object]


class AsteriskModel:
    """Channels and calls of one simulated Asterisk; all transitions emit AMI events."""

    def __init__(self, *, system_name: str, extensions: dict[str, str], trunks: Iterable[str],
                 emit: Emit, schedule: Schedule, cancel: Callable[[object], None],
                 channelvars: Iterable[str] = (), moh_exten: str = "moh",
                 playback_exten: str = "playback",
                 park_extens: Iterable[str] = ("park", "700"), busy: Iterable[str] = (),
                 ivr_extens: Iterable[str] = ("ivr",), services: Iterable[str] = (),
                 names: dict[str, str] | None = None,
                 no_answer: Iterable[str] = (), context: str = "from-internal",
                 trunk_context: str = "from-trunk", parkinglot_start: int = 701,
                 parkinglot_stop: int = 720, park_timeout: int = 45) -> None:
        self.system_name = system_name
        self.extensions = dict(extensions)
        self.trunks = list(trunks)
        self.emit = emit
        self.schedule = schedule
        self.cancel = cancel
        self.channelvars = list(channelvars)
        self.moh_exten = moh_exten
        self.playback_exten = playback_exten
        self.park_extens = set(park_extens)
        self.ivr_extens = set(ivr_extens)
        self.services = set(services)  # extensions that answer (a queue, voicemail...)
        self.names = dict(names or {})  # PJSIP endpoint -> its callerid name (pjsip.conf)
        self.absent: set[str] = set()  # extensions this dialplan lacks (tests of the check)
        self.busy = set(busy)
        self.no_answer = set(no_answer)
        self.context = context
        self.trunk_context = trunk_context
        self.lot_range = (parkinglot_start, parkinglot_stop)
        self.park_timeout = park_timeout
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.parked: dict[int, ParkedCall] = {}
        self.parking_bridge: Bridge | None = None
        self._uid = itertools.count(1)
        self._chan_seq = itertools.count(1)

    # ---- identity -------------------------------------------------------------------------
    def new_uniqueid(self) -> str:
        """As ast_channel_alloc: the creation time's unix seconds, a dot, a sequence number
        that never repeats (prefixed by `systemname-` when asterisk.conf sets one)."""
        base = f"{int(time.time())}.{next(self._uid)}"
        return f"{self.system_name}-{base}" if self.system_name else base

    def find(self, ref: str) -> Channel | None:
        """Look a channel up by name or Uniqueid (actions carry names, the API carries ids)."""
        ch = self.channels.get(ref)
        if ch is not None:
            return ch
        for c in self.channels.values():
            if c.name == ref:
                return c
        return None

    # ---- event helpers --------------------------------------------------------------------
    def snap(self, ch: Channel, prefix: str = "") -> Fields:
        return ch.snapshot(prefix, self.channelvars)

    def chan_event(self, event: str, ch: Channel, *extra: tuple[str, str]) -> None:
        self.emit(event, [*self.snap(ch), *extra])

    def new_channel(self, endpoint: str, *, state: int, context: str, exten: str,
                    accountcode: str = "", cid_num: str = "", cid_name: str = "",
                    linkedid: str | None = None, uniqueid: str | None = None,
                    name: str | None = None) -> Channel:
        uid = uniqueid or self.new_uniqueid()
        ch = Channel(name=name or f"PJSIP/{endpoint}-{next(self._chan_seq):08x}", uniqueid=uid,
                     linkedid=linkedid or uid, endpoint=endpoint, accountcode=accountcode,
                     context=context, exten=exten, state=state, cid_num=cid_num,
                     cid_name=cid_name)
        self.channels[uid] = ch
        self.chan_event("Newchannel", ch)
        return ch

    def local_name(self, exten: str, context: str) -> str:
        """Base name of a Local channel pair (``;1``/``;2`` appended), numbered like PJSIP's."""
        return f"Local/{exten}@{context}-{next(self._chan_seq):08x}"

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        ch.variables[name] = value
        self.chan_event("VarSet", ch, ("Variable", name), ("Value", value))

    def newexten(self, ch: Channel, app: str, data: str, exten: str | None = None,
                 context: str | None = None, priority: int | None = None) -> None:
        if exten is not None:
            ch.exten = exten
        if context is not None:
            ch.context = context
        if priority is not None:
            ch.priority = priority
        ch.application, ch.appdata = app, data
        self.chan_event("Newexten", ch, ("Extension", ch.exten), ("Application", app),
                        ("AppData", data))

    def set_state(self, ch: Channel, state: int) -> None:
        if ch.state != state:
            ch.state = state
            self.chan_event("Newstate", ch)
            if state == UP:
                hooks, ch.on_up = ch.on_up, []
                for cb in hooks:
                    cb()

    def set_callerid(self, ch: Channel, num: str, name: str) -> None:
        ch.cid_num, ch.cid_name = num, name
        pres = "0 (Presentation Allowed, Not Screened)"
        self.chan_event("NewCallerid", ch, ("CID-CallingPres", pres))

    def set_connected(self, ch: Channel, num: str, name: str) -> None:
        ch.conn_num, ch.conn_name = num, name
        self.chan_event("NewConnectedLine", ch)

    # ---- routing --------------------------------------------------------------------------
    def route(self, dest: str) -> tuple[str, str] | None:
        """Dialplan lookup: extension -> ("ext", endpoint), external number -> ("trunk", trunk),
        moh/playback/park extens -> ("moh"|"playback"|"park", ""); None when the extension does
        not exist."""
        if dest in self.absent:
            return None
        if dest in self.extensions or dest in self.services:
            return ("ext", dest)
        if dest in self.ivr_extens:
            return ("ivr", "")
        if dest == self.moh_exten:
            return ("moh", "")
        if dest == self.playback_exten:
            return ("playback", "")
        if dest in self.park_extens:
            return ("park", "")
        digits = dest.lstrip("+")
        if self.trunks and digits.isdigit() and (dest.startswith("+") or len(digits) > 5):
            return ("trunk", self.trunks[0])
        return None

    def dialplan(self, context: str) -> dict[str, list[tuple[str, str]]] | None:
        """The extensions of ``context`` as ``show dialplan`` lists them: exten -> its
        (application, data) steps from priority 1; None when there is no such context. Every
        context of the demo dialplan holds the same extensions (routing ignores the context)."""
        if context not in (self.context, self.trunk_context, "default"):
            return None
        plan: dict[str, list[tuple[str, str]]] = {}
        for ext in [*self.extensions, *sorted(self.services)]:
            plan[ext] = [("Dial", f"PJSIP/{ext},30")]
        for ext in sorted(self.ivr_extens):
            plan[ext] = [("Answer", ""), ("Background", "demo-congrats"), ("WaitExten", "30")]
        plan[self.moh_exten] = [("Answer", ""), ("MusicOnHold", "default")]
        plan[self.playback_exten] = [("Answer", ""), ("Playback", "${PLAYBACK_MEDIA}"),
                                     ("Wait", "3600")]
        for ext in sorted(self.park_extens):
            plan[ext] = [("Park", "")]
        if self.trunks:
            plan["_X."] = [("Dial", f"PJSIP/${{EXTEN}}@{self.trunks[0]},60")]
        return {k: v for k, v in plan.items() if k not in self.absent}

    # ---- calls ----------------------------------------------------------------------------
    def inbound(self, caller: str, callee: str, variables: dict[str, str] | None,
                name: str | None = None) -> Channel:
        """Create the A-leg as the channel driver does when a phone or the trunk sends INVITE."""
        if caller in self.extensions:
            a = self.new_channel(caller, state=RING, context=self.context, exten=callee,
                                 accountcode=self.extensions[caller], cid_num=caller,
                                 cid_name=name if name is not None else self.names.get(caller, ""))
        else:
            trunk = self.trunks[0] if self.trunks else "trunk"
            a = self.new_channel(trunk, state=RING, context=self.trunk_context, exten=callee,
                                 cid_num=caller, cid_name=name or "")
        for k, v in (variables or {}).items():
            self.set_var(a, k, v)
        return a

    def run_exten(self, ch: Channel, exten: str, *, context: str | None = None,
                  answer_after: float | None = 0.2, bridge: bool = True,
                  ring_timeout: float | None = None, after_goto: bool = False,
                  priority: int = 1) -> bool:
        """Execute ``exten`` on ``ch`` like the demo dialplan; False if it does not exist.
        ``priority`` > 1 (a Redirect naming one) starts the extension's steps there.

        ``after_goto``: a Redirect already announced priority 1 (its Newexten carries the old
        application), so priority 1 runs unannounced, as Asterisk skips a Newexten whose
        context/exten/priority did not change."""
        r = self.route(exten)
        ctx = context or ch.context

        def first(app: str, data: str) -> None:
            if after_goto:
                ch.exten, ch.context, ch.priority = exten, ctx, 1
                ch.application, ch.appdata = app, data
            else:
                self.newexten(ch, app, data, exten=exten, context=ctx, priority=1)

        if r is None:
            first("Hangup", "")
            self.hangup(ch, 1, soft=True)
            return False
        kind, target = r
        if kind == "ivr":  # Answer, Background(demo-congrats), WaitExten(30)
            if priority <= 1:
                first("Answer", "")
                self.set_state(ch, UP)
            steps = (("Background", "demo-congrats"), ("WaitExten", "30"))
            app, data = steps[min(max(priority, 2), 3) - 2]
            self.newexten(ch, app, data, exten=exten, context=ctx, priority=max(priority, 2))
            return True
        if kind in ("moh", "playback"):
            first("Answer", "")
            self.set_state(ch, UP)
            if kind == "moh":
                self.start_moh(ch)
            else:  # Playback(${PLAYBACK_MEDIA}): sits there until redirected or bridged
                self.newexten(ch, "Playback", ch.variables.get("PLAYBACK_MEDIA", ""),
                              priority=ch.priority + 1)
        elif kind == "park":
            first("Park", "")
            self.set_state(ch, UP)
            self.park(ch)
        else:
            data = f"PJSIP/{target}" if kind == "ext" else f"PJSIP/{exten}@{target}"
            first("Dial", f"{data},30")
            self.dial(ch, exten, kind, target, answer_after=answer_after, bridge=bridge,
                      ring_timeout=ring_timeout)
        return True

    def start_moh(self, ch: Channel, app: str = "MusicOnHold", cls: str = "default") -> None:
        self.newexten(ch, app, cls, priority=ch.priority + 1)
        self.chan_event("MusicOnHoldStart", ch, ("Class", cls))

    def dial(self, a: Channel, dest: str, kind: str, target: str, *, answer_after: float | None,
             bridge: bool, ring_timeout: float | None = None) -> Channel:
        """Dial() from ``a``: B-leg creation, DialBegin, ringing, and the answer timer."""
        acct = self.extensions.get(target, "") if kind == "ext" else ""
        ctx = self.context if kind == "ext" else self.trunk_context
        b = self.new_channel(target, state=DOWN, context=ctx, exten="s", accountcode=acct,
                             linkedid=a.linkedid)
        b.is_callee, b.dial_peer, a.dial_peer, a.is_callee = True, a, b, False
        b.bridge_after_answer = bridge
        self.newexten(b, "AppDial", "(Outgoing Line)", exten=dest)
        self.set_callerid(b, a.cid_num, a.cid_name)
        self.set_connected(b, a.cid_num, a.cid_name)
        dial_string = target if kind == "ext" else f"{dest}@{target}"
        self.emit("DialBegin", [*self.snap(a), *self.snap(b, "Dest"), ("DialString", dial_string)])
        self.set_connected(a, dest, "")
        if kind == "ext" and target in self.busy:
            self.schedule(0.01, lambda: self.hangup(b, 17) if b.alive else None)
            return b
        self.set_state(b, RINGING)
        self.emit("DialState", [*self.snap(a), *self.snap(b, "Dest"), ("DialStatus", "RINGING")])
        if kind == "ext" and target in self.no_answer:
            answer_after = None
        if answer_after is not None:
            self.schedule(answer_after, lambda: self.answer(b) if b.alive else None)
        if ring_timeout is not None:
            self.schedule(ring_timeout, lambda: self.hangup(b, 19)
                          if b.alive and b.state != UP else None)
        return b

    def answer(self, ch: Channel) -> None:
        """Answer ``ch``; a dialed callee completes the Dial and is bridged with its caller."""
        if not ch.alive:
            return
        if not ch.is_callee and ch.dial_peer is not None and ch.dial_peer.state != UP:
            ch = ch.dial_peer  # answering "the call" means the callee picks up
        if ch.state == UP:
            return
        a = ch.dial_peer if ch.is_callee else None
        if ch.is_callee and a is None:  # originated channel: Dial without a caller
            hooks, ch.on_up = ch.on_up, []
            self.set_state(ch, UP)
            self.emit("DialEnd", [*self.snap(ch, "Dest"), ("DialStatus", "ANSWER")])
            for cb in hooks:
                cb()
            return
        self.set_state(ch, UP)
        if a is None or not a.alive:
            return
        self.emit("DialEnd", [*self.snap(a), *self.snap(ch, "Dest"), ("DialStatus", "ANSWER")])
        self.set_state(a, UP)
        if ch.bridge_after_answer:
            bridge = self.new_bridge()
            self.newexten(ch, "AppDial", "(Outgoing Line)", exten="")
            self.bridge_channels([ch, a], bridge)

    def new_bridge(self) -> Bridge:
        bridge = Bridge(str(uuid.uuid4()))
        self.bridges[bridge.uniqueid] = bridge
        self.emit("BridgeCreate", bridge.fields())
        return bridge

    def bridge_channels(self, chans: list[Channel], bridge: Bridge | None = None) -> Bridge:
        if bridge is None:
            bridge = self.new_bridge()
        for ch in chans:
            if ch.bridge is not None:
                self.leave_bridge(ch)
            ch.bridge = bridge
            bridge.members.append(ch)
            self.emit("BridgeEnter", [*bridge.fields(), *self.snap(ch)])
        return bridge

    def leave_bridge(self, ch: Channel) -> Bridge | None:
        b = ch.bridge
        if b is None:
            return None
        b.members.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", [*b.fields(), *self.snap(ch)])
        return b

    def destroy_bridge(self, b: Bridge) -> None:
        if b.uniqueid in self.bridges and b is not self.parking_bridge:
            del self.bridges[b.uniqueid]
            self.emit("BridgeDestroy", b.fields())

    def _dissolve(self, ch: Channel) -> list[Channel]:
        """``ch`` leaves its bridge; a two-party bridge then dissolves and the remaining party is
        returned (Dial hangs it up, as Asterisk does when one side of a Dial bridge leaves)."""
        b = self.leave_bridge(ch)
        if b is None or b is self.parking_bridge:
            return []
        rest = list(b.members)
        if len(rest) <= 1:
            for other in rest:
                self.leave_bridge(other)
            self.destroy_bridge(b)
            return rest
        return []

    def hangup(self, ch: Channel, cause: int = 16, *, soft: bool = False) -> None:
        """Tear ``ch`` down: phone-side (HangupRequest) or API-side (SoftHangupRequest)."""
        if not ch.alive:
            return
        ch.alive = False
        self.chan_event("SoftHangupRequest" if soft else "HangupRequest", ch, ("Cause", str(cause)))
        if ch.parked is not None:
            self._unpark(ch, "ParkedCallGiveUp")
        orphans = self._dissolve(ch)
        peer = ch.dial_peer
        unanswered = ch.state != UP or (peer is not None and peer.state != UP)
        if ch.is_callee and ch.state != UP:
            # callee rejected / busy / timed out: Dial reports it and the caller's dialplan ends
            self._finish(ch, cause)
            status = dial_status(cause)
            if peer is None:
                self.emit("DialEnd", [*self.snap(ch, "Dest"), ("DialStatus", status)])
            elif peer.alive:
                self.emit("DialEnd", [*self.snap(peer), *self.snap(ch, "Dest"),
                                      ("DialStatus", status)])
                peer.alive = False
                self.chan_event("SoftHangupRequest", peer, ("Cause", "16"))
                self._finish(peer, cause)
            return
        if not ch.is_callee and peer is not None and peer.alive and unanswered:
            # caller gave up while the callee was still ringing
            self.emit("DialEnd", [*self.snap(ch), *self.snap(peer, "Dest"),
                                  ("DialStatus", "CANCEL")])
            peer.alive = False
            self._finish(ch, cause)
            self._finish(peer, cause)
            return
        for o in orphans:
            o.alive = False
            self.chan_event("SoftHangupRequest", o, ("Cause", "16"))
        self._finish(ch, cause)
        for o in orphans:
            self._finish(o, cause)

    def _finish(self, ch: Channel, cause: int) -> None:
        ch.alive = False
        if ch.bridge is not None:
            b = self.leave_bridge(ch)
            if b is not None and not b.members:
                self.destroy_bridge(b)
        for spy in ch.spies:
            self.emit("ChanSpyStop", [*self.snap(spy, "Spyer"), *self.snap(ch, "Spyee")])
        self.chan_event("Hangup", ch, ("Cause", str(cause)), ("Cause-txt", cause_text(cause)))
        self.channels.pop(ch.uniqueid, None)
        hooks, ch.on_gone = ch.on_gone, []
        for cb in hooks:
            cb(cause)
        for spy in ch.spies:
            self.hangup(spy, 16, soft=True)

    # ---- hold / park / transfer -----------------------------------------------------------
    def peers(self, ch: Channel) -> list[Channel]:
        return [c for c in ch.bridge.members if c is not ch] if ch.bridge else []

    def hold(self, ch: Channel) -> None:
        ch.held = True
        self.chan_event("Hold", ch)
        for p in self.peers(ch):
            self.chan_event("MusicOnHoldStart", p, ("Class", "default"))

    def unhold(self, ch: Channel) -> None:
        ch.held = False
        self.chan_event("Unhold", ch)
        for p in self.peers(ch):
            self.chan_event("MusicOnHoldStop", p)

    @staticmethod
    def mixmonitor_id(ch: Channel) -> str:
        """An id shaped like the pointer app_mixmonitor prints."""
        return f"0x{id(ch) & 0xffffffffffff:x}{len(ch.mixmonitors):02x}"

    def mixmonitor_start(self, ch: Channel, file: str, mid: str, id_var: str = "") -> None:
        """MixMonitor(): MIXMONITOR_FILENAME (and the i() variable) set, then MixMonitorStart."""
        ch.mixmonitors[mid] = file
        self.set_var(ch, "MIXMONITOR_FILENAME", file)
        if id_var:
            self.set_var(ch, id_var, mid)
        self.chan_event("MixMonitorStart", ch)

    @staticmethod
    def mixmonitor_find(ch: Channel, mid: str = "") -> str | None:
        """The id StopMixMonitor acts on: the given one, else the first running one."""
        if mid:
            return mid if mid in ch.mixmonitors else None
        return next(iter(ch.mixmonitors), None)

    def mixmonitor_stop(self, ch: Channel, mid: str) -> None:
        if ch.mixmonitors.pop(mid, None) is not None:
            self.chan_event("MixMonitorStop", ch)

    def park(self, ch: Channel, *, lot: str = "default", timeout: int | None = None,
             parker: Channel | None = None) -> int:
        """Move ``ch`` into the parking bridge; its former bridge partner is hung up."""
        start, stop = self.lot_range
        space = next((s for s in range(start, stop + 1) if s not in self.parked), None)
        if space is None:
            raise LookupError("parking lot full")
        if self.parking_bridge is None:
            self.parking_bridge = Bridge(str(uuid.uuid4()), type="parking",
                                         technology="holding_bridge", creator="Parking",
                                         name=lot)
            self.bridges[self.parking_bridge.uniqueid] = self.parking_bridge
            self.emit("BridgeCreate", self.parking_bridge.fields())
        old = self.leave_bridge(ch)
        ch.application, ch.appdata = "Park", lot
        ch.bridge = None
        self.parking_bridge.members.append(ch)
        ch.bridge = self.parking_bridge
        self.emit("BridgeEnter", [*self.parking_bridge.fields(), *self.snap(ch)])
        to = self.park_timeout if timeout is None else timeout
        pc = ParkedCall(ch, lot, space, to, f"PJSIP/{(parker or ch).endpoint}")
        ch.parked = pc
        self.parked[space] = pc
        self.emit("ParkedCall", self.park_fields(pc))
        self.chan_event("MusicOnHoldStart", ch, ("Class", "default"))
        pc.timer = self.schedule(to, lambda: self._park_timeout(pc))
        if old is not None and old is not self.parking_bridge:
            rest = list(old.members)
            if len(rest) <= 1:
                for o in rest:
                    self.leave_bridge(o)
                self.destroy_bridge(old)
                for o in rest:
                    self.hangup(o, 16, soft=True)
        return space

    def park_fields(self, pc: ParkedCall, retriever: Channel | None = None) -> Fields:
        elapsed = int(time.monotonic() - pc.since)
        out = self.snap(pc.channel, "Parkee")
        if retriever is not None:
            out += self.snap(retriever, "Retriever")
        return [*out, ("ParkerDialString", pc.parker_dial), ("Parkinglot", pc.lot),
                ("ParkingSpace", str(pc.space)),
                ("ParkingTimeout", str(max(pc.timeout - elapsed, 0))),
                ("ParkingDuration", str(elapsed))]

    def _unpark(self, ch: Channel, event: str, retriever: Channel | None = None) -> None:
        pc = ch.parked
        if pc is None:
            return
        ch.parked = None
        self.parked.pop(pc.space, None)
        if pc.timer is not None:
            self.cancel(pc.timer)
        self.emit(event, self.park_fields(pc, retriever))

    def _park_timeout(self, pc: ParkedCall) -> None:
        """res_parking's default comebacktoorigin=yes: the call rings its parker again.

        As captured: the PARK* variables, ParkedCallTimeOut, MusicOnHoldStop, BridgeLeave,
        then ``park-dial,<PARKER_FLAT>,1`` runs Dial(<PARKER>,30). A parker that is no phone
        extension here (a trunk) cannot be rung back, so that call hangs up.
        """
        ch = pc.channel
        if not ch.alive or ch.parked is not pc:
            return
        pc.timer = None
        flat = pc.parker_dial.replace("/", "_")
        for var, value in (("PARKING_SPACE", str(pc.space)), ("PARKEDLOT", pc.lot),
                           ("PARKER", pc.parker_dial), ("PARKER_FLAT", flat),
                           ("BRIDGE_FEATURES", "")):
            self.set_var(ch, var, value)
        self._unpark(ch, "ParkedCallTimeOut")
        self.chan_event("MusicOnHoldStop", ch)
        self.leave_bridge(ch)
        self.newexten(ch, "Dial", f"{pc.parker_dial},30", exten=flat, context="park-dial",
                      priority=1)
        endpoint = pc.parker_dial.partition("/")[2]
        if endpoint not in self.extensions:
            self.hangup(ch, 16, soft=True)
            return
        ch.dial_peer, ch.is_callee = None, False
        self.dial(ch, endpoint, "ext", endpoint, answer_after=None, bridge=True,
                  ring_timeout=30)

    def redirect(self, moves: list[tuple[Channel, str, str]],
                 priorities: dict[str, int] | None = None) -> None:
        """Redirect (AsyncGoto) of one channel or two (ExtraChannel): (channel, context, exten).

        As captured (ami_04_redirect_transfer): each bridged channel first gets BRIDGEPEER
        cleared and a Newexten at the new place still naming its old application; then each in
        turn leaves the bridge and runs its new extension; last, a bridge left with one party
        is destroyed and that party (orphaned by Dial) hangs up."""
        left: list[Bridge] = []
        gotos: set[str] = set()
        for ch, ctx, exten in moves:
            if ch.parked is not None:
                self._unpark(ch, "UnParkedCall")
                self.chan_event("MusicOnHoldStop", ch)
            elif ch.bridge is None and ch.application == "MusicOnHold":
                self.chan_event("MusicOnHoldStop", ch)
            if ch.bridge is not None and ch.bridge is not self.parking_bridge:
                self.set_var(ch, "BRIDGEPEER", "")
                self.newexten(ch, ch.application, ch.appdata, exten=exten, context=ctx,
                              priority=1)
                gotos.add(ch.uniqueid)
        moved = {ch.uniqueid for ch, _, _ in moves}
        for ch, _, _ in moves:  # who stays behind loses its BRIDGEPEER too
            for o in self.peers(ch) if ch.bridge is not self.parking_bridge else []:
                if o.uniqueid not in moved:
                    self.set_var(o, "BRIDGEPEER", "")
        for ch, ctx, exten in moves:
            old_app = ch.application
            b = self.leave_bridge(ch)
            if b is not None and b is not self.parking_bridge and b not in left:
                left.append(b)
            if ch.uniqueid in gotos and old_app == "Dial":
                self.set_var(ch, "DIALSTATUS", "ANSWER")
            ch.dial_peer, ch.is_callee = None, False
            self.run_exten(ch, exten, context=ctx, after_goto=ch.uniqueid in gotos,
                           priority=(priorities or {}).get(ch.uniqueid, 1))
        for b in left:
            rest = list(b.members)
            if len(rest) > 1:
                continue
            for o in rest:
                self.leave_bridge(o)
            self.destroy_bridge(b)
            for o in rest:
                self.hangup(o, 16, soft=True)

    def blind_transfer(self, t: Channel, exten: str, context: str) -> None:
        """BlindTransfer of ``t`` out of its two-party bridge (the caller checked that): the
        transferer hangs up, the bridge goes, and the transferee runs ``exten``@``context``."""
        bridge = t.bridge
        assert bridge is not None
        e = self.peers(t)[0]
        self.emit("BlindTransfer", [
            ("Result", "Success"), *self.snap(t, "Transferer"), *self.snap(e, "Transferee"),
            *bridge.fields(), ("IsExternal", "Yes"), ("Context", context),
            ("Extension", exten)])
        self.leave_bridge(e)
        self.leave_bridge(t)
        e.dial_peer = t.dial_peer = None
        e.is_callee = False
        self.hangup(t, 16, soft=True)
        self.destroy_bridge(bridge)
        self.run_exten(e, exten, context=context)

    def bridge_pair(self, c1: Channel, c2: Channel) -> None:
        """Bridge action / Bridge() app: pull both channels out of parking, music and their
        bridges (a partner left alone hangs up, as Dial's would) and join them."""
        for c in (c1, c2):
            if c.parked is not None:
                self._unpark(c, "UnParkedCall")
            if c.application in ("MusicOnHold", "Park"):
                self.chan_event("MusicOnHoldStop", c)
            if c.bridge is not None:
                for o in self._dissolve(c):
                    if o is not c1 and o is not c2:
                        self.hangup(o, 16, soft=True)
            c.dial_peer, c.is_callee = None, False
            if c.state != UP:
                self.set_state(c, UP)
            c.application, c.appdata = "Bridge", ""
        self.bridge_channels([c1, c2])

    def pickup(self, picker: Channel, target: Channel) -> None:
        """PickupChan: ``picker`` answers in place of the ringing callee ``target``, which ends
        with cause 26 (answered elsewhere), and joins the caller."""
        caller = target.dial_peer
        self.emit("Pickup", [*self.snap(picker), *self.snap(target, "Target")])
        target.alive = False
        if caller is not None and caller.alive:
            self.emit("DialEnd", [*self.snap(caller), *self.snap(target, "Dest"),
                                  ("DialStatus", "ANSWER")])
            caller.dial_peer = None
        self._finish(target, 26)
        if caller is not None and caller.alive:
            self.set_state(caller, UP)
            self.bridge_channels([picker, caller])

    def all_channels(self) -> list[Channel]:
        return list(self.channels.values())
