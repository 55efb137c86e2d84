"""The twelve `s_*` filters of `active_calls_get`, validated in the order MOR lists its errors.

Ids must name something the caller may see, else MOR's "... was not found". Number filters take
a `%` pattern as SQL LIKE (`%` any run, `_` one character) and a plain value as a prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gateway.context import Gateway
from gateway.directory import Device, User

from . import geo
from .errors import MethodError
from .rows import Row
from .scope import Scope
from .settings import DestinationGroup, Provider
from .state import MorState


@dataclass(frozen=True, slots=True)
class Like:
    """A SQL LIKE pattern cut at its `%`s: `head`, then `middle` in order, then `tail`;
    `need` is the fewest characters a matching value has. Matching places each middle piece
    at its leftmost fit, which is exact for `%` and costs a pass over the value, so a huge or
    `%`-riddled pattern costs no more than a plain one (a regex would backtrack)."""

    head: str
    middle: tuple[str, ...]
    tail: str
    need: int


@lru_cache(maxsize=256)
def like(pattern: str) -> Like:
    head, *middle, tail = pattern.split("%")
    pieces = tuple(m for m in middle if m)  # `%%` is `%`
    return Like(head, pieces, tail, len(head) + sum(map(len, pieces)) + len(tail))


def _fits(piece: str, value: str, at: int) -> bool:
    """`piece` (`_` = any one character) matches `value` at `at` (which leaves room)."""
    if "_" not in piece:
        return value.startswith(piece, at)
    return all(c == "_" or c == value[at + i] for i, c in enumerate(piece))


def _leftmost(piece: str, value: str, start: int, end: int) -> int:
    if "_" not in piece:
        return value.find(piece, start, end)
    for at in range(start, end - len(piece) + 1):
        if _fits(piece, value, at):
            return at
    return -1


def like_matches(pattern: Like, value: str) -> bool:
    if len(value) < pattern.need:
        return False
    end = len(value) - len(pattern.tail)
    if not (_fits(pattern.head, value, 0) and _fits(pattern.tail, value, end)):
        return False
    at = len(pattern.head)
    for piece in pattern.middle:
        at = _leftmost(piece, value, at, end)
        if at < 0:
            return False
        at += len(piece)
    return True


def number_matches(pattern: str, value: str) -> bool:
    if "%" in pattern:
        return like_matches(like(pattern), value)
    return value.startswith(pattern)


def _int(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


@dataclass(slots=True)
class Filters:
    server_id: int | None = None
    country: str | None = None
    user: User | None = None
    device: Device | None = None
    dst_user: User | None = None
    dst_device: Device | None = None
    group: DestinationGroup | None = None
    answered: bool | None = None
    provider: Provider | None = None
    did: str | None = None
    destination: str | None = None
    source: str | None = None

    @property
    def active(self) -> bool:
        """Any filter set (else every row matches)."""
        return not (self.server_id is None and self.country is None and self.user is None
                    and self.device is None and self.dst_user is None
                    and self.dst_device is None and self.group is None
                    and self.answered is None and self.provider is None and self.did is None
                    and self.destination is None and self.source is None)

    def matches(self, row: Row) -> bool:
        if self.server_id is not None and row.server_id != self.server_id:
            return False
        if self.country is not None and row.destination.country != self.country:
            return False
        if self.user is not None and (row.user is None or row.user.id != self.user.id):
            return False
        if self.device is not None and (row.device is None or row.device.id != self.device.id):
            return False
        if self.dst_user is not None and (row.dst_user is None
                                          or row.dst_user.id != self.dst_user.id):
            return False
        if self.dst_device is not None and (row.dst_device is None
                                            or row.dst_device.id != self.dst_device.id):
            return False
        if self.group is not None and not row.localized_dst.startswith(self.group.prefixes):
            return False
        if self.answered is not None and row.answered != self.answered:
            return False
        if self.provider is not None and (row.provider is None
                                          or row.provider.number != self.provider.number):
            return False
        if self.did is not None and not (row.did and number_matches(self.did, row.did)):
            return False
        if self.destination is not None and not number_matches(self.destination,
                                                               row.localized_dst):
            return False
        return self.source is None or number_matches(self.source, row.src)


def parse(state: MorState, scope: Scope, params: dict[str, str]) -> Filters:
    """Read and check the filters; an empty value is the same as an absent one."""
    p = {k: v.strip() for k, v in params.items() if k.startswith("s_") and v.strip()}
    f = Filters()
    gw, opts = state.gw, state.options
    directory = gw.directory
    if "s_server" in p:
        n = _int(p["s_server"])
        if n is None or n not in state.servers.values():
            raise MethodError("Server was not found")
        f.server_id = n
    if "s_country" in p:
        f.country = geo.direction(p["s_country"])
        if f.country is None:
            raise MethodError("Direction was not found")
    if "s_user_id" in p:
        f.user = _user(gw, scope, p["s_user_id"], "Originating User was not found")
        if "s_device" in p:
            f.device = _device(gw, scope, f.user, p["s_device"],
                               "Originating Device was not found")
    if "s_dst_user_id" in p:
        f.dst_user = _user(gw, scope, p["s_dst_user_id"], "Terminating User was not found")
        if "s_dst_device" in p:
            f.dst_device = _device(gw, scope, f.dst_user, p["s_dst_device"],
                                   "Terminating Device was not found")
    if "s_destination_group" in p:
        n = _int(p["s_destination_group"])
        f.group = next((g for g in opts.destination_groups if g.number == n), None)
        if f.group is None:
            raise MethodError("Destination Group was not found")
    if "s_status" in p:
        status = p["s_status"].lower()
        if status not in ("ringing", "answered"):
            raise MethodError("Status value must be Ringing or Answered")
        f.answered = status == "answered"
    if "s_provider" in p:
        n = _int(p["s_provider"])
        f.provider = next((x for x in opts.providers if x.number == n), None)
        if f.provider is None or not scope.is_admin:  # providers are the admin's
            raise MethodError("Provider was not found")
    if "s_did" in p:
        f.did = p["s_did"]
        if not any(scope.sees_did(d) and number_matches(f.did, d.number.lstrip("+"))
                   for d in directory.dids.values()):
            raise MethodError("Did was not found")
    f.destination = p.get("s_destination")
    f.source = p.get("s_source")
    return f


def _user(gw: Gateway, scope: Scope, value: str, error: str) -> User:
    n = _int(value)
    user = gw.directory.user_by_number(n) if n is not None else None
    if user is None or not scope.sees_user(user):
        raise MethodError(error)
    return user


def _device(gw: Gateway, scope: Scope, owner: User, value: str, error: str) -> Device:
    n = _int(value)
    device = gw.directory.device_by_number(n) if n is not None else None
    if device is None or device.owner != owner.id or not scope.sees_device(device):
        raise MethodError(error)
    return device
