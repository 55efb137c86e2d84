"""MOR's destination for a dialled number (direction code/name, destination name), from
phonenumbers' numbering plans and pycountry's ISO names instead of MOR's prefix tables."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
import pycountry
from phonenumbers import PhoneNumberType as T

#: MOR names a country's destinations "<Country> proper", "<Country> mobile", ...
_KIND = {
    T.FIXED_LINE: "proper", T.FIXED_LINE_OR_MOBILE: "proper", T.UNKNOWN: "proper",
    T.MOBILE: "mobile", T.TOLL_FREE: "toll free", T.PREMIUM_RATE: "premium",
    T.SHARED_COST: "shared cost", T.VOIP: "VoIP", T.PERSONAL_NUMBER: "personal",
    T.PAGER: "pager", T.UAN: "UAN", T.VOICEMAIL: "voicemail",
}


@dataclass(frozen=True, slots=True)
class Destination:
    code: str = ""  # ISO alpha-3, MOR's direction code
    country: str = ""  # MOR's direction name
    name: str = ""  # MOR's destination name


NONE = Destination()


def country_name(country: object) -> str:
    return str(getattr(country, "common_name", None) or country.name)  # type: ignore[attr-defined]


@lru_cache(maxsize=65536)
def lookup(number: str) -> Destination:
    """The destination of an international number given without `+`; empty for extensions
    and anything the numbering plans do not place in a country."""
    if not number.isdigit() or len(number) < 7:
        return NONE
    try:
        parsed = phonenumbers.parse("+" + number)
    except phonenumbers.NumberParseException:
        return NONE
    if not phonenumbers.is_possible_number(parsed):
        return NONE
    region = phonenumbers.region_code_for_number(parsed) or \
        phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    country = pycountry.countries.get(alpha_2=region) if region and region != "001" else None
    if country is None:
        return NONE
    name = country_name(country)
    kind = _KIND.get(phonenumbers.number_type(parsed), "proper")
    return Destination(country.alpha_3, name, f"{name} {kind}")


@cache
def _directions() -> dict[str, str]:
    out: dict[str, str] = {}
    for c in pycountry.countries:
        canonical = country_name(c)
        for n in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)):
            if n:
                out.setdefault(n.casefold(), canonical)
    return out


def direction(name: str) -> str | None:
    """The canonical direction name for `s_country`, or None when no such country exists."""
    return _directions().get(name.strip().casefold())
