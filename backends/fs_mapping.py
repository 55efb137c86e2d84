"""FreeSWITCH events and `show channels` rows, turned into normalized store changes.

Table columns (switch_state, callstate, application, codecs, callee, call_uuid...) follow the
rules FreeSWITCH's own `channels` table uses (core_event_handler in switch_core_sqldb.c): CREATE
inserts, CHANNEL_STATE sets the state, CALLSTATE the call state except DOWN/HANGUP, EXECUTE/HOLD
set the application, BRIDGE/UNBRIDGE the call uuid, DESTROY deletes. That way a store fed by
events equals `show channels` and the Webitel dialect can rebuild the row without asking the
switch. Normalized fields (state, answered, held, parked, peer, attribution inputs) take the
freshest value any channel event carries. Each event costs a few dict lookups: no regexes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gateway.directory import KEPT_VARIABLES
from gateway.model import Channel, Initial, State, Waiting, derive_state
from gateway.store import ChannelStore

from .base import ProtocolError
from .esl_protocol import Event, LeanDecoder, decode_json

#: What the backend subscribes to: exactly the events the mapping reads (plus job results).
EVENTS = (
    "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_UUID", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_PARK", "CHANNEL_UNPARK",
    "CHANNEL_EXECUTE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CALL_UPDATE",
    "CHANNEL_ORIGINATE", "BACKGROUND_JOB",
)
_KEPT = tuple((f"variable_{n}", n) for n in sorted(KEPT_VARIABLES))
_KEPT_KEYS = frozenset(key for key, _ in _KEPT)
#: CHANNEL_STATE values the channels table records (others leave the column alone).
_TABLE_STATES = frozenset({
    "CS_ROUTING", "CS_SOFT_EXECUTE", "CS_EXECUTE", "CS_EXCHANGE_MEDIA", "CS_PARK",
    "CS_CONSUME_MEDIA", "CS_HIBERNATE", "CS_RESET", "CS_HANGUP", "CS_REPORTING",
})
_CODEC = (("read_codec", "Channel-Read-Codec-Name"), ("read_rate", "Channel-Read-Codec-Rate"),
          ("write_codec", "Channel-Write-Codec-Name"), ("write_rate", "Channel-Write-Codec-Rate"))
#: FreeSWITCH applications that say what a leg waits in (gateway.model.Waiting).
WAITING_APPS = {"fifo": Waiting.QUEUE, "callcenter": Waiting.QUEUE, "valet_park": Waiting.PARK,
                "playback": Waiting.GREETING, "speak": Waiting.GREETING,
                "play_and_get_digits": Waiting.GREETING}


def waiting_of(application: str) -> Waiting:
    return WAITING_APPS.get(application, Waiting.NONE)


_ROUTING = (("caller_id_name", "Caller-Caller-ID-Name"),
            ("caller_id_number", "Caller-Caller-ID-Number"), ("ip_addr", "Caller-Network-Addr"),
            ("destination", "Caller-Destination-Number"), ("dialplan", "Caller-Dialplan"),
            ("context", "Caller-Context"))
# Enum members bound once: `State.X` is a class attribute lookup through EnumType (~90 ns), paid
# several times per event otherwise.
_HUNGUP, _EARLY = State.HUNGUP, State.EARLY
_TOMBSTONES = 4096  # uuids recently destroyed: late events for them must not resurrect a ghost

#: What `FsMapper.handle` reads from an event of a channel the store already has: every event
#: (name, uid, `_live`), `_attribution` when it carries variables, then each handler's own.
_EVERY = ("Event-Name", "Unique-ID", "Answer-State", "Caller-Channel-Answered-Time",
          "Hangup-Cause", "variable_uuid")
_ATTRIBUTION = ("variable_sip_gateway_name", "variable_dialed_user", "variable_dialed_domain",
                "variable_sip_from_user", "Caller-Username", "variable_sip_from_host",
                "variable_domain_name", "variable_sip_auth_realm", "variable_accountcode",
                *(key for key, _ in _KEPT))
#: Events FreeSWITCH sends without channel variables (unless `verbose_events` is on): their
#: lean decode leaves the attribution headers out, and one that has variables is decoded whole.
_NO_VARIABLES = frozenset({"CHANNEL_STATE", "CHANNEL_CALLSTATE"})
#: Events of a call that is over: the attribution the channel has stands until its DESTROY,
#: so their variables are not read again (nor decoded).
_FINAL = frozenset({"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"})
_APP_READS = ("variable_current_application", "variable_current_application_data",
              "variable_presence_id", "variable_presence_data", "variable_accountcode")
_BRIDGE_READS = ("Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Other-Leg-Unique-ID")
_CALLEE = ("Caller-Callee-ID-Name", "Caller-Callee-ID-Number")
READS: dict[str, tuple[str, ...]] = {
    "CHANNEL_STATE": ("Channel-State", *(h for _, h in _ROUTING)),
    "CHANNEL_CALLSTATE": ("Channel-Call-State",),
    "CHANNEL_ANSWER": tuple(h for _, h in _CODEC),
    "CHANNEL_PROGRESS": (),
    "CHANNEL_PROGRESS_MEDIA": tuple(h for _, h in _CODEC),
    "CHANNEL_BRIDGE": (*_BRIDGE_READS, *_CALLEE, "Other-Leg-Callee-ID-Name",
                       "Other-Leg-Callee-ID-Number"),
    "CHANNEL_UNBRIDGE": _BRIDGE_READS,
    "CHANNEL_HOLD": _APP_READS,
    "CHANNEL_UNHOLD": _APP_READS,
    "CHANNEL_PARK": (),
    "CHANNEL_UNPARK": (),
    "CHANNEL_EXECUTE": (*_APP_READS, "Application", "Application-Data"),
    "CHANNEL_HANGUP": (),
    "CHANNEL_HANGUP_COMPLETE": (),
    "CALL_UPDATE": (*_CALLEE, "Caller-Caller-ID-Name", "Caller-Caller-ID-Number", "Direction",
                    "Sent-Callee-ID-Name", "Sent-Callee-ID-Number"),
    "CHANNEL_ORIGINATE": (),
}
#: What `full_fields` reads (with `_EVERY` and `_ATTRIBUTION`): a CREATE, which builds a new
#: channel from every field, is decoded with these alone.
_CHANNEL_BLOCK = (
    "Channel-Name", "Call-Direction", "Caller-Channel-Created-Time", "Channel-State",
    "Channel-Call-State", "Channel-Call-UUID", "Caller-Callee-ID-Number",
    "Caller-Callee-ID-Name", "Channel-Presence-ID", "Channel-Presence-Data",
    "FreeSWITCH-Switchname", "FreeSWITCH-Hostname", "variable_presence_id",
    "variable_presence_data", *(h for _, h in _ROUTING), *(h for _, h in _CODEC),
    "variable_current_application", "variable_current_application_data", "Other-Type",
    "Other-Leg-Unique-ID")
#: Events whose lean decode is all the mapping reads of them, known channel or not.
_WHOLE_WHEN_LEAN = frozenset({"CHANNEL_CREATE", "CHANNEL_DESTROY"})
#: Channel variables the mapping reads: FreeSWITCH may write a variable as an array, but
#: these are single values, and a list in one would reach the store (or an index) as a list.
_READ_VARIABLES = tuple(sorted({key for keys in (_EVERY, _ATTRIBUTION, _APP_READS)
                                for key in keys if key.startswith("variable_")}))


def _full(body: bytes) -> Event:
    """The whole event, refused (as the stream not being FreeSWITCH's) when a variable the
    mapping reads is not a string."""
    ev = decode_json(body)
    for key in _READ_VARIABLES:
        if type(ev.get(key, "")) is not str:
            raise ProtocolError(f"event variable {key} is not a string")
    return ev


_LEAN = LeanDecoder({
    **{name: (*_EVERY, *(() if name in _NO_VARIABLES or name in _FINAL else _ATTRIBUTION),
              *keys)
       for name, keys in READS.items()},
    "CHANNEL_CREATE": (*_EVERY, *_ATTRIBUTION, *_CHANNEL_BLOCK),
    "CHANNEL_DESTROY": ("Unique-ID",),  # `_destroy` reads the uid only, known channel or not
    # `uuid_dump <uuid> json` during a resync: what `merge_dump` reads
    "CHANNEL_DATA": (*_EVERY, *_ATTRIBUTION, "Other-Type", "variable_bridge_uuid",
                     "Other-Leg-Unique-ID", "Caller-Channel-Created-Time"),
})
_lean = _LEAN.decode


def _announces_create(ev: Event) -> bool:
    """A new channel's first event: FreeSWITCH reports the state CS_INIT just before it fires
    CHANNEL_CREATE with the channel's variables, so the row is inserted by the CREATE, as the
    switch's own table does (a CHANNEL_STATE only updates a row that exists)."""
    return ev.get("Channel-State") == "CS_INIT" and ev.get("Event-Name") == "CHANNEL_STATE"


def _us(value: Any) -> float:
    """FreeSWITCH times are epoch microseconds as strings; "0" means not yet."""
    if not value or value == "0":
        return 0.0
    try:
        return int(value) / 1_000_000
    except (TypeError, ValueError):
        return 0.0


def _variables(ev: Mapping[str, Any]) -> dict[str, str] | None:
    if _KEPT_KEYS.isdisjoint(ev):  # most events carry none of them
        return None
    found = None
    for key, name in _KEPT:
        v = ev.get(key)
        if v:
            if found is None:
                found = {}
            found[name] = v
    return found


def _endpoint(ev: Mapping[str, Any], name: str, direction: str) -> tuple[str, str, str]:
    """(username, realm, gateway) of this leg's SIP endpoint: the caller on an inbound leg,
    the dialed user on an outbound leg (`user/202@realm` or `sofia/internal/202@realm`)."""
    gateway = ev.get("variable_sip_gateway_name", "")
    if name.startswith("sofia/gateway/"):
        gateway = name[14:].partition("/")[0]
    if direction == "outbound":
        user = ev.get("variable_dialed_user", "")
        realm = ev.get("variable_dialed_domain", "")
        if not user and name.startswith("sofia/") and not gateway:
            user, _, realm = name.partition("/")[2].partition("/")[2].partition("@")
            realm = realm.partition(":")[0]
        return user, realm, gateway
    if gateway:  # a carrier's call: the From user is a phone number, not one of our phones
        return "", "", gateway
    user = ev.get("variable_sip_from_user") or ev.get("Caller-Username", "")
    realm = (ev.get("variable_sip_from_host") or ev.get("variable_domain_name")
             or ev.get("variable_sip_auth_realm", ""))
    return user, realm, gateway


def _attribution(ev: Mapping[str, Any], out: dict[str, Any], name: str, direction: str) -> None:
    """Attribution inputs from an event that carries channel variables."""
    out["username"], out["realm"], out["gateway"] = _endpoint(ev, name, direction)
    variables = _variables(ev)
    if variables is not None:
        out["variables"] = variables
    acc = ev.get("variable_accountcode")
    if acc:
        out["accountcode"] = acc


def full_fields(ev: Mapping[str, Any]) -> dict[str, Any]:
    """Every field one channel event can tell, as CHANNEL_CREATE inserts a row."""
    g = ev.get
    name = g("Channel-Name", "")
    direction = g("Call-Direction", "inbound")
    callstate = g("Channel-Call-State", "")
    out: dict[str, Any] = {
        "name": name, "direction": direction,
        "created": _us(g("Caller-Channel-Created-Time")),
        "switch_state": g("Channel-State", ""),
        "callstate": callstate if callstate != "HANGUP" else "",
        "call_id": g("Channel-Call-UUID") or g("Unique-ID", ""),
        "callee_number": g("Caller-Callee-ID-Number", ""),
        "callee_name": g("Caller-Callee-ID-Name", ""),
        "presence_id": g("Channel-Presence-ID") or g("variable_presence_id", ""),
        "presence_data": g("Channel-Presence-Data") or g("variable_presence_data", ""),
        "hostname": g("FreeSWITCH-Switchname") or g("FreeSWITCH-Hostname", ""),
    }
    for field, header in _ROUTING:
        out[field] = g(header, "")
    for field, header in _CODEC:
        out[field] = g(header, "")
    out["initial"] = Initial(out["caller_id_name"], out["caller_id_number"], out["ip_addr"],
                             out["destination"], out["dialplan"], out["context"])
    app = g("variable_current_application")
    if app:
        out["application"] = app
        out["application_data"] = g("variable_current_application_data", "")
    if g("Other-Type") and g("Other-Leg-Unique-ID"):
        out["other_leg"] = g("Other-Leg-Unique-ID")
    _live(ev, out)
    _attribution(ev, out, name, direction)
    return out


def _live(ev: Mapping[str, Any], out: dict[str, Any]) -> None:
    """Answer state and times, from any channel event."""
    answer = ev.get("Answer-State")
    if answer == "answered":
        out["answered"] = True
        t = _us(ev.get("Caller-Channel-Answered-Time"))
        if t:
            out["answered_at"] = t
    elif answer == "hangup":
        out["state"] = _HUNGUP
    elif answer == "early" and "state" not in out:
        out["_early"] = True
    cause = ev.get("Hangup-Cause")
    if cause:
        out["hangup_cause"] = cause


def _derive_state(ch: Channel | None, out: dict[str, Any]) -> None:
    """Set `state` by the shared rule (gateway.model.derive_state) from the event's changes
    over the channel's current fields; `_early` is this event's early media."""
    early = out.pop("_early", False)
    hungup = out.get("state") is _HUNGUP
    if ch is None:
        out["state"] = derive_state(
            hungup=hungup, held=out.get("held", False), parked=out.get("parked", False),
            answered=out.get("answered", False), early=early)
        return
    out["state"] = derive_state(
        hungup=hungup or ch.state is _HUNGUP,
        held=out["held"] if "held" in out else ch.held,
        parked=out["parked"] if "parked" in out else ch.parked,
        answered=out["answered"] if "answered" in out else ch.answered,
        early=early or ch.state is _EARLY)


#: One event name's part of the mapping: (channel or None, uid, event) -> changes.
_Handler = Callable[[Channel | None, str, Event], dict[str, Any] | None]


class FsMapper:
    """Applies one node's FreeSWITCH events to the store."""

    def __init__(self, store: ChannelStore, node: str) -> None:
        self.store = store
        # the store's own dict lookup, bound once: asked twice for every event (decode, handle),
        # and `ChannelStore.get` is only a method around it
        self._get: Callable[[str], Channel | None] = store._channels.get
        self.node = node
        self._gone: OrderedDict[str, None] = OrderedDict()
        self.events = 0
        self._handlers: dict[str, _Handler]
        self._handlers = {
            "CHANNEL_CREATE": self._create, "CHANNEL_STATE": self._state,
            "CHANNEL_CALLSTATE": self._callstate, "CHANNEL_ANSWER": self._codecs,
            "CHANNEL_PROGRESS": self._plain, "CHANNEL_PROGRESS_MEDIA": self._codecs,
            "CHANNEL_BRIDGE": self._bridge, "CHANNEL_UNBRIDGE": self._unbridge,
            "CHANNEL_HOLD": self._hold, "CHANNEL_UNHOLD": self._hold,
            "CHANNEL_PARK": self._park, "CHANNEL_UNPARK": self._park,
            "CHANNEL_EXECUTE": self._execute, "CHANNEL_HANGUP": self._hangup,
            "CHANNEL_HANGUP_COMPLETE": self._hangup, "CALL_UPDATE": self._call_update,
            "CHANNEL_ORIGINATE": self._plain,
        }

    def decode(self, body: bytes) -> Event:
        """A `text/event-json` body as `handle` needs it: for a channel the store has (most
        events), only the headers handling reads; otherwise the whole event, because a
        channel first seen by a later event is built from every field it carries."""
        return self._complete(body, _lean(body))

    def _complete(self, body: bytes, ev: Event | None) -> Event:
        """`decode`, given the lean decode of `body` (None when it has none)."""
        if ev is None:
            return _full(body)
        name = ev["Event-Name"]
        if name in _WHOLE_WHEN_LEAN:
            return ev
        uid = ev.get("Unique-ID")
        if uid and uid not in self._gone and self._get(uid) is None:
            return ev if _announces_create(ev) else _full(body)
        if name in _NO_VARIABLES and "variable_uuid" in ev:
            return _full(body)
        return ev

    def ingest(self, body: bytes) -> Event | None:
        """`handle(decode(body))` in one step: the session's per-event path. An event of a
        channel the store has (most of them) is decoded lean and applied with each lookup
        done once. Returns the event when the mapping has no use for it (a job result), for
        the session; None when it was applied (or ignored as a late event)."""
        ev = _lean(body)
        if ev is not None:
            name = ev["Event-Name"]
            handler = self._handlers.get(name)
            uid = ev.get("Unique-ID")
            if handler is not None and uid:
                ch = self._get(uid)
                if (ch is not None and uid not in self._gone
                        and (name not in _NO_VARIABLES or "variable_uuid" not in ev)):
                    self.events += 1
                    self._update(ch, uid, name, handler, ev)
                    return None
        ev = self._complete(body, ev)
        self.handle(ev)
        return ev if ev.get("Event-Name") == "BACKGROUND_JOB" else None

    def handle(self, ev: Event) -> None:
        name = ev.get("Event-Name")
        handler = self._handlers.get(name)  # type: ignore[arg-type]
        if handler is None:
            if name == "CHANNEL_DESTROY":
                self._destroy(ev)
            elif name == "CHANNEL_UUID":
                self._rename(ev)
            return
        uid = ev.get("Unique-ID")
        if not uid or uid in self._gone:
            return
        self.events += 1
        ch = self._get(uid)
        if ch is not None:
            self._update(ch, uid, name, handler, ev)  # type: ignore[arg-type]
            return
        if _announces_create(ev):
            return
        # a channel not in the store (a CREATE, or one born before we subscribed or during a
        # resync): every channel event carries the whole channel block, so it is known from
        # here on
        out = full_fields(ev)
        extra = handler(None, uid, ev)
        if extra:
            out.update(extra)
        self._apply(None, uid, ev, out)

    def _update(self, ch: Channel, uid: str, name: str, handler: _Handler, ev: Event) -> None:
        """One event of a channel the store has."""
        out = handler(ch, uid, ev) or {}
        if "variables" not in out and "variable_uuid" in ev and name not in _FINAL:
            _attribution(ev, out, ch.name, ch.direction)
        self._apply(ch, uid, ev, out)

    def _apply(self, ch: Channel | None, uid: str, ev: Event, out: dict[str, Any]) -> None:
        """What every channel event tells (answer, hangup, the derived state), then the store."""
        _live(ev, out)
        _derive_state(ch, out)
        if "application" in out:
            out["waiting"] = waiting_of(out["application"])
        self.store.apply(self.node, uid, out)

    # ------------------------------------------------------------ per event
    def _create(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any] | None:
        # a new channel is built from every field by `handle` already
        return full_fields(ev) if ch is not None else None

    def _plain(self, ch: Channel | None, uid: str, ev: Event) -> None:
        return None

    def _state(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any] | None:
        state = ev.get("Channel-State", "")
        if state not in _TABLE_STATES:
            return None
        out: dict[str, Any] = {"switch_state": state}
        if state == "CS_ROUTING":
            for field, header in _ROUTING:
                out[field] = ev.get(header, "")
        return out

    def _callstate(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any] | None:
        cs = ev.get("Channel-Call-State", "")
        if cs in ("DOWN", "HANGUP", ""):
            return None
        out: dict[str, Any] = {"callstate": cs}
        if cs == "HELD":
            out["held"] = True
        elif cs == "ACTIVE":
            out["held"] = False
        return out

    def _codecs(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        get = ev.get
        return {field: get(header, "") for field, header in _CODEC}

    def _app(self, ev: Event) -> dict[str, Any]:
        get = ev.get
        out: dict[str, Any] = {
            "application": get("variable_current_application", ""),
            "application_data": get("variable_current_application_data", ""),
            "presence_id": get("variable_presence_id", ""),
            "presence_data": get("variable_presence_data", ""),
            "accountcode": get("variable_accountcode", ""),
        }
        return out

    def _execute(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        out = self._app(ev)
        if not out["application"]:
            out["application"] = ev.get("Application", "")
            out["application_data"] = ev.get("Application-Data", "")
        return out

    def _hold(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        out = self._app(ev)
        out["held"] = ev.get("Event-Name") == "CHANNEL_HOLD"
        return out

    def _park(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        return {"parked": ev.get("Event-Name") == "CHANNEL_PARK"}

    def _hangup(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        return {"state": _HUNGUP, "held": False}

    def _call_update(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        get = ev.get
        out = {"callee_name": get("Caller-Callee-ID-Name", ""),
               "callee_number": get("Caller-Callee-ID-Number", ""),
               "caller_id_name": get("Caller-Caller-ID-Name", ""),
               "caller_id_number": get("Caller-Caller-ID-Number", "")}
        # FreeSWITCH's own table takes these straight from the event, empty when absent
        out["callee_direction"] = get("Direction", "")
        out["sent_callee_name"] = get("Sent-Callee-ID-Name", "")
        out["sent_callee_number"] = get("Sent-Callee-ID-Number", "")
        return out

    def _bridge(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        get = ev.get
        a = get("Bridge-A-Unique-ID") or uid
        b = get("Bridge-B-Unique-ID") or get("Other-Leg-Unique-ID", "")
        out: dict[str, Any] = {"call_id": a}
        peer = b if uid == a else a
        if peer:
            out["other_leg"] = peer
        if uid == a:  # as the channels table: each side keeps its own callee, no direction
            out["callee_name"] = get("Caller-Callee-ID-Name", "")
            out["callee_number"] = get("Caller-Callee-ID-Number", "")
        other = self.store.get(peer) if peer else None
        if other is not None:
            changes: dict[str, Any] = {"call_id": a, "other_leg": uid}
            if uid == a:
                changes["callee_name"] = get("Other-Leg-Callee-ID-Name", "")
                changes["callee_number"] = get("Other-Leg-Callee-ID-Number", "")
            self.store.apply(self.node, peer, changes)
        return out

    def _unbridge(self, ch: Channel | None, uid: str, ev: Event) -> dict[str, Any]:
        get = ev.get
        peer = get("Bridge-B-Unique-ID") if get("Bridge-A-Unique-ID") == uid else \
            get("Bridge-A-Unique-ID") or get("Other-Leg-Unique-ID", "")
        if peer and peer != uid:
            other = self.store.get(peer)
            if other is not None and other.other_leg == uid:
                self.store.apply(self.node, peer, {"call_id": peer, "other_leg": ""})
        return {"call_id": uid, "other_leg": ""}

    def _destroy(self, ev: Event) -> None:
        uid = ev.get("Unique-ID")
        if not uid:
            return
        self.events += 1
        self._bury(uid)
        if self.store.remove(uid) is None:
            self.store.forget(self.node, uid)

    def _rename(self, ev: Event) -> None:
        old, new = ev.get("Old-Unique-ID"), ev.get("Unique-ID")
        if not old or not new or old == new:
            return
        self.events += 1
        ch = self.store.remove(old)
        if ch is None:
            self.store.forget(self.node, old)
            return
        ch.id = new
        ch.name = ev.get("Channel-Name") or ch.name
        self.store.add(ch)

    def _bury(self, uid: str) -> None:
        gone = self._gone
        gone[uid] = None
        if len(gone) > _TOMBSTONES:
            gone.popitem(last=False)


# ---------------------------------------------------------------- snapshot
def parse_show_channels(text: str) -> list[dict[str, str]]:
    """Rows of `show channels as json`; `{"row_count": 0}` (no rows key) is the empty table."""
    text = text.strip()
    if text.startswith("-ERR"):
        raise ValueError(text)
    data = orjson.loads(text)  # a JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError("show channels: not an object")
    rows = data.get("rows") or []
    return [r for r in rows if isinstance(r, dict) and r.get("uuid")]


def row_to_channel(row: Mapping[str, str], node: str) -> Channel:
    """A `show channels` row (every value a string, "" for NULL) as a store channel."""
    g = row.get
    callstate = g("callstate", "")
    app = g("application", "")
    parked = app == "park" or g("state") == "CS_PARK"
    held, answered = callstate == "HELD", callstate in ("ACTIVE", "HELD")
    state = derive_state(hungup=False, held=held, parked=parked, answered=answered,
                         early=callstate == "EARLY")
    try:
        created = float(g("created_epoch") or 0)
    except ValueError:
        created = 0.0
    return Channel(
        id=row["uuid"], node=node, name=g("name", ""), direction=g("direction", "") or "inbound",
        state=state, answered=answered, created=created,
        caller_id_number=g("cid_num", ""), caller_id_name=g("cid_name", ""),
        destination=g("dest", ""), callee_number=g("callee_num", ""),
        callee_name=g("callee_name", ""), call_id=g("call_uuid") or row["uuid"],
        context=g("context", ""), dialplan=g("dialplan", ""), application=app,
        waiting=waiting_of(app),
        application_data=g("application_data", ""), read_codec=g("read_codec", ""),
        read_rate=g("read_rate", ""), write_codec=g("write_codec", ""),
        write_rate=g("write_rate", ""), ip_addr=g("ip_addr", ""),
        presence_id=g("presence_id", ""), presence_data=g("presence_data", ""),
        accountcode=g("accountcode", ""), held=held, parked=parked,
        switch_state=g("state", ""), callstate=callstate, hostname=g("hostname", ""),
        secure=g("secure", ""), callee_direction=g("callee_direction", ""),
        sent_callee_name=g("sent_callee_name", ""), sent_callee_number=g("sent_callee_num", ""),
        initial=Initial(g("initial_cid_name", ""), g("initial_cid_num", ""),
                        g("initial_ip_addr", ""), g("initial_dest", ""),
                        g("initial_dialplan", ""), g("initial_context", "")),
    )


def decode_dump(body: bytes) -> Event:
    """A `uuid_dump <uuid> json` reply, with the headers `merge_dump` reads (a resync decodes
    one per channel, each carrying every channel variable)."""
    return _lean(body) or _full(body)


def merge_dump(ch: Channel, dump: Mapping[str, Any]) -> None:
    """Add what only the channel's variables tell (`uuid_dump <uuid> json`): attribution
    inputs, the bridged peer, exact answer time and park state."""
    out: dict[str, Any] = {}
    _attribution(dump, out, ch.name, ch.direction)
    _live(dump, out)
    out.pop("_early", None)
    if dump.get("Other-Type") == "originatee" or dump.get("variable_bridge_uuid"):
        peer = dump.get("variable_bridge_uuid") or dump.get("Other-Leg-Unique-ID", "")
        if peer:
            out["other_leg"] = peer
    t = _us(dump.get("Caller-Channel-Created-Time"))
    if t:
        out["created"] = t
    if dump.get("Answer-State") == "early" and not ch.answered:
        out["state"] = State.EARLY
    for k, v in out.items():
        setattr(ch, k, v)
