"""Demo mode's wiring: a configuration's `[[demo.switches]]` as simulators, and its backends
pointed at them.

The simulators (simswitch/demo.py) take plain descriptions and know nothing of the gateway;
this module is the one place that translates, so `callgate serve --demo`, the integration tests
and the benchmarks run what is demoed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from simswitch.demo import Phone, Switches, SwitchSpec, start_simulators

from .config import BackendSettings, DemoSwitch, Settings, load

__all__ = ["DEMO_CONFIG", "Switches", "load_demo", "start_switches", "switch_specs"]

#: Shipped inside the package so a non-editable install can run `--demo`; `config/demo.toml`
#: (the documented place) is a link to it.
DEMO_CONFIG = Path(__file__).resolve().parent / "demo.toml"


def load_demo() -> Settings:
    return load(DEMO_CONFIG)


def _phones(settings: Settings, extensions: tuple[str, ...]) -> tuple[Phone, ...]:
    """The simulated phones: each device's realm and account (Asterisk's AccountCode), and the
    display name it is provisioned with: its owner's name from the directory (else the
    device's), which it sends as its caller id name on every call, in every dialect."""
    accounts = {a.id: a for a in settings.accounts}
    users = {u.id: u for u in settings.users}
    found: dict[str, Phone] = {}
    for dev in settings.devices:
        if dev.sip_username in extensions:
            acc = accounts[dev.account]
            owner = users.get(dev.owner) if dev.owner else None
            name = owner.name if owner is not None and owner.name else dev.name
            found[dev.sip_username] = Phone(dev.sip_username, acc.realm, acc.id, name)
    return tuple(found.get(ext, Phone(ext)) for ext in extensions)


def _spec(settings: Settings, backend: BackendSettings, sw: DemoSwitch,
          speed: float = 1.0) -> SwitchSpec:
    options = backend.options
    return SwitchSpec(
        name=backend.name, kind=backend.type,
        password=getattr(options, "password", ""), username=getattr(options, "username", ""),
        secret=getattr(options, "secret", ""),
        phones=_phones(settings, sw.extensions), gateways=sw.gateways,
        calls_per_second=sw.calls_per_second, hold_time=sw.hold_time, max_calls=sw.max_calls,
        dids=sw.dids, reception_every=sw.reception_every, speed=speed,
    )


def switch_specs(settings: Settings, only: tuple[str, ...] | None = None, *,
                 speed: float = 1.0) -> list[SwitchSpec]:
    """One simulator per `[[demo.switches]]` entry (or those whose backend `only` names);
    `speed` > 1 runs their traffic's simulated time faster (tests)."""
    by_name = {b.name: b for b in settings.backends}
    return [_spec(settings, by_name[sw.backend], sw, speed) for sw in settings.demo
            if only is None or sw.backend in only]


async def start_switches(settings: Settings, *, traffic: bool = True,
                         only: tuple[str, ...] | None = None,
                         speed: float = 1.0) -> tuple[Settings, Switches]:
    """Start a simulator for every `[[demo.switches]]` entry (or those named in `only`) and
    return settings whose backends point at them; backends without a simulator are dropped."""
    specs = switch_specs(settings, only, speed=speed)
    switches = await start_simulators(specs, traffic=traffic)
    by_name = {b.name: b for b in settings.backends}
    backends = tuple(
        dataclasses.replace(by_name[spec.name], host="127.0.0.1", port=switches.port(spec.name),
                            backoff_initial=0.2, backoff_max=2.0)
        for spec in specs
    )
    return dataclasses.replace(settings, backends=backends), switches
