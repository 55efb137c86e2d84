"""MOR geography from the dialled number: ISO alpha-3 direction code, country direction name,
and a destination name from the number type."""

from __future__ import annotations

import pytest

from dialects.mor import geo

CASES = [
    ("63727007886", "PHL", "Philippines", "Philippines proper"),  # the seed's number
    ("639171234567", "PHL", "Philippines", "Philippines mobile"),
    ("37052000000", "LTU", "Lithuania", "Lithuania proper"),
    ("37061234567", "LTU", "Lithuania", "Lithuania mobile"),
    ("442079460000", "GBR", "United Kingdom", "United Kingdom proper"),
    ("447400123456", "GBR", "United Kingdom", "United Kingdom mobile"),
    ("4930123456", "DEU", "Germany", "Germany proper"),
    ("491711234567", "DEU", "Germany", "Germany mobile"),
    ("12025550123", "USA", "United States", "United States proper"),
    ("18005550199", "USA", "United States", "United States toll free"),
    ("79161234567", "RUS", "Russian Federation", "Russian Federation mobile"),
    ("33612345678", "FRA", "France", "France mobile"),
    ("306984327345", "GRC", "Greece", "Greece mobile"),
]


@pytest.mark.parametrize(("number", "code", "country", "name"), CASES)
def test_destination(number: str, code: str, country: str, name: str) -> None:
    assert geo.lookup(number) == geo.Destination(code, country, name)


@pytest.mark.parametrize("number", ["202", "2600", "800123456", "", "+37061234567", "abc1234567",
                                    "4420794600001234567"])
def test_not_a_country(number: str) -> None:
    """Extensions, non-geographic codes, junk and impossible lengths have no direction."""
    assert geo.lookup(number) == geo.NONE


@pytest.mark.parametrize(("given", "canonical"), [
    ("Philippines", "Philippines"), ("philippines", "Philippines"),
    (" united kingdom ", "United Kingdom"), ("Republic of the Philippines", "Philippines"),
    ("Bolivia", "Bolivia"), ("Bolivia, Plurinational State of", "Bolivia"),
])
def test_direction_names(given: str, canonical: str) -> None:
    assert geo.direction(given) == canonical


@pytest.mark.parametrize("given", ["Atlantis", "PH", "PHL", "", "Philippine"])
def test_unknown_direction(given: str) -> None:
    assert geo.direction(given) is None
