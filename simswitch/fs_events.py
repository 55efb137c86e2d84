"""Event building of the simulated FreeSWITCH: common headers, the channel block, firing.

Header order mirrors switch_event.c / switch_channel_event_set_data as captured (FreeSWITCH
1.11); only EXTENDED event types carry the variable_* headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from simswitch.esl_wire import Event
from simswitch.fs_channel import (
    CALLING,
    EXTENDED,
    PROFILE_KEYS,
    PROFILE_KEYS_2,
    TIME_KEYS,
    Channel,
    date_strings,
    now_us,
)


class EventSource:
    """Event header building, mixed into SwitchModel: common block, channel block, firing."""

    core_uuid: str
    hostname: str
    ipv4: str
    emit: Callable[[Event], None]
    _seq: Iterator[int]

    def _common(self, name: str, source: str = "") -> list[tuple[str, str]]:
        t = now_us()
        local, gmt = date_strings(t // 1_000_000)
        f, fn, line = CALLING.get(source or name, ("switch_event.c", "switch_event_fire", "0"))
        return [
            ("Event-Name", name), ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname), ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4), ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", local), ("Event-Date-GMT", gmt),
            ("Event-Date-Timestamp", str(t)), ("Event-Calling-File", f),
            ("Event-Calling-Function", fn), ("Event-Calling-Line-Number", line),
            ("Event-Sequence", str(next(self._seq))),
        ]

    @staticmethod
    def _profile(ch: Channel, prefix: str, with_index: bool) -> list[tuple[str, str]]:
        p = ch.profile
        out = [(f"{prefix}-Direction", ch.direction),
               (f"{prefix}-Logical-Direction", p.get("Logical-Direction", ch.direction))]
        out += [(f"{prefix}-{k}", p[k]) for k in PROFILE_KEYS if p.get(k)]
        out += [(f"{prefix}-Destination-Number", p.get("Destination-Number", "")),
                (f"{prefix}-Unique-ID", ch.uuid)]
        out += [(f"{prefix}-{k}", p[k]) for k in PROFILE_KEYS_2 if p.get(k)]
        out.append((f"{prefix}-Channel-Name", ch.name))
        if with_index:
            out.append((f"{prefix}-Profile-Index", str(ch.profile_index)))
        out += [(f"{prefix}-Profile-Created-Time", str(ch.times["Profile-Created-Time"])),
                (f"{prefix}-Channel-Created-Time", str(ch.created))]
        out += [(f"{prefix}-{k}", str(ch.times[k])) for k in TIME_KEYS]
        out += [(f"{prefix}-Screen-Bit", "true"), (f"{prefix}-Privacy-Hide-Name", "false"),
                (f"{prefix}-Privacy-Hide-Number", "false")]
        return out

    def channel_headers(self, ch: Channel, extended: bool) -> list[tuple[str, str]]:
        """The channel block every channel event carries, in FreeSWITCH's order."""
        h = [("Channel-State", ch.state), ("Channel-Call-State", ch.callstate),
             ("Channel-State-Number", str(ch.state_num)), ("Channel-Name", ch.name),
             ("Unique-ID", ch.uuid), ("Call-Direction", ch.direction),
             ("Presence-Call-Direction", ch.direction), ("Channel-HIT-Dialplan", ch.hit_dialplan)]
        pid = ch.variables.get("presence_id")
        if pid:
            h.append(("Channel-Presence-ID", pid))
        h += [("Channel-Call-UUID", ch.call_uuid), ("Answer-State", ch.answered)]
        if ch.hangup_cause:
            h.append(("Hangup-Cause", ch.hangup_cause))
        codec = ch.variables.get("read_codec", "PCMU")
        rate = "8000"
        bit = "64000" if codec in ("PCMU", "PCMA") else "128000"
        h += [("Channel-Read-Codec-Name", codec), ("Channel-Read-Codec-Rate", rate),
              ("Channel-Read-Codec-Bit-Rate", bit), ("Channel-Write-Codec-Name", codec),
              ("Channel-Write-Codec-Rate", rate), ("Channel-Write-Codec-Bit-Rate", bit)]
        h += self._profile(ch, "Caller", True)
        other = ch.partner or ch.originator
        if other is not None:
            other_type = "originator" if other is ch.originator else "originatee"
            h.append(("Other-Type", other_type))
            h += self._profile(other, "Other-Leg", False)
        if extended:
            h += [(f"variable_{k}", v) for k, v in ch.variables.items() if v != ""]
        return h

    def fire(
        self,
        name: str,
        ch: Channel,
        before: list[tuple[str, str]] | None = None,
        after: list[tuple[str, str]] | None = None,
        source: str = "",
    ) -> Event:
        """Emit a channel event; `source` picks another CALLING entry than the name's."""
        h = self._common(name, source)
        if before:
            h += before
        h += self.channel_headers(ch, name in EXTENDED)
        if after:
            h += after
        ev = Event(h)
        self.emit(ev)
        return ev

    def fire_plain(self, name: str, extra: list[tuple[str, str]], body: str | None = None) -> Event:
        ev = Event(self._common(name) + extra, body)
        self.emit(ev)
        return ev
