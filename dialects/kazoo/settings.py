"""`[dialects.kazoo]`: Kazoo crossbar flags, the callflow-id -> dialplan map, and where the
blackhole websocket listens (`socket_listen`, absent = no socket)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import HEX32, Section, parse_listen


@dataclass(frozen=True, slots=True)
class Callflow:
    id: str
    extension: str
    context: str = "default"


@dataclass(frozen=True, slots=True)
class KazooSettings:
    system_wide_channels_list: bool = False
    callflows: tuple[Callflow, ...] = ()
    socket_listen: tuple[str, int] | None = None  # (host, port); port 0 = a free one
    socket_queue: int = 1000  # frames waiting for one socket before it is closed as too slow


def parse(sec: Section) -> KazooSettings:
    flows = []
    for s in sec.tables("callflows"):
        flows.append(Callflow(id=s.str("id", pattern=HEX32), extension=s.str("extension"),
                              context=s.str("context", "default")))
        s.done()
    listen: tuple[str, int] | None = None
    value = sec.str("socket_listen", "")
    if value:
        try:
            listen = parse_listen(value)
        except ValueError as exc:
            sec.error("socket_listen", str(exc))
    return KazooSettings(
        system_wide_channels_list=sec.bool("system_wide_channels_list", False),
        callflows=tuple(flows),
        socket_listen=listen,
        socket_queue=sec.int("socket_queue", 1000, minimum=1),
    )
