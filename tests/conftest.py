"""Shared test fixtures: where the recorded switch traffic and the seed texts live.

Everything the tests read is inside the repository, under tests/fixtures/ (provenance in its
README), so a clone with nothing beside it passes its own suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SEEDS = FIXTURES / "seeds"


def missing_fixtures(path: Path) -> str:
    """Why a fixture file is absent, said so that the reader knows where to look."""
    return (f"test fixture not found: {path}. Everything the tests read is tracked in git under "
            f"tests/fixtures/ (see tests/fixtures/README.md); restore it with "
            f"`git checkout -- tests/fixtures` or use a complete clone")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "freeswitch").is_dir() or not (FIXTURES / "asterisk-22-real").is_dir():
        pytest.fail(missing_fixtures(FIXTURES))
    return FIXTURES
