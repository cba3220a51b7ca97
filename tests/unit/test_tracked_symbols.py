"""Tracked symbols: the configured ones always, others while watched, within the limit."""

import pytest

from app.adapters.live_symbols import MemoryLiveSymbols
from domain.tracked_symbols import TooManyLiveSymbols, TrackedSymbols


def tracked(*, max_live: int = 2) -> TrackedSymbols:
    return TrackedSymbols(configured=("MSFT", "AAPL"), live=MemoryLiveSymbols(), max_live=max_live)


async def test_configured_symbols_come_first_in_their_order_then_watched_ones_alphabetically() -> (
    None
):
    symbols = tracked()
    async with symbols.watching("ORCL"), symbols.watching("IBM"):
        assert await symbols.current() == ("MSFT", "AAPL", "IBM", "ORCL")
    assert await symbols.current() == ("MSFT", "AAPL")


async def test_a_symbol_is_tracked_until_its_last_watcher_leaves() -> None:
    symbols = tracked()
    async with symbols.watching("IBM"):
        async with symbols.watching("IBM"):
            pass
        assert "IBM" in await symbols.current()
    assert "IBM" not in await symbols.current()


async def test_a_new_symbol_past_the_limit_is_refused_but_watched_and_configured_ones_are_not() -> (
    None
):
    symbols = tracked(max_live=1)
    async with symbols.watching("IBM"):
        with pytest.raises(TooManyLiveSymbols) as refused:
            async with symbols.watching("ORCL"):
                pass
        assert refused.value.code == "RATE_LIMITED"
        assert "ORCL" in refused.value.message
        async with symbols.watching("IBM"), symbols.watching("AAPL"):
            assert await symbols.current() == ("MSFT", "AAPL", "IBM")
    async with symbols.watching("ORCL"):
        assert await symbols.current() == ("MSFT", "AAPL", "ORCL")


async def test_with_no_live_symbols_allowed_only_configured_ones_can_be_watched() -> None:
    symbols = tracked(max_live=0)
    async with symbols.watching("AAPL"):
        pass
    with pytest.raises(TooManyLiveSymbols):
        async with symbols.watching("IBM"):
            pass


async def test_a_watcher_that_fails_still_leaves() -> None:
    symbols = tracked(max_live=1)
    with pytest.raises(RuntimeError):
        async with symbols.watching("IBM"):
            raise RuntimeError("the subscription broke")
    async with symbols.watching("ORCL"):
        assert await symbols.current() == ("MSFT", "AAPL", "ORCL")
