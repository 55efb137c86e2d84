"""`[dialects.kazoo]`: Kazoo crossbar flags and the callflow-id -> dialplan map."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import HEX32, Section


@dataclass(frozen=True, slots=True)
class Callflow:
    id: str
    extension: str
    context: str = "default"


@dataclass(frozen=True, slots=True)
class KazooSettings:
    system_wide_channels_list: bool = False
    callflows: tuple[Callflow, ...] = ()


def parse(sec: Section) -> KazooSettings:
    flows = []
    for s in sec.tables("callflows"):
        flows.append(Callflow(id=s.str("id", pattern=HEX32), extension=s.str("extension"),
                              context=s.str("context", "default")))
        s.done()
    return KazooSettings(
        system_wide_channels_list=sec.bool("system_wide_channels_list", False),
        callflows=tuple(flows),
    )
