"""Synthetic call traffic for any switch simulator (FreeSWITCH or Asterisk flavour).

Only the duck-typed surface `place_call`, `hangup`, `hold`, `unhold`, `channel_ids` is used,
so the same generator drives every simulator. A seeded random.Random makes runs repeatable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any, Protocol

from simswitch.logs import brief

log = logging.getLogger(__name__)

DEFAULT_MIX = {"internal": 0.5, "outbound": 0.3, "inbound": 0.2, "held": 0.1}


class CallSimulator(Protocol):
    async def place_call(self, caller: str, callee: str, **kw: Any) -> str: ...
    async def hangup(self, channel_id: str, cause: str = ...) -> None: ...
    async def hold(self, channel_id: str) -> None: ...
    async def unhold(self, channel_id: str) -> None: ...
    def channel_ids(self) -> list[str]: ...


class TrafficGenerator:
    """Places calls at a steady rate, holds some, hangs each up after ~hold_time seconds.

    `mix` weights the call kinds internal/outbound/inbound; `held` is the probability
    that a call is put on hold for part of its life. At most `max_calls` calls are live.
    """

    def __init__(
        self,
        sim: CallSimulator,
        callers: list[str],
        callees: list[str],
        calls_per_second: float = 1.0,
        hold_time: float = 20.0,
        mix: dict[str, float] | None = None,
        seed: int | None = None,
        max_calls: int | None = None,
        external_numbers: list[str] | None = None,
    ) -> None:
        self.sim = sim
        self.callers = list(callers)
        self.callees = list(callees)
        self.rate = calls_per_second
        self.hold_time = hold_time
        self.mix = {**DEFAULT_MIX, **(mix or {})}
        self.rng = random.Random(seed)
        self.max_calls = max_calls
        self.external = external_numbers or ["+447700900123", "+37060000001", "+14155550100"]
        self.placed: list[tuple[str, str, str]] = []  # (kind, caller, callee), in order
        self.live: set[str] = set()
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._hangup_on_stop = True

    def plan(self) -> tuple[str, str, str]:
        """Choose the next call (kind, caller, callee) from the seeded generator."""
        kinds = ["internal", "outbound", "inbound"]
        weights = [max(0.0, self.mix.get(k, 0.0)) for k in kinds]
        if sum(weights) <= 0:
            weights = [1.0, 0.0, 0.0]
        kind = self.rng.choices(kinds, weights)[0]
        if kind == "internal":
            caller = self.rng.choice(self.callers)
            others = [c for c in self.callees if c != caller] or self.callees
            return kind, caller, self.rng.choice(others)
        if kind == "outbound":
            return kind, self.rng.choice(self.callers), self.rng.choice(self.external)
        return kind, self.rng.choice(self.external), self.rng.choice(self.callees)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, hangup: bool = True) -> None:
        """Stop placing calls; by default also hang up the calls still live."""
        self._hangup_on_stop = hangup
        tasks = [t for t in (self._task, *self._calls) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._task = None
        if hangup:
            for cid in list(self.live):
                with contextlib.suppress(Exception):
                    await self.sim.hangup(cid)
            self.live.clear()

    async def _run(self) -> None:
        interval = 1.0 / self.rate if self.rate > 0 else 1.0
        while True:
            if self.max_calls is None or len(self._calls) < self.max_calls:
                kind, caller, callee = self.plan()
                held = self.rng.random() < self.mix.get("held", 0.0)
                duration = max(0.05, self.rng.uniform(0.5, 1.5) * self.hold_time)
                self.placed.append((kind, caller, callee))
                task = asyncio.get_running_loop().create_task(
                    self._call(caller, callee, duration, held))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
            await asyncio.sleep(interval)

    async def _call(self, caller: str, callee: str, duration: float, held: bool) -> None:
        place = asyncio.ensure_future(self.sim.place_call(caller, callee))
        cid: str | None = None
        try:
            cid = await asyncio.shield(place)
            self.live.add(cid)
            if held:
                await asyncio.sleep(duration / 3)
                if cid in self.sim.channel_ids():
                    await self.sim.hold(cid)
                    await asyncio.sleep(duration / 3)
                    if cid in self.sim.channel_ids():
                        await self.sim.unhold(cid)
                await asyncio.sleep(duration / 3)
            else:
                await asyncio.sleep(duration)
            if cid in self.sim.channel_ids():
                await self.sim.hangup(cid)
        except asyncio.CancelledError:
            # stop(): never leave a call behind, even one still being placed
            with contextlib.suppress(Exception):
                cid = cid or await place
                if self._hangup_on_stop and cid in self.sim.channel_ids():
                    await self.sim.hangup(cid)
            raise
        except Exception as exc:
            self.errors += 1
            log.debug("call %s -> %s failed: %s", caller, callee, brief(exc))
        finally:
            if cid is not None:
                self.live.discard(cid)
