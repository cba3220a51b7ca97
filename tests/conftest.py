from __future__ import annotations

from collections.abc import AsyncIterator

import hypothesis.core
import pytest
from hypothesis.vendor import pretty
from schemathesis.generation.hypothesis import setup as patch_hypothesis_for_schemathesis

from tests.support.fake_alphavantage import FakeAlphaVantage
from tests.support.services import postgres_database, redis_database

# schemathesis patches Hypothesis once, on first use (its pytest plugin uses it at start-up),
# and swaps the printer of falsifying examples for one that prints nothing: every Hypothesis
# test of the suite would report `Failing test case: test(x=,)`. Let it patch now, then put
# Hypothesis' own printer back (tests/api/test_schemathesis_api.py checks the report).
patch_hypothesis_for_schemathesis()
hypothesis.core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[attr-defined]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """An emptied Redis database for one test."""
    async with redis_database() as url:
        yield url


@pytest.fixture
async def fake_alphavantage() -> AsyncIterator[FakeAlphaVantage]:
    """A running fake Alpha Vantage server (see tests/support/fake_alphavantage.py).

    Point a client at `fake_alphavantage.base_url` with `fake_alphavantage.api_key`.
    """
    async with FakeAlphaVantage() as fake:
        yield fake
