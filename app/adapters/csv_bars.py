"""Bars from CSV files: an all-or-nothing parser for imports, and a provider over a directory
of files named {SYMBOL}.csv (daily) and {SYMBOL}_{interval}.csv (e.g. AAPL_5min.csv)."""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from app.adapters.symbol_directory import Listing, SymbolDirectory
from domain.errors import InvalidInput
from domain.market import Bar, Interval, Quote, SymbolMatch
from domain.providers import ProviderUnavailable, UnknownSymbol

# The source of imported bars (`stockql import-csv`), the same name as the CSV provider's: both
# are files the operator gave.
IMPORT_SOURCE = "csv"
_TIME_COLUMNS = ("timestamp", "datetime", "date")
_VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
# In messages, a bad CSV lists this many problems; `problems` keeps them all.
_SHOWN_PROBLEMS = 5


class CsvImportError(InvalidInput):
    """The CSV cannot be imported. `problems` holds (line, message) for every problem found,
    in line order; line 1 is the header."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        shown = "; ".join(f"line {line}: {text}" for line, text in problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        suffix = f"; and {more} more" if more > 0 else ""
        super().__init__(f"{len(problems)} problem(s) in the CSV: {shown}{suffix}")
        self.problems = problems


def parse_bar_csv(text: str) -> list[Bar]:
    """Bars from CSV text, oldest first; raises CsvImportError listing every bad row.

    The header names a `date` or `timestamp` column and `open`, `high`, `low`, `close`,
    `volume` (any case, any order; other columns are ignored). A date (YYYY-MM-DD) means
    midnight UTC; a timestamp is ISO 8601, naive meaning UTC, 'Z' or an offset converted to
    UTC. Each row needs finite numbers, prices > 0, volume >= 0, high >= open, close and low,
    low <= open and close, and a timestamp no other row has. Blank lines are skipped; a file
    with a header and no rows gives an empty list.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(_nonblank(reader), None)
    if header is None:
        raise CsvImportError([(1, "the file is empty; expected a header line")])
    columns, problems = _columns(header, reader.line_num)
    if problems:
        raise CsvImportError(problems)
    width = max(columns.values()) + 1
    bars: dict[datetime, tuple[int, Bar]] = {}
    for row in _nonblank(reader):
        line = reader.line_num
        if len(row) < width:
            problems.append((line, f"expected at least {width} fields, found {len(row)}"))
            continue
        bar, row_problems = _bar(row, columns)
        problems.extend((line, text) for text in row_problems)
        if bar is None:
            continue
        if bar.timestamp in bars:
            first = bars[bar.timestamp][0]
            problems.append(
                (line, f"duplicate timestamp {bar.timestamp.isoformat()} (line {first})")
            )
            continue
        bars[bar.timestamp] = (line, bar)
    if problems:
        raise CsvImportError(problems)
    return [bar for _, (_, bar) in sorted(bars.items())]


def _nonblank(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    return (row for row in reader if any(cell.strip() for cell in row))


def _columns(header: list[str], line: int) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Position of the time column (key "time") and each value column in the header."""
    positions: dict[str, int] = {}
    problems: list[tuple[int, str]] = []
    for position, cell in enumerate(header):
        name = cell.strip().lower()
        if name in positions:
            problems.append((line, f"column {name!r} appears twice"))
        positions.setdefault(name, position)
    columns = {name: positions[name] for name in _VALUE_COLUMNS if name in positions}
    time_column = next((name for name in _TIME_COLUMNS if name in positions), None)
    if time_column is not None:
        columns["time"] = positions[time_column]
    missing = [name for name in _VALUE_COLUMNS if name not in columns]
    if time_column is None:
        missing.insert(0, "date or timestamp")
    if missing:
        problems.append((line, f"missing column(s): {', '.join(missing)}"))
    return columns, problems


def _bar(row: list[str], columns: dict[str, int]) -> tuple[Bar | None, list[str]]:
    problems: list[str] = []
    timestamp = None
    raw = row[columns["time"]].strip()
    try:
        timestamp = _utc(datetime.fromisoformat(raw))
    except ValueError:
        problems.append(f"date/timestamp {raw!r} is not an ISO 8601 date or timestamp")
    values: dict[str, float] = {}
    for name in _VALUE_COLUMNS:
        cell = row[columns[name]].strip()
        try:
            value = float(cell)
        except ValueError:
            problems.append(f"{name} {cell!r} is not a number")
            continue
        if not math.isfinite(value):
            problems.append(f"{name} {cell!r} is not a finite number")
            continue
        values[name] = value
    for name in ("open", "high", "low", "close"):
        if name in values and values[name] <= 0:
            problems.append(f"{name} must be > 0, got {values[name]:g}")
    if values.get("volume", 0.0) < 0:
        problems.append(f"volume must be >= 0, got {values['volume']:g}")
    if not problems:  # the order of prices is only worth checking when they are valid
        high, low = values["high"], values["low"]
        if high < max(values["open"], values["close"], low):
            problems.append(f"high {high:g} is below the open, close or low")
        if low > min(values["open"], values["close"]):
            problems.append(f"low {low:g} is above the open or close")
    if problems or timestamp is None:
        return None, problems
    bar = Bar(
        timestamp, values["open"], values["high"], values["low"], values["close"], values["volume"]
    )
    return bar, []


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class CsvProvider:
    """A MarketDataProvider over CSV files: `{directory}/{SYMBOL}.csv` holds daily bars and
    `{SYMBOL}_{interval}.csv` intraday ones (file names match in any case). A symbol without
    a daily file is unknown. Files are re-read when they change."""

    def __init__(self, *, directory: Path, symbol_directory: SymbolDirectory | None = None):
        self._directory = directory
        self._names = symbol_directory or SymbolDirectory()
        self._parsed: dict[Path, tuple[tuple[int, int], list[Bar]]] = {}
        # Offered intervals are fixed when the provider starts: the files present then.
        self._intervals = frozenset({Interval.DAILY, *(key[1] for key in self._files())})

    @property
    def name(self) -> str:
        return IMPORT_SOURCE

    @property
    def intervals(self) -> frozenset[Interval]:
        """DAILY, plus each intraday interval some file had when the provider was created."""
        return self._intervals

    async def fetch_bars(
        self, symbol: str, interval: Interval, *, since: datetime | None = None
    ) -> list[Bar]:
        """Every bar of the file from `since` on, oldest first. An intraday interval without
        a file for a known symbol gives no bars. Raises UnknownSymbol, ProviderUnavailable
        for an unreadable or invalid file, and ValueError for WEEKLY."""
        if interval is Interval.WEEKLY:
            raise ValueError("CSV files serve no weekly bars; derive them from daily ones")
        bars = await asyncio.to_thread(self._read, symbol.strip().upper(), interval)
        if since is not None:
            bars = [bar for bar in bars if bar.timestamp >= since]
        return bars

    async def fetch_quote(self, symbol: str) -> Quote:
        """The last daily bar as a quote, its previous close from the bar before it."""
        symbol = symbol.strip().upper()
        bars = await asyncio.to_thread(self._read, symbol, Interval.DAILY)
        if not bars:
            raise ProviderUnavailable(f"{symbol}.csv holds no bars")
        last = bars[-1]
        previous = bars[-2].close if len(bars) > 1 else None
        change = last.close - previous if previous is not None else None
        return Quote(
            symbol=symbol,
            price=last.close,
            timestamp=last.timestamp,
            source=self.name,
            open=last.open,
            high=last.high,
            low=last.low,
            previous_close=previous,
            change=change,
            change_percent=100.0 * change / previous if previous and change is not None else None,
            volume=last.volume,
        )

    async def search(self, query: str) -> list[SymbolMatch]:
        """Symbols with a daily file, named from the symbol directory when it lists them."""
        files = await asyncio.to_thread(self._files)
        listings = []
        for symbol in sorted({key[0] for key in files if key[1] is Interval.DAILY}):
            known = self._names.listing(symbol)
            listings.append(known or Listing(symbol, symbol, region=None, currency=None))
        return SymbolDirectory(listings).search(query)

    def _files(self) -> dict[tuple[str, Interval], Path]:
        """Bar files in the directory by (SYMBOL, interval); other files are ignored."""
        intervals = {interval.value: interval for interval in Interval}
        files: dict[tuple[str, Interval], Path] = {}
        if not self._directory.is_dir():
            return files
        for path in self._directory.iterdir():
            if path.suffix.lower() != ".csv" or not path.is_file():
                continue
            symbol, _, suffix = path.stem.upper().rpartition("_")
            interval = intervals.get(suffix.lower())
            if not symbol or interval is None or not interval.is_intraday:
                symbol, interval = path.stem.upper(), Interval.DAILY
            files[(symbol, interval)] = path
        return files

    def _read(self, symbol: str, interval: Interval) -> list[Bar]:
        files = self._files()
        path = files.get((symbol, interval))
        if path is None:
            if interval is Interval.DAILY or (symbol, Interval.DAILY) not in files:
                raise UnknownSymbol(f"no {symbol}.csv in {self._directory}")
            return []
        try:
            stat = path.stat()
            version = (stat.st_mtime_ns, stat.st_size)
            cached = self._parsed.get(path)
            if cached is not None and cached[0] == version:
                return list(cached[1])
            bars = parse_bar_csv(path.read_text(encoding="utf-8-sig"))
        except OSError as error:
            raise ProviderUnavailable(f"{path.name}: {type(error).__name__}") from error
        except CsvImportError as error:
            raise ProviderUnavailable(f"{path.name}: {error.message}") from error
        self._parsed[path] = (version, bars)
        return list(bars)
