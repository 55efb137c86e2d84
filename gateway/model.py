"""The normalized channel: one record per switch call leg, whatever the switch.

Slots keep a channel to a few hundred bytes so that 100,000 live legs fit in memory; empty
fields share the one empty string. Switch-specific columns that a dialect must echo verbatim
(FreeSWITCH's `show channels` row for Webitel) live here too, so no dialect asks the switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import NamedTuple


class State(StrEnum):
    """One normalized call state across switches."""

    RINGING = "ringing"
    EARLY = "early"
    ANSWERED = "answered"
    HELD = "held"
    PARKED = "parked"
    HUNGUP = "hungup"


class Waiting(StrEnum):
    """What a leg waits in, as the switch's running application says (mapped by each backend
    from its own application names), so no dialect reads a switch's vocabulary."""

    NONE = ""
    QUEUE = "queue"  # a call queue: FS mod_fifo/mod_callcenter, Asterisk Queue
    PARK = "park"  # a parking lot a desk picks calls up from (FS valet_park)
    GREETING = "greeting"  # a prompt played before the caller is queued (playback, speak...)


def derive_state(*, hungup: bool, held: bool, parked: bool, answered: bool,
                 early: bool) -> State:
    """The one normalized state, by hungup > held > parked > answered > early > ringing, for
    every backend and for events and snapshots alike, so a channel reads the same however it
    was learnt. Hangup is final. Held beats parked: a held leg hears hold music wherever it
    sits, and the holder is the one who can take it back. Parked beats answered (a parked leg
    is up but waiting for a pickup, not talking), and also beats ringing and early: a leg
    parked before it was answered is still waiting in the park, not ringing anyone."""
    if hungup:
        return State.HUNGUP
    if held:
        return State.HELD
    if parked:
        return State.PARKED
    if answered:
        return State.ANSWERED
    return State.EARLY if early else State.RINGING


class Initial(NamedTuple):
    """How the leg started, as FreeSWITCH keeps it (its `initial_*` channel columns): what a
    transfer or a dialplan rewrite later changes stays readable here (the DID a caller dialed).
    Asterisk legs fill what their first event tells."""

    cid_name: str = ""  # initial_cid_name
    cid_num: str = ""  # initial_cid_num
    ip_addr: str = ""  # initial_ip_addr
    dest: str = ""  # initial_dest
    dialplan: str = ""  # initial_dialplan
    context: str = ""  # initial_context


#: Fields that feed attribution: a change to any of them re-attributes the channel.
ATTRIBUTION_INPUTS = frozenset(
    {"variables", "username", "realm", "destination", "accountcode", "name", "call_id",
     "other_leg", "initial"}
)

#: Fields the store indexes on, in the order of `ChannelStore` index names.
INDEXED = ("account_id", "owner_id", "authorizing_id", "node", "call_id")


@dataclass(slots=True, eq=False)
class Channel:
    """A live call leg, keyed by the switch's own unique id (FS Unique-ID, Asterisk Uniqueid)."""

    id: str
    node: str
    name: str = ""
    direction: str = "inbound"  # as the switch sees it
    state: State = State.RINGING
    answered: bool = False
    created: float = 0.0  # unix seconds
    answered_at: float = 0.0  # 0 = not answered
    caller_id_number: str = ""
    caller_id_name: str = ""
    destination: str = ""  # dialed number / extension
    callee_number: str = ""
    callee_name: str = ""
    other_leg: str = ""  # bridged peer id
    call_id: str = ""  # groups the legs of one call (FS Channel-Call-UUID, Asterisk Linkedid)
    context: str = ""
    dialplan: str = ""
    application: str = ""
    application_data: str = ""
    read_codec: str = ""
    read_rate: str = ""
    write_codec: str = ""
    write_rate: str = ""
    ip_addr: str = ""
    presence_id: str = ""
    presence_data: str = ""
    accountcode: str = ""
    hangup_cause: str = ""
    held: bool = False
    parked: bool = False
    # switch-native detail, echoed by dialects that speak the switch's own vocabulary
    switch_state: str = ""  # FS CS_EXECUTE, Asterisk ChannelStateDesc
    callstate: str = ""  # FS RINGING/EARLY/ACTIVE/HELD
    hostname: str = ""
    secure: str = ""
    callee_direction: str = ""
    sent_callee_name: str = ""  # FS: what this leg's phone was told it is talking to
    sent_callee_number: str = ""
    initial: Initial | None = None  # None: the switch told nothing of how the leg started
    # attribution inputs
    username: str = ""  # SIP username of the endpoint
    realm: str = ""  # SIP domain
    gateway: str = ""  # trunk/provider the leg goes through
    variables: dict[str, str] | None = None  # only the attribution/control variables we keep
    # attribution (set by the directory)
    account_id: str = ""
    owner_id: str = ""
    authorizing_id: str = ""
    authorizing_type: str = ""
    agent_id: str = ""
    # bumped by the store on every change it applies, unique across channels: a rendering made
    # at one version is still exact while the version is (gateway/render_cache.py)
    version: int = field(default=0, compare=False)
    waiting: Waiting = Waiting.NONE  # from the running application (backends map the names)

    def __post_init__(self) -> None:
        if self.initial is not None and type(self.initial) is not Initial:
            # a plain 6-tuple in FreeSWITCH's column order is accepted, and named
            self.initial = Initial(*self.initial) if self.initial else None

    @property
    def bridged(self) -> bool:
        """Talking to a peer: the one definition every dialect uses. A ringing B-leg already
        names its A-leg but is not bridged yet; a held leg stays bridged (hold keeps the
        bridge, and unhold returns to it)."""
        return bool(self.other_leg) and self.answered and self.state is not State.HUNGUP

    def var(self, name: str, default: str = "") -> str:
        v = self.variables
        return v.get(name, default) if v else default


CHANNEL_FIELDS = frozenset(f.name for f in fields(Channel))
