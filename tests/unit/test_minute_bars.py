"""MinuteBarBook: trades into 1-minute bars, late and out-of-order trades, finality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.market import Interval
from domain.minute_bars import MinuteBarBook, minute_of
from domain.streaming import MinuteBar, Trade

T0 = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)


def trade(seconds: float, price: float, size: float = 10.0, symbol: str = "AAPL") -> Trade:
    return Trade(symbol, price, size, T0 + timedelta(seconds=seconds))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_min1_is_an_intraday_interval_of_one_minute() -> None:
    assert Interval.MIN1.is_intraday
    assert Interval.MIN1.length == timedelta(minutes=1)


def test_minute_of_floors_to_the_minute_in_utc() -> None:
    assert minute_of(datetime(2026, 12, 7, 14, 30, 59, 999999, tzinfo=UTC)) == T0


def test_trades_of_one_minute_make_one_bar_with_ohlcv_count_and_vwap() -> None:
    book = MinuteBarBook()
    for t in (trade(1, 100.0, 10), trade(20, 102.0, 30), trade(40, 99.0, 10), trade(59, 101.0)):
        assert book.add(t, now=at(60))
    [bar] = book.take_changed()
    assert bar == MinuteBar(
        "AAPL",
        T0,
        100.0,
        102.0,
        99.0,
        101.0,
        60.0,
        4,
        pytest.approx((1000 + 3060 + 990 + 1010) / 60),  # type: ignore[arg-type]
    )


def test_out_of_order_trades_keep_open_and_close_by_trade_time() -> None:
    book = MinuteBarBook()
    book.add(trade(30, 100.0), now=at(31))
    book.add(trade(50, 105.0), now=at(51))
    book.add(trade(5, 95.0), now=at(52))  # earlier than both: the new open
    book.add(trade(40, 101.0), now=at(53))  # between: neither open nor close
    [bar] = book.take_changed()
    assert (bar.open, bar.close, bar.high, bar.low, bar.trades) == (95.0, 105.0, 105.0, 95.0, 4)


def test_a_late_trade_updates_the_bar_of_its_own_minute() -> None:
    book = MinuteBarBook()
    book.add(trade(10, 100.0), now=at(11))
    book.add(trade(70, 110.0), now=at(71))
    assert len(book.take_changed()) == 2
    assert book.add(trade(59, 90.0), now=at(100))  # 14:30's bar, arriving at 14:31:40
    [bar] = book.take_changed()
    assert (bar.start, bar.close, bar.low, bar.trades) == (T0, 90.0, 90.0, 2)


def test_a_bar_is_final_one_minute_after_it_closes() -> None:
    book = MinuteBarBook()
    book.add(trade(10, 100.0), now=at(11))
    assert not book.is_final(T0, at(119.999))
    assert book.is_final(T0, at(120))
    assert not book.add(trade(30, 1.0), now=at(120))
    assert book.too_late == 1
    [bar] = book.take_changed()
    assert bar.close == 100.0


def test_finish_forgets_final_bars_and_returns_those_never_taken() -> None:
    book = MinuteBarBook()
    book.add(trade(10, 100.0), now=at(11))
    book.take_changed()
    book.add(trade(20, 101.0), now=at(21))
    book.add(trade(70, 102.0), now=at(71))
    [unsaved] = book.finish(at(120))
    assert (unsaved.start, unsaved.close, unsaved.trades) == (T0, 101.0, 2)
    assert book.open_bar("AAPL", T0) is None
    assert book.open_bar("AAPL", at(60)) is not None
    [still_open] = book.take_changed()
    assert still_open.start == at(60)


def test_symbols_have_bars_of_their_own() -> None:
    book = MinuteBarBook()
    book.add(trade(1, 100.0, symbol="AAPL"), now=at(2))
    book.add(trade(2, 50.0, symbol="MSFT"), now=at(3))
    assert {(bar.symbol, bar.close) for bar in book.take_changed()} == {
        ("AAPL", 100.0),
        ("MSFT", 50.0),
    }


def test_a_provider_bar_replaces_ours_and_later_trades_leave_it_alone() -> None:
    book = MinuteBarBook()
    book.add(trade(10, 100.0), now=at(11))
    provider = MinuteBar("AAPL", T0, 99.0, 103.0, 98.0, 102.0, 500.0, 12, 101.5)
    assert book.use_provider_bar(provider, now=at(61))
    assert not book.add(trade(59, 200.0), now=at(62))
    assert book.take_changed() == [provider]


def test_a_provider_bar_for_a_final_minute_is_refused() -> None:
    book = MinuteBarBook()
    provider = MinuteBar("AAPL", T0, 99.0, 103.0, 98.0, 102.0, 500.0, 12, 101.5)
    assert not book.use_provider_bar(provider, now=at(120))
    assert book.take_changed() == []


def test_price_updates_without_size_count_as_trades_but_leave_no_vwap() -> None:
    book = MinuteBarBook()
    book.add(trade(1, 100.0, 0), now=at(2))
    book.add(trade(2, 101.0, 0), now=at(3))
    [bar] = book.take_changed()
    assert (bar.volume, bar.vwap, bar.trades) == (0.0, None, 2)


def test_a_provider_bar_without_trade_count_or_vwap_stands_without_them() -> None:
    book = MinuteBarBook()
    book.add(trade(10, 100.0), now=at(11))
    provider = MinuteBar("AAPL", T0, 99.0, 103.0, 98.0, 102.0, 500.0, None, None)
    assert book.use_provider_bar(provider, now=at(61))
    assert book.open_bar("AAPL", T0) == provider
    assert book.finish(at(120)) == [provider]
