"""What call-flow-control knows about a call beyond the switch's channel: who it is assigned to,
each agent's current call, pending transfers; and the protocol state derived from both.

The channel store is the truth for media state; assignment is this dialect's own state (the
original kept it in a user->call map too), cleared when the channel goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, MutableSet
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.directory import Directory
from gateway.model import Channel, State, Waiting


class CallState(StrEnum):
    """A call's state on the wire (`state` of a call object, the notifications' transitions)."""

    CREATED = "created"  # only as the old state of a call first seen (notifications)
    QUEUED = "queued"
    PARKED = "parked"
    SPEAKING = "speaking"
    TRANSFERRING = "transferring"
    TRANSFERRED = "transferred"
    RINGING = "ringing"
    HUNGUP = "hungup"
    UNKNOWN = "unknown"


#: Waiting in a queue or a parking lot the desks pick up from: a caller for the receptionists.
RECEPTION_WAITS = frozenset({Waiting.QUEUE, Waiting.PARK})


class Marks(MutableSet[str]):
    """Channel ids of one of the dialect's marks; every change counts in `Calls.generation`,
    so that a whole list rendered from them is known to hold while the generation stands.
    Every other mutation (`remove`, `pop`, `clear`, `|=`, `-=`...) is the `MutableSet` mixin's,
    made of `add` and `discard`, so none can bypass the count."""

    __slots__ = ("_ids", "_owner")

    def __init__(self, owner: Calls, ids: Iterable[str] = ()) -> None:
        self._owner = owner
        self._ids = set(ids)

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, item: str) -> None:
        if item not in self._ids:
            self._ids.add(item)
            self._owner.generation += 1

    def discard(self, item: str) -> None:
        if item in self._ids:
            self._ids.discard(item)
            self._owner.generation += 1


class Assignments(MutableMapping[str, int]):
    """The assignment map (shared by every instance with Redis) with each local change counted
    in `Calls.generation`; a change made by another instance is counted by `Calls.remote`."""

    def __init__(self, owner: Calls, inner: MutableMapping[str, int]) -> None:
        self._owner = owner
        self._inner = inner

    def __getitem__(self, key: str) -> int:
        return self._inner[key]

    def __setitem__(self, key: str, value: int) -> None:
        self._inner[key] = value
        self._owner.generation += 1

    def __delitem__(self, key: str) -> None:
        del self._inner[key]
        self._owner.generation += 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._inner)

    def __len__(self) -> int:
        return len(self._inner)

    def __contains__(self, key: object) -> bool:
        return key in self._inner

    def get(self, key: str, default: Any = None) -> Any:  # the inner map's, without a KeyError
        return self._inner.get(key, default)


@dataclass
class Calls:
    """Per-gateway call-flow-control call state (part of `CallflowState`)."""

    directory: Directory
    # channel id -> agent number; shared by every gateway instance
    assigned: MutableMapping[str, int] = field(default_factory=dict)
    current: dict[int, str] = field(default_factory=dict)  # agent number -> channel id
    transfers: set[frozenset[str]] = field(default_factory=set)  # requested bridges
    transferred: MutableSet[str] = field(default_factory=set)  # legs bridged by a transfer
    agent_legs: MutableSet[str] = field(default_factory=set)  # agents' own phone legs (originate)
    moving: MutableSet[str] = field(default_factory=set)  # picked up, not yet bridged to the agent
    #: counts every change of `assigned` and the mark sets (a row reads nothing else of ours)
    generation: int = 0

    def __post_init__(self) -> None:
        self.assigned = Assignments(self, self.assigned)
        self.transferred = Marks(self, self.transferred)
        self.agent_legs = Marks(self, self.agent_legs)
        self.moving = Marks(self, self.moving)

    def remote(self) -> None:
        """Another instance changed the shared assignment map."""
        self.generation += 1

    # ------------------------------------------------------------ assignment
    def assign(self, channel_id: str, agent: int) -> None:
        self.assigned[channel_id] = agent
        self.current[agent] = channel_id

    def release(self, channel_id: str) -> None:
        """Forget a channel that is gone."""
        self.assigned.pop(channel_id, None)
        for agent_no, cid in list(self.current.items()):
            if cid == channel_id:
                del self.current[agent_no]
        self.transferred.discard(channel_id)
        self.agent_legs.discard(channel_id)
        self.moving.discard(channel_id)
        self.transfers = {p for p in self.transfers if channel_id not in p}

    def direct_owner(self, ch: Channel) -> int | None:
        agent = self.assigned.get(ch.id)
        if agent is not None:
            return agent
        if ch.agent_id.isdigit():  # a channel variable set by us (or another gateway instance)
            user = self.directory.user_by_number(int(ch.agent_id))
            if user is not None and user.account == ch.account_id:
                return user.number
        return None

    def owner(self, ch: Channel, peer: Channel | None) -> int | None:
        """The agent holding the call: its own assignment, or its bridged peer's (the far leg
        of an agent's call is the agent's too, as the original copied owner across a bridge)."""
        agent = self.direct_owner(ch)
        if agent is None and peer is not None:
            agent = self.direct_owner(peer)
        return agent

    # ------------------------------------------------------------- derivation
    def reception_id(self, ch: Channel) -> int:
        value = ch.var("callgate_reception_id")
        if value.isdigit():
            return int(value)
        return 0

    def is_reception(self, ch: Channel) -> bool:
        """A caller for the receptionists: dialled a DID, or the dialplan marked it queued."""
        if ch.var("callgate_reception_id") or ch.var("callgate_queue"):
            return True
        if ch.waiting in RECEPTION_WAITS:
            return True
        return ch.direction == "inbound" and bool(ch.destination) and \
            self.directory.did(ch.destination) is not None

    def is_agent_phone(self, ch: Channel, agent: int | None) -> bool:
        if ch.id in self.agent_legs:
            return True
        if agent is None or not ch.owner_id:
            return False
        user = self.directory.user(ch.owner_id)
        return user is not None and user.number == agent and ch.direction == "outbound"

    def is_call(self, ch: Channel, owner: int | None) -> bool:
        if self.is_reception(ch):
            return True
        if self.direct_owner(ch) is not None:
            return True
        return owner is not None and not self.is_agent_phone(ch, owner)

    def locked(self, ch: Channel, owner: int | None) -> bool:
        """Still hearing the greeting before the queue: not yet available for pickup."""
        return owner is None and ch.waiting is Waiting.GREETING and self.is_reception(ch) \
            and ch.state != State.HUNGUP

    def state(self, ch: Channel, owner: int | None) -> CallState:
        if ch.state == State.HUNGUP:
            return CallState.HUNGUP
        talking = ch.bridged and not ch.held  # a held leg is parked, however bridged
        if ch.id in self.moving and not talking:
            return CallState.TRANSFERRING  # leaving the queue or the parking lot for an agent
        if talking:
            return CallState.TRANSFERRED if ch.id in self.transferred else CallState.SPEAKING
        reception = self.is_reception(ch)
        if ch.parked or ch.held or ch.state in (State.PARKED, State.HELD):
            return CallState.QUEUED if owner is None and reception else CallState.PARKED
        if owner is None and reception:
            return CallState.QUEUED
        if owner is not None and ch.direction == "inbound":
            return CallState.TRANSFERRING  # on its way to the agent's phone
        if ch.state in (State.RINGING, State.EARLY) or not ch.answered:
            return CallState.RINGING
        return CallState.UNKNOWN

    def note_bridge(self, ch: Channel) -> None:
        """A requested transfer that has now bridged reports `transferred`; a picked-up call
        that has reached the agent's phone is no longer moving."""
        if ch.bridged and not ch.held:
            self.moving.discard(ch.id)
        if ch.other_leg and frozenset((ch.id, ch.other_leg)) in self.transfers:
            self.transferred |= {ch.id, ch.other_leg}

