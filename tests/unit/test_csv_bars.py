from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.adapters.csv_bars import CsvImportError, CsvProvider, parse_bar_csv
from domain.errors import InvalidInput
from domain.market import Bar, Interval
from domain.providers import ProviderUnavailable, UnknownSymbol

DAILY_CSV = """Date,Open,High,Low,Close,Volume
2024-01-03,101,103,100,102,1200
2024-01-02,100,102,99,101,1000
"""

INTRADAY_CSV = """timestamp,open,high,low,close,volume
2024-01-02T14:30:00Z,100,101,99.5,100.5,10
2024-01-02T14:35:00Z,100.5,101.5,100,101,20
"""


def day(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(CsvImportError) as caught:
        parse_bar_csv(text)
    return caught.value.problems


def only_problem(text: str) -> tuple[int, str]:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# parse_bar_csv


def test_good_file_gives_bars_oldest_first() -> None:
    assert parse_bar_csv(DAILY_CSV) == [
        Bar(day(2024, 1, 2), 100.0, 102.0, 99.0, 101.0, 1000.0),
        Bar(day(2024, 1, 3), 101.0, 103.0, 100.0, 102.0, 1200.0),
    ]


def test_columns_may_come_in_any_order_and_case_with_extra_columns() -> None:
    text = "VOLUME,close,Symbol,LOW,high,Open,DATE\n1000,101,AAPL,99,102,100,2024-01-02\n"
    assert parse_bar_csv(text) == [Bar(day(2024, 1, 2), 100.0, 102.0, 99.0, 101.0, 1000.0)]


def test_naive_timestamp_means_utc() -> None:
    bars = parse_bar_csv("timestamp,open,high,low,close,volume\n2024-01-02 14:30,1,1,1,1,0\n")
    assert bars[0].timestamp == day(2024, 1, 2, 14, 30)


def test_timestamp_with_z_is_utc() -> None:
    assert parse_bar_csv(INTRADAY_CSV)[0].timestamp == day(2024, 1, 2, 14, 30)


def test_timestamp_with_offset_is_converted_to_utc() -> None:
    text = "timestamp,open,high,low,close,volume\n2024-01-02T09:30:00-05:00,1,1,1,1,0\n"
    bar = parse_bar_csv(text)[0]
    assert bar.timestamp == day(2024, 1, 2, 14, 30)
    assert bar.timestamp.tzinfo is UTC


def test_date_means_midnight_utc() -> None:
    assert parse_bar_csv(DAILY_CSV)[0].timestamp == day(2024, 1, 2)


def test_header_only_gives_no_bars() -> None:
    assert parse_bar_csv("date,open,high,low,close,volume\n") == []


def test_byte_order_mark_and_blank_lines_are_ignored() -> None:
    text = "\ufeffdate,open,high,low,close,volume\n\n2024-01-02,1,2,1,2,5\n\n"
    assert len(parse_bar_csv(text)) == 1


def test_empty_file_is_refused_at_line_1() -> None:
    assert only_problem("")[0] == 1


def test_missing_columns_are_named_at_line_1() -> None:
    line, text = only_problem("day,open,close\n2024-01-02,1,1\n")
    assert line == 1
    assert "date or timestamp" in text
    assert "high" in text
    assert "volume" in text


def test_repeated_column_is_refused() -> None:
    line, text = only_problem("date,open,high,low,close,close,volume\n")
    assert (line, text) == (1, "column 'close' appears twice")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2024-01-02,abc,2,1,1,5", "open 'abc' is not a number"),
        ("2024-01-02,1,2,1,1,", "volume '' is not a number"),
        ("2024-01-02,nan,2,1,1,5", "open 'nan' is not a finite number"),
        ("2024-01-02,1,inf,1,1,5", "high 'inf' is not a finite number"),
        ("2024-01-02,0,2,1,1,5", "open must be > 0, got 0"),
        ("2024-01-02,1,2,1,-1,5", "close must be > 0, got -1"),
        ("2024-01-02,1,2,1,1,-5", "volume must be >= 0, got -5"),
        ("2024-01-02,2,1.5,1,1,5", "high 1.5 is below the open, close or low"),
        ("2024-01-02,1,1.5,1,2,5", "high 1.5 is below the open, close or low"),
        ("2024-01-02,1,2,1.5,1.2,5", "low 1.5 is above the open or close"),
        (
            "02/01/2024,1,2,1,1,5",
            "date/timestamp '02/01/2024' is not an ISO 8601 date or timestamp",
        ),
        ("2024-01-02,1,2,1", "expected at least 6 fields, found 4"),
    ],
)
def test_bad_row_is_reported_with_its_line_number(row: str, expected: str) -> None:
    text = f"date,open,high,low,close,volume\n2024-01-01,1,2,1,1,5\n{row}\n"
    assert only_problem(text) == (3, expected)


def test_duplicate_timestamp_names_the_first_line() -> None:
    text = (
        "timestamp,open,high,low,close,volume\n"
        "2024-01-02T14:30:00Z,1,2,1,1,5\n"
        "2024-01-02T09:30:00-05:00,1,2,1,1,5\n"
    )
    assert only_problem(text) == (3, "duplicate timestamp 2024-01-02T14:30:00+00:00 (line 2)")


def test_every_bad_row_is_reported_at_once() -> None:
    text = (
        "date,open,high,low,close,volume\n"
        "2024-01-02,x,2,1,1,5\n"  # line 2
        "2024-01-03,1,2,1,1,5\n"
        "\n"
        "2024-01-05,1,2,1,1,-1\n"  # line 5: blank lines still count
        "2024-01-06,1,0.5,1,1,5\n"  # line 6
    )
    assert [line for line, _ in problems_of(text)] == [2, 5, 6]


def test_a_row_with_several_problems_reports_each() -> None:
    text = "date,open,high,low,close,volume\nsoon,x,2,1,1,-5\n"
    assert len(problems_of(text)) == 3


def test_import_error_is_bad_user_input_and_summarises_the_problems() -> None:
    rows = "".join(f"2024-01-{n:02d},x,2,1,1,5\n" for n in range(1, 9))
    with pytest.raises(CsvImportError) as caught:
        parse_bar_csv("date,open,high,low,close,volume\n" + rows)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.code == "BAD_USER_INPUT"
    assert len(error.problems) == 8
    assert error.message.startswith("8 problem(s) in the CSV: line 2: open 'x' is not a number")
    assert error.message.endswith("; and 3 more")


# CsvProvider


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "AAPL.csv").write_text(DAILY_CSV, encoding="utf-8")
    (tmp_path / "AAPL_5min.csv").write_text(INTRADAY_CSV, encoding="utf-8")
    (tmp_path / "zzz.csv").write_text(DAILY_CSV, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not bars", encoding="utf-8")
    return tmp_path


async def test_provider_reads_daily_bars_from_symbol_csv(data: Path) -> None:
    bars = await CsvProvider(directory=data).fetch_bars("AAPL", Interval.DAILY)
    assert bars == parse_bar_csv(DAILY_CSV)


async def test_provider_reads_intraday_bars_from_symbol_interval_csv(data: Path) -> None:
    bars = await CsvProvider(directory=data).fetch_bars("AAPL", Interval.FIVE_MINUTES)
    assert [bar.timestamp for bar in bars] == [day(2024, 1, 2, 14, 30), day(2024, 1, 2, 14, 35)]


async def test_provider_finds_files_named_in_any_case(data: Path) -> None:
    assert len(await CsvProvider(directory=data).fetch_bars("zzz", Interval.DAILY)) == 2


async def test_provider_applies_since(data: Path) -> None:
    provider = CsvProvider(directory=data)
    bars = await provider.fetch_bars("AAPL", Interval.DAILY, since=day(2024, 1, 3))
    assert [bar.timestamp for bar in bars] == [day(2024, 1, 3)]


def test_provider_offers_daily_and_the_intraday_intervals_it_has_files_for(data: Path) -> None:
    provider = CsvProvider(directory=data)
    assert provider.intervals == {Interval.DAILY, Interval.FIVE_MINUTES}
    assert provider.name == "csv"


async def test_provider_gives_no_bars_for_a_missing_intraday_file(data: Path) -> None:
    assert await CsvProvider(directory=data).fetch_bars("AAPL", Interval.ONE_MINUTE) == []


async def test_provider_without_a_daily_file_does_not_know_the_symbol(data: Path) -> None:
    provider = CsvProvider(directory=data)
    with pytest.raises(UnknownSymbol):
        await provider.fetch_bars("MSFT", Interval.DAILY)
    with pytest.raises(UnknownSymbol):
        await provider.fetch_bars("MSFT", Interval.FIVE_MINUTES)


async def test_provider_without_the_directory_knows_no_symbol(tmp_path: Path) -> None:
    provider = CsvProvider(directory=tmp_path / "missing")
    assert provider.intervals == {Interval.DAILY}
    with pytest.raises(UnknownSymbol):
        await provider.fetch_quote("AAPL")


async def test_provider_reports_an_invalid_file_as_unavailable(data: Path) -> None:
    (data / "BAD.csv").write_text("date,open,high,low,close,volume\n2024-01-02,x,1,1,1,1\n")
    with pytest.raises(ProviderUnavailable, match=r"BAD\.csv: 1 problem"):
        await CsvProvider(directory=data).fetch_bars("BAD", Interval.DAILY)


async def test_provider_rereads_a_file_that_changed(data: Path) -> None:
    provider = CsvProvider(directory=data)
    await provider.fetch_bars("AAPL", Interval.DAILY)
    path = data / "AAPL.csv"
    path.write_text(DAILY_CSV + "2024-01-04,102,104,101,103,900\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert len(await provider.fetch_bars("AAPL", Interval.DAILY)) == 3


async def test_provider_refuses_weekly_bars(data: Path) -> None:
    with pytest.raises(ValueError, match="weekly"):
        await CsvProvider(directory=data).fetch_bars("AAPL", Interval.WEEKLY)


async def test_quote_is_the_last_daily_bar_against_the_one_before(data: Path) -> None:
    quote = await CsvProvider(directory=data).fetch_quote("aapl")
    assert (quote.symbol, quote.price, quote.timestamp, quote.source) == (
        "AAPL",
        102.0,
        day(2024, 1, 3),
        "csv",
    )
    assert (quote.open, quote.high, quote.low, quote.volume) == (101.0, 103.0, 100.0, 1200.0)
    assert quote.previous_close == 101.0
    assert quote.change == pytest.approx(1.0)
    assert quote.change_percent == pytest.approx(100 / 101)


async def test_quote_of_a_single_bar_has_no_previous_close(tmp_path: Path) -> None:
    (tmp_path / "ONE.csv").write_text("date,open,high,low,close,volume\n2024-01-02,1,2,1,2,5\n")
    quote = await CsvProvider(directory=tmp_path).fetch_quote("ONE")
    assert (quote.price, quote.previous_close, quote.change) == (2.0, None, None)


async def test_quote_of_a_file_without_bars_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "NONE.csv").write_text("date,open,high,low,close,volume\n")
    with pytest.raises(ProviderUnavailable):
        await CsvProvider(directory=tmp_path).fetch_quote("NONE")


async def test_search_names_known_symbols_from_the_directory(data: Path) -> None:
    matches = await CsvProvider(directory=data).search("apple")
    assert [(m.symbol, m.name) for m in matches] == [("AAPL", "Apple Inc.")]


async def test_search_finds_unknown_symbols_by_file_name(data: Path) -> None:
    matches = await CsvProvider(directory=data).search("zz")
    assert [(m.symbol, m.name, m.region) for m in matches] == [("ZZZ", "ZZZ", None)]
