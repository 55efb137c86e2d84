"""Which FreeSWITCH channel events a store change stands for: the store publishes field
changes, a FreeSWITCH client expects CHANNEL_CREATE ... CHANNEL_DESTROY."""

from __future__ import annotations

from typing import Any

from gateway.model import Channel, State
from gateway.store import Change, ChangeKind

from ..render import callstate

#: the `SE:*` names the engine registers (events.js); only the SE:CHANNEL_* ones are produced
#: here, the others are accepted so that a client subscribing to them is answered as before.
REGISTERED = frozenset({
    "SE:CHANNEL_CREATE", "SE:CHANNEL_DESTROY", "SE:CHANNEL_CALLSTATE", "SE:CHANNEL_STATE",
    "SE:CHANNEL_ANSWER", "SE:CHANNEL_HANGUP_COMPLETE", "SE:CHANNEL_HANGUP", "SE:CHANNEL_HOLD",
    "SE:CHANNEL_UNHOLD", "SE:CHANNEL_BRIDGE", "SE:CHANNEL_UNBRIDGE", "SE:DTMF", "SE:HEARTBEAT",
    "SE::BROADCAST", "CC::AGENT-OFFERING", "CC::BRIDGE-AGENT-START", "CC::MEMBER-QUEUE-RESUME",
    "CC::BRIDGE-AGENT-END", "CC::BRIDGE-AGENT-FAIL", "CC::MEMBERS-COUNT",
    "CC::MEMBER-QUEUE-START", "CC::MEMBER-QUEUE-END", "CC::AGENT-STATUS-CHANGE",
    "CC::AGENT-STATE-CHANGE", "DC::CHANGE_STATE",
})
_CALLSTATES = {State.RINGING: "RINGING", State.EARLY: "EARLY", State.ANSWERED: "ACTIVE",
               State.HELD: "HELD", State.PARKED: "ACTIVE", State.HUNGUP: "HANGUP"}


def _was(ch: Channel, before: dict[str, Any], name: str) -> Any:
    return before[name] if name in before else getattr(ch, name)


def _was_bridged(ch: Channel, before: dict[str, Any]) -> bool:
    """`Channel.bridged` of the channel as it was before the change."""
    return (bool(_was(ch, before, "other_leg")) and bool(_was(ch, before, "answered"))
            and _was(ch, before, "state") is not State.HUNGUP)


def _old_callstate(ch: Channel, before: dict[str, Any]) -> str:
    if before.get("callstate"):
        return str(before["callstate"])
    return ch.callstate or _CALLSTATES[_was(ch, before, "state")]


def _hangup(ch: Channel) -> list[tuple[str, str]]:
    return [("CHANNEL_HANGUP", ""), ("CHANNEL_HANGUP_COMPLETE", "")]


def channel_events(change: Change, ch: Channel) -> list[tuple[str, str]]:
    """(FreeSWITCH event name, the call state before it for CALLSTATE) in FreeSWITCH's order;
    `ch` is the channel as the change left it."""
    if change.kind is ChangeKind.ADDED:
        return [("CHANNEL_CREATE", "")]
    if change.kind is ChangeKind.REMOVED:
        gone = [] if ch.state is State.HUNGUP else _hangup(ch)
        return [*gone, ("CHANNEL_DESTROY", "")]
    before = change.before
    out: list[tuple[str, str]] = []
    if "answered" in before and not before["answered"]:
        out.append(("CHANNEL_ANSWER", ""))
    if "held" in before and ch.state is not State.HUNGUP:
        out.append(("CHANNEL_UNHOLD", "") if before["held"] else ("CHANNEL_HOLD", ""))
    was, now = _was_bridged(ch, before), ch.bridged
    if now and not was:
        out.append(("CHANNEL_BRIDGE", ""))
    hungup = "state" in before and ch.state is State.HUNGUP
    if hungup:
        out.append(("CHANNEL_HANGUP", ""))
    if was and not now:
        out.append(("CHANNEL_UNBRIDGE", ""))
    if "switch_state" in before:
        out.append(("CHANNEL_STATE", ""))
    if "callstate" in before or "state" in before:
        old = _old_callstate(ch, before)
        if old != callstate(ch):
            out.append(("CHANNEL_CALLSTATE", old))
    if hungup:
        out.append(("CHANNEL_HANGUP_COMPLETE", ""))
    return out
