"""Call model of the simulated FreeSWITCH: the state machine of legs, bridges, hold, park, hangup.

Event order, header order and state numbers mirror the FreeSWITCH 1.11 captures in
tests/fixtures/freeswitch (e.g. CHANNEL_CREATE reports CS_INIT with state number 2,
hangup events keep the old running state but number 10). Everything here is synchronous;
delays are loop timers so the server can stay a thin asyncio shell around it. SwitchModel
mixes in event building (fs_events), the dialplan (fs_dialplan), call control (fs_control)
and the tables (fs_tables); the vocabulary and the Channel record are in fs_channel.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable

from simswitch.esl_wire import Event
from simswitch.fs_channel import (
    CALLSTATE_NUM,
    CARRIER_IP,
    PHONE_NET,
    Q850,
    SHOW_COLUMNS,
    STATE_NUM,
    Channel,
    date_strings,
    now_us,
)
from simswitch.fs_control import CallControl
from simswitch.fs_dialplan import Dialplan
from simswitch.fs_events import EventSource
from simswitch.fs_tables import Tables

__all__ = ["SHOW_COLUMNS", "Channel", "SwitchModel"]


class SwitchModel(EventSource, Dialplan, CallControl, Tables):
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

    def _later(self, ch: Channel, delay: float, fn: Callable[[], None]) -> None:
        ch.timers.append(asyncio.get_running_loop().call_later(delay, fn))

    def start_inbound(
        self, caller: str, callee: str, *, realm: str | None, variables: dict[str, str],
        name: str | None = None,
    ) -> Channel:
        """A call arriving at the switch: from a registered phone or from a carrier. `name` is
        the display name the phone or carrier sends (default: the number)."""
        variables = {k: str(v) for k, v in variables.items()}
        caller_realm = realm or self.realm_of(caller)
        if caller_realm is not None:
            dest_realm = self.realm_of(callee) or caller_realm
            ip = PHONE_NET + str(10 + int(caller) % 200 if caller.isdigit() else 10)
            ch = self.new_channel(
                direction="inbound", kind="internal",
                name=f"sofia/internal/{caller}@{caller_realm}",
                cid_num=caller, cid_name=name or caller, dest=callee, context="default",
                variables={**self._internal_vars_in(caller, caller_realm, callee, dest_realm),
                           **variables},
                username=caller, network_addr=ip, realm=caller_realm, user=caller)
        else:
            ch = self.new_channel(
                direction="inbound", kind="external", name=f"sofia/external/{caller}@{CARRIER_IP}",
                cid_num=caller, cid_name=name or caller, dest=callee, context="public",
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
            limit = b.variables.get("originate_timeout")
            if limit and float(limit) < answer_after:
                self._later(b, float(limit), lambda: self.hangup(b, "NO_ANSWER"))
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
