"""`[dialects.mor]`: MOR's API settings, providers and destination groups."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import Section


@dataclass(frozen=True, slots=True)
class Provider:
    number: int
    name: str
    match: str


@dataclass(frozen=True, slots=True)
class DestinationGroup:
    number: int
    name: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MorSettings:
    allow_api: bool = True
    allow_get: bool = False
    api_secret: str = field(default="", repr=False)
    disable_hash_checking: bool = False
    lenient_hash: bool = False
    hide_calls_older_than_hours: int = 24
    xml_api_extension: bool = False
    # X8 lets a reseller's users sign with the admin's key too, as long as the admin allows it
    resellers_accept_admin_key: bool = True
    rest_api: bool = True  # the X18 /billing/api/v2 REST service (login + drop calls)
    providers: tuple[Provider, ...] = ()
    destination_groups: tuple[DestinationGroup, ...] = ()


def parse(sec: Section) -> MorSettings:
    providers = []
    for s in sec.tables("providers"):
        providers.append(Provider(s.int("number", minimum=1), s.str("name"), s.str("match")))
        s.done()
    groups = []
    for s in sec.tables("destination_groups"):
        groups.append(DestinationGroup(s.int("number", minimum=1), s.str("name"),
                                       s.strings("prefixes")))
        s.done()
    return MorSettings(
        allow_api=sec.bool("allow_api", True),
        allow_get=sec.bool("allow_get", False),
        api_secret=sec.secret("api_secret", ""),
        disable_hash_checking=sec.bool("disable_hash_checking", False),
        lenient_hash=sec.bool("lenient_hash", False),
        hide_calls_older_than_hours=sec.int("hide_calls_older_than_hours", 24, minimum=0),
        xml_api_extension=sec.bool("xml_api_extension", False),
        resellers_accept_admin_key=sec.bool("resellers_accept_admin_key", True),
        rest_api=sec.bool("rest_api", True),
        providers=tuple(providers),
        destination_groups=tuple(groups),
    )
