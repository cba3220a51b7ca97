"""Real daily prices for tests: bokeh_sampledata's AAPL, IBM, ... (2000-03-01 .. 2013-03-01,
3,270 bars each), written as the CSV `stockql import-csv` reads."""

from __future__ import annotations

from pathlib import Path

import bokeh_sampledata.stocks as stocks

FIRST_DAY, LAST_DAY, BARS = "2000-03-01", "2013-03-01", 3270


def write_sample_csv(path: Path, ticker: str, *, rows: int | None = None) -> Path:
    """`ticker`'s sample bars as a date,open,high,low,close,volume file (the newest `rows` of
    them when given)."""
    data = getattr(stocks, ticker)
    columns = zip(
        data["date"],
        data["open"],
        data["high"],
        data["low"],
        data["close"],
        data["volume"],
        strict=True,
    )
    lines = [",".join(map(str, row)) for row in columns]
    if rows is not None:
        lines = lines[-rows:]
    path.write_text("\n".join(["date,open,high,low,close,volume", *lines]) + "\n")
    return path
