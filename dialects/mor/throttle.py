"""Login throttling per client address, as MOR's "Please wait 10 seconds" answer implies, so a
password cannot be guessed at wire speed."""

from __future__ import annotations

import time

WAIT_SECONDS = 10.0
FREE_FAILURES = 5  # failures allowed before the wait applies
MAX_TRACKED = 10_000


class LoginThrottle:
    def __init__(self) -> None:
        self._failures: dict[str, tuple[int, float]] = {}

    def blocked(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        count, last = self._failures.get(address, (0, 0.0))
        return count >= FREE_FAILURES and now - last < WAIT_SECONDS

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._failures) >= MAX_TRACKED:
            self._failures = {a: v for a, v in self._failures.items()
                              if now - v[1] < WAIT_SECONDS}
        count, _ = self._failures.get(address, (0, 0.0))
        self._failures[address] = (count + 1, now)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
