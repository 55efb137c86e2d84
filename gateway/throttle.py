"""Login throttling for every dialect: failed logins are counted per client address and per
user, and once either count reaches the limit inside the window every login of that address or
user is refused in the dialect's own shape, the right password included (no oracle). A success
resets both counts.

Counts live behind `Buckets` (get / incr with expiry / reset), so a store shared by several
gateway instances can hold them instead of this process's memory. Each attempt is counted
before its password is checked (one atomic increment), and a success resets the counts; so a
burst of parallel guesses gets no more tries than the same guesses one after another.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Buckets(Protocol):
    """Counters that expire `ttl` seconds after their first increment."""

    async def incr(self, key: str, ttl: float) -> int: ...

    async def counts(self, keys: Sequence[str]) -> list[int]: ...

    async def reset(self, key: str) -> None: ...


class MemoryBuckets:
    """`Buckets` in this process. Bounded: when full, expired counters go first, then the
    oldest, so a flood of addresses cannot grow memory without end."""

    def __init__(self, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._max = max_keys
        self._clock = clock

    def __len__(self) -> int:
        return len(self._counts)

    async def get(self, key: str) -> int:
        hit = self._counts.get(key)
        if hit is None:
            return 0
        if hit[1] <= self._clock():
            del self._counts[key]
            return 0
        return hit[0]

    async def counts(self, keys: Sequence[str]) -> list[int]:
        return [await self.get(key) for key in keys]

    async def incr(self, key: str, ttl: float) -> int:
        now = self._clock()
        hit = self._counts.get(key)
        if hit is None or hit[1] <= now:
            if hit is None and len(self._counts) >= self._max:
                self._prune(now)
            hit = (0, now + ttl)
        count = hit[0] + 1
        self._counts[key] = (count, hit[1])
        return count

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)

    def _prune(self, now: float) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        while len(self._counts) >= self._max:
            del self._counts[next(iter(self._counts))]


def parse_networks(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    """`["10.0.0.1", "192.168.0.0/16"]` as networks; ValueError names a bad entry."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(request: web.Request, trusted: Sequence[IPNetwork] = ()) -> str:
    """The peer address; when the peer is a trusted proxy, the nearest address in
    `X-Forwarded-For` (read right to left) that is not itself a trusted proxy. A header from
    an untrusted peer is ignored, so a client cannot pick the bucket it is counted in."""
    peer = request.remote or ""
    if not trusted:
        return peer
    ip = _ip(peer)
    if ip is None or not any(ip in net for net in trusted):
        return peer
    client = peer
    hops = ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            break  # garbage in the chain: the last hop we could trust is the answer
        client = str(hop_ip)
        if not any(hop_ip in net for net in trusted):
            break
    return client


@dataclass(frozen=True, slots=True)
class LoginLimits:
    attempts: int = 10  # failures allowed per address and per user inside the window
    window: float = 60.0  # seconds from the first failure until the counts are forgotten
    trusted_proxies: tuple[IPNetwork, ...] = ()


class Attempt:
    """One login attempt, already counted as a failure when it began (so parallel guesses
    cannot all pass a check made before any of them was counted): ask `locked` before
    checking the password; `succeeded()` wipes the counts, `failed()` leaves them."""

    def __init__(self, guard: LoginGuard, keys: tuple[str, ...], locked: bool) -> None:
        self._guard = guard
        self._keys = keys
        self.locked = locked

    @property
    def retry_after(self) -> int:
        """Seconds a refused client is told to wait (the window: an upper bound)."""
        return max(1, int(self._guard.limits.window + 0.999))

    async def failed(self) -> None:
        """Nothing left to do: the attempt was counted when it began. Call sites say it
        anyway, so they read as what happened."""

    async def succeeded(self) -> None:
        for key in self._keys:
            await self._guard.buckets.reset(key)


class HitCounter(Protocol):
    """What `SharedBuckets` needs of the gateway's shared state (gateway/scale/shared.py)."""

    async def hit(self, bucket: str, window: float) -> int: ...

    async def counts(self, buckets: Sequence[str]) -> list[int]: ...

    async def clear(self, bucket: str) -> None: ...


class SharedBuckets:
    """`Buckets` over the gateway's shared state, so with `redis_url` every instance counts
    the same failures: a guess on one instance locks the address on all of them."""

    def __init__(self, shared: HitCounter) -> None:
        self._shared = shared

    async def incr(self, key: str, ttl: float) -> int:
        return await self._shared.hit(key, ttl)

    async def counts(self, keys: Sequence[str]) -> list[int]:
        return await self._shared.counts(keys)

    async def reset(self, key: str) -> None:
        await self._shared.clear(key)


class LoginGuard:
    """The gateway's one login throttle, shared by every dialect. The address bucket is shared
    across dialects (one client guessing anywhere); the user bucket is per dialect identity
    (`kazoo`, `alice@acme.example.com`), and counts unknown users too, so the refusal says
    nothing about who exists."""

    def __init__(self, limits: LoginLimits | None = None,
                 buckets: Buckets | None = None) -> None:
        self.limits = limits or LoginLimits()
        self.buckets: Buckets = buckets if buckets is not None else MemoryBuckets()

    def address(self, request: web.Request) -> str:
        return client_address(request, self.limits.trusted_proxies)

    def _keys(self, request: web.Request, dialect: str, user: str) -> tuple[str, ...]:
        address = f"login:addr:{self.address(request)}"
        return (address, f"login:{dialect}:user:{user.lower()[:256]}") if user else (address,)

    async def attempt(self, request: web.Request, dialect: str, user: str = "") -> Attempt:
        keys = self._keys(request, dialect, user)
        locked = False
        for key in keys:
            if await self.buckets.incr(key, self.limits.window) > self.limits.attempts:
                locked = True
        return Attempt(self, keys, locked)

    async def admit(self, request: web.Request, dialect: str, user: str = "") -> bool:
        """For a credential already verified by this gateway (a signature it remembers):
        nothing is guessed, so nothing is counted. False while the address or the user is
        locked, exactly when `attempt` would say `locked`; otherwise True, and the counts are
        wiped as any success wipes them, only when there are any: a poller's request reads
        the counts once and writes nothing."""
        keys = self._keys(request, dialect, user)
        counts = await self.buckets.counts(keys)
        if any(count >= self.limits.attempts for count in counts):
            return False
        if any(counts):
            for key in keys:
                await self.buckets.reset(key)
        return True


def guard_of(settings: object) -> LoginGuard:
    """The guard for `[gateway]` settings (anything with `login_attempts`, `login_window`,
    `trusted_proxies`)."""
    return LoginGuard(LoginLimits(
        attempts=getattr(settings, "login_attempts", 10),
        window=getattr(settings, "login_window", 60.0),
        trusted_proxies=parse_networks(getattr(settings, "trusted_proxies", ())),
    ))
