"""Channel -> call-flow-control call object, in the three generations' shapes.

`/call/list` is what every agent desk polls, so its rows are kept serialized (`rows`) and a
list is spliced from them. A row depends on more than its channel: on the bridged peer (whose
assignment makes the call the agent's) and on the dialect's own call state, so the cache key
holds every such input (see `row`).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from operator import attrgetter
from typing import Any

from gateway.context import Gateway
from gateway.model import Channel, State
from gateway.render_cache import RenderCache, keep_list
from gateway.watch import Watch

from .auth import Agent
from .calls import Calls, CallState

#: The seed's older vocabulary for `/call/state` (its example answers "answered").
LEGACY_STATUS = {CallState.SPEAKING: "answered", CallState.TRANSFERRED: "bridged",
                 CallState.PARKED: "on hold"}

_ARRIVAL = attrgetter("created", "id")

Row = tuple[CallState, bytes]


class _Listing:
    """An organization's list as last rendered, with the dialect's marks it was rendered under
    (`Calls.generation`) and the store's watch (gateway/watch.py) on what else it was made
    from: the account's bucket and legs, and the peers outside the account that those legs
    are bridged to."""

    __slots__ = ("generation", "rows", "watch")

    def __init__(self, generation: int, rows: list[Row], watch: Watch) -> None:
        self.generation = generation
        self.rows = rows
        self.watch = watch


class View:
    """Renders channels with the dialect's assignment state applied."""

    def __init__(self, gw: Gateway, calls: Calls) -> None:
        self.gw = gw
        self.calls = calls
        self.rows: RenderCache[tuple[CallState, bytes]] = RenderCache(None, gw.store)
        self._lists: dict[str, _Listing] = {}

    def listing(self, agent: Agent) -> list[Row]:
        """Every row of `calls_of(agent)`, in order: what `/call/list` and `/call/queue` send,
        polled by every desk. Kept whole per organization while nothing it is made of has
        changed: the marks' generation compared and the store's watch read, not a stamp per
        row."""
        store, calls = self.gw.store, self.calls
        account = agent.account_id
        memo = self._lists.get(account)
        if memo is not None and memo.generation == calls.generation and memo.watch.fresh:
            return memo.rows
        generation = calls.generation
        rows = [self.row(c) for c in self.calls_of(agent)]
        # rendering may note a bridge (a mark), so what it was made of is read afterwards
        if calls.generation != generation:
            return rows  # kept on the next poll, once the marks stand
        bucket = store.bucket("account_id", account)
        ids = [*bucket, *(c.other_leg for c in bucket.values()
                          if c.other_leg and c.other_leg not in bucket)]
        watch = store.watch(Watch(), ids, [("account_id", account)])
        keep_list(self._lists, account, _Listing(generation, rows, watch))
        return rows

    def owner(self, ch: Channel) -> int | None:
        return self.calls.owner(ch, self.gw.store.peer(ch))

    def row(self, ch: Channel) -> tuple[CallState, bytes]:
        """The call's state and its JSON object as `json.dumps` writes it, cached under
        everything the object is made of: the channel's and its peer's versions, and the
        dialect's assignment, moving, transferred and agent-phone marks of both legs. The
        directory is fixed for the gateway's life, and nothing in a row reads the clock."""
        calls = self.calls
        cid = ch.id
        assigned = calls.assigned.get
        stamp: Hashable = (ch.version, assigned(cid), cid in calls.moving,
                           cid in calls.transferred, cid in calls.agent_legs)
        peer = self.gw.store.peer(ch) if ch.other_leg else None
        if peer is not None:
            stamp = (stamp, peer.version, assigned(peer.id))
        hit = self.rows.lookup(ch, stamp)
        if hit is None:
            call = self.call(ch)
            hit = self.rows.put(ch, stamp, (call["state"], json.dumps(call).encode()))
        return hit

    def state(self, ch: Channel) -> CallState:
        return self.calls.state(ch, self.owner(ch))

    def visible(self, agent: Agent, call_id: str | None) -> Channel | None:
        """A live leg of the agent's organization; anything else is answered as unknown, so a
        foreign id reveals nothing."""
        ch = self.gw.store.get(call_id) if call_id else None
        if ch is None or ch.account_id != agent.account_id or ch.state == State.HUNGUP:
            return None
        return ch

    def calls_of(self, agent: Agent) -> list[Channel]:
        """The organization's live legs, oldest first (the order `/call/list` and the FIFO
        pickup rely on)."""
        hungup = State.HUNGUP
        live = [c for c in self.gw.store.by_account(agent.account_id) if c.state != hungup]
        return sorted(live, key=_ARRIVAL)

    def organization_id(self, ch: Channel) -> int:
        account = self.gw.directory.account(ch.account_id)
        return account.number if account is not None else 0

    def call(self, ch: Channel, *, removed: bool = False) -> dict[str, Any]:
        owner = self.owner(ch)
        is_call = self.calls.is_call(ch, owner)
        org = self.organization_id(ch)
        reception = self.calls.reception_id(ch) or (org if is_call else 0)
        return {
            "id": ch.id,
            "state": CallState.HUNGUP if removed else self.calls.state(ch, owner),
            "b_leg": ch.other_leg or None,
            "inbound": ch.direction == "inbound",
            "is_call": is_call,
            "destination": ch.destination,
            "caller_id": ch.caller_id_number,
            "greeting_played": ch.var("callgate_greeting_played") in ("true", "1", "yes"),
            "reception_id": reception,
            "organization_id": org,
            "assigned_to": owner,
            "channel": ch.id,
            "arrival_time": str(int(ch.created)),
        }

    def legacy(self, ch: Channel, status: str | None = None) -> dict[str, Any]:
        """The seed's `{"call_id", "status", "type": "cm_id", "callee"}` shape."""
        state = self.state(ch)
        return {
            "call_id": ch.id,
            "status": status or LEGACY_STATUS.get(state, state),
            "type": "cm_id",
            "callee": _number(ch.destination or ch.callee_number),
            "state": state,
        }


def _number(value: str) -> int | str:
    """The seed shows callees as integers; keep strings that an integer would corrupt."""
    if value.isdigit() and not value.startswith("0") and len(value) < 16:
        return int(value)
    return value
