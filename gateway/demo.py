"""Demo mode: simulated switches on free loopback ports, wired to the real backends.

The same code starts the switches for `callgate serve --demo`, for integration tests and for
benchmarks, so what is demoed is what is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings, load

#: Shipped inside the package so a non-editable install can run `--demo`; `config/demo.toml`
#: (DESIGN's documented place) is a link to it.
DEMO_CONFIG = Path(__file__).resolve().parent / "demo.toml"


@dataclass
class Switches:
    """Running simulators by backend name, and their traffic generators."""

    sims: dict[str, Any] = field(default_factory=dict)
    traffic: dict[str, Any] = field(default_factory=dict)

    async def stop(self) -> None:
        for gen in self.traffic.values():
            if isinstance(gen, asyncio.Task):
                gen.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await gen
            else:
                await gen.stop()
        for sim in self.sims.values():
            await sim.stop()


def load_demo() -> Settings:
    return load(DEMO_CONFIG)


def _extensions(settings: Settings, names: tuple[str, ...], by: str) -> dict[str, str]:
    """extension -> realm (FreeSWITCH) or AccountCode (Asterisk) of the device's account."""
    accounts = {a.id: a for a in settings.accounts}
    out: dict[str, str] = {}
    for dev in settings.devices:
        if dev.sip_username in names:
            acc = accounts[dev.account]
            out[dev.sip_username] = acc.realm if by == "realm" else acc.id
    for name in names:
        out.setdefault(name, "")
    return out


async def start_switches(settings: Settings, *, traffic: bool = True,
                         only: tuple[str, ...] | None = None) -> tuple[Settings, Switches]:
    """Start a simulator for every `[[demo.switches]]` entry (or those named in `only`) and
    return settings whose backends point at them; backends without a simulator are dropped."""
    switches = Switches()
    backends = []
    by_name = {b.name: b for b in settings.backends}
    try:
        for sw in settings.demo:
            if only is not None and sw.backend not in only:
                continue
            b = by_name[sw.backend]
            if b.type == "freeswitch":
                from simswitch.fs_server import FreeSwitchSimulator

                sim: Any = FreeSwitchSimulator(
                    password=b.options.password, host="127.0.0.1", port=0, hostname=f"sim-{b.name}",
                    extensions=_extensions(settings, sw.extensions, "realm"),
                    gateways=list(sw.gateways),
                )
            else:
                from simswitch.ami_server import AsteriskSimulator

                sim = AsteriskSimulator(
                    username=b.options.username, secret=b.options.secret, host="127.0.0.1", port=0,
                    system_name=f"sim-{b.name}",
                    extensions=_extensions(settings, sw.extensions, "accountcode"),
                    trunks=list(sw.gateways),
                )
            await sim.start()
            switches.sims[b.name] = sim
            backends.append(dataclasses.replace(b, host="127.0.0.1", port=sim.port,
                                                backoff_initial=0.2, backoff_max=2.0))
            if traffic:
                from simswitch.traffic import TrafficGenerator

                gen = TrafficGenerator(
                    sim, callers=list(sw.extensions), callees=list(sw.extensions),
                    external_numbers=["+447700900123", "+37060012345", "+4930123456",
                                      "+12025550143", "+639171234567"],
                    calls_per_second=sw.calls_per_second, hold_time=sw.hold_time,
                    max_calls=sw.max_calls,
                )
                gen.start()
                switches.traffic[b.name] = gen
                if sw.dids:
                    switches.traffic[f"{b.name}-reception"] = asyncio.create_task(
                        _reception(sim, sw.dids, sw.reception_every, sw.hold_time))
    except BaseException:
        await switches.stop()
        raise
    return dataclasses.replace(settings, backends=tuple(backends)), switches


async def _reception(sim: Any, dids: tuple[str, ...], every: float, hold: float) -> None:
    """Inbound callers who dial a DID and wait, answered and parked, for an agent (or hang up
    after `hold` seconds): what call-flow-control desks pick up."""
    waiting: list[str] = []
    callers = itertools.cycle(["+37060011111", "+447700900456", "+4930765432", "+33145678901"])
    for did in itertools.cycle(dids):
        with contextlib.suppress(Exception):
            waiting.append(await sim.place_call(next(callers), did, bridge=False,
                                                answer_after=0.05))
        await asyncio.sleep(every)
        while len(waiting) * every > hold:
            with contextlib.suppress(Exception):
                await sim.hangup(waiting.pop(0))
