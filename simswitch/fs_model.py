"""Call model of the simulated FreeSWITCH: channels, legs, bridges, dialplan and events.

Event order, header order and state numbers mirror the FreeSWITCH 1.11 captures in
shared/fixtures/freeswitch (e.g. CHANNEL_CREATE reports CS_INIT with state number 2,
hangup events keep the old running state but number 10). Everything here is synchronous;
delays are loop timers so the server can stay a thin asyncio shell around it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable

from simswitch.esl_wire import Event, json_object

STATE_NUM = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
    "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13,
}
CALLSTATE_NUM = {
    "DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
    "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8,
}
Q850 = {
    "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_ANSWER": 19, "NO_USER_RESPONSE": 18,
    "CALL_REJECTED": 21, "ORIGINATOR_CANCEL": 487, "NO_ROUTE_DESTINATION": 3,
    "MANAGER_REQUEST": 16, "PICKED_OFF": 16, "USER_NOT_REGISTERED": 20, "LOSE_RACE": 16,
    "ATTENDED_TRANSFER": 16, "SUBSCRIBER_ABSENT": 20, "INVALID_GATEWAY": 0,
}
# (file, function, line) per event, as reported by FreeSWITCH 1.11.1 in the captures.
CALLING = {
    "API": ("switch_loadable_module.c", "switch_api_execute", "2954"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1569"),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", "3279"),
    # Not in the captures (the line is unknown): sofia's display update on a bridge.
    "CALL_UPDATE/SEND": ("mod_sofia.c", "sofia_receive_message", "0"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3848"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", "302"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_DATA": ("mod_commands.c", "uuid_dump_function", "6495"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1588"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2949"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2972"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3447"),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", "1558"),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", "1611"),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", "632"),
    "CHANNEL_OUTGOING": (
        "switch_core_session.c", "switch_core_session_outgoing_channel", "768"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_PROGRESS": (
        "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3507"),
    "CHANNEL_PROGRESS_MEDIA": (
        "switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2409"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "678"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "95"),
    # Not in the captures: file and function from switch_ivr_async.c, line unknown.
    "RECORD_START": ("switch_ivr_async.c", "record_callback", "0"),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", "0"),
}
# Only these carry variable_* headers (switch_channel_event_set_extended_data).
EXTENDED = frozenset({
    "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_ANSWER", "CHANNEL_PARK",
    "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DATA",
    "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY", "CALL_UPDATE",
    "CHANNEL_HOLD", "CHANNEL_UNHOLD",
})
PROFILE_KEYS = (
    "Username", "Dialplan", "Caller-ID-Name", "Caller-ID-Number", "Orig-Caller-ID-Name",
    "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number", "Network-Addr", "ANI",
)
PROFILE_KEYS_2 = ("Source", "Transfer-Source", "Context", "RDNIS")
TIME_KEYS = (
    "Channel-Answered-Time", "Channel-Progress-Time", "Channel-Progress-Media-Time",
    "Channel-Hangup-Time", "Channel-Transfer-Time", "Channel-Resurrect-Time",
    "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum",
)
SHOW_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec",
    "read_rate", "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure",
    "hostname", "presence_id", "presence_data", "accountcode", "callstate", "callee_name",
    "callee_num", "callee_direction", "call_uuid", "sent_callee_name", "sent_callee_num",
    "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
    "initial_dialplan", "initial_context",
)
CALLS_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "presence_id", "presence_data", "accountcode", "callstate",
    "callee_name", "callee_num", "callee_direction", "call_uuid", "hostname",
    "sent_callee_name", "sent_callee_num",
)
B_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "presence_id", "presence_data", "accountcode", "callstate",
    "callee_name", "callee_num", "callee_direction", "sent_callee_name", "sent_callee_num",
)
CARRIER_IP = "203.0.113.10"
PHONE_NET = "192.0.2."


def now_us() -> int:
    return time.time_ns() // 1000


_date_cache: dict[int, tuple[str, str]] = {}


def date_strings(sec: int) -> tuple[str, str]:
    """Local and GMT renderings of one second, cached since every event carries both."""
    got = _date_cache.get(sec)
    if got is None:
        if len(_date_cache) > 64:
            _date_cache.clear()
        got = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec)),
               time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(sec)))
        _date_cache[sec] = got
    return got


class Channel:
    """One call leg with the state FreeSWITCH reports for it."""

    __slots__ = (
        "answered",
        "app",
        "app_data",
        "attxfer_peer",
        "bridge_owner",
        "call_uuid",
        "callstate",
        "created",
        "dest_after",
        "direction",
        "hangup_cause",
        "held",
        "hit_dialplan",
        "kind",
        "name",
        "on_answer",
        "originator",
        "parked",
        "partner",
        "pending",
        "pending_result",
        "profile",
        "profile_index",
        "realm",
        "recordings",
        "row",
        "state",
        "state_num",
        "timers",
        "times",
        "user",
        "uuid",
        "variables",
    )

    def __init__(self, uid: str, name: str, direction: str, kind: str) -> None:
        self.uuid = uid
        self.name = name
        self.direction = direction
        self.kind = kind  # internal | gateway | external | loopback
        self.state = "CS_NEW"
        self.state_num = 0
        self.callstate = "DOWN"
        self.answered = "ringing"  # Answer-State
        self.hangup_cause = ""
        self.hit_dialplan = "true" if direction == "inbound" else "false"
        self.profile: dict[str, str] = {}
        self.profile_index = 1
        t = now_us()
        self.created = t
        self.times: dict[str, int] = dict.fromkeys(TIME_KEYS, 0)
        self.times["Profile-Created-Time"] = t
        self.variables: dict[str, str] = {}
        self.partner: Channel | None = None  # bridged peer
        self.originator: Channel | None = None  # who originated this leg (Other-Type)
        self.pending: Channel | None = None  # leg being dialled by this one's bridge app
        self.pending_result: asyncio.Future[str] | None = None
        self.on_answer: Callable[[], None] | None = None
        self.dest_after: str = ""
        self.attxfer_peer: Channel | None = None
        self.bridge_owner = False
        self.call_uuid = uid
        self.app = ""
        self.app_data = ""
        self.held = False
        self.parked = False
        self.recordings: dict[str, bool] = {}  # uuid_record path -> masked
        self.timers: list[asyncio.TimerHandle] = []
        self.user = ""
        self.realm = ""
        self.row: dict[str, str] = {}

    @property
    def alive(self) -> bool:
        return not self.hangup_cause

    @property
    def ringing(self) -> bool:
        return self.alive and self.answered in ("ringing", "early")

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


class SwitchModel:
    """The switch's channels and dialplan; every change is emitted as an Event to `emit`."""

    def __init__(
        self,
        *,
        hostname: str,
        extensions: dict[str, str],
        gateways: Iterable[str],
        emit: Callable[[Event], None],
        busy: Iterable[str] = (),
        no_answer: Iterable[str] = (),
        answer_after: float = 0.2,
        ipv4: str = "192.0.2.2",
    ) -> None:
        self.hostname = hostname
        self.extensions = dict(extensions)
        self.gateways = list(gateways)
        self.busy = set(busy)
        self.no_answer = set(no_answer)
        self.answer_after = answer_after
        self.emit = emit
        self.core_uuid = str(uuidlib.uuid4())
        self.ipv4 = ipv4
        self.channels: dict[str, Channel] = {}
        self._seq = itertools.count(400)
        self._session_ids = itertools.count(1)
        self.sessions_since_start = 0
        self.started = time.time()

    # ------------------------------------------------------------------ events
    def _common(self, name: str, source: str = "") -> list[tuple[str, str]]:
        t = now_us()
        local, gmt = date_strings(t // 1_000_000)
        f, fn, line = CALLING.get(source or name, ("switch_event.c", "switch_event_fire", "0"))
        return [
            ("Event-Name", name), ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname), ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4), ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", local), ("Event-Date-GMT", gmt),
            ("Event-Date-Timestamp", str(t)), ("Event-Calling-File", f),
            ("Event-Calling-Function", fn), ("Event-Calling-Line-Number", line),
            ("Event-Sequence", str(next(self._seq))),
        ]

    @staticmethod
    def _profile(ch: Channel, prefix: str, with_index: bool) -> list[tuple[str, str]]:
        p = ch.profile
        out = [(f"{prefix}-Direction", ch.direction),
               (f"{prefix}-Logical-Direction", p.get("Logical-Direction", ch.direction))]
        out += [(f"{prefix}-{k}", p[k]) for k in PROFILE_KEYS if p.get(k)]
        out += [(f"{prefix}-Destination-Number", p.get("Destination-Number", "")),
                (f"{prefix}-Unique-ID", ch.uuid)]
        out += [(f"{prefix}-{k}", p[k]) for k in PROFILE_KEYS_2 if p.get(k)]
        out.append((f"{prefix}-Channel-Name", ch.name))
        if with_index:
            out.append((f"{prefix}-Profile-Index", str(ch.profile_index)))
        out += [(f"{prefix}-Profile-Created-Time", str(ch.times["Profile-Created-Time"])),
                (f"{prefix}-Channel-Created-Time", str(ch.created))]
        out += [(f"{prefix}-{k}", str(ch.times[k])) for k in TIME_KEYS]
        out += [(f"{prefix}-Screen-Bit", "true"), (f"{prefix}-Privacy-Hide-Name", "false"),
                (f"{prefix}-Privacy-Hide-Number", "false")]
        return out

    def channel_headers(self, ch: Channel, extended: bool) -> list[tuple[str, str]]:
        """The channel block every channel event carries, in FreeSWITCH's order."""
        h = [("Channel-State", ch.state), ("Channel-Call-State", ch.callstate),
             ("Channel-State-Number", str(ch.state_num)), ("Channel-Name", ch.name),
             ("Unique-ID", ch.uuid), ("Call-Direction", ch.direction),
             ("Presence-Call-Direction", ch.direction), ("Channel-HIT-Dialplan", ch.hit_dialplan)]
        pid = ch.variables.get("presence_id")
        if pid:
            h.append(("Channel-Presence-ID", pid))
        h += [("Channel-Call-UUID", ch.call_uuid), ("Answer-State", ch.answered)]
        if ch.hangup_cause:
            h.append(("Hangup-Cause", ch.hangup_cause))
        codec = ch.variables.get("read_codec", "PCMU")
        rate = "8000"
        bit = "64000" if codec in ("PCMU", "PCMA") else "128000"
        h += [("Channel-Read-Codec-Name", codec), ("Channel-Read-Codec-Rate", rate),
              ("Channel-Read-Codec-Bit-Rate", bit), ("Channel-Write-Codec-Name", codec),
              ("Channel-Write-Codec-Rate", rate), ("Channel-Write-Codec-Bit-Rate", bit)]
        h += self._profile(ch, "Caller", True)
        other = ch.partner or ch.originator
        if other is not None:
            other_type = "originator" if other is ch.originator else "originatee"
            h.append(("Other-Type", other_type))
            h += self._profile(other, "Other-Leg", False)
        if extended:
            h += [(f"variable_{k}", v) for k, v in ch.variables.items() if v != ""]
        return h

    def fire(
        self,
        name: str,
        ch: Channel,
        before: list[tuple[str, str]] | None = None,
        after: list[tuple[str, str]] | None = None,
        source: str = "",
    ) -> Event:
        """Emit a channel event; `source` picks another CALLING entry than the name's."""
        h = self._common(name, source)
        if before:
            h += before
        h += self.channel_headers(ch, name in EXTENDED)
        if after:
            h += after
        ev = Event(h)
        self.emit(ev)
        return ev

    def fire_plain(self, name: str, extra: list[tuple[str, str]], body: str | None = None) -> Event:
        ev = Event(self._common(name) + extra, body)
        self.emit(ev)
        return ev

    def set_state(self, ch: Channel, state: str) -> None:
        ch.state = state
        ch.state_num = STATE_NUM[state]
        if state in ("CS_ROUTING", "CS_EXECUTE", "CS_EXCHANGE_MEDIA", "CS_CONSUME_MEDIA",
                     "CS_SOFT_EXECUTE", "CS_HANGUP", "CS_REPORTING"):
            ch.row["state"] = state
        self.fire("CHANNEL_STATE", ch)

    def set_callstate(self, ch: Channel, callstate: str) -> None:
        old = ch.callstate
        ch.callstate = callstate
        if callstate not in ("DOWN", "HANGUP"):
            ch.row["callstate"] = callstate
        self.fire("CHANNEL_CALLSTATE", ch, before=[
            ("Original-Channel-Call-State", old),
            ("Channel-Call-State-Number", str(CALLSTATE_NUM[callstate]))])

    def execute(self, ch: Channel, app: str, data: str = "") -> None:
        self.complete_app(ch)
        ch.app, ch.app_data = app, data
        ch.variables["current_application"] = app
        if data:
            ch.variables["current_application_data"] = data
        else:
            ch.variables.pop("current_application_data", None)
        ch.row["application"], ch.row["application_data"] = app, data
        after = [("Application", app)]
        if data:
            after.append(("Application-Data", data))
        after.append(("Application-UUID", str(uuidlib.uuid4())))
        ch.variables["_app_uuid"] = after[-1][1]
        self.fire("CHANNEL_EXECUTE", ch, after=after)

    def complete_app(self, ch: Channel, response: str = "_none_") -> None:
        if not ch.app:
            return
        after = [("Application", ch.app)]
        if ch.app_data:
            after.append(("Application-Data", ch.app_data))
        after += [("Application-Response", response),
                  ("Application-UUID", ch.variables.pop("_app_uuid", str(uuidlib.uuid4())))]
        if ch.app == "park" and ch.parked:
            ch.parked = False
            self.fire("CHANNEL_UNPARK", ch)
        ch.variables["last_app"] = ch.app
        self.fire("CHANNEL_EXECUTE_COMPLETE", ch, after=after)
        ch.app, ch.app_data = "", ""

    # --------------------------------------------------------------- channels
    def _later(self, ch: Channel, delay: float, fn: Callable[[], None]) -> None:
        ch.timers.append(asyncio.get_running_loop().call_later(delay, fn))

    def realm_of(self, ext: str) -> str | None:
        return self.extensions.get(ext)

    def new_channel(
        self,
        *,
        direction: str,
        kind: str,
        name: str,
        cid_num: str,
        cid_name: str,
        dest: str,
        context: str,
        variables: dict[str, str],
        uid: str | None = None,
        username: str = "",
        network_addr: str = "",
        realm: str = "",
        user: str = "",
    ) -> Channel:
        ch = Channel(uid or str(uuidlib.uuid4()), name, direction, kind)
        ch.user, ch.realm = user, realm
        source = {"loopback": "mod_loopback"}.get(kind, "mod_sofia")
        ch.profile = {
            "Username": username, "Dialplan": "XML", "Caller-ID-Name": cid_name,
            "Caller-ID-Number": cid_num, "Orig-Caller-ID-Name": cid_name,
            "Orig-Caller-ID-Number": cid_num, "Network-Addr": network_addr, "ANI": cid_num,
            "Destination-Number": dest, "Source": source, "Context": context,
        }
        v = ch.variables
        v["direction"] = direction
        if direction == "outbound":
            v["is_outbound"] = "true"
        v["uuid"] = ch.uuid
        v["call_uuid"] = ch.uuid
        v["session_id"] = str(next(self._session_ids))
        v["channel_name"] = name
        v.update(variables)
        v.setdefault("read_codec", "PCMU")
        v.setdefault("read_rate", "8000")
        v.setdefault("write_codec", "PCMU")
        v.setdefault("write_rate", "8000")
        local, _ = date_strings(ch.created // 1_000_000)
        ch.row = {
            "uuid": ch.uuid, "direction": direction, "created": local,
            "created_epoch": str(ch.created // 1_000_000), "name": name, "state": "CS_INIT",
            "cid_name": cid_name, "cid_num": cid_num, "ip_addr": network_addr, "dest": dest,
            "application": "", "application_data": "", "dialplan": "XML", "context": context,
            "read_codec": v["read_codec"], "read_rate": "8000",
            "read_bit_rate": "64000" if v["read_codec"] in ("PCMU", "PCMA") else "128000",
            "write_codec": v["write_codec"], "write_rate": "8000",
            "write_bit_rate": "64000" if v["write_codec"] in ("PCMU", "PCMA") else "128000",
            "secure": "", "hostname": self.hostname, "presence_id": v.get("presence_id", ""),
            "presence_data": "", "accountcode": v.get("accountcode", ""), "callstate": "DOWN",
            "callee_name": "", "callee_num": "", "callee_direction": "", "call_uuid": "",
            "sent_callee_name": "", "sent_callee_num": "", "initial_cid_name": cid_name,
            "initial_cid_num": cid_num, "initial_ip_addr": network_addr, "initial_dest": dest,
            "initial_dialplan": "XML", "initial_context": context,
        }
        self.channels[ch.uuid] = ch
        self.sessions_since_start += 1
        return ch

    def leg_for(
        self, target: str, *, caller: Channel | None, cid_num: str, cid_name: str,
        variables: dict[str, str], uid: str | None = None,
    ) -> tuple[Channel | None, str]:
        """Create the outbound leg for a dial string, or return the failure cause."""
        if target.startswith("user/"):
            ext, _, realm = target[5:].partition("@")
            known = self.realm_of(ext)
            if known is None or (realm and realm != known):
                return None, "USER_NOT_REGISTERED"
            ch = self.new_channel(
                direction="outbound", kind="internal", name=f"sofia/internal/{ext}@{known}",
                cid_num=cid_num, cid_name=cid_name, dest=ext, context="default",
                variables={**variables, **self._internal_vars_out(ext, known, cid_num)},
                uid=uid, realm=known, user=ext)
            return ch, ""
        if target.startswith("sofia/gateway/"):
            gw, _, number = target[len("sofia/gateway/"):].partition("/")
            if gw not in self.gateways:
                return None, "INVALID_GATEWAY"
            ch = self.new_channel(
                direction="outbound", kind="gateway", name=f"sofia/gateway/{gw}/{number}",
                cid_num=cid_num, cid_name=cid_name, dest=number, context="default",
                variables={**variables, **self._gateway_vars(gw, number, cid_num)}, uid=uid)
            return ch, ""
        if target.startswith("loopback/"):
            parts = target[len("loopback/"):].split("/")
            ext = parts[0]
            context = parts[1] if len(parts) > 1 else "default"
            ch = self.new_channel(
                direction="outbound", kind="loopback", name=f"loopback/{ext}-a",
                cid_num=cid_num or "0000000000", cid_name=cid_name, dest=ext, context=context,
                variables={**variables, "originate_endpoint": "loopback", "loopback_leg": "A"},
                uid=uid)
            ch.dest_after = ext
            return ch, ""
        return None, "CHAN_NOT_IMPLEMENTED"

    def _internal_vars_in(self, ext: str, realm: str, dest: str, dest_realm: str) -> dict:
        ip = PHONE_NET + str(10 + int(ext) % 200 if ext.isdigit() else 10)
        return {
            "sip_from_user": ext, "sip_from_uri": f"{ext}@{realm}", "sip_from_host": realm,
            "sip_call_id": f"{uuidlib.uuid4().hex[:20]}@{ip}", "sip_network_ip": ip,
            "sip_network_port": "5060", "sip_received_ip": ip, "sip_received_port": "5060",
            "sip_via_protocol": "udp", "sip_authorized": "true", "sip_auth_username": ext,
            "sip_auth_realm": realm, "sofia_profile_name": "internal",
            "sip_req_user": dest, "sip_req_uri": f"{dest}@{dest_realm}",
            "sip_req_host": dest_realm, "sip_to_user": dest, "sip_to_uri": f"{dest}@{dest_realm}",
            "sip_to_host": dest_realm, "sip_contact_user": ext, "sip_contact_host": ip,
            "sip_user_agent": "Yealink SIP-T46S 66.86.0.15", "user_name": ext,
            "domain_name": realm, "user_context": "default", "presence_id": f"{ext}@{realm}",
            "endpoint_disposition": "RECEIVED",
        }

    @staticmethod
    def _internal_vars_out(ext: str, realm: str, caller: str) -> dict:
        return {
            "dialed_user": ext, "dialed_domain": realm, "domain_name": realm,
            "presence_id": f"{ext}@{realm}", "sofia_profile_name": "internal",
            "sip_to_user": ext, "sip_to_host": realm, "sip_req_user": ext,
            "sip_req_host": realm, "sip_from_user": caller, "sip_from_host": realm,
        }

    @staticmethod
    def _gateway_vars(gw: str, number: str, caller: str) -> dict:
        return {
            "sip_gateway_name": gw, "sip_profile_name": "gateway", "sofia_profile_name": "external",
            "sip_to_user": number, "sip_to_host": CARRIER_IP, "sip_req_user": number,
            "sip_req_host": CARRIER_IP, "sip_from_user": caller, "sip_from_host": CARRIER_IP,
        }

    def dialstring_for(self, dest: str, *, from_internal: bool) -> str | None:
        """Dialplan `default`: extensions ring the phone, other numbers leave via a gateway."""
        realm = self.realm_of(dest)
        if realm is not None:
            return f"user/{dest}@{realm}"
        if from_internal and self.gateways and dest.lstrip("+").isdigit() and len(dest) > 5:
            return f"sofia/gateway/{self.gateways[0]}/{dest}"
        return None

    # ------------------------------------------------------------- lifecycles
    def start_inbound(
        self, caller: str, callee: str, *, realm: str | None, variables: dict[str, str],
    ) -> Channel:
        """A call arriving at the switch: from a registered phone or from a carrier."""
        variables = {k: str(v) for k, v in variables.items()}
        caller_realm = realm or self.realm_of(caller)
        if caller_realm is not None:
            dest_realm = self.realm_of(callee) or caller_realm
            ip = PHONE_NET + str(10 + int(caller) % 200 if caller.isdigit() else 10)
            ch = self.new_channel(
                direction="inbound", kind="internal",
                name=f"sofia/internal/{caller}@{caller_realm}",
                cid_num=caller, cid_name=caller, dest=callee, context="default",
                variables={**self._internal_vars_in(caller, caller_realm, callee, dest_realm),
                           **variables},
                username=caller, network_addr=ip, realm=caller_realm, user=caller)
        else:
            ch = self.new_channel(
                direction="inbound", kind="external", name=f"sofia/external/{caller}@{CARRIER_IP}",
                cid_num=caller, cid_name=caller, dest=callee, context="public",
                variables={
                    "sip_from_user": caller, "sip_from_uri": f"{caller}@{CARRIER_IP}",
                    "sip_from_host": CARRIER_IP, "sip_network_ip": CARRIER_IP,
                    "sip_network_port": "5060", "sip_req_user": callee,
                    "sip_req_host": self.ipv4, "sip_to_user": callee, "sip_to_host": self.ipv4,
                    "sofia_profile_name": "external",
                    "sip_gateway_name": self.gateways[0] if self.gateways else "",
                    "endpoint_disposition": "RECEIVED", **variables},
                username=caller, network_addr=CARRIER_IP)
        self.set_state(ch, "CS_INIT")
        ch.state_num = 2
        self.fire("CHANNEL_CREATE", ch)
        ch.state = "CS_ROUTING"
        self.set_callstate(ch, "RINGING")
        self.set_state(ch, "CS_ROUTING")
        self.set_state(ch, "CS_EXECUTE")
        return ch

    def bridge_out(
        self, a: Channel, dialstring: str, *, answer_after: float | None,
        on_fail: Callable[[str], None] | None = None, app: str = "bridge",
    ) -> Channel | None:
        """Run `bridge <dialstring>` on `a`: dial a new leg, bridge when it answers."""
        self.execute(a, app, dialstring)
        a.variables["hangup_after_bridge"] = "true"
        exported = {k: v for k, v in a.variables.items()
                    if k.startswith(("callgate_", "ecallmgr_", "webitel_", "mor_", "cc_"))}
        b, cause = self.leg_for(
            dialstring, caller=a, cid_num=a.profile.get("Caller-ID-Number", ""),
            cid_name=a.profile.get("Caller-ID-Name", ""), variables=exported)
        if b is None:
            self._bridge_failed(a, cause, on_fail)
            return None
        b.originator = a
        b.call_uuid = a.uuid
        b.variables["call_uuid"] = a.uuid
        a.pending = b
        self.originate_leg(b)
        self._ring(b, answer_after, a)
        return b

    def _bridge_failed(self, a: Channel, cause: str, on_fail: Callable[[str], None] | None) -> None:
        a.pending = None
        a.variables["originate_disposition"] = cause
        a.variables["DIALSTATUS"] = cause
        if on_fail:
            on_fail(cause)
        else:
            self.complete_app(a, cause)
            self.hangup(a, cause)

    def originate_leg(self, b: Channel) -> None:
        b.state, b.state_num = "CS_NONE", 1
        self.fire("CHANNEL_OUTGOING", b)
        self.set_state(b, "CS_INIT")
        b.state_num = 2
        self.fire("CHANNEL_CREATE", b)
        self.fire("CHANNEL_ORIGINATE", b)
        self.set_state(b, "CS_ROUTING")
        self.set_state(b, "CS_CONSUME_MEDIA")

    def _ring(self, b: Channel, answer_after: float | None, a: Channel | None) -> None:
        """The far end rings; it then answers, is busy, or never answers."""
        early = b.kind == "gateway"
        t = now_us()
        if early:
            b.times["Channel-Progress-Media-Time"] = t
            b.answered = "early"
            self.fire("CHANNEL_PROGRESS_MEDIA", b)
            self.set_callstate(b, "EARLY")
        else:
            b.times["Channel-Progress-Time"] = t
            self.fire("CHANNEL_PROGRESS", b)
            self.set_callstate(b, "RINGING")
        if a is not None and a.alive and not a.answered == "answered":
            if early:
                a.times["Channel-Progress-Media-Time"] = t
                a.answered = "early"
                self.fire("CHANNEL_PROGRESS_MEDIA", a)
                self.set_callstate(a, "EARLY")
            else:
                a.times["Channel-Progress-Time"] = t
                self.fire("CHANNEL_PROGRESS", a)
        ext = b.user
        if ext and ext in self.busy:
            self._later(b, 0.05, lambda: self.hangup(b, "USER_BUSY"))
        elif ext and ext in self.no_answer:
            timeout = float(b.variables.get("originate_timeout", "60") or 60)
            self._later(b, timeout, lambda: self.hangup(b, "NO_ANSWER"))
        elif answer_after is not None:
            timeout = b.variables.get("originate_timeout")
            if timeout and float(timeout) < answer_after:
                self._later(b, float(timeout), lambda: self.hangup(b, "NO_ANSWER"))
            else:
                self._later(b, answer_after, lambda: self.answer(b))

    def mark_answered(self, ch: Channel) -> None:
        if not ch.alive or ch.answered == "answered":
            return
        ch.cancel_timers()
        ch.answered = "answered"
        ch.times["Channel-Answered-Time"] = now_us()
        ch.variables["endpoint_disposition"] = "ANSWER"
        self.fire("CHANNEL_ANSWER", ch)
        self.set_callstate(ch, "ACTIVE")

    def answer(self, ch: Channel) -> None:
        """The phone or far end picks up (for an A-leg being dialled out: its B-leg does)."""
        if not ch.alive:
            return
        if ch.pending is not None and ch.pending.ringing:
            ch = ch.pending
        self.mark_answered(ch)
        a = ch.originator
        if a is not None and a.pending is ch and a.alive:
            a.pending = None
            self.mark_answered(a)
            self.bridge(a, ch, owner=True)
            if ch.pending_result and not ch.pending_result.done():
                ch.pending_result.set_result(f"+OK {ch.uuid}\n")
        elif ch.pending_result is not None:
            if not ch.pending_result.done():
                ch.pending_result.set_result(f"+OK {ch.uuid}\n")
            if ch.on_answer:
                fn, ch.on_answer = ch.on_answer, None
                fn()
        elif ch.on_answer:
            fn, ch.on_answer = ch.on_answer, None
            fn()

    def bridge(self, a: Channel, b: Channel, *, owner: bool) -> None:
        t = now_us()
        a.partner, b.partner = b, a
        a.bridge_owner = owner
        a.call_uuid = b.call_uuid = a.uuid
        b.variables["call_uuid"] = a.uuid
        a.row["call_uuid"] = b.row["call_uuid"] = a.uuid
        for x, y in ((a, b), (b, a)):
            x.times["Channel-Bridged-Time"] = t
            x.variables["bridge_uuid"] = y.uuid
            x.variables["signal_bond"] = y.uuid
        # Connected-line view: the dialling side sees the number it dialled, the dialled
        # side sees the caller.
        dialled = b.profile.get("Destination-Number", "")
        calling_num = a.profile.get("Caller-ID-Number", "")
        calling_name = a.profile.get("Caller-ID-Name", "") or calling_num
        for x, name, num in ((a, dialled, dialled), (b, calling_name, calling_num)):
            x.profile["Callee-ID-Name"], x.profile["Callee-ID-Number"] = name, num
            x.row["callee_name"], x.row["callee_num"] = name, num
        self.fire("CHANNEL_BRIDGE", a, before=[
            ("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
        self.set_state(b, "CS_EXCHANGE_MEDIA")
        if a.kind != "loopback":  # mod_loopback has no display to update
            self.call_update_send(a, dialled, dialled, b)

    def call_update_send(self, ch: Channel, name: str, number: str, peer: Channel) -> None:
        """mod_sofia's display update to the phone: CALL_UPDATE with Direction SEND.

        Header order as sofia_receive_message adds them (Direction, Sent-Callee-ID-*,
        Bridged-To) before the channel block; the channels table then takes callee_*,
        sent_callee_*, callee_direction and cid_* from it (core_event_handler).
        """
        self.fire("CALL_UPDATE", ch, source="CALL_UPDATE/SEND", before=[
            ("Direction", "SEND"), ("Sent-Callee-ID-Name", name),
            ("Sent-Callee-ID-Number", number), ("Bridged-To", peer.uuid)])
        self._call_update_row(ch, "SEND", name, number)

    def _call_update_row(self, ch: Channel, direction: str, sent_name: str, sent_num: str) -> None:
        """The channels-table columns a CALL_UPDATE event sets, from the headers it carried."""
        p = ch.profile
        ch.row.update(
            callee_name=p.get("Callee-ID-Name", ""), callee_num=p.get("Callee-ID-Number", ""),
            sent_callee_name=sent_name, sent_callee_num=sent_num, callee_direction=direction,
            cid_name=p.get("Caller-ID-Name", ""), cid_num=p.get("Caller-ID-Number", ""))

    def unbridge(self, ch: Channel) -> Channel | None:
        """Split ch from its peer; returns the former peer."""
        peer = ch.partner
        if peer is None:
            return None
        a, b = (ch, peer) if ch.bridge_owner or not peer.bridge_owner else (peer, ch)
        self.fire("CHANNEL_UNBRIDGE", a, before=[
            ("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
        if a.app in ("bridge", "att_xfer"):
            self.complete_app(a, "NORMAL_CLEARING" if ch is not a else "_none_")
        ch.partner = peer.partner = None
        a.bridge_owner = False
        for x in (ch, peer):
            x.row["call_uuid"] = x.uuid
        return peer

    def leave_bridge(self, ch: Channel, cause: str = "NORMAL_CLEARING") -> None:
        """ch leaves its bridge; the old peer hangs up unless park_after_bridge is set."""
        peer = self.unbridge(ch)
        if peer is None:
            return
        if peer.variables.get("park_after_bridge") == "true":
            self.park(peer)
        else:
            self.hangup(peer, cause)

    def park(self, ch: Channel) -> None:
        if not ch.alive:
            return
        if ch.partner is not None:
            self.leave_bridge(ch)
        if ch.pending is not None:
            self.hangup(ch.pending, "ORIGINATOR_CANCEL")
            ch.pending = None
        if ch.answered != "answered":
            self.mark_answered(ch)
        if ch.state != "CS_EXECUTE":
            self.set_state(ch, "CS_EXECUTE")
        self.execute(ch, "park")
        ch.parked = True
        self.fire("CHANNEL_PARK", ch)

    def hold(self, ch: Channel, on: bool) -> bool:
        """Hold as the phone or `uuid_hold` does it: HOLD/UNHOLD then CALLSTATE."""
        if not ch.alive or ch.held == on or ch.answered != "answered":
            return False
        t = now_us()
        ch.held = on
        if on:
            ch.times["Channel-Last-Hold"] = t
            ch.variables["last_hold_uepoch"] = str(t)
            self.fire("CHANNEL_HOLD", ch)
            self.set_callstate(ch, "HELD")
        else:
            ch.times["Channel-Hold-Accum"] += t - ch.times["Channel-Last-Hold"]
            ch.variables["hold_accum_usec"] = str(ch.times["Channel-Hold-Accum"])
            self.fire("CHANNEL_UNHOLD", ch)
            self.set_callstate(ch, "ACTIVE")
        return True

    def record_start(self, ch: Channel, path: str) -> bool:
        """`uuid_record start`: one media bug per path; RECORD_START names the file first.

        A path already being recorded succeeds without a second bug (FreeSWITCH logs
        "Already recording").
        """
        if not ch.alive:
            return False
        if path in ch.recordings:
            return True
        ch.recordings[path] = False
        self.fire("RECORD_START", ch, before=[("Record-File-Path", path)])
        return True

    def record_stop(self, ch: Channel, path: str) -> bool:
        """`uuid_record stop <path|all>`: RECORD_STOP after the record_* variables are set."""
        paths = list(ch.recordings) if path == "all" else [path]
        if not paths or any(p not in ch.recordings for p in paths):
            return False
        for p in paths:
            del ch.recordings[p]
            # the simulator writes no audio: zero samples, as a real empty recording reports
            ch.variables.update(record_samples="0", record_seconds="0", record_ms="0")
            self.fire("RECORD_STOP", ch, after=[("Record-File-Path", p)])
        return True

    def record_mask(self, ch: Channel, path: str, masked: bool) -> bool:
        if path not in ch.recordings:
            return False
        ch.recordings[path] = masked
        return True

    def hangup(self, ch: Channel, cause: str = "NORMAL_CLEARING") -> None:
        """Hang up ch and, as FreeSWITCH does, whatever is tied to it."""
        if not ch.alive:
            return
        ch.cancel_timers()
        peer = ch.partner
        pending = ch.pending
        origin = ch.originator if ch.originator and ch.originator.pending is ch else None
        attxfer = ch.attxfer_peer
        self._hangup_start(ch, cause)
        ch.attxfer_peer = None
        if peer is not None:
            self.unbridge(ch)
            if attxfer is not None and attxfer.alive and peer.alive:
                # transferor hung up: the held party meets the transfer target
                self.bridge(attxfer, peer, owner=True)
            elif peer.alive and peer.attxfer_peer is not None and peer.attxfer_peer.alive:
                # target hung up: the transferor goes back to the held party
                held, peer.attxfer_peer = peer.attxfer_peer, None
                self.bridge(peer, held, owner=True)
            elif peer.alive:
                if peer.variables.get("park_after_bridge") == "true":
                    self.park(peer)
                else:
                    self._hangup_start(peer, cause)
                    self._finish(peer)
        if pending is not None and pending.alive:
            ch.pending = None
            self._hangup_start(pending, "ORIGINATOR_CANCEL")
            self._finish(pending)
        self._finish(ch)
        if origin is not None and origin.alive:
            origin.pending = None
            self.complete_app(origin, cause)
            if origin.attxfer_peer is not None and origin.attxfer_peer.alive:
                held, origin.attxfer_peer = origin.attxfer_peer, None
                self.bridge(origin, held, owner=True)
            else:
                self.hangup(origin, cause)
        if ch.pending_result is not None and not ch.pending_result.done():
            ch.pending_result.set_result(f"-ERR {cause}\n")

    def _hangup_start(self, ch: Channel, cause: str) -> None:
        if not ch.alive:
            return
        ch.cancel_timers()
        ch.hangup_cause = cause
        ch.state_num = 10
        ch.answered = "hangup"
        ch.times["Channel-Hangup-Time"] = now_us()
        ch.variables["hangup_cause"] = cause
        ch.variables["hangup_cause_q850"] = str(Q850.get(cause, 16))
        self.fire("CHANNEL_HANGUP", ch)
        if ch.app and ch.app != "bridge":
            self.complete_app(ch, cause)
        elif ch.app in ("bridge", "att_xfer") and ch.partner is None:
            self.complete_app(ch, cause)
        ch.parked = False

    def _finish(self, ch: Channel) -> None:
        """CS_HANGUP -> CS_REPORTING -> CS_DESTROY, removing the channel."""
        if ch.uuid not in self.channels:
            return
        if ch.app:
            self.complete_app(ch, ch.hangup_cause)
        self.set_state(ch, "CS_HANGUP")
        if ch.recordings:  # the hangup state removes the media bugs
            self.record_stop(ch, "all")
        self.set_callstate(ch, "HANGUP")
        self.set_state(ch, "CS_REPORTING")
        self._cdr_vars(ch)
        self.fire("CHANNEL_HANGUP_COMPLETE", ch, before=[("Hangup-Cause", ch.hangup_cause)])
        ch.state_num = 12
        if ch.originator is not None:
            ch.call_uuid = ch.uuid
        self.fire("CHANNEL_DESTROY", ch)
        self.set_state(ch, "CS_DESTROY")
        self.channels.pop(ch.uuid, None)

    @staticmethod
    def _cdr_vars(ch: Channel) -> None:
        v, t = ch.variables, ch.times
        end = t["Channel-Hangup-Time"] or now_us()
        ans = t["Channel-Answered-Time"]
        start_local, _ = date_strings(ch.created // 1_000_000)
        end_local, _ = date_strings(end // 1_000_000)
        v.update({
            "start_stamp": start_local, "end_stamp": end_local,
            "start_epoch": str(ch.created // 1_000_000), "start_uepoch": str(ch.created),
            "answer_epoch": str(ans // 1_000_000), "answer_uepoch": str(ans),
            "end_epoch": str(end // 1_000_000), "end_uepoch": str(end),
            "duration": str((end - ch.created) // 1_000_000),
            "billsec": str((end - ans) // 1_000_000 if ans else 0),
            "mduration": str((end - ch.created) // 1000),
            "billmsec": str((end - ans) // 1000 if ans else 0),
            "hold_accum_seconds": str(t["Channel-Hold-Accum"] // 1_000_000),
        })

    # ----------------------------------------------------------- call control
    def originate(
        self, dialstring: str, variables: dict[str, str], app: str, app_arg: str,
        exten: str = "", context: str = "default",
    ) -> asyncio.Future[str]:
        """`originate`: dial a leg, then run an app or an extension once it answers."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        cid_num = variables.get("origination_caller_id_number", "0000000000")
        cid_name = variables.get("origination_caller_id_name", "")
        ch, cause = self.leg_for(dialstring, caller=None, cid_num=cid_num, cid_name=cid_name,
                                 variables=variables, uid=variables.get("origination_uuid"))
        if ch is None:
            fut.set_result(f"-ERR {cause}\n")
            return fut
        ch.pending_result = fut
        if exten:
            ch.on_answer = lambda: self.run_dialplan(ch, exten, context)
        else:
            ch.on_answer = lambda: self.run_app(ch, app, app_arg)
        self.originate_leg(ch)
        if ch.kind == "loopback":
            self._later(ch, 0.0, lambda: self._loopback_answer(ch))
        else:
            self._ring(ch, self.answer_after, None)
        return fut

    def _loopback_answer(self, ch: Channel) -> None:
        """The originated loopback A side answers and flips its caller id, then runs on."""
        if not ch.alive:
            return
        self.mark_answered(ch)
        self.flip_cid(ch)
        self.answer(ch)

    def flip_cid(self, ch: Channel) -> None:
        """switch_channel_flip_cid: caller and callee ids swap, then CALL_UPDATE RECV.

        As captured on loopback/<ext>-a: the callee FreeSWITCH gave the leg ("Outbound
        Call" / its context) becomes the caller id, the old caller id becomes the callee.
        """
        p, v = ch.profile, ch.variables
        old_name, old_num = p.get("Caller-ID-Name", ""), p.get("Caller-ID-Number", "")
        if old_name:
            v["pre_transfer_caller_id_name"] = old_name
        v["pre_transfer_caller_id_number"] = old_num
        p["Caller-ID-Name"] = p.get("Callee-ID-Name") or "Outbound Call"
        p["Caller-ID-Number"] = p.get("Callee-ID-Number") or p.get("Context", "default")
        p["Callee-ID-Name"], p["Callee-ID-Number"] = old_name, old_num
        v["channel_cid_flipped"] = "yes"
        self.fire("CALL_UPDATE", ch, before=[("Direction", "RECV")])
        self._call_update_row(ch, "RECV", "", "")

    def run_app(self, ch: Channel, app: str, arg: str) -> None:
        if not ch.alive:
            return
        if ch.state != "CS_EXECUTE":
            self.set_state(ch, "CS_EXECUTE")
        if app == "park":
            self.park(ch)
        elif app == "bridge":
            self.bridge_out(ch, arg, answer_after=self.answer_after)
        elif app == "intercept":
            self.intercept(ch, arg)
        elif app in ("playback", "hangup"):
            self.execute(ch, app, arg)
            delay = 0.5 if app == "playback" else 0.0
            self._later(ch, delay, lambda: self.hangup(ch, "NORMAL_CLEARING"))
        else:  # echo, eavesdrop, sleep...: run until hung up
            self.execute(ch, app, arg)

    def run_dialplan(self, ch: Channel, dest: str, context: str = "default") -> None:
        """Route `dest`: an extension rings that phone, `park` parks, else NO_ROUTE."""
        if not ch.alive:
            return
        if ch.state != "CS_EXECUTE":
            self.set_state(ch, "CS_EXECUTE")
        if dest == "park" or dest.startswith("park"):
            self.park(ch)
            return
        ds = self.dialstring_for(dest, from_internal=ch.kind != "external" or context != "public")
        if ds is None:
            self.complete_app(ch)
            self.hangup(ch, "NO_ROUTE_DESTINATION")
            return
        self.bridge_out(ch, ds, answer_after=self.answer_after)

    def transfer(self, ch: Channel, dest: str, dialplan: str, context: str,
                 *, keep_peer: bool = False) -> None:
        """uuid_transfer of one leg: it leaves its bridge and runs the dialplan again."""
        if ch.partner is not None:
            if keep_peer:
                self.unbridge(ch)
            else:
                self.leave_bridge(ch)
        if ch.pending is not None:
            pending, ch.pending = ch.pending, None
            self.hangup(pending, "ORIGINATOR_CANCEL")
        if not ch.alive:
            return
        self.complete_app(ch)
        p, t = ch.profile, now_us()
        p["Transfer-Source"] = f"{t // 1_000_000}:{uuidlib.uuid4()}:uuid_transfer"
        p["RDNIS"] = p.get("Destination-Number", "")
        p["Destination-Number"] = dest
        p["Context"] = context
        ch.profile_index += 1
        ch.times["Profile-Created-Time"] = t
        ch.times["Channel-Transfer-Time"] = t
        ch.row["dest"] = dest
        ch.variables["transfer_source"] = p["Transfer-Source"]
        ch.hit_dialplan = "true"
        self.set_state(ch, "CS_ROUTING")
        self.set_state(ch, "CS_EXECUTE")
        if dialplan == "inline":
            self.run_app(ch, "park" if "park" in dest else dest.split(":", 1)[0], "")
        else:
            self.run_dialplan(ch, dest, context)

    def intercept(self, ch: Channel, target_id: str) -> None:
        """ch picks up `target_id`; the target's former partner hangs up PICKED_OFF."""
        self.execute(ch, "intercept", target_id)
        target = self.channels.get(target_id.replace("-bleg", "").strip())
        if target is None or not target.alive:
            self.complete_app(ch, "FAIL")
            self.hangup(ch, "NORMAL_CLEARING")
            return
        if target.pending is not None:
            pending, target.pending = target.pending, None
            self.hangup(pending, "PICKED_OFF")
        elif target.partner is not None:
            old = self.unbridge(target)
            if old is not None:
                self.hangup(old, "PICKED_OFF")
        if target.app in ("bridge", "att_xfer"):
            self.complete_app(target, "PICKED_OFF")
        elif target.parked:
            self.complete_app(target)  # the park loop ends: CHANNEL_UNPARK before the bridge
        self.mark_answered(target)
        self.complete_app(ch)
        self.bridge(ch, target, owner=True)

    def att_xfer(self, ch: Channel, dialstring: str) -> None:
        """Attended transfer started on the transferor `ch`: its partner waits on hold."""
        peer = ch.partner
        if peer is not None:
            self.unbridge(ch)
            ch.attxfer_peer = peer
        self.bridge_out(ch, dialstring, answer_after=self.answer_after, app="att_xfer")

    def uuid_bridge(self, a: Channel, b: Channel) -> None:
        for x in (a, b):
            if x.partner is not None and x.partner not in (a, b):
                self.leave_bridge(x)
            elif x.partner is not None:
                self.unbridge(x)
            if x.pending is not None:
                pending, x.pending = x.pending, None
                self.hangup(pending, "ORIGINATOR_CANCEL")
            self.complete_app(x)
            self.mark_answered(x)
        if a.alive and b.alive:
            self.bridge(a, b, owner=True)

    def send_dtmf(self, ch: Channel, digits: str) -> None:
        for d in digits:
            self.fire("DTMF", ch, after=[
                ("DTMF-Digit", d), ("DTMF-Duration", "2000"), ("DTMF-Source", "APP")])

    def flash_call(self, caller: str, callee: str) -> None:
        """A complete answered-then-hung-up bridged call with no timers (load generation)."""
        a = self.start_inbound(caller, callee, realm=None, variables={})
        ds = self.dialstring_for(callee, from_internal=True) or f"user/{callee}"
        self.execute(a, "bridge", ds)
        b, _ = self.leg_for(ds, caller=a, cid_num=caller, cid_name=caller, variables={})
        if b is None:
            self.hangup(a, "NO_ROUTE_DESTINATION")
            return
        b.originator = a
        b.call_uuid = a.uuid
        a.pending = b
        self.originate_leg(b)
        b.times["Channel-Progress-Time"] = now_us()
        self.fire("CHANNEL_PROGRESS", b)
        self.set_callstate(b, "RINGING")
        self.answer(b)
        self.hangup(a, "NORMAL_CLEARING")

    # ------------------------------------------------------------- inspection
    def row(self, ch: Channel) -> dict[str, str]:
        r = dict(ch.row)
        if ch.alive and ch.state in ("CS_EXECUTE", "CS_EXCHANGE_MEDIA", "CS_CONSUME_MEDIA"):
            r["state"] = ch.state
        return {k: r.get(k, "") for k in SHOW_COLUMNS}

    def show_channels_json(self) -> str:
        rows = [self.row(ch) for ch in self.channels.values()]
        if not rows:
            return '{"row_count": 0}\n'
        body = ",".join(json_object(list(r.items())) for r in rows)
        return f'{{"row_count":{len(rows)},"rows":[{body}]}}'

    def calls_rows(self) -> list[dict[str, str]]:
        """basic_calls: one row per channel that is not the B side of a bridge."""
        out = []
        for ch in self.channels.values():
            peer = ch.partner
            if peer is not None and peer.bridge_owner:
                continue
            base = self.row(ch)
            r = {k: base[k] for k in CALLS_COLUMNS}
            if peer is not None:
                pr = self.row(peer)
                r.update({f"b_{k}": pr[k] for k in B_COLUMNS})
                r["call_created_epoch"] = base["created_epoch"]
            else:
                r.update({f"b_{k}": "" for k in B_COLUMNS})
                r["call_created_epoch"] = ""
            out.append(r)
        return out

    def show_calls_json(self) -> str:
        rows = self.calls_rows()
        if not rows:
            return '{"row_count": 0}\n'
        body = ",".join(json_object(list(r.items())) for r in rows)
        return f'{{"row_count":{len(rows)},"rows":[{body}]}}'

    def show_channels_csv(self) -> str:
        lines = [",".join(SHOW_COLUMNS)]
        lines += [",".join(self.row(ch).values()) for ch in self.channels.values()]
        return "\n".join(lines) + f"\n\n{len(self.channels)} total.\n"

    def dump(self, ch: Channel, fmt: str) -> str:
        h = self._common("CHANNEL_DATA") + self.channel_headers(ch, True)
        if fmt == "json":
            return json_object(h)
        if fmt == "plain":
            return "".join(f"{k}: [{v}]\n" for k, v in h)
        return Event(h).plain_frame().split(b"\n\n", 1)[1].decode()
