"""What every switch backend shares: connection state for /healthz, and the reconnect loop with
capped exponential backoff and jitter, so a flapping or refusing switch is never hammered.

`ReconnectingBackend` implements the core's `gateway.switch.SwitchBackend` protocol up to the
commands, which each switch's subclass adds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from abc import ABC, abstractmethod
from typing import Any

from gateway.config import BackendSettings
from gateway.store import ChannelStore
from gateway.switch import ConnState

__all__ = ["AuthFailed", "Backoff", "ConnState", "ProtocolError", "ReconnectingBackend"]

log = logging.getLogger("callgate.backend")


class AuthFailed(Exception):
    """The switch refused our credentials."""


class ProtocolError(Exception):
    """The switch sent bytes we cannot frame: drop the connection and resync."""


class Backoff:
    """Capped exponential backoff with full jitter."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        cap = min(self.maximum, self.initial * (2 ** self.attempt))
        self.attempt += 1
        return self._rng.uniform(cap / 2, cap)

    def reset(self) -> None:
        self.attempt = 0


class ReconnectingBackend(ABC):
    """A long-lived connection to one switch, re-established forever until stopped.

    Subclasses implement `_session`: connect, authenticate (raise `AuthFailed`), call
    `_connected()`, resync the store, then pump events until the connection ends.
    """

    kind = "switch"

    def __init__(self, settings: BackendSettings, store: ChannelStore) -> None:
        self.settings = settings
        self.name = settings.name
        self.store = store
        self.state: ConnState = ConnState.CONNECTING
        self.last_error = ""
        self.connects = 0
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.ready = asyncio.Event()  # set on every successful (re)sync
        # False: a command connection only (scale-out: another connection, held by lease,
        # subscribes to the switch's events and feeds the store)
        self.subscribe_events = True
        self.events = 0  # received from the switch (`_on_event`), read by /metrics

    def health(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "state": str(self.state),
            "channels": self.store.count_by_node(self.name),
            "last_error": self.last_error,
        }

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"backend-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        task = self._task
        if task is not None:
            # cancel until it is done: on Python 3.11 `asyncio.wait_for` can swallow a
            # cancellation that lands as its inner future completes, and the session would go on
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
            self._task = None
        await self._close()
        self.state = ConnState.DOWN

    def _connected(self) -> None:
        self.state = ConnState.CONNECTED
        self.last_error = ""
        self.connects += 1
        self.backoff.reset()
        log.info("%s: connected to %s:%s", self.name, self.settings.host, self.settings.port)

    async def _run(self) -> None:
        while not self._stopping:
            self.state = ConnState.CONNECTING
            try:
                await self._session()
                self.last_error = self.last_error or "connection closed by the switch"
                self.state = ConnState.DOWN
            except asyncio.CancelledError:
                raise
            except AuthFailed as exc:
                self.state = ConnState.AUTH_FAILED
                self.last_error = str(exc) or "authentication failed"
                log.warning("%s: authentication refused by the switch", self.name)
            except Exception as exc:  # any failure means: reconnect and resync
                self.state = ConnState.DOWN
                self.last_error = _describe(exc)
                log.warning("%s: connection lost: %s", self.name, self.last_error)
            finally:
                self.ready.clear()
                await self._fail_pending()
                await self._close()
            if self._stopping:
                break
            delay = self.backoff.next()
            log.info("%s: reconnecting in %.2fs", self.name, delay)
            await asyncio.sleep(delay)

    @abstractmethod
    async def _session(self) -> None:
        """One connection's life; returns or raises when it ends."""

    async def _close(self) -> None:  # noqa: B027 - optional hook
        """Close the transport, if any."""

    async def _fail_pending(self) -> None:  # noqa: B027 - optional hook
        """Fail commands in flight with `Unavailable` (never replay them)."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "connection closed mid-message"
    if isinstance(exc, ProtocolError):
        return f"protocol error: {exc}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    text = str(exc)
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
