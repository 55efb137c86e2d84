"""One MOR `activecalls` row per call: who called from which device, where it goes (a local
device, a provider, a country), and the row's fields in the wiki's order."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass

from gateway.context import Gateway
from gateway.directory import Device, User
from gateway.model import Channel, State

from . import geo
from .calls import Call
from .render import Fields, piece, split_at
from .settings import MorSettings, Provider

ANSWERED_STATES = (State.ANSWERED, State.HELD, State.PARKED)


@dataclass(slots=True)
class Row:
    id: int
    call: Call
    answered: bool
    answered_at: float
    src: str
    user: User | None
    device: Device | None
    dst_user: User | None
    dst_device: Device | None
    localized_dst: str
    destination: geo.Destination
    provider: Provider | None
    did: str
    server_id: int


def localize(number: str) -> str:
    """MOR's localization, reduced to what is universal: no `+` or `00` international prefix."""
    n = number.strip()
    if n.startswith("+"):
        return n[1:]
    if n.startswith("00") and n[2:].isdigit():
        return n[2:]
    return n


def _answered(a: Channel, b: Channel | None) -> tuple[bool, float]:
    if not (a.answered or a.answered_at or a.state in ANSWERED_STATES):
        return False, 0.0
    at = a.answered_at or (b.answered_at if b is not None else 0.0) or a.created
    return True, at


def _provider(opts: MorSettings, legs: tuple[Channel | None, ...]) -> Provider | None:
    for ch in legs:
        if ch is not None and ch.gateway:
            name = ch.gateway.lower()
            for p in opts.providers:
                if fnmatch.fnmatchcase(name, p.match.lower()):
                    return p
    return None


def build(gw: Gateway, opts: MorSettings, call: Call, call_id: int,
          servers: dict[str, int]) -> Row:
    directory = gw.directory
    a, b = call.a, call.b
    did = a.destination if a.destination and directory.did(a.destination) else ""
    did_device_id = directory.did(did).device if did else ""  # type: ignore[union-attr]
    device = directory.device(a.authorizing_id) if a.authorizing_id else None
    if device is not None and device.id == did_device_id and a.username != device.sip_username:
        device = None  # a DID call is attributed to where it rings, not where it came from
    user = directory.user(device.owner) if device is not None and device.owner else None
    if user is None and device is None and not did and a.owner_id:
        user = directory.user(a.owner_id)
    dst_device = None
    if b is not None and b.authorizing_id and b.authorizing_id != a.authorizing_id:
        dst_device = directory.device(b.authorizing_id)
    if dst_device is None and did_device_id:
        dst_device = directory.device(did_device_id)
    if dst_device is None and a.destination and a.account_id:
        found = directory.device_by_extension(a.account_id, a.destination)
        dst_device = found if found is not None and found is not device else None
    dst_user = directory.user(dst_device.owner) if dst_device and dst_device.owner else None
    answered, at = _answered(a, b)
    localized = localize(a.destination)
    return Row(
        id=call_id, call=call, answered=answered, answered_at=at,
        src=a.caller_id_number, user=user, device=device, dst_user=dst_user,
        dst_device=dst_device, localized_dst=localized,
        destination=geo.lookup(localized),
        provider=_provider(opts, (b, a)), did=localize(did), server_id=servers.get(a.node, 0),
    )


def _flag(device: Device | None, value: bool) -> str:
    return "" if device is None else ("1" if value else "0")


def _device_fields(prefix: str, device: Device | None) -> Fields:
    return [
        (f"{prefix}device_type", device.type if device else None),
        (f"{prefix}device_extension", device.extension if device else None),
        (f"{prefix}device_name", (device.name or device.sip_username) if device else None),
        (f"{prefix}device_istrunk", _flag(device, device.trunk if device else False)),
        (f"{prefix}device_ani", _flag(device, device.ani if device else False)),
    ]


def _name(user: User | None) -> str | None:
    return (user.name or user.username) if user is not None else None


def fields(row: Row, *, show_provider: bool, now: float | None = None) -> Fields:
    """The `<active_call>` children, in the order of the wiki's example."""
    now = time.time() if now is None else now
    a = row.call.a
    answer_time = duration = None
    if row.answered:
        answer_time = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.answered_at))
        duration = str(max(0, int(now - row.answered_at)))
    provider = row.provider if show_provider else None
    out: list[tuple[str, object]] = [
        ("id", row.id),
        ("uniqueid", a.id),
        ("status", "Answered" if row.answered else "Ringing"),
        ("answer_time", answer_time),
        ("duration", duration),
        ("src", row.src),
        ("user_id", row.user.number if row.user else None),
        ("user", _name(row.user)),
        ("src_device_id", row.device.number if row.device else None),
        *_device_fields("", row.device),
        ("localized_dst", row.localized_dst),
        ("direction_code", row.destination.code),
        ("direction_name", row.destination.country),
        ("destination_name", row.destination.name),
        ("provider_id", provider.number if provider else None),
        ("provider_name", provider.name if provider else None),
        ("channel", a.name),
    ]
    dst = row.dst_device
    if dst is not None:
        out += [
            ("dst_user_id", row.dst_user.number if row.dst_user else None),
            ("dst_user", _name(row.dst_user)),
            ("dst_device_id", dst.number),
            *_device_fields("dst_", dst),
        ]
    return out


class Cached:
    """A call's row and its `<active_call>` piece of the page (with and without the provider),
    made once per version of its legs. `duration` is the only field that follows the clock: an
    answered call's piece is kept cut around its value, which each request writes in."""

    __slots__ = ("made", "row")

    def __init__(self, row: Row) -> None:
        self.row = row
        #: `pieces(False)`, `pieces(True)` once made (read directly on the hot path)
        self.made: list[tuple[bytes, bytes] | None] = [None, None]

    def pieces(self, show_provider: bool) -> tuple[bytes, bytes]:
        """(head, tail): an answered call's page piece is head + duration + tail; a ringing
        call's (no duration) is head alone, tail empty."""
        found = self.made[show_provider]
        if found is None:
            row = self.row
            text = piece("active_call", fields(row, show_provider=show_provider,
                                               now=row.answered_at))
            found = split_at(text, "duration", "0") if row.answered else (text, b"")
            self.made[show_provider] = found
        return found
