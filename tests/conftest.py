"""Shared test fixtures: where the recorded switch traffic lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CALLGATE_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"recorded switch traffic not found at {FIXTURES} (set CALLGATE_SHARED)")
    return FIXTURES
