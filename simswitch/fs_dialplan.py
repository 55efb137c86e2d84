"""Dialplan of the simulated FreeSWITCH: which leg a dial string makes, with the SIP variables
a phone, a carrier gateway or a loopback leg carries, and where an extension routes.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator

from simswitch.fs_channel import (
    CARRIER_IP,
    PHONE_NET,
    Channel,
    date_strings,
)


class Dialplan:
    """Legs for dial strings and the demo dialplan. Mixed into SwitchModel."""

    hostname: str
    extensions: dict[str, str]
    gateways: list[str]
    channels: dict[str, Channel]
    sessions_since_start: int
    _session_ids: Iterator[int]
    #: Extensions that answer as a queue or voicemail would (the docs' transfer targets), in
    #: the realm of whoever dials them.
    services: frozenset[str] = frozenset()

    def realm_of(self, ext: str) -> str | None:
        return self.extensions.get(ext)

    def default_realm(self) -> str:
        return next(iter(self.extensions.values()), "")

    def new_channel(
        self,
        *,
        direction: str,
        kind: str,
        name: str,
        cid_num: str,
        cid_name: str,
        dest: str,
        context: str,
        variables: dict[str, str],
        uid: str | None = None,
        username: str = "",
        network_addr: str = "",
        realm: str = "",
        user: str = "",
    ) -> Channel:
        ch = Channel(uid or str(uuidlib.uuid4()), name, direction, kind)
        ch.user, ch.realm = user, realm
        source = {"loopback": "mod_loopback"}.get(kind, "mod_sofia")
        ch.profile = {
            "Username": username, "Dialplan": "XML", "Caller-ID-Name": cid_name,
            "Caller-ID-Number": cid_num, "Orig-Caller-ID-Name": cid_name,
            "Orig-Caller-ID-Number": cid_num, "Network-Addr": network_addr, "ANI": cid_num,
            "Destination-Number": dest, "Source": source, "Context": context,
        }
        v = ch.variables
        v["direction"] = direction
        if direction == "outbound":
            v["is_outbound"] = "true"
        v["uuid"] = ch.uuid
        v["call_uuid"] = ch.uuid
        v["session_id"] = str(next(self._session_ids))
        v["channel_name"] = name
        v.update(variables)
        v.setdefault("read_codec", "PCMU")
        v.setdefault("read_rate", "8000")
        v.setdefault("write_codec", "PCMU")
        v.setdefault("write_rate", "8000")
        local, _ = date_strings(ch.created // 1_000_000)
        ch.row = {
            "uuid": ch.uuid, "direction": direction, "created": local,
            "created_epoch": str(ch.created // 1_000_000), "name": name, "state": "CS_INIT",
            "cid_name": cid_name, "cid_num": cid_num, "ip_addr": network_addr, "dest": dest,
            "application": "", "application_data": "", "dialplan": "XML", "context": context,
            "read_codec": v["read_codec"], "read_rate": "8000",
            "read_bit_rate": "64000" if v["read_codec"] in ("PCMU", "PCMA") else "128000",
            "write_codec": v["write_codec"], "write_rate": "8000",
            "write_bit_rate": "64000" if v["write_codec"] in ("PCMU", "PCMA") else "128000",
            "secure": "", "hostname": self.hostname, "presence_id": v.get("presence_id", ""),
            "presence_data": "", "accountcode": v.get("accountcode", ""), "callstate": "DOWN",
            "callee_name": "", "callee_num": "", "callee_direction": "", "call_uuid": "",
            "sent_callee_name": "", "sent_callee_num": "", "initial_cid_name": cid_name,
            "initial_cid_num": cid_num, "initial_ip_addr": network_addr, "initial_dest": dest,
            "initial_dialplan": "XML", "initial_context": context,
        }
        self.channels[ch.uuid] = ch
        self.sessions_since_start += 1
        return ch

    def leg_for(
        self, target: str, *, caller: Channel | None, cid_num: str, cid_name: str,
        variables: dict[str, str], uid: str | None = None,
    ) -> tuple[Channel | None, str]:
        """Create the outbound leg for a dial string, or return the failure cause."""
        if target.startswith("user/"):
            ext, _, realm = target[5:].partition("@")
            known = self.realm_of(ext)
            if known is None and ext in self.services:
                known = realm or self.default_realm()
            if known is None or (realm and realm != known):
                return None, "USER_NOT_REGISTERED"
            ch = self.new_channel(
                direction="outbound", kind="internal", name=f"sofia/internal/{ext}@{known}",
                cid_num=cid_num, cid_name=cid_name, dest=ext, context="default",
                variables={**variables, **self._internal_vars_out(ext, known, cid_num)},
                uid=uid, realm=known, user=ext)
            return ch, ""
        if target.startswith("sofia/gateway/"):
            gw, _, number = target[len("sofia/gateway/"):].partition("/")
            if gw not in self.gateways:
                return None, "INVALID_GATEWAY"
            ch = self.new_channel(
                direction="outbound", kind="gateway", name=f"sofia/gateway/{gw}/{number}",
                cid_num=cid_num, cid_name=cid_name, dest=number, context="default",
                variables={**variables, **self._gateway_vars(gw, number, cid_num)}, uid=uid)
            return ch, ""
        if target.startswith("loopback/"):
            parts = target[len("loopback/"):].split("/")
            ext = parts[0]
            context = parts[1] if len(parts) > 1 else "default"
            ch = self.new_channel(
                direction="outbound", kind="loopback", name=f"loopback/{ext}-a",
                cid_num=cid_num or "0000000000", cid_name=cid_name, dest=ext, context=context,
                variables={**variables, "originate_endpoint": "loopback", "loopback_leg": "A"},
                uid=uid)
            ch.dest_after = ext
            return ch, ""
        return None, "CHAN_NOT_IMPLEMENTED"

    def _internal_vars_in(self, ext: str, realm: str, dest: str, dest_realm: str) -> dict:
        ip = PHONE_NET + str(10 + int(ext) % 200 if ext.isdigit() else 10)
        return {
            "sip_from_user": ext, "sip_from_uri": f"{ext}@{realm}", "sip_from_host": realm,
            "sip_call_id": f"{uuidlib.uuid4().hex[:20]}@{ip}", "sip_network_ip": ip,
            "sip_network_port": "5060", "sip_received_ip": ip, "sip_received_port": "5060",
            "sip_via_protocol": "udp", "sip_authorized": "true", "sip_auth_username": ext,
            "sip_auth_realm": realm, "sofia_profile_name": "internal",
            "sip_req_user": dest, "sip_req_uri": f"{dest}@{dest_realm}",
            "sip_req_host": dest_realm, "sip_to_user": dest, "sip_to_uri": f"{dest}@{dest_realm}",
            "sip_to_host": dest_realm, "sip_contact_user": ext, "sip_contact_host": ip,
            "sip_user_agent": "Yealink SIP-T46S 66.86.0.15", "user_name": ext,
            "domain_name": realm, "user_context": "default", "presence_id": f"{ext}@{realm}",
            "endpoint_disposition": "RECEIVED",
        }

    @staticmethod
    def _internal_vars_out(ext: str, realm: str, caller: str) -> dict:
        return {
            "dialed_user": ext, "dialed_domain": realm, "domain_name": realm,
            "presence_id": f"{ext}@{realm}", "sofia_profile_name": "internal",
            "sip_to_user": ext, "sip_to_host": realm, "sip_req_user": ext,
            "sip_req_host": realm, "sip_from_user": caller, "sip_from_host": realm,
        }

    @staticmethod
    def _gateway_vars(gw: str, number: str, caller: str) -> dict:
        return {
            "sip_gateway_name": gw, "sip_profile_name": "gateway", "sofia_profile_name": "external",
            "sip_to_user": number, "sip_to_host": CARRIER_IP, "sip_req_user": number,
            "sip_req_host": CARRIER_IP, "sip_from_user": caller, "sip_from_host": CARRIER_IP,
        }

    def dialstring_for(self, dest: str, *, from_internal: bool, realm: str = "") -> str | None:
        """Dialplan `default`: extensions ring the phone, services answer in the caller's
        realm (`realm`), other numbers leave via a gateway."""
        known = self.realm_of(dest)
        if known is not None:
            return f"user/{dest}@{known}"
        if dest in self.services:
            return f"user/{dest}@{realm or self.default_realm()}"
        if from_internal and self.gateways and dest.lstrip("+").isdigit() and len(dest) > 5:
            return f"sofia/gateway/{self.gateways[0]}/{dest}"
        return None
