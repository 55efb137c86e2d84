"""Shared state: what one instance grants (a session, a token revocation, an assignment), every
other honours and revokes.

Dialects ask for a named map and use it like a dict. Reads are always local (a request never
waits on Redis): the Redis implementation keeps a mirror that remote changes update, and sends
its own writes in the background. `hit` is the counter a login rate limit uses, `counts` reads
it without counting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

V = TypeVar("V")

#: Called with (key, value) when another instance set a key, (key, None) when it deleted one.
OnRemote = Callable[[str, Any], None]


@dataclass(frozen=True, slots=True)
class Codec(Generic[V]):
    """How a map's values travel: text out, value back (raises on anything malformed)."""

    encode: Callable[[V], str]
    decode: Callable[[str], V]


JSON: Codec[Any] = Codec(lambda v: json.dumps(v, separators=(",", ":")), json.loads)


class SharedState(Protocol):
    def map(self, name: str, codec: Codec[Any] = JSON,
            on_remote: OnRemote | None = None) -> MutableMapping[str, Any]:
        """The map called `name`, the same on every instance."""
        ...

    async def hit(self, bucket: str, window: float) -> int:
        """Count one hit in `bucket`; the count within the current `window` seconds."""
        ...

    async def counts(self, buckets: Sequence[str]) -> list[int]:
        """The current count of each bucket (0 for none, or past its window), counting
        nothing."""
        ...

    async def clear(self, bucket: str) -> None:
        """Forget `bucket`'s count (a successful login resets its failures)."""
        ...


class MemoryShared:
    """One process: a map is a plain dict, a bucket a local counter."""

    def __init__(self) -> None:
        self._maps: dict[str, dict[str, Any]] = {}
        self._buckets: dict[str, tuple[int, float]] = {}

    def map(self, name: str, codec: Codec[Any] = JSON,
            on_remote: OnRemote | None = None) -> MutableMapping[str, Any]:
        return self._maps.setdefault(name, {})

    async def hit(self, bucket: str, window: float) -> int:
        return local_hit(self._buckets, bucket, window)

    async def counts(self, buckets: Sequence[str]) -> list[int]:
        return local_counts(self._buckets, buckets)

    async def clear(self, bucket: str) -> None:
        self._buckets.pop(bucket, None)


def local_hit(buckets: dict[str, tuple[int, float]], bucket: str, window: float) -> int:
    now = time.monotonic()
    count, until = buckets.get(bucket, (0, 0.0))
    if until <= now:
        count, until = 0, now + window
        if len(buckets) > 100_000:  # expired buckets go before the table grows further
            for k in [k for k, (_, u) in buckets.items() if u <= now]:
                del buckets[k]
    buckets[bucket] = (count + 1, until)
    return count + 1


def local_counts(buckets: dict[str, tuple[int, float]], names: Sequence[str]) -> list[int]:
    now = time.monotonic()
    return [count if until > now else 0
            for count, until in (buckets.get(name, (0, 0.0)) for name in names)]
