"""Synthetic call traffic for any switch simulator (FreeSWITCH or Asterisk flavour).

Only the duck-typed surface `place_call`, `hangup`, `hold`, `unhold`, `channel_ids` (and, when the
simulator has them, `phones_in_calls` and `call_of`) is used, so the same generator drives every
simulator. A seeded random.Random makes runs repeatable.

What makes it look like people at desk phones (the demo turns each on): a phone calls with the
display name it was provisioned with (`names`); it takes one call at a time (`lines_per_phone`,
2 models call waiting); a called phone rings for `ring_time` seconds before it is answered; and
calls the generator did not place (an API originate, a caller parked for an agent) are hung up
after a realistic time too (`end_strays`). `speed` runs the same simulated time faster, for tests:
every duration is in simulated seconds and recorded in `calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
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


@dataclass(slots=True)
class CallRecord:
    """One generated call, durations in simulated seconds."""

    kind: str  # internal | outbound | inbound
    caller: str
    callee: str
    ring: float | None  # how long the called side rings before it answers (None: sim default)
    talk: float  # how long the call lasts once answered
    held: bool
    caller_name: str = ""
    channel_id: str = ""


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
        *,
        names: dict[str, str] | None = None,
        ring_time: tuple[float, float] | None = None,
        lines_per_phone: int | None = None,
        end_strays: bool = False,
        speed: float = 1.0,
    ) -> None:
        self.sim = sim
        self.callers = list(callers)
        self.callees = list(callees)
        self.rate = calls_per_second
        self.hold_time = hold_time
        self.mix = {**DEFAULT_MIX, **(mix or {})}
        self.rng = random.Random(seed)
        self._stray_rng = random.Random(None if seed is None else seed + 1)
        self.max_calls = max_calls
        self.external = external_numbers or ["+447700900123", "+37060000001", "+14155550100"]
        self.names = dict(names or {})
        self.ring_time = ring_time
        self.lines_per_phone = lines_per_phone
        self.end_strays = end_strays
        self.speed = speed if speed > 0 else 1.0
        self.placed: list[tuple[str, str, str]] = []  # (kind, caller, callee), in order
        self.calls: list[CallRecord] = []  # the same calls, with their planned durations
        self.live: set[str] = set()
        self.ended_strays: list[str] = []  # channels hung up for having lasted long enough
        self.errors = 0
        self._using: dict[str, int] = {}  # phone -> generated calls it is in
        self._task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._hangup_on_stop = True

    # ---------------------------------------------------------------- planning
    def _in_calls(self) -> dict[str, int]:
        """Phone -> calls it is in now: the generator's own, or the switch's count of its legs
        (which also sees calls placed through the API), whichever is more."""
        seen = getattr(self.sim, "phones_in_calls", None)
        counted: dict[str, int] = dict(seen()) if callable(seen) else {}
        for ext, n in self._using.items():
            counted[ext] = max(counted.get(ext, 0), n)
        return counted

    def _free(self, phones: list[str], busy: dict[str, int]) -> list[str]:
        if self.lines_per_phone is None:
            return phones
        return [p for p in phones if busy.get(p, 0) < self.lines_per_phone]

    def plan(self) -> tuple[str, str, str] | None:
        """Choose the next call (kind, caller, callee) from the seeded generator; None when the
        phones it would need are all in calls."""
        kinds = ["internal", "outbound", "inbound"]
        weights = [max(0.0, self.mix.get(k, 0.0)) for k in kinds]
        if sum(weights) <= 0:
            weights = [1.0, 0.0, 0.0]
        kind = self.rng.choices(kinds, weights)[0]
        busy = self._in_calls() if self.lines_per_phone is not None else {}
        callers, callees = self._free(self.callers, busy), self._free(self.callees, busy)
        if kind == "internal":
            if not callers:
                return None
            caller = self.rng.choice(callers)
            others = [c for c in callees if c != caller]
            if not others and self.lines_per_phone is not None:
                return None
            return kind, caller, self.rng.choice(others or self.callees)
        if kind == "outbound":
            if not callers:
                return None
            return kind, self.rng.choice(callers), self.rng.choice(self.external)
        if not callees:
            return None
        return kind, self.rng.choice(self.external), self.rng.choice(callees)

    # ---------------------------------------------------------------- running
    def start(self) -> None:
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run())
            if self.end_strays:
                self._sweeper = loop.create_task(self._end_strays())

    async def stop(self, hangup: bool = True) -> None:
        """Stop placing calls; by default also hang up the calls still live."""
        self._hangup_on_stop = hangup
        tasks = [t for t in (self._task, self._sweeper, *self._calls) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._task = self._sweeper = None
        if hangup:
            for cid in list(self.live):
                with contextlib.suppress(Exception):
                    await self.sim.hangup(cid)
            self.live.clear()

    async def _sleep(self, simulated: float) -> None:
        await asyncio.sleep(simulated / self.speed)

    async def _run(self) -> None:
        interval = 1.0 / self.rate if self.rate > 0 else 1.0
        while True:
            if self.max_calls is None or len(self._calls) < self.max_calls:
                planned = self.plan()
                if planned is not None:
                    self._launch(*planned)
            await self._sleep(interval)

    def _launch(self, kind: str, caller: str, callee: str) -> None:
        held = self.rng.random() < self.mix.get("held", 0.0)
        talk = max(0.05, self.rng.uniform(0.5, 1.5) * self.hold_time)
        ring = self.rng.uniform(*self.ring_time) if self.ring_time is not None else None
        rec = CallRecord(kind, caller, callee, ring, talk, held,
                         caller_name=self.names.get(caller, ""))
        self.placed.append((kind, caller, callee))
        self.calls.append(rec)
        phones = {caller, callee} & {*self.callers, *self.callees}
        for p in phones:
            self._using[p] = self._using.get(p, 0) + 1
        task = asyncio.get_running_loop().create_task(self._call(rec))
        self._calls.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._calls.discard(t)
            for p in phones:
                left = self._using.get(p, 0) - 1
                if left > 0:
                    self._using[p] = left
                else:
                    self._using.pop(p, None)

        task.add_done_callback(done)

    async def _call(self, rec: CallRecord) -> None:
        kw: dict[str, Any] = {}
        if rec.ring is not None:
            kw["answer_after"] = rec.ring / self.speed
        if rec.caller_name:
            kw["caller_name"] = rec.caller_name
        place = asyncio.ensure_future(self.sim.place_call(rec.caller, rec.callee, **kw))
        cid: str | None = None
        try:
            cid = await asyncio.shield(place)
            rec.channel_id = cid
            self.live.add(cid)
            if rec.ring is not None:
                await self._sleep(rec.ring)
            if rec.held:
                await self._sleep(rec.talk / 3)
                if cid in self.sim.channel_ids():
                    await self.sim.hold(cid)
                    await self._sleep(rec.talk / 3)
                    if cid in self.sim.channel_ids():
                        await self.sim.unhold(cid)
                await self._sleep(rec.talk / 3)
            else:
                await self._sleep(rec.talk)
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
            log.debug("call %s -> %s failed: %s", rec.caller, rec.callee, brief(exc))
        finally:
            if cid is not None:
                self.live.discard(cid)

    async def _end_strays(self) -> None:
        """Hang up calls the generator did not place once they have lasted as long as one it
        places would: ringing plus 0.5 to 1.5 times hold_time from when they were first seen.
        A simulator that says which call a leg belongs to (`call_of`) lets the generator's own
        legs be told apart; without it every stray gets the longest generated life and more."""
        call_of = getattr(self.sim, "call_of", None)
        ring = self.ring_time or (0.0, 0.0)
        loop = asyncio.get_running_loop()
        deadline: dict[str, float] = {}
        while True:
            now = loop.time() * self.speed
            present = set(self.sim.channel_ids())
            for cid in list(deadline):
                if cid not in present:
                    del deadline[cid]
            for cid in present:
                if cid in self.live or (callable(call_of) and call_of(cid) in self.live):
                    deadline.pop(cid, None)  # a leg of a generated call: it ends by itself
                    continue
                due = deadline.get(cid)
                if due is None:
                    if callable(call_of):
                        life = (self._stray_rng.uniform(*ring)
                                + self._stray_rng.uniform(0.5, 1.5) * self.hold_time)
                    else:
                        life = ring[1] + self._stray_rng.uniform(1.5, 2.5) * self.hold_time
                    deadline[cid] = now + life
                elif now >= due:
                    del deadline[cid]
                    self.ended_strays.append(cid)
                    with contextlib.suppress(Exception):
                        await self.sim.hangup(cid)
            await self._sleep(1.0)
