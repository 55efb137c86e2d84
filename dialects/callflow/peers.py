"""Peers (the organization's phones), channels and users, rendered from the directory and the
store in the shapes of both generations of the original.

callgate sees no SIP REGISTER, so a peer counts as registered when the switch it lives on is
connected, and its call state is what the store says about its device's live channels. The
original itself answered `expires: 0` for peers it had loaded at start-up and not yet seen
register, so that is what we report.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from gateway.context import Gateway
from gateway.control import CommandError, Endpoint
from gateway.directory import Device, User
from gateway.model import Channel, State
from gateway.switch import ConnState

from .auth import ROLE_GROUPS, Agent
from .render import View

NOT_REGISTERED = "error/user_not_registered"  # FreeSWITCH list_users' contact then


class Directory:
    """Read-only views of the agent's organization for the non-call resources."""

    def __init__(self, gw: Gateway, view: View) -> None:
        self.gw = gw
        self.view = view

    # ------------------------------------------------------------------ peers
    def devices(self, agent: Agent) -> list[Device]:
        """Every phone of the organization (the original listed every directory user of the
        switch, not only receptionists: a desk checks a colleague before transferring)."""
        found = [d for d in self.gw.directory.devices_of(agent.account_id)
                 if not d.trunk and peer_name(d)]
        return sorted(found, key=lambda d: (d.number, d.id))

    def device(self, agent: Agent, name: str) -> Device | None:
        return next((d for d in self.devices(agent) if peer_name(d) == name), None)

    def registered(self, device: Device) -> bool:
        backends = self.gw.backends
        nodes = [device.node] if device.node else list(backends)
        return any(n in backends and backends[n].state is ConnState.CONNECTED for n in nodes)

    def live(self, device: Device) -> list[Channel]:
        """The phone's own live legs; a carrier caller attributed to the device through its
        DID is not the phone being busy."""
        name = peer_name(device)
        return [c for c in self.gw.store.by_device(device.id)
                if c.state != State.HUNGUP and (c.username == name or endpoint_of(c) == name)]

    def state(self, device: Device) -> str:
        """`offline` (switch not connected), `idle`, `ringing` (only ringing legs) or `busy`."""
        if not self.registered(device):
            return "offline"
        live = self.live(device)
        if not live:
            return "idle"
        if all(c.state in (State.RINGING, State.EARLY) for c in live):
            return "ringing"
        return "busy"

    def peer(self, device: Device) -> dict[str, Any]:
        """The Dart server's `Peer.toJson`, plus `state`."""
        state = self.state(device)
        return {"name": peer_name(device), "inTransition": state == "ringing",
                "registered": state != "offline", "activeChannels": len(self.live(device)),
                "state": state}

    def legacy_peer(self, device: Device) -> dict[str, Any]:
        """The Ada `Model.Peer.To_JSON`: expiry, registration and the `list_users` columns
        keyed by the peer id; plus `state`."""
        name = peer_name(device)
        registered = self.registered(device)
        realm = self._realm(device)
        owner = self.gw.directory.user(device.owner) if device.owner else None
        return {
            "expires": 0,
            "registered": registered,
            name: {
                "userid": name, "context": "default", "domain": realm, "group": "default",
                "contact": self._contact(device, realm) if registered else NOT_REGISTERED,
                "callgroup": "",
                "effective_caller_id_name": owner.name if owner else device.name,
                "effective_caller_id_number": device.extension or name,
            },
            "state": self.state(device),
        }

    def _realm(self, device: Device) -> str:
        account = self.gw.directory.account(device.account)
        return account.realm if account else ""

    def _contact(self, device: Device, realm: str) -> str:
        """The dial string the gateway uses for the phone (its real SIP contact is unknown), in
        the format of the switch it lives on: its `node`, else the switch an originate would
        pick. No switch to ask, or one that cannot name the phone: not registered."""
        control = self.gw.control
        try:
            backend = control.backends.get(device.node) if device.node else control.backend()
            if backend is None:
                return NOT_REGISTERED
            return backend.dialstring(Endpoint("device", peer_name(device), realm))
        except CommandError:  # Unavailable: no switch connected; InvalidArgument: bad name
            return NOT_REGISTERED

    # --------------------------------------------------------------- channels
    def channel_map(self, ch: Channel) -> dict[str, Any]:
        """The Dart server's `esl.Channel.toMap()`: `{"variables": {...}}`, with FreeSWITCH's
        variable names for what the store knows, whichever switch the leg is on."""
        owner = self.view.owner(ch)
        variables: dict[str, str] = {
            "uuid": ch.id, "call_uuid": ch.call_id or ch.id, "channel_name": ch.name,
            "direction": ch.direction, "caller_id_name": ch.caller_id_name,
            "caller_id_number": ch.caller_id_number, "destination_number": ch.destination,
            "callee_id_name": ch.callee_name, "callee_id_number": ch.callee_number,
            "bridge_uuid": ch.other_leg, "current_application": ch.application,
            "current_application_data": ch.application_data, "sip_from_user": ch.username,
            "domain_name": ch.realm, "callstate": _callstate(ch),
            "created_epoch": str(int(ch.created)),
            "answered_epoch": str(int(ch.answered_at)) if ch.answered_at else "0",
            "reception_id": str(self.view.organization_id(ch)),
            "owner": str(owner) if owner is not None else "",
        }
        variables.update(sorted((ch.variables or {}).items()))
        return {"variables": variables}

    # ------------------------------------------------------------- recordings
    def recordings(self, agent: Agent) -> list[dict[str, Any]]:
        """The organization's live legs that a recording started through `Control.record`
        (Kazoo's record action) is still running on; callgate knows of no other."""
        found = (self.recording(ch) for ch in self.view.calls_of(agent))
        return [r for r in found if r is not None]

    def recording(self, ch: Channel) -> dict[str, Any] | None:
        """The Dart `ActiveRecording.toJson`: `{"uuid", "path", "started"}` (unix seconds)."""
        path = self.gw.control.recording(ch.id)
        if path is None:
            return None
        return {"uuid": ch.id, "path": path, "started": _started(ch.id, path)}

    # ------------------------------------------------------------------ users
    def users(self, agent: Agent) -> list[dict[str, Any]]:
        """The organization's call-flow users (those with a group), as the original's user
        map held only receptionists and administrators."""
        found = [u for u in self.gw.directory.users.values()
                 if u.account == agent.account_id and ROLE_GROUPS.get(u.role)]
        return [self.user(u) for u in sorted(found, key=lambda u: u.number)]

    def user(self, u: User) -> dict[str, Any]:
        account = self.gw.directory.account(u.account)
        identity = u.email or (f"{u.username}@{account.realm}" if account and account.realm
                               else u.username)
        return {"id": u.number, "name": u.name, "extension": u.extension,
                "groups": list(ROLE_GROUPS.get(u.role, ())), "identities": [identity]}

    def profile(self, agent: Agent) -> dict[str, Any]:
        """The agent as the auth server described it (its groups may come from there)."""
        u = self.gw.directory.user(agent.user_id)
        doc = self.user(u) if u is not None else {"id": agent.number, "identities": []}
        doc.update(name=agent.name, extension=agent.extension, groups=list(agent.groups))
        return doc


def peer_name(device: Device) -> str:
    """The peer id: the SIP username, which is the agent's `extension` in the original."""
    return device.sip_username or device.extension


def endpoint_of(ch: Channel) -> str:
    """The SIP user in a channel name: `sofia/internal/203@realm` and `PJSIP/203-0000001`."""
    parts = ch.name.split("/")
    if len(parts) >= 3 and parts[0] == "sofia":
        return parts[2].split("@")[0]
    if len(parts) == 2 and parts[0] in ("PJSIP", "SIP"):
        return parts[1].rsplit("-", 1)[0]
    return ""


def _started(channel_id: str, path: str) -> int | None:
    """When the recording began, read from the gateway's own file name
    (`<channel id>-<unix time>.wav`, `gateway.control.recording_file`); Control keeps no start
    time, so a file named by the command's caller has none (null, the Dart "never")."""
    m = re.fullmatch(rf"{re.escape(channel_id)}-(\d+)\.wav", posixpath.basename(path))
    return int(m.group(1)) if m else None


def _callstate(ch: Channel) -> str:
    if ch.callstate:
        return ch.callstate
    return {State.RINGING: "RINGING", State.EARLY: "EARLY", State.HELD: "HELD"}.get(
        ch.state, "ACTIVE")


__all__ = ["Directory", "peer_name"]
