"""A channel as the headers of a FreeSWITCH channel event, for FreeSWITCH and Asterisk legs
alike (the same header names and value shapes a FreeSWITCH event carries for such a leg), and
the engine's whitelisted per-user `call` frame cut from them."""

from __future__ import annotations

import time
from typing import Any

from gateway.model import Channel, State

from ..render import callstate, switch_state

#: switch_core.h's channel states, as `Channel-State-Number` carries them.
STATE_NUMBERS = {
    "CS_NEW": "0", "CS_INIT": "1", "CS_ROUTING": "2", "CS_SOFT_EXECUTE": "3",
    "CS_EXECUTE": "4", "CS_EXCHANGE_MEDIA": "5", "CS_PARK": "6", "CS_CONSUME_MEDIA": "7",
    "CS_HIBERNATE": "8", "CS_RESET": "9", "CS_HANGUP": "10", "CS_REPORTING": "11",
    "CS_DESTROY": "12",
}
_ANSWER_STATES = {State.RINGING: "ringing", State.EARLY: "early", State.HUNGUP: "hangup"}

#: The engine's per-user `call` frame: these keys, in this order, when present
#: (handleEslEvent.js); `variable_billsec` is always there, as a number.
CALL_KEYS = (
    "Event-Name", "Channel-Presence-ID", "Unique-ID", "Channel-Call-UUID", "Channel-Call-State",
    "Original-Channel-Call-State", "Channel-State-Number", "Channel-State", "Answer-State",
    "Channel-HIT-Dialplan", "Call-Direction", "Caller-Logical-Direction", "variable_sip_call_id",
    "Caller-Callee-ID-Name", "Caller-Callee-ID-Number", "Caller-Caller-ID-Name",
    "Caller-Caller-ID-Number", "Caller-Destination-Number", "variable_w_account_origination_uuid",
    "variable_w_jsclient_xtransfer", "variable_w_jsclient_originate_number",
    "variable_w_jsclient_auto_answer", "Call-Info", "Other-Leg-Unique-ID",
    "variable_hangup_cause", "Caller-Channel-Created-Time", "Caller-Channel-Answered-Time",
    "Caller-Channel-Hangup-Time", "DTMF-Digit", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID",
    "variable_originating_leg_uuid", "variable_webitel_att_xfer", "variable_cc_queue",
    "variable_cc_member_session_uuid", "variable_w_transfer_result", "variable_signal_bond",
)
#: call-frame keys filled from another header when their own is absent
_ALIASES = {
    "variable_w_account_origination_uuid": "variable_webitel_call_uuid",
    "variable_w_jsclient_xtransfer": "variable_sip_h_X-WebitelXTransfer",
    "Other-Leg-Unique-ID": "variable_originating_leg_uuid",
    "variable_hangup_cause": "Hangup-Cause",
}


def _us(seconds: float) -> str:
    return str(int(seconds * 1_000_000)) if seconds else "0"


def answer_state(ch: Channel) -> str:
    return _ANSWER_STATES.get(ch.state, "answered")


def presence_id(ch: Channel, realm: str) -> str:
    if ch.presence_id:
        return ch.presence_id
    return f"{ch.username}@{realm}" if ch.username and realm else ""


def event_headers(ch: Channel, name: str, realm: str, *, now: float | None = None,
                  original_callstate: str = "") -> dict[str, str]:
    """FreeSWITCH's headers of event `name` for `ch` (the common block, the channel block,
    the caller profile, the other leg and the kept variables); `realm` is the domain of the
    channel's account."""
    now = time.time() if now is None else now
    cs = switch_state(ch)
    pid = presence_id(ch, realm)
    host = ch.hostname or ch.node
    h: dict[str, str] = {
        "Event-Name": name, "FreeSWITCH-Hostname": host, "FreeSWITCH-Switchname": host,
        "Event-Date-Timestamp": _us(now),
        "Channel-State": cs,
        "Channel-Call-State": "HANGUP" if ch.state is State.HUNGUP else callstate(ch),
        "Channel-State-Number": STATE_NUMBERS.get(cs, "4"), "Channel-Name": ch.name,
        "Unique-ID": ch.id, "Call-Direction": ch.direction,
        "Presence-Call-Direction": ch.direction,
        "Channel-HIT-Dialplan": "false" if ch.direction == "outbound" else "true",
    }
    if original_callstate:
        h["Original-Channel-Call-State"] = original_callstate
    if pid:
        h["Channel-Presence-ID"] = pid
    if ch.presence_data or realm:
        h["Channel-Presence-Data"] = ch.presence_data or realm
    h.update({"Channel-Call-UUID": ch.call_id or ch.id, "Answer-State": answer_state(ch)})
    if ch.state is State.HUNGUP:
        h["Hangup-Cause"] = ch.hangup_cause or "NORMAL_CLEARING"
    if ch.read_codec:
        h.update({"Channel-Read-Codec-Name": ch.read_codec,
                  "Channel-Read-Codec-Rate": ch.read_rate or "8000"})
    if ch.write_codec:
        h.update({"Channel-Write-Codec-Name": ch.write_codec,
                  "Channel-Write-Codec-Rate": ch.write_rate or "8000"})
    h.update({
        "Caller-Direction": ch.direction, "Caller-Logical-Direction": ch.direction,
        "Caller-Username": ch.username, "Caller-Dialplan": ch.dialplan or "XML",
        "Caller-Caller-ID-Name": ch.caller_id_name,
        "Caller-Caller-ID-Number": ch.caller_id_number, "Caller-Network-Addr": ch.ip_addr,
        "Caller-Destination-Number": ch.destination, "Caller-Unique-ID": ch.id,
        "Caller-Context": ch.context or "default", "Caller-Channel-Name": ch.name,
        "Caller-Channel-Created-Time": _us(ch.created),
        "Caller-Channel-Answered-Time": _us(ch.answered_at),
        "Caller-Channel-Hangup-Time": _us(now) if ch.state is State.HUNGUP else "0",
    })
    if ch.callee_name or ch.callee_number:
        h.update({"Caller-Callee-ID-Name": ch.callee_name,
                  "Caller-Callee-ID-Number": ch.callee_number})
    if ch.other_leg:
        h["Other-Leg-Unique-ID"] = ch.other_leg
    for key, value in (ch.variables or {}).items():
        if value:
            h[f"variable_{key}"] = value
    if realm:
        h.setdefault("variable_domain_name", realm)
    if pid:
        h.setdefault("variable_presence_id", pid)
    if ch.state is State.HUNGUP:
        h["variable_hangup_cause"] = h["Hangup-Cause"]
    return h


def billsec(ch: Channel, now: float) -> int:
    return int(now - ch.answered_at) if ch.answered_at else 0


def call_frame(headers: dict[str, str], login: str, billsec_: int) -> dict[str, Any]:
    """The engine's per-user frame: `Channel-Presence-ID` is the Webitel login the channel
    belongs to (what the browser library matches on)."""
    src = {**headers, "Channel-Presence-ID": login}
    frame: dict[str, Any] = {"webitel-event-name": "call"}
    for key in CALL_KEYS:
        value = src.get(key)
        if value is None and key in _ALIASES:
            value = src.get(_ALIASES[key])
        if value is not None:
            frame[key] = value
    frame["variable_billsec"] = billsec_
    return frame


def server_frame(headers: dict[str, str]) -> dict[str, Any]:
    """A subscribed `SE:*` frame: the whole event, `Event-Name` renamed in place."""
    frame: dict[str, Any] = dict(headers)
    frame["Event-Name"] = f"SE:{headers['Event-Name']}"
    frame["webitel-event-name"] = "server"
    return frame
