"""Asterisk AMI events -> the normalized channel table.

One row per Uniqueid: Newchannel creates it, snapshot-carrying events refresh it, Hangup removes
it. Bridges are tracked here (AMI never names a channel's peer) so that `other_leg` is the other
member of a two-party bridge. AMI 1.x (Asterisk 11) spells some fields and events differently;
the banner's version picks that handling (the AMI changes from Asterisk 11 to 12+).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gateway.directory import KEPT_VARIABLES
from gateway.model import Channel, Initial, State, Waiting, derive_state
from gateway.store import ChannelStore

Message = Mapping[str, Any]  # panoramisk Message: case-insensitive, repeated keys as lists

#: Q.850 cause numbers and the names FreeSWITCH and the dialects use.
CAUSES: dict[int, str] = {
    0: "NONE", 1: "UNALLOCATED_NUMBER", 2: "NO_ROUTE_TRANSIT_NET", 3: "NO_ROUTE_DESTINATION",
    6: "CHANNEL_UNACCEPTABLE", 16: "NORMAL_CLEARING", 17: "USER_BUSY", 18: "NO_USER_RESPONSE",
    19: "NO_ANSWER", 20: "SUBSCRIBER_ABSENT", 21: "CALL_REJECTED", 22: "NUMBER_CHANGED",
    26: "PICKED_OFF", 27: "DESTINATION_OUT_OF_ORDER", 28: "INVALID_NUMBER_FORMAT",
    29: "FACILITY_REJECTED", 31: "NORMAL_UNSPECIFIED", 34: "NORMAL_CIRCUIT_CONGESTION",
    38: "NETWORK_OUT_OF_ORDER", 41: "NORMAL_TEMPORARY_FAILURE", 42: "SWITCH_CONGESTION",
    44: "REQUESTED_CHAN_UNAVAIL", 50: "FACILITY_NOT_SUBSCRIBED", 57: "BEARERCAPABILITY_NOTAUTH",
    58: "BEARERCAPABILITY_NOTAVAIL", 65: "BEARERCAPABILITY_NOTIMPL", 66: "CHAN_NOT_IMPLEMENTED",
    69: "FACILITY_NOT_IMPLEMENTED", 81: "INVALID_CALL_REFERENCE", 88: "INCOMPATIBLE_DESTINATION",
    95: "INVALID_MSG_UNSPECIFIED", 96: "MANDATORY_IE_MISSING", 102: "RECOVERY_ON_TIMER_EXPIRE",
    111: "PROTOCOL_ERROR", 127: "INTERWORKING",
}
CAUSE_CODES: dict[str, int] = {name: code for code, name in CAUSES.items()}
CAUSE_CODES.update(ORIGINATOR_CANCEL=16, LOSE_RACE=16, UNALLOCATED=1, NOTDEFINED=0)

#: Events that are list items answering our own actions, never lifecycle changes.
LIST_ITEMS = frozenset({"coreshowchannel", "coreshowchannelscomplete", "status", "statuscomplete",
                        "bridgelistitem", "bridgeinfochannel", "channelhungup"})
_TRIVIAL_EXTENS = frozenset({"", "s", "h", "i", "t"})
_GONE_MEMORY = 4096  # recently hung-up ids remembered so late events cannot resurrect them


#: Asterisk applications (matched without case, as the dialplan does) that say what a leg waits
#: in (gateway.model.Waiting).
WAITING_APPS = {"queue": Waiting.QUEUE, "playback": Waiting.GREETING}


def waiting_of(application: str) -> Waiting:
    return WAITING_APPS.get(application.lower(), Waiting.NONE)


def cause_name(code: str | int) -> str:
    try:
        return CAUSES.get(int(code), "NORMAL_UNSPECIFIED")
    except (TypeError, ValueError):
        return "NORMAL_UNSPECIFIED"


def cause_code(name: str) -> int | None:
    """Q.850 number from a cause name (NORMAL_CLEARING) or a number given as text."""
    s = name.strip().upper()
    if s.isdigit():
        return int(s)
    return CAUSE_CODES.get(s)


def clean(value: Any) -> str:
    """AMI values: lists keep their last element, `<unknown>` is empty, stray whitespace goes."""
    if isinstance(value, list):
        value = value[-1] if value else ""
    if value is None:
        return ""
    text = str(value).strip()
    return "" if text == "<unknown>" else text


def endpoint_of(name: str) -> tuple[str, str]:
    """(tech, endpoint) of a channel name: `PJSIP/201-0000001a` -> ("PJSIP", "201"),
    `Local/100@demo-00000009;2` -> ("Local", "100@demo")."""
    tech, _, rest = name.partition("/")
    if not rest:
        return tech, ""
    rest = rest.split(";", 1)[0]
    base, dash, suffix = rest.rpartition("-")
    if dash and suffix and all(c in "0123456789abcdefABCDEF" for c in suffix):
        rest = base
    return tech, rest


def parse_duration(text: str) -> float:
    """CoreShowChannel `Duration` (HH:MM:SS) in seconds; 0 when malformed."""
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        return 0.0
    total = 0
    for p in parts:
        total = total * 60 + p
    return float(total)


class AmiMapper:
    """Keeps one node's rows in the store in step with that switch's AMI event stream."""

    def __init__(self, node: str, store: ChannelStore, *, version: str = "11.0.0",
                 trunks: Iterable[str] = (), clock: Callable[[], float] = time.time,
                 on_gone: Callable[[str], None] | None = None) -> None:
        self.node = node
        self.on_gone = on_gone  # told each hung-up id, so the backend drops its own state
        self.store = store
        self.clock = clock
        self.trunks: set[str] = set(trunks)
        self.bridges: dict[str, dict[str, None]] = {}  # bridge id -> member ids, in join order
        self.bridge_of: dict[str, str] = {}
        self.parking_bridges: set[str] = set()
        self.outbound: set[str] = set()  # ids we originated (ChannelId) before Newchannel
        self._gone: OrderedDict[str, None] = OrderedDict()
        self.legacy = False
        self.set_version(version)

    def set_version(self, version: str) -> None:
        """AMI 1.x is the pre-Stasis (Asterisk 11) event model."""
        major = version.strip().split(".", 1)[0]
        self.legacy = major.isdigit() and int(major) < 2

    def reset(self) -> None:
        """Forget bridge state of a previous connection (the snapshot rebuilds it). `outbound`
        stays: the snapshot itself reads it; each id leaves it when its channel appears, hangs
        up or its originate fails (`forget_outbound`)."""
        self.bridges.clear()
        self.bridge_of.clear()

    def expect_outbound(self, channel_id: str) -> None:
        self.outbound.add(channel_id)

    def forget_outbound(self, channel_id: str) -> None:
        """An originate failed before (or without) any channel: its id will never appear."""
        self.outbound.discard(channel_id)

    def set_held(self, channel_id: str, held: bool) -> None:
        """Hold done by the gateway (AMI has no Hold action, so no Hold event follows)."""
        self._apply(channel_id, {"held": held}, self.clock())

    # ------------------------------------------------------------------ fields
    def _ts(self, msg: Message) -> float:
        ts = clean(msg.get("Timestamp"))
        try:
            return float(ts) if ts else self.clock()
        except ValueError:
            return self.clock()

    def snapshot_fields(self, msg: Message, prefix: str = "") -> dict[str, Any]:
        """The normalized columns an event's (prefixed) channel snapshot carries."""
        p = prefix

        def get(key: str) -> str:
            return clean(msg.get(p + key))

        out: dict[str, Any] = {}
        name = get("Channel")
        if name:
            out["name"] = name
            tech, endpoint = endpoint_of(name)
            if tech.upper() in ("PJSIP", "SIP", "IAX2") and endpoint:
                if endpoint in self.trunks or "trunk" in get("Context").lower():
                    self.trunks.add(endpoint)
                    out["gateway"] = endpoint
                else:
                    out["username"] = endpoint
        state = get("ChannelState")
        desc = get("ChannelStateDesc")
        if desc:
            out["switch_state"] = desc
        if state or desc:
            out["_up"] = state == "6" or desc == "Up"
        for key, field in (("CallerIDNum", "caller_id_number"), ("CallerIDName", "caller_id_name"),
                           ("ConnectedLineNum", "callee_number"),
                           ("ConnectedLineName", "callee_name")):
            if (p + key) in msg:
                out[field] = _unescape(get(key))
        if (p + "AccountCode") in msg:
            out["accountcode"] = get("AccountCode")
        if (p + "Context") in msg:
            out["context"] = get("Context")
        exten = get("Extension" if self.legacy and not p else "Exten") or get("Exten")
        if exten not in _TRIVIAL_EXTENS:
            out["destination"] = exten
        linked = get("Linkedid")
        if linked:
            out["call_id"] = linked
        hostname = clean(msg.get("SystemName"))
        if hostname:
            out["hostname"] = hostname
        chanvars = msg.get(p + "ChanVariable")
        if chanvars:
            out["_vars"] = _kept_vars(chanvars if isinstance(chanvars, list) else [chanvars])
        return out

    def _uid(self, msg: Message, prefix: str = "") -> str:
        return clean(msg.get(prefix + "Uniqueid"))

    # ------------------------------------------------------------------ events
    def handle(self, msg: Message) -> None:
        """Apply one AMI event; unknown events and list items are ignored."""
        event = clean(msg.get("Event")).lower()
        if not event or event in LIST_ITEMS:
            return
        handler = getattr(self, "_on_" + event.replace("-", "_"), None)
        if handler is not None:
            handler(msg)
        elif not self.legacy and msg.get("Uniqueid") and msg.get("ChannelState"):
            self._refresh(msg)  # any other channel event (Newexten-less snapshot): refresh

    def _apply(self, uid: str, changes: dict[str, Any], ts: float, *,
               create: bool = False) -> Channel | None:
        """Merge snapshot changes into a row, creating it only when allowed."""
        if not uid or uid in self._gone:
            return None
        ch = self.store.get(uid)
        if ch is None and not create:
            return None
        up = changes.pop("_up", None)
        new_vars = changes.pop("_vars", None)
        if ch is None:
            changes.setdefault("created", ts)
            changes.setdefault("call_id", uid)
            changes["direction"] = "outbound" if uid in self.outbound else "inbound"
            self.outbound.discard(uid)
            changes.setdefault("initial", None)
        if new_vars:
            merged = dict((ch.variables or {}) if ch is not None else {})
            merged.update(new_vars)
            changes["variables"] = merged
        if up is not None:
            answered = bool(up) or (ch is not None and ch.answered)
            changes["answered"] = answered
            if up and (ch is None or not ch.answered_at):
                changes["answered_at"] = ts
        changes.update(self._state(ch, changes))
        if "application" in changes:
            changes["waiting"] = waiting_of(changes["application"])
        return self.store.apply(self.node, uid, changes)

    @staticmethod
    def _state(ch: Channel | None, changes: Mapping[str, Any]) -> dict[str, Any]:
        """`state` by the shared rule (gateway.model.derive_state; AMI reports no early media
        apart from ringing) and the FreeSWITCH-style `callstate` some dialects echo. A removed
        channel never reaches here: hangup removes the row."""
        def pick(name: str, default: Any) -> Any:
            return changes[name] if name in changes else getattr(ch, name, default)

        answered, held, parked = pick("answered", False), pick("held", False), pick("parked", False)
        state = derive_state(hungup=False, held=held, parked=parked, answered=answered,
                             early=False)
        callstate = "HELD" if state is State.HELD else "ACTIVE" if answered else "RINGING"
        return {"state": state, "callstate": callstate}

    def _refresh(self, msg: Message, prefix: str = "", *, create: bool = False,
                 **extra: Any) -> Channel | None:
        changes = self.snapshot_fields(msg, prefix)
        changes.update(extra)
        return self._apply(self._uid(msg, prefix), changes, self._ts(msg), create=create)

    def _on_newchannel(self, msg: Message) -> None:
        changes = self.snapshot_fields(msg)
        uid = self._uid(msg)
        if uid and uid not in self._gone and self.store.get(uid) is None and not self.legacy:
            exten = changes.get("destination", "")
            ctx = changes.get("context", "")
            changes["initial"] = Initial(changes.get("caller_id_name", ""),
                                         changes.get("caller_id_number", ""), "", exten, "", ctx)
        self._apply(uid, changes, self._ts(msg), create=True)

    _on_newstate = _on_newcallerid = _on_newconnectedline = _on_newaccountcode = _refresh

    def _on_newexten(self, msg: Message) -> None:
        app = clean(msg.get("Application"))
        if app == "AppDial2":  # Originate's placeholder until its Application runs, unannounced
            self._refresh(msg)
            return
        self._refresh(msg, application=app, application_data=clean(msg.get("AppData")))

    def _on_varset(self, msg: Message) -> None:
        name = clean(msg.get("Variable"))
        if name not in KEPT_VARIABLES:
            return
        uid = self._uid(msg)
        ch = self.store.get(uid)
        if ch is None:
            return
        merged = dict(ch.variables or {})
        merged[name] = clean(msg.get("Value"))
        self._apply(uid, {"variables": merged}, self._ts(msg))

    def _on_rename(self, msg: Message) -> None:
        new = clean(msg.get("Newname"))
        if new:
            self._apply(self._uid(msg), {"name": new}, self._ts(msg))

    def _on_dialbegin(self, msg: Message) -> None:
        dest_uid = self._uid(msg, "Dest")
        dial_string = clean(msg.get("DialString"))
        if "@" in dial_string and not dial_string.startswith(("Local", "local")):
            self.trunks.add(dial_string.rsplit("@", 1)[1].split("/", 1)[0])
        caller_uid = self._uid(msg)
        ts = self._ts(msg)
        if caller_uid:
            self._refresh(msg, create=True)
        if dest_uid:
            if self.store.get(dest_uid) is None:
                self.expect_outbound(dest_uid)
            changes = self.snapshot_fields(msg, "Dest")
            changes["direction"] = "outbound"
            if caller_uid:  # a Dial() leg runs no dialplan: Asterisk shows it as AppDial
                changes.update(other_leg=caller_uid, application="AppDial",
                               application_data="(Outgoing Line)")
            self._apply(dest_uid, changes, ts, create=True)
            if caller_uid and caller_uid not in self.bridge_of:
                self._apply(caller_uid, {"other_leg": dest_uid}, ts)

    def _on_dialend(self, msg: Message) -> None:
        status = clean(msg.get("DialStatus")).upper()
        caller_uid, dest_uid = self._uid(msg), self._uid(msg, "Dest")
        ts = self._ts(msg)
        self._refresh(msg)
        self._refresh(msg, "Dest")
        if status != "ANSWER" and caller_uid and dest_uid:
            for a, b in ((caller_uid, dest_uid), (dest_uid, caller_uid)):
                ch = self.store.get(a)
                if ch is not None and ch.other_leg == b and a not in self.bridge_of:
                    self._apply(a, {"other_leg": ""}, ts)

    # ------------------------------------------------------------------ bridges
    def _on_bridgecreate(self, msg: Message) -> None:
        bid = clean(msg.get("BridgeUniqueid"))
        if bid:
            self.bridges.setdefault(bid, {})
            if clean(msg.get("BridgeType")).lower() == "parking":
                self.parking_bridges.add(bid)

    def _on_bridgeenter(self, msg: Message) -> None:
        bid, uid = clean(msg.get("BridgeUniqueid")), self._uid(msg)
        if not bid or not uid:
            return
        if clean(msg.get("BridgeType")).lower() == "parking":
            self.parking_bridges.add(bid)
        self._leave(uid, self._ts(msg))
        self.bridges.setdefault(bid, {})[uid] = None
        self.bridge_of[uid] = bid
        self._refresh(msg)
        self._link(bid, self._ts(msg))

    def _on_bridgeleave(self, msg: Message) -> None:
        self._refresh(msg)
        self._leave(self._uid(msg), self._ts(msg))

    def _on_bridgedestroy(self, msg: Message) -> None:
        bid = clean(msg.get("BridgeUniqueid"))
        for uid in list(self.bridges.get(bid, ())):
            self._leave(uid, self._ts(msg))
        self.bridges.pop(bid, None)
        self.parking_bridges.discard(bid)

    def _leave(self, uid: str, ts: float) -> None:
        bid = self.bridge_of.pop(uid, None)
        if bid is None:
            return
        members = self.bridges.get(bid, {})
        members.pop(uid, None)
        ch = self.store.get(uid)
        if ch is not None and ch.other_leg in members:
            self._apply(uid, {"other_leg": ""}, ts)
        for other in members:
            o = self.store.get(other)
            if o is not None and o.other_leg == uid:
                self._apply(other, {"other_leg": ""}, ts)
        self._link(bid, ts)

    def _link(self, bid: str, ts: float) -> None:
        """Members of a two-party bridge point at each other (parking bridges link nobody)."""
        members = list(self.bridges.get(bid, ()))
        if bid in self.parking_bridges or len(members) != 2:
            return
        a, b = members
        self._apply(a, {"other_leg": b}, ts)
        self._apply(b, {"other_leg": a}, ts)

    # --------------------------------------------------------- hold, park, xfer
    def _on_hold(self, msg: Message) -> None:
        held = not self.legacy or clean(msg.get("Status")).lower() != "off"
        self._refresh(msg, held=held)

    def _on_unhold(self, msg: Message) -> None:
        self._refresh(msg, held=False)

    def _on_parkedcall(self, msg: Message) -> None:
        self._refresh(msg, "Parkee", parked=True)

    def _unparked(self, msg: Message) -> None:
        self._refresh(msg, "Parkee", parked=False)

    _on_unparkedcall = _on_parkedcalltimeout = _on_parkedcallgiveup = _unparked

    def _on_blindtransfer(self, msg: Message) -> None:
        for prefix in ("Transferer", "Transferee"):
            self._refresh(msg, prefix)

    def _on_attendedtransfer(self, msg: Message) -> None:
        for prefix in ("OrigTransferer", "SecondTransferer", "Transferee", "TransferTarget"):
            self._refresh(msg, prefix)

    def _on_originateresponse(self, msg: Message) -> None:
        uid = self._uid(msg)
        if clean(msg.get("Response")).lower() == "success" and uid:
            if self.store.get(uid) is None:
                self.expect_outbound(uid)
            else:
                self._apply(uid, {"direction": "outbound"}, self._ts(msg))

    def _on_hangup(self, msg: Message) -> None:
        uid = self._uid(msg)
        if not uid:
            return
        self._leave(uid, self._ts(msg))
        self.outbound.discard(uid)
        self._gone[uid] = None
        if len(self._gone) > _GONE_MEMORY:
            self._gone.popitem(last=False)
        ch = self.store.get(uid)
        if ch is None:
            self.store.forget(self.node, uid)
        else:
            self.store.apply(self.node, uid, {
                "state": State.HUNGUP, "hangup_cause": cause_name(clean(msg.get("Cause")))})
            self.store.remove(uid)
        if self.on_gone is not None:
            self.on_gone(uid)

    def _on_shutdown(self, msg: Message) -> None:
        """The switch is going away; the session's reconnect and resync will tidy the rows."""

    # ---------------------------------------------------------- AMI 1.x events
    def _on_dial(self, msg: Message) -> None:
        if clean(msg.get("SubEvent")).lower() != "begin":
            return
        dest = clean(msg.get("DestUniqueID"))
        if dest:
            self.expect_outbound(dest)
            self._apply(dest, {"direction": "outbound"}, self._ts(msg))

    def _on_bridge(self, msg: Message) -> None:
        a, b = clean(msg.get("Uniqueid1")), clean(msg.get("Uniqueid2"))
        link = clean(msg.get("Bridgestate")).lower() == "link"
        ts = self._ts(msg)
        self._apply(a, {"other_leg": b if link else ""}, ts)
        self._apply(b, {"other_leg": a if link else ""}, ts)

    _on_link = _on_bridge

    def _on_unlink(self, msg: Message) -> None:
        ts = self._ts(msg)
        for key in ("Uniqueid1", "Uniqueid2"):
            self._apply(clean(msg.get(key)), {"other_leg": ""}, ts)

    # ---------------------------------------------------------------- resync
    def snapshot(self, items: Iterable[Message]) -> list[Channel]:
        """CoreShowChannel list items -> channels for `ChannelStore.reconcile`.

        Fields the listing does not report (direction, hold, park, kept variables) are carried
        over from the current row, and bridge membership is rebuilt from `BridgeId`.
        """
        now = self.clock()
        chans: list[Channel] = []
        self.reset()
        for item in items:
            uid = clean(item.get("Uniqueid"))
            if clean(item.get("Event")).lower() != "coreshowchannel" or not uid:
                continue
            f = self.snapshot_fields(item)
            up = f.pop("_up", False)
            new_vars = f.pop("_vars", None)
            current = self.store.get(uid)
            ch = Channel(id=uid, node=self.node)
            for k, v in f.items():
                setattr(ch, k, v)
            if self.legacy:
                ext = clean(item.get("Extension"))
                if ext not in _TRIVIAL_EXTENS:
                    ch.destination = ext
            ch.call_id = ch.call_id or (current.call_id if current else "") or uid
            ch.application = clean(item.get("Application"))
            ch.application_data = clean(item.get("ApplicationData"))
            ch.waiting = waiting_of(ch.application)
            ch.created = now - parse_duration(clean(item.get("Duration")))
            ch.answered = bool(up)
            if current is not None:
                ch.direction, ch.held, ch.parked = current.direction, current.held, current.parked
                ch.created = current.created or ch.created
                ch.answered_at = current.answered_at
                ch.variables = current.variables
                ch.initial = current.initial
            else:
                outbound = uid in self.outbound or ch.application == "AppDial"
                ch.direction = "outbound" if outbound else "inbound"
            self.outbound.discard(uid)  # listed: its direction is known from here on
            if new_vars:
                ch.variables = {**(ch.variables or {}), **new_vars}
            if ch.answered and not ch.answered_at:
                ch.answered_at = ch.created
            for k, v in self._state(None, {"answered": ch.answered, "held": ch.held,
                                           "parked": ch.parked}).items():
                setattr(ch, k, v)
            bid = clean(item.get("BridgedUniqueID" if self.legacy else "BridgeId"))
            if bid and not self.legacy:
                self.bridges.setdefault(bid, {})[uid] = None
                self.bridge_of[uid] = bid
            elif bid:
                ch.other_leg = bid
            chans.append(ch)
        by_id = {c.id: c for c in chans}
        for members in self.bridges.values():
            if len(members) == 2:
                a, b = list(members)
                if not (by_id[a].parked or by_id[b].parked):
                    by_id[a].other_leg, by_id[b].other_leg = b, a
        return chans


def _kept_vars(values: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        k, sep, v = str(item).partition("=")
        if sep and k in KEPT_VARIABLES:
            out[k] = v
    return out


def _unescape(text: str) -> str:
    r"""Asterisk C-escapes caller names (`\"`, `\\`)."""
    return text.replace('\\"', '"').replace("\\\\", "\\") if "\\" in text else text
