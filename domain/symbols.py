"""Ticker symbol rules: case-insensitive on input, upper-case inside."""

from __future__ import annotations

import re

from domain.errors import InvalidSymbol

_SYMBOL = re.compile(r"[A-Z][A-Z0-9.\-]{0,9}")


def normalize_symbol(text: str, *, field: str = "symbol") -> str:
    """Return the upper-case symbol, or raise InvalidSymbol (an InvalidInput).

    Valid symbols are 1-10 characters of A-Z, 0-9, '.' and '-', starting with a letter;
    surrounding whitespace is ignored.
    """
    symbol = text.strip().upper()
    if not _SYMBOL.fullmatch(symbol):
        raise InvalidSymbol(
            "A symbol is 1-10 characters of A-Z, 0-9, '.' or '-', starting with a letter",
            text=text,
            field=field,
        )
    return symbol
