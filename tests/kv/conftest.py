"""Fixtures of the KV suite: the backend-parametrized `kv`/`kv_url` come from tests/conftest.py;
here the clock is a plain FakeClock at 2026-01-01T00:00:00Z."""

from __future__ import annotations

import pytest

from stitcher.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 2026-01-01T00:00:00Z."""
    return FakeClock()
