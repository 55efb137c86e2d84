"""What call-flow-control knows about a call beyond the switch's channel: who it is assigned to,
each agent's current call, pending transfers; and the protocol state derived from both.

The channel store is the truth for media state; assignment is this dialect's own state (the
original kept it in a user->call map too), cleared when the channel goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.directory import Directory
from gateway.model import Channel, State

#: Applications that mean "waiting in a queue" (FreeSWITCH mod_fifo/mod_callcenter, Asterisk).
QUEUE_APPS = frozenset({"fifo", "callcenter", "queue", "valet_park", "Queue"})
#: Applications that play the greeting before the caller is queued: the call is locked then.
GREETING_APPS = frozenset({"playback", "speak", "play_and_get_digits", "Playback"})


@dataclass
class Calls:
    """Per-gateway call-flow-control state, kept in `gw.extras["callflow.calls"]`."""

    directory: Directory
    assigned: dict[str, int] = field(default_factory=dict)  # channel id -> agent number
    current: dict[int, str] = field(default_factory=dict)  # agent number -> channel id
    transfers: set[frozenset[str]] = field(default_factory=set)  # requested bridges
    transferred: set[str] = field(default_factory=set)  # legs bridged by a transfer
    agent_legs: set[str] = field(default_factory=set)  # agents' own phone legs (originate)
    moving: set[str] = field(default_factory=set)  # picked up, not yet bridged to the agent

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
        if ch.application in QUEUE_APPS:
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
        return owner is None and ch.application in GREETING_APPS and self.is_reception(ch) \
            and ch.state != State.HUNGUP

    def state(self, ch: Channel, owner: int | None) -> str:
        if ch.state == State.HUNGUP:
            return "hungup"
        is_bridged = bridged(ch)
        if ch.id in self.moving and not is_bridged:
            return "transferring"  # leaving the queue or the parking lot for an agent
        if is_bridged:
            return "transferred" if ch.id in self.transferred else "speaking"
        reception = self.is_reception(ch)
        if ch.parked or ch.held or ch.state in (State.PARKED, State.HELD):
            return "queued" if owner is None and reception else "parked"
        if owner is None and reception:
            return "queued"
        if owner is not None and ch.direction == "inbound":
            return "transferring"  # on its way to the agent's phone
        if ch.state in (State.RINGING, State.EARLY) or not ch.answered:
            return "ringing"
        return "unknown"

    def note_bridge(self, ch: Channel) -> None:
        """A requested transfer that has now bridged reports `transferred`; a picked-up call
        that has reached the agent's phone is no longer moving."""
        if bridged(ch):
            self.moving.discard(ch.id)
        if ch.other_leg and frozenset((ch.id, ch.other_leg)) in self.transfers:
            self.transferred.update((ch.id, ch.other_leg))


def bridged(ch: Channel) -> bool:
    """Talking to its peer. A parked caller that another leg intercepted counts as bridged
    even when the switch sent no unpark for it; a held one does not."""
    return bool(ch.other_leg) and not ch.held and ch.state in (State.ANSWERED, State.PARKED)
