from __future__ import annotations

import pytest

from app.adapters.symbol_directory import SymbolDirectory
from domain.errors import SymbolNotFound
from domain.unknown_symbols import UnknownSymbols
from tests.support.fakes import DictCache


async def test_a_symbol_the_provider_did_not_know_is_not_found_until_forgotten() -> None:
    cache = DictCache()
    unknown = UnknownSymbols(cache)
    await unknown.check("ZZZZ")

    error = await unknown.remember("ZZZZ")

    assert (error.symbol, error.message) == ("ZZZZ", "Unknown symbol ZZZZ")
    with pytest.raises(SymbolNotFound):
        await unknown.check("ZZZZ")
    await cache.clear_symbol("ZZZZ")
    await unknown.check("ZZZZ")


async def test_a_company_name_is_not_found_without_being_remembered() -> None:
    cache = DictCache()
    unknown = UnknownSymbols(cache, names=SymbolDirectory())

    with pytest.raises(SymbolNotFound) as caught:
        await unknown.check("APPLE")

    assert caught.value.symbol == "APPLE"
    await unknown.check("AAPL")
    await unknown.check("FORD")


async def test_without_a_directory_company_names_are_left_to_the_provider() -> None:
    await UnknownSymbols(DictCache()).check("APPLE")
