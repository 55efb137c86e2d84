"""The agent's commands (pickup, park, hangup, originate, transfer) with the original's rules,
mapped onto `gw.control` so they run on FreeSWITCH and Asterisk alike.

Pickup rings the agent's phone and lets it intercept the caller (`Control.intercept`), as the
Dart successor did, rather than `uuid_transfer <uuid> <peer>` as the Ada original did: a
transfer rewrites the caller's dialled number, which is what ties a carrier call to its
organization (the DID), so the call would drop out of the agent's view once parked. Intercept
keeps the caller's channel untouched; how a switch joins a ringing, queued or parked caller
to the phone is the backend's business, not the dialect's.
"""

from __future__ import annotations

import uuid
from typing import Any

from gateway.context import Gateway
from gateway.control import CommandError, Endpoint, NotFound, Rejected
from gateway.model import Channel, State

from .auth import Agent
from .calls import Calls, CallState
from .errors import (
    UNHANDLED,
    CallflowError,
    bad_parameters,
    belongs_to,
    from_command,
    not_assigned,
    not_found,
)
from .notify import Notifier
from .render import View

GONE = "At least one of the calls were no longer available"
NOT_ANSWERED = "Destination has not answered yet"


class Commands:
    def __init__(self, gw: Gateway, calls: Calls, view: View, notifier: Notifier,
                 originate_timeout: float) -> None:
        self.gw = gw
        self.calls = calls
        self.view = view
        self.notifier = notifier
        self.originate_timeout = originate_timeout

    # ------------------------------------------------------------- lookups
    def check_owner(self, agent: Agent, ch: Channel, *, admin: bool = False) -> None:
        owner = self.view.owner(ch)
        if owner == agent.number or (admin and agent.is_admin):
            return
        if owner is None:
            raise not_assigned(ch.id)
        raise belongs_to(ch.id, owner)

    def held_by(self, agent: Agent) -> Channel | None:
        """The call the agent is on: for its own phone leg, the party at the other end."""
        ch = self.view.visible(agent, self.calls.current.get(agent.number))
        if ch is None:
            return None
        if ch.id in self.calls.agent_legs:
            peer = self.gw.store.peer(ch)
            return self.view.visible(agent, peer.id) if peer is not None else None
        return ch

    def _gone(self, channel_id: str) -> bool:
        ch = self.gw.store.get(channel_id)
        return ch is None or ch.state == State.HUNGUP

    # ------------------------------------------------------------- commands
    async def implicit_park(self, agent: Agent, keep: str = "") -> None:
        """Park the agent's current call before it takes another, as the original did."""
        ch = self.held_by(agent)
        if ch is None or ch.id == keep or \
                self.view.state(ch) in (CallState.PARKED, CallState.QUEUED):
            return
        self.calls.moving.discard(ch.id)
        try:
            await self.gw.control.park(ch.id)
        except CommandError:
            pass  # the call went or the switch refused: the new command still proceeds
        self.calls.current.pop(agent.number, None)
        self.notifier.touch(ch.id)

    def next_call(self, agent: Agent) -> Channel | None:
        for ch in self.view.calls_of(agent):
            owner = self.view.owner(ch)
            if owner is None and ch.direction == "inbound" and self.calls.is_call(ch, None) \
                    and self.view.state(ch) == CallState.QUEUED and not self.calls.locked(ch, None):
                return ch
        return None

    async def pickup(self, agent: Agent, call_id: str | None) -> dict[str, Any]:
        if not agent.extension:
            raise bad_parameters("User has no peer unavailable")
        ch: Channel | None = None
        if call_id is not None:
            ch = self.view.visible(agent, call_id)
            if ch is None:
                raise not_found(f"Call not found {call_id}")
            owner = self.view.owner(ch)
            if owner is not None and owner != agent.number:
                raise belongs_to(ch.id, owner)
            if not self.calls.is_call(ch, owner):
                raise bad_parameters("Call is not available to user.")
            if self.calls.locked(ch, owner):
                ch = None  # as the original: a locked call gives way to the next free one
        if ch is None:
            ch = self.next_call(agent)
            if ch is None:
                raise not_found("No call available.")
        if self.view.owner(ch) == agent.number and self.view.state(ch) == CallState.SPEAKING:
            return {**self.view.call(ch), "status": "ok"}
        await self.implicit_park(agent, keep=ch.id)
        previous = self.calls.assigned.get(ch.id)
        self.calls.assign(ch.id, agent.number)
        self.calls.moving.add(ch.id)
        self.notifier.touch(ch.id)
        phone = str(uuid.uuid4())
        self.calls.agent_legs.add(phone)
        try:  # ring the agent's phone and join it to the caller, on the caller's switch
            await self.gw.control.intercept(
                ch.id, Endpoint("device", agent.extension, agent.realm), channel_id=phone,
                variables={"callgate_agent_id": str(agent.number)})
        except CommandError as exc:
            self.calls.agent_legs.discard(phone)
            self._undo(ch.id, agent, previous)
            raise self._failed(exc, ch.id, f"Call not found {ch.id}") from None
        return {**self.view.call(ch), "status": "ok"}

    def _undo(self, channel_id: str, agent: Agent, previous: int | None) -> None:
        self.calls.moving.discard(channel_id)
        if previous is None:
            self.calls.assigned.pop(channel_id, None)
        else:
            self.calls.assigned[channel_id] = previous
        if self.calls.current.get(agent.number) == channel_id:
            del self.calls.current[agent.number]
        self.notifier.touch(channel_id)

    def _failed(self, exc: CommandError, channel_id: str, missing: str) -> CallflowError:
        """A call that hung up while the command was in flight is "not found", not a failure."""
        if isinstance(exc, Rejected | NotFound) and self._gone(channel_id):
            return not_found(missing)
        return from_command(exc, missing)

    async def park(self, agent: Agent, ch: Channel) -> None:
        self.check_owner(agent, ch)
        self.calls.moving.discard(ch.id)
        try:
            await self.gw.control.park(ch.id)
        except CommandError as exc:
            raise self._failed(exc, ch.id, f"{ch.id} does not exist.") from None
        if self.calls.current.get(agent.number) in (ch.id, *self._agent_leg_of(ch)):
            del self.calls.current[agent.number]
        self.notifier.touch(ch.id)

    def _agent_leg_of(self, ch: Channel) -> tuple[str, ...]:
        return (ch.other_leg,) if ch.other_leg in self.calls.agent_legs else ()

    async def hangup(self, agent: Agent, ch: Channel) -> None:
        self.check_owner(agent, ch, admin=True)
        try:
            await self.gw.control.hangup(ch.id)
        except CommandError as exc:
            raise self._failed(exc, ch.id, f"{ch.id} may already be hung up.") from None

    def check_reception(self, agent: Agent, reception_id: int) -> None:
        """A reception is an organization: only the agent's own may be named (another's, or
        one that does not exist, is the same 404, and no call is placed)."""
        account = self.gw.directory.account(agent.account_id)
        if account is None or account.number != reception_id:
            raise not_found(f"Reception {reception_id} not found.")

    async def originate(self, agent: Agent, extension: str, reception_id: int,
                        contact_id: int, context: str | None = None) -> dict[str, Any]:
        self.check_reception(agent, reception_id)
        if not agent.extension:
            raise CallflowError(UNHANDLED, "User has no peer registered", client_http=409)
        await self.implicit_park(agent)
        leg = str(uuid.uuid4())
        self.calls.assign(leg, agent.number)
        self.calls.agent_legs.add(leg)
        variables = {"callgate_agent_id": str(agent.number),
                     "callgate_reception_id": str(reception_id),
                     "callgate_contact_id": str(contact_id)}
        try:
            result = await self.gw.control.originate(
                Endpoint("device", agent.extension, agent.realm), extension, context=context,
                caller_id_number=extension, caller_id_name=extension, variables=variables,
                channel_id=leg, ring_timeout=self.originate_timeout)
        except CommandError as exc:
            self.calls.release(leg)
            raise from_command(exc, "Originate failed: the agent's phone went away") from None
        new = result.channel_id or leg
        if new != leg:
            self.calls.release(leg)
            self.calls.assign(new, agent.number)
            self.calls.agent_legs.add(new)
        self.notifier.touch(new)
        return {"call": {"id": new}, "status": "ok"}

    async def transfer(self, agent: Agent, source: str, destination: str) -> None:
        src, dst = self.view.visible(agent, source), self.view.visible(agent, destination)
        if src is None or dst is None:
            raise not_found(GONE)
        if src is dst:
            raise bad_parameters("Source and destination are the same call.")
        self.check_owner(agent, src)
        self.check_owner(agent, dst)
        if not (src.answered and dst.answered):
            raise _bridge_failed(NOT_ANSWERED)
        await self._bridge(agent, src, dst)

    async def _bridge(self, agent: Agent, src: Channel, dst: Channel) -> None:
        pair = frozenset((src.id, dst.id))
        self.calls.transfers.add(pair)
        try:
            await self.gw.control.bridge(src.id, dst.id)
        except CommandError as exc:
            self.calls.transfers.discard(pair)
            if isinstance(exc, NotFound | Rejected):
                raise not_found(GONE) from None
            raise from_command(exc, GONE) from None
        self.calls.current.pop(agent.number, None)

    async def transfer_current(self, agent: Agent, source: str) -> dict[str, Any]:
        """The seed's `GET /call/transfer?source=`: the agent's current outbound call meets
        `source` (normally the caller it parked), and the agent's phone is freed."""
        current = self.view.visible(agent, self.calls.current.get(agent.number))
        if current is None:
            raise _bridge_failed("Bad destination")
        if current.direction == "inbound" and current.id not in self.calls.agent_legs:
            raise _bridge_failed("Cannot transfer to an inbound call.")
        dst = self.held_by(agent)
        if dst is None or not dst.answered:
            # the agent's own leg, or the far party, has not answered yet: the client asked too
            # early (a 400), not a hangup
            if self._gone(current.id):
                raise _bridge_failed("Destination hung up before process could complete")
            raise _bridge_failed(NOT_ANSWERED)
        src = self.view.visible(agent, source)
        if src is None:
            raise _bridge_failed("Call on hold hung up")
        if src is dst:
            raise _bridge_failed("Bad destination")
        self.check_owner(agent, src)
        try:
            await self._bridge(agent, src, dst)
        except CallflowError:
            if self._gone(src.id):
                raise _bridge_failed("Call on hold hung up") from None
            if self._gone(dst.id):
                raise _bridge_failed("Destination hung up before process could complete") \
                    from None
            raise _bridge_failed("Bad destination") from None
        return {"status": "success",
                "source_call": self.view.legacy(src, "bridged"),
                "destination_call": self.view.legacy(dst, "bridged")}


def _bridge_failed(description: str) -> CallflowError:
    return CallflowError("bridge failed", description, http=400)
