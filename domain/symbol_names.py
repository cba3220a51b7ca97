"""Unknown symbols and the tickers they may have meant, from a local directory of names.

A client asking for `history(symbol: "Apple")` means AAPL: the answer to an unknown symbol
carries the directory's best matches, and a text the directory knows as a company name is
refused before it costs a provider call (Alpha Vantage's free plan allows 25 a day).
"""

from __future__ import annotations

from typing import Protocol

from domain.errors import InvalidSymbol, SymbolNotFound
from domain.market import SymbolMatch
from domain.symbol_search import MAX_QUERY_LENGTH

MAX_SUGGESTIONS = 5


class SymbolNames(Protocol):
    """A local directory of listings (no provider call, no I/O)."""

    def suggest(self, text: str, *, limit: int) -> list[SymbolMatch]:
        """At most `limit` listings `text` may have meant, best first; [] when none is close."""
        ...

    def is_company_name(self, text: str) -> bool:
        """True when `text` is no listed symbol but the start of a listed company's name."""
        ...


def suggestions_for(error: BaseException, names: SymbolNames | None) -> list[SymbolMatch]:
    """The best matches for the symbol of a SymbolNotFound, or for the text of an
    InvalidSymbol ("Apple Inc."); [] for any other error, a text longer than a searchSymbols
    query may be, or without a directory."""
    if isinstance(error, SymbolNotFound):
        text = error.symbol
    elif isinstance(error, InvalidSymbol):
        text = error.text
    else:
        return []
    if names is None or len(text) > MAX_QUERY_LENGTH:
        return []
    return names.suggest(text, limit=MAX_SUGGESTIONS)


def has_suggestions(error: BaseException) -> bool:
    """Whether answers to `error` carry suggestions (perhaps none): it names a symbol."""
    return isinstance(error, SymbolNotFound | InvalidSymbol)
