"""Store changes -> Kazoo 4.3 call events as blackhole sends them (reference A.5-A.7): which
events a change is, and each event's normalized `data` (lower-case keys, `_` for `-`, no empty
values, Gregorian `timestamp`, `custom_channel_vars` sorted by key)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

from gateway.directory import Directory
from gateway.model import Channel, State
from gateway.store import Change, ChangeKind

from .envelope import gregorian

CREATE = "CHANNEL_CREATE"
ANSWER = "CHANNEL_ANSWER"
BRIDGE = "CHANNEL_BRIDGE"
HOLD = "CHANNEL_HOLD"
UNHOLD = "CHANNEL_UNHOLD"
DESTROY = "CHANNEL_DESTROY"
PARKED = "PARK_PARKED"
RETRIEVED = "PARK_RETRIEVED"
ABANDONED = "PARK_ABANDONED"

#: Every event a `call.<EVENT>.<CALL_ID>` binding may name, in bh_call's order (`call.*.*`
#: expands to one binding per event, 9 in all).
EVENTS = (CREATE, ANSWER, DESTROY, HOLD, UNHOLD, BRIDGE, PARKED, RETRIEVED, ABANDONED)

_WITH_ADDRESSES = (CREATE, ANSWER, DESTROY)
_PARK = (PARKED, RETRIEVED, ABANDONED)


def events_of(change: Change, bridged_to: dict[str, str]) -> Iterator[str]:
    """The call events one store change stands for, in the order Kazoo would publish them.
    `bridged_to` (channel id -> the peer its BRIDGE named) is kept up to date here, so a
    bridge is announced once however many changes it took to get there."""
    ch, before = change.channel, change.before
    if ch is None:
        return
    if change.kind is ChangeKind.ADDED:
        yield CREATE
        if ch.parked:
            yield PARKED
    elif change.kind is ChangeKind.UPDATED:
        if "answered" in before and not before["answered"] and ch.answered:
            yield ANSWER
        if ch.bridged and bridged_to.get(ch.id) != ch.other_leg:
            bridged_to[ch.id] = ch.other_leg
            yield BRIDGE
        if "held" in before:
            yield UNHOLD if before["held"] else HOLD
        if "parked" in before:
            if not before["parked"]:
                yield PARKED
            else:  # a parked leg that hangs up was abandoned there, not retrieved
                yield ABANDONED if ch.state is State.HUNGUP else RETRIEVED
    elif change.kind is ChangeKind.REMOVED:
        bridged_to.pop(ch.id, None)
        if ch.parked:
            yield ABANDONED
        yield DESTROY


def encode_call_id(call_id: str) -> str:
    """kz_amqp_util:encode/1: keeps [A-Za-z0-9-~_], space -> +, anything else -> %XX."""
    out = []
    for byte in call_id.encode():
        c = chr(byte)
        if c.isascii() and (c.isalnum() or c in "-~_"):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _at(user: str, realm: str) -> str:
    return f"{user}@{realm}" if user and realm else user


def _call_state(ch: Channel, name: str) -> str:
    if name == DESTROY:
        return "HANGUP"
    if ch.callstate:
        return ch.callstate
    return {State.RINGING: "RINGING", State.EARLY: "EARLY", State.ANSWERED: "ACTIVE",
            State.HELD: "HELD", State.PARKED: "ACTIVE", State.HUNGUP: "HANGUP"}[ch.state]


def _channel_state(ch: Channel, name: str) -> str:
    if name == DESTROY:
        return "DESTROY"
    if ch.switch_state.startswith("CS_"):
        return ch.switch_state[3:]
    if ch.state is State.HUNGUP:
        return "HANGUP"
    return "EXECUTE" if ch.answered else "ROUTING"


def _realm(ch: Channel, directory: Directory) -> str:
    """The leg's SIP realm, else its account's (an Asterisk leg has none of its own)."""
    if ch.realm:
        return ch.realm.lower()
    account = directory.account(ch.account_id) if ch.account_id else None
    return account.realm.lower() if account is not None else ""


def custom_channel_vars(ch: Channel, directory: Directory, name: str) -> dict[str, Any]:
    """The CCVs Kazoo's ecallmgr sets on a leg it authorized, as FreeSWITCH strings."""
    reseller = directory.reseller_of(ch.account_id) if ch.account_id else None
    ccv: dict[str, Any] = {
        "account_id": ch.account_id,
        "authorizing_id": ch.authorizing_id,
        "authorizing_type": ch.authorizing_type,
        "channel_authorized": "true" if ch.authorizing_id else "",
        "owner_id": ch.owner_id,
        "presence_id": ch.presence_id,
        "realm": _realm(ch, directory),
        "reseller_id": reseller.id if reseller is not None else "",
        "username": ch.username.lower(),
    }
    if name == DESTROY or name in _PARK:
        ccv["call_interaction_id"] = ch.call_id
    return {k: ccv[k] for k in sorted(ccv) if ccv[k] != ""}


def event_data(name: str, ch: Channel, directory: Directory, node_type: str,
               peer: Channel | None = None, at: float | None = None) -> dict[str, Any]:
    """The normalized `data` of one call event about `ch` (`peer` is its other leg)."""
    at = time.time() if at is None else at
    if name in _PARK:
        return _park_data(name, ch, directory)
    realm = _realm(ch, directory)
    data: dict[str, Any] = {
        "app_name": "ecallmgr",
        "app_version": "4.0.0",
        "call_direction": ch.direction,
        "call_id": ch.id,
        "callee_id_name": ch.callee_name,
        "callee_id_number": ch.callee_number,
        "caller_id_name": ch.caller_id_name,
        "caller_id_number": ch.caller_id_number,
        "channel_call_state": _call_state(ch, name),
        "channel_created_time": int((ch.created or at) * 1_000_000),
        "channel_loopback_bowout": False,
        "channel_loopback_bowout_execute": False,
        "channel_name": ch.name,
        "channel_state": _channel_state(ch, name),
        "custom_application_vars": {},
        "custom_channel_vars": custom_channel_vars(ch, directory, name),
        "custom_sip_headers": {},
        "event_category": "call_event",
        "event_name": name,
        "media_server": ch.hostname,
        "msg_id": str(int(at * 1_000_000)),
        "other_leg_call_id": ch.other_leg,
        "presence_id": ch.presence_id,
        "switch_hostname": ch.hostname,
        "switch_nodename": f"{node_type}@{ch.hostname}" if node_type and ch.hostname else "",
        "timestamp": gregorian(at),
    }
    if ch.name.startswith("loopback/"):
        data["channel_is_loopback"] = True
    if ch.answered:
        data["disposition"] = "ANSWER"
    if name == BRIDGE and peer is not None:
        data.update(other_leg_caller_id_name=peer.caller_id_name,
                    other_leg_caller_id_number=peer.caller_id_number,
                    other_leg_destination_number=peer.destination,
                    other_leg_direction=peer.direction)
    if name == DESTROY:
        answered_at = ch.answered_at or (0.0 if not ch.answered else ch.created)
        created = ch.created or at
        data.update(
            hangup_cause=ch.hangup_cause or "NORMAL_CLEARING",
            duration_seconds=max(0, int(at - created)),
            billing_seconds=max(0, int(at - answered_at)) if answered_at else 0,
            ringing_seconds=max(0, int((answered_at or at) - created)),
        )
    out = {k: v for k, v in data.items() if v != "" and v is not None}
    if name in _WITH_ADDRESSES:
        to = _at(ch.destination, realm)
        source = _at(ch.caller_id_number or ch.username, realm)
        # Monster's demo app reads `to` on every CREATE/ANSWER/DESTROY: always present
        out["to"] = to
        out["to_uri"] = to
        out["request"] = to
        if source:
            out["from"] = source
        if ch.username:
            out["from_uri"] = _at(ch.username.lower(), realm)
    return out


def _park_data(name: str, ch: Channel, directory: Directory) -> dict[str, Any]:
    """cf_park's own event: no `timestamp`, a random `msg_id`, CCVs plus `realm`."""
    parking = ch.application.lower() in ("park", "valet_park") and ch.application_data.strip()
    slot = ch.application_data.split()[-1] if parking else ""  # unknown: left out
    data = {
        "app_name": "callflow",
        "app_version": "4.0.0",
        "call_id": ch.id,
        "callee_id_name": ch.callee_name,
        "callee_id_number": ch.callee_number,
        "caller_id_name": ch.caller_id_name,
        "caller_id_number": ch.caller_id_number,
        "custom_channel_vars": custom_channel_vars(ch, directory, name),
        "event_category": "call_event",
        "event_name": name,
        "msg_id": secrets.token_hex(16),
        "parking_slot": slot,
    }
    return {k: v for k, v in data.items() if v != ""}
