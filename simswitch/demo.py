"""Simulated switches with live traffic, started from plain descriptions.

What `callgate serve --demo`, the integration tests and the benchmarks run against. It takes
`SwitchSpec`s (plain data: which simulator, its credentials, its phones and trunks, how busy
it is) and knows nothing of the gateway, whose demo wiring (gateway/demo.py) turns a
configuration into specs and points the backends at the ports the simulators took. So the
simulators stay the independent oracle the tests compare the gateway with.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from simswitch.ami_server import AsteriskSimulator
from simswitch.fs_server import FreeSwitchSimulator
from simswitch.traffic import TrafficGenerator

KINDS = ("freeswitch", "asterisk")
#: Who the simulated phones call outwards, and who calls in.
EXTERNAL_NUMBERS = ["+447700900123", "+37060012345", "+4930123456", "+12025550143",
                    "+639171234567"]
RECEPTION_CALLERS = ["+37060011111", "+447700900456", "+4930765432", "+33145678901"]
#: Extensions that answer (a queue, a voicemail box): the transfer targets the platforms' own
#: examples use, so a documented transfer keeps the call up.
SERVICES = ("2600", "800")
#: How long a called phone rings before someone picks up, in seconds.
RING_TIME = (3.0, 15.0)


@dataclass(frozen=True, slots=True)
class Phone:
    """A simulated phone: its extension (SIP username), and how its switch tags its calls."""

    extension: str
    realm: str = ""  # FreeSWITCH: the SIP domain it registers in
    accountcode: str = ""  # Asterisk: the AccountCode its endpoint carries
    name: str = ""  # the display name it was provisioned with (its user's name)


@dataclass(frozen=True, slots=True)
class SwitchSpec:
    """One simulator to start, named as the backend that will connect to it."""

    name: str
    kind: str  # "freeswitch" (ESL) or "asterisk" (AMI)
    password: str = field(default="", repr=False)  # FreeSWITCH event socket
    username: str = ""  # Asterisk manager user
    secret: str = field(default="", repr=False)
    phones: tuple[Phone, ...] = ()
    gateways: tuple[str, ...] = ()  # FreeSWITCH gateways / Asterisk PJSIP trunks
    calls_per_second: float = 0.5
    hold_time: float = 40.0  # seconds a call lasts, on average
    max_calls: int = 12
    dids: tuple[str, ...] = ()  # inbound callers dial these and wait, parked, for an agent
    reception_every: float = 15.0  # seconds between two such callers
    services: tuple[str, ...] = SERVICES
    speed: float = 1.0  # simulated seconds per real second (tests run a window faster)


@dataclass
class Switches:
    """Running simulators by name, and their traffic generators."""

    sims: dict[str, Any] = field(default_factory=dict)
    traffic: dict[str, Any] = field(default_factory=dict)

    def port(self, name: str) -> int:
        port: int = self.sims[name].port
        return port

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


def simulator(spec: SwitchSpec) -> FreeSwitchSimulator | AsteriskSimulator:
    """The spec's simulator on a free loopback port, not started."""
    if spec.kind == "freeswitch":
        return FreeSwitchSimulator(
            password=spec.password, host="127.0.0.1", port=0,
            hostname=f"{spec.name}.example.net",  # FreeSWITCH reports the machine's host name
            extensions={p.extension: p.realm for p in spec.phones}, gateways=list(spec.gateways),
            services=spec.services,
        )
    if spec.kind == "asterisk":
        return AsteriskSimulator(
            username=spec.username, secret=spec.secret, host="127.0.0.1", port=0,
            # no `systemname` in asterisk.conf, as on most installs: Uniqueids are then plain
            # `1796415075.5` (unix time, a dot, a sequence number)
            system_name="",
            extensions={p.extension: p.accountcode for p in spec.phones},
            trunks=list(spec.gateways), services=spec.services,
            names={p.extension: p.name for p in spec.phones if p.name},
        )
    raise ValueError(f"no simulator for {spec.kind!r} (known: {', '.join(KINDS)})")


async def start_simulators(specs: Iterable[SwitchSpec], *, traffic: bool = True) -> Switches:
    """Start every spec's simulator (and, with `traffic`, its calls); all or none."""
    switches = Switches()
    try:
        for spec in specs:
            sim = simulator(spec)
            await sim.start()
            switches.sims[spec.name] = sim
            if traffic:
                _start_traffic(switches, spec, sim)
    except BaseException:
        await switches.stop()
        raise
    return switches


def _start_traffic(switches: Switches, spec: SwitchSpec, sim: Any) -> None:
    extensions = [p.extension for p in spec.phones]
    gen = TrafficGenerator(
        sim, callers=extensions, callees=extensions, external_numbers=list(EXTERNAL_NUMBERS),
        calls_per_second=spec.calls_per_second, hold_time=spec.hold_time,
        max_calls=spec.max_calls, names={p.extension: p.name for p in spec.phones if p.name},
        ring_time=RING_TIME, lines_per_phone=1, end_strays=True, speed=spec.speed,
    )
    gen.start()
    switches.traffic[spec.name] = gen
    if spec.dids:
        switches.traffic[f"{spec.name}-reception"] = asyncio.create_task(
            _reception(sim, spec.dids, spec.reception_every / spec.speed,
                       spec.hold_time / spec.speed))


async def _reception(sim: Any, dids: tuple[str, ...], every: float, hold: float) -> None:
    """Inbound callers who dial a DID and wait, answered and parked, for an agent (or hang up
    after `hold` seconds): what call-flow-control desks pick up."""
    waiting: list[str] = []
    callers = itertools.cycle(RECEPTION_CALLERS)
    for did in itertools.cycle(dids):
        with contextlib.suppress(Exception):
            waiting.append(await sim.place_call(next(callers), did, bridge=False,
                                                answer_after=0.05))
        await asyncio.sleep(every)
        while len(waiting) * every > hold:
            with contextlib.suppress(Exception):
                await sim.hangup(waiting.pop(0))
