from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.adapters._alphavantage_parsing import parse_bars, parse_quote, parse_search
from domain.market import Bar, Interval
from domain.providers import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    UnknownSymbol,
)
from tests.support.fake_alphavantage import (
    BURST_LIMIT,
    EMPTY_QUOTE,
    INVALID_API_KEY,
    NOTE_LIMIT,
    PREMIUM_BURST_LIMIT,
    PREMIUM_ENDPOINT,
    PREMIUM_FEATURE,
    PREMIUM_MINUTE_LIMIT,
    daily_limit,
    invalid_call,
)

DAILY = {
    "Meta Data": {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2024-05-03",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern",
    },
    "Time Series (Daily)": {
        "2024-05-03": {
            "1. open": "186.6500",
            "2. high": "187.2300",
            "3. low": "185.2100",
            "4. close": "186.2100",
            "5. volume": "3459781",
        },
        "2024-05-02": {
            "1. open": "164.3500",
            "2. high": "166.0900",
            "3. low": "164.1200",
            "4. close": "165.6900",
            "5. volume": "5218423",
        },
    },
}


def intraday(
    rows: dict[str, str], interval: str = "5min", *, zone: str = "US/Eastern"
) -> dict[str, Any]:
    """An intraday body whose rows map "YYYY-MM-DD HH:MM:SS" keys to a close price."""
    return {
        "Meta Data": {
            "1. Information": f"Intraday ({interval}) open, high, low, close prices and volume",
            "2. Symbol": "IBM",
            "3. Last Refreshed": max(rows),
            "4. Interval": interval,
            "5. Output Size": "Compact",
            "6. Time Zone": zone,
        },
        f"Time Series ({interval})": {
            key: {
                "1. open": close,
                "2. high": close,
                "3. low": close,
                "4. close": close,
                "5. volume": "100",
            }
            for key, close in rows.items()
        },
    }


GLOBAL_QUOTE = {
    "Global Quote": {
        "01. symbol": "IBM",
        "02. open": "186.6500",
        "03. high": "187.2300",
        "04. low": "185.2100",
        "05. price": "186.2100",
        "06. volume": "3459781",
        "07. latest trading day": "2024-05-03",
        "08. previous close": "185.6100",
        "09. change": "0.6000",
        "10. change percent": "0.3231%",
    }
}
SEARCH = {
    "bestMatches": [
        {
            "1. symbol": "TSCO.LON",
            "2. name": "Tesco PLC",
            "3. type": "Equity",
            "4. region": "United Kingdom",
            "5. marketOpen": "08:00",
            "6. marketClose": "16:30",
            "7. timezone": "UTC+01",
            "8. currency": "GBX",
            "9. matchScore": "0.7273",
        },
        {
            "1. symbol": "TSCO",
            "2. name": "Tractor Supply Co",
            "3. type": "Equity",
            "4. region": "United States",
            "5. marketOpen": "09:30",
            "6. marketClose": "16:00",
            "7. timezone": "UTC-04",
            "8. currency": "USD",
            "9. matchScore": "0.8000",
        },
    ]
}


def with_daily_field(field: str, value: object) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(DAILY))
    body["Time Series (Daily)"]["2024-05-03"][field] = value
    return body


def test_daily_bars_come_oldest_first_at_midnight_utc() -> None:
    bars = parse_bars(DAILY, Interval.DAILY, symbol="IBM")

    assert [bar.timestamp for bar in bars] == [
        datetime(2024, 5, 2, tzinfo=UTC),
        datetime(2024, 5, 3, tzinfo=UTC),
    ]


def test_daily_bar_numbers_are_read_from_strings() -> None:
    newest = parse_bars(DAILY, Interval.DAILY, symbol="IBM")[-1]

    assert newest == Bar(
        timestamp=datetime(2024, 5, 3, tzinfo=UTC),
        open=186.65,
        high=187.23,
        low=185.21,
        close=186.21,
        volume=3459781.0,
    )


def test_raw_text_and_bytes_parse_like_the_decoded_body() -> None:
    decoded = parse_bars(DAILY, Interval.DAILY, symbol="IBM")

    assert parse_bars(json.dumps(DAILY), Interval.DAILY, symbol="IBM") == decoded
    assert parse_bars(json.dumps(DAILY).encode(), Interval.DAILY, symbol="IBM") == decoded


def test_empty_series_gives_no_bars() -> None:
    body = {"Meta Data": DAILY["Meta Data"], "Time Series (Daily)": {}}

    assert parse_bars(body, Interval.DAILY, symbol="IBM") == []


def test_intraday_eastern_times_become_utc_across_the_dst_change() -> None:
    # US clocks moved forward on 2024-03-10: 09:30 is 14:30 UTC before and 13:30 UTC after.
    body = intraday({"2024-03-11 09:30:00": "2.0", "2024-03-08 09:30:00": "1.0"})

    bars = parse_bars(body, Interval.FIVE_MINUTES, symbol="IBM")

    assert [(bar.timestamp, bar.close) for bar in bars] == [
        (datetime(2024, 3, 8, 14, 30, tzinfo=UTC), 1.0),
        (datetime(2024, 3, 11, 13, 30, tzinfo=UTC), 2.0),
    ]


def test_intraday_eastern_times_become_utc_across_the_fall_back_change() -> None:
    # US clocks moved back on 2024-11-03: 04:00 is 08:00 UTC before and 09:00 UTC after.
    body = intraday({"2024-11-04 04:00:00": "2.0", "2024-11-01 04:00:00": "1.0"})

    bars = parse_bars(body, Interval.FIVE_MINUTES, symbol="IBM")

    assert [bar.timestamp for bar in bars] == [
        datetime(2024, 11, 1, 8, 0, tzinfo=UTC),
        datetime(2024, 11, 4, 9, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("zone", "key"),
    [
        ("US/Eastern", "2024-03-11 09:30:00"),
        ("America/New_York", "2024-03-11 09:30:00"),
        ("UTC", "2024-03-11 13:30:00"),
        ("Europe/London", "2024-03-11 13:30:00"),
        ("US/Pacific", "2024-03-11 06:30:00"),
    ],
)
def test_intraday_times_are_read_in_the_time_zone_the_body_names(zone: str, key: str) -> None:
    bars = parse_bars(intraday({key: "1"}, zone=zone), Interval.FIVE_MINUTES, symbol="IBM")

    assert bars[0].timestamp == datetime(2024, 3, 11, 13, 30, tzinfo=UTC)


def test_intraday_body_in_an_unknown_time_zone_is_unavailable() -> None:
    body = intraday({"2024-03-11 09:30:00": "1"}, zone="Mars/Olympus_Mons")

    with pytest.raises(ProviderUnavailable, match="time zone"):
        parse_bars(body, Interval.FIVE_MINUTES, symbol="IBM")


def test_intraday_bars_come_oldest_first() -> None:
    body = intraday(
        {"2024-05-03 19:55:00": "3", "2024-05-03 19:50:00": "2", "2024-05-02 04:00:00": "1"}
    )

    closes = [bar.close for bar in parse_bars(body, Interval.FIVE_MINUTES, symbol="IBM")]

    assert closes == [1.0, 2.0, 3.0]


def test_intraday_series_is_read_under_the_asked_interval() -> None:
    body = intraday({"2024-05-03 19:00:00": "1"}, interval="60min")

    bars = parse_bars(body, Interval.ONE_HOUR, symbol="IBM")

    assert bars[0].timestamp == datetime(2024, 5, 3, 23, 0, tzinfo=UTC)


def test_intraday_body_of_another_interval_is_unavailable() -> None:
    body = intraday({"2024-05-03 19:00:00": "1"}, interval="60min")

    with pytest.raises(ProviderUnavailable):
        parse_bars(body, Interval.FIVE_MINUTES, symbol="IBM")


def test_bad_intraday_timestamp_is_unavailable() -> None:
    with pytest.raises(ProviderUnavailable, match="timestamp"):
        parse_bars(intraday({"2024-05-03T19:00": "1"}), Interval.FIVE_MINUTES, symbol="IBM")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("4. close", "n/a"),
        ("4. close", "NaN"),
        ("4. close", "Infinity"),
        ("4. close", "-1.5"),
        ("5. volume", "-10"),
        ("4. close", 186.21),
        ("4. close", None),
    ],
    ids=["text", "nan", "infinite", "negative-price", "negative-volume", "json-number", "null"],
)
def test_unreadable_number_is_unavailable(field: str, value: object) -> None:
    with pytest.raises(ProviderUnavailable):
        parse_bars(with_daily_field(field, value), Interval.DAILY, symbol="IBM")


def test_missing_bar_field_is_unavailable() -> None:
    body = json.loads(json.dumps(DAILY))
    del body["Time Series (Daily)"]["2024-05-03"]["2. high"]

    with pytest.raises(ProviderUnavailable, match=r"2\. high"):
        parse_bars(body, Interval.DAILY, symbol="IBM")


def test_quote_fields_are_read_with_percent_as_percent() -> None:
    quote = parse_quote(GLOBAL_QUOTE, symbol="IBM")

    assert (quote.symbol, quote.price, quote.source) == ("IBM", 186.21, "alphavantage")
    assert (quote.open, quote.high, quote.low) == (186.65, 187.23, 185.21)
    assert (quote.previous_close, quote.change, quote.change_percent) == (185.61, 0.6, 0.3231)
    assert quote.volume == 3459781.0


def quote_of(day: str) -> dict[str, Any]:
    return {"Global Quote": {**GLOBAL_QUOTE["Global Quote"], "07. latest trading day": day}}


@pytest.mark.parametrize(
    ("day", "fetched", "stamped"),
    [
        # Winter time (EST, UTC-5): the close is 21:00 UTC. The reported bug: 21:00Z at 17:47Z.
        ("2024-03-08", "2024-03-08T17:47Z", "2024-03-08T17:47Z"),
        ("2024-03-08", "2024-03-08T21:30Z", "2024-03-08T21:00Z"),
        # Clocks moved forward on Sunday 2024-03-10: the close is 20:00 UTC from Monday on.
        ("2024-03-11", "2024-03-11T19:59Z", "2024-03-11T19:59Z"),
        ("2024-03-11", "2024-03-11T20:30Z", "2024-03-11T20:00Z"),
        # Summer time up to Friday 2024-11-01; clocks moved back on Sunday 2024-11-03.
        ("2024-11-01", "2024-11-01T20:30Z", "2024-11-01T20:00Z"),
        ("2024-11-04", "2024-11-04T20:30Z", "2024-11-04T20:30Z"),
        ("2024-11-04", "2024-11-05T03:00Z", "2024-11-04T21:00Z"),
        # An earlier trading day (a Monday quote read on Tuesday morning, New York time).
        ("2024-11-04", "2024-11-05T14:00Z", "2024-11-04T21:00Z"),
    ],
    ids=[
        "winter-in-session",
        "winter-after-close",
        "spring-forward-in-session",
        "spring-forward-after-close",
        "last-summer-day",
        "fall-back-in-session",
        "fall-back-evening",
        "next-morning",
    ],
)
def test_quote_is_stamped_at_the_close_or_the_fetch_time_never_later(
    day: str, fetched: str, stamped: str
) -> None:
    quote = parse_quote(quote_of(day), symbol="IBM", now=datetime.fromisoformat(fetched))

    assert quote.timestamp == datetime.fromisoformat(stamped)
    assert quote.timestamp.tzinfo is UTC


def test_quote_fetched_with_a_clock_in_another_zone_is_stamped_in_utc() -> None:
    fetched = datetime(2024, 3, 8, 12, 47, tzinfo=ZoneInfo("America/New_York"))

    quote = parse_quote(quote_of("2024-03-08"), symbol="IBM", now=fetched)

    assert quote.timestamp == datetime(2024, 3, 8, 17, 47, tzinfo=UTC)


def test_quote_is_never_stamped_after_the_current_time() -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    before = datetime.now(UTC)

    quote = parse_quote(quote_of(tomorrow), symbol="IBM")

    assert before <= quote.timestamp <= datetime.now(UTC)


def test_quote_is_stamped_at_the_new_york_close_in_summer_time() -> None:
    quote = parse_quote(GLOBAL_QUOTE, symbol="IBM")

    assert quote.timestamp == datetime(2024, 5, 3, 20, 0, tzinfo=UTC)


def test_quote_is_stamped_at_the_new_york_close_in_winter_time() -> None:
    body = {
        "Global Quote": {**GLOBAL_QUOTE["Global Quote"], "07. latest trading day": "2024-01-05"}
    }

    assert parse_quote(body, symbol="IBM").timestamp == datetime(2024, 1, 5, 21, 0, tzinfo=UTC)


def test_quote_may_fall() -> None:
    fields = {"09. change": "-2.5000", "10. change percent": "-1.3423%"}
    body = {"Global Quote": {**GLOBAL_QUOTE["Global Quote"], **fields}}

    quote = parse_quote(body, symbol="IBM")

    assert (quote.change, quote.change_percent) == (-2.5, -1.3423)


def test_delayed_quote_key_is_read_too() -> None:
    body = {"Global Quote - DATA DELAYED BY 15 MINUTES": GLOBAL_QUOTE["Global Quote"]}

    assert parse_quote(body, symbol="IBM").price == 186.21


def test_empty_global_quote_is_an_unknown_symbol() -> None:
    with pytest.raises(UnknownSymbol, match="ZZZX"):
        parse_quote(EMPTY_QUOTE, symbol="ZZZX")


def test_search_matches_come_best_first_with_region_and_currency() -> None:
    matches = parse_search(SEARCH)

    assert [(m.symbol, m.score) for m in matches] == [("TSCO", 0.8), ("TSCO.LON", 0.7273)]
    assert (matches[1].name, matches[1].region, matches[1].currency) == (
        "Tesco PLC",
        "United Kingdom",
        "GBX",
    )


def test_search_without_matches_gives_none() -> None:
    assert parse_search({"bestMatches": []}) == []


def test_search_score_outside_zero_to_one_is_unavailable() -> None:
    row = {**SEARCH["bestMatches"][0], "9. matchScore": "7"}

    with pytest.raises(ProviderUnavailable):
        parse_search({"bestMatches": [row]})


INVALID_KEY_INFORMATION = {"Information": INVALID_API_KEY["Error Message"]}
DEMO_KEY = {
    "Information": "The **demo** API key is for demo purposes only. Please claim your free API "
    "key at (https://www.alphavantage.co/support/#api-key) to explore our full API offerings. "
    "It takes fewer than 20 seconds."
}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (invalid_call("TIME_SERIES_DAILY"), UnknownSymbol),
        (INVALID_API_KEY, ProviderRejected),
        (INVALID_KEY_INFORMATION, ProviderRejected),
        (DEMO_KEY, ProviderRejected),
        (PREMIUM_ENDPOINT, ProviderRejected),
        (PREMIUM_FEATURE, ProviderRejected),
        (daily_limit("SECRET"), ProviderRateLimited),
        (BURST_LIMIT, ProviderRateLimited),
        (NOTE_LIMIT, ProviderRateLimited),
        (PREMIUM_MINUTE_LIMIT, ProviderRateLimited),
        (PREMIUM_BURST_LIMIT, ProviderRateLimited),
        ({}, ProviderUnavailable),
        ({"Information": "Something new happened."}, ProviderUnavailable),
        ({"Meta Data": {}}, ProviderUnavailable),
        ({"Time Series (Daily)": []}, ProviderUnavailable),
    ],
    ids=[
        "invalid-call",
        "invalid-key",
        "invalid-key-as-information",
        "demo-key",
        "premium-endpoint",
        "premium-feature",
        "daily-limit",
        "burst-limit",
        "note-limit",
        "premium-per-minute-limit",
        "premium-burst-limit",
        "empty",
        "unknown-information",
        "no-series",
        "series-not-an-object",
    ],
)
def test_failure_body_raises_its_error(body: dict[str, Any], error: type[ProviderError]) -> None:
    with pytest.raises(ProviderError) as caught:
        parse_bars(body, Interval.DAILY, symbol="IBM")

    assert type(caught.value) is error


def test_daily_limit_is_daily() -> None:
    with pytest.raises(ProviderRateLimited) as caught:
        parse_quote(daily_limit("SECRET"), symbol="IBM")

    assert caught.value.daily is True


def test_burst_limit_asks_to_retry_after_a_second() -> None:
    with pytest.raises(ProviderRateLimited) as caught:
        parse_quote(BURST_LIMIT, symbol="IBM")

    assert (caught.value.daily, caught.value.retry_after_seconds) == (False, 1.0)


@pytest.mark.parametrize(
    ("body", "daily", "retry_after", "window"),
    [
        (daily_limit("SECRET"), True, None, 86_400.0),
        ({"Note": daily_limit("SECRET")["Information"]}, True, None, 86_400.0),
        (BURST_LIMIT, False, 1.0, None),
        (PREMIUM_BURST_LIMIT, False, 1.0, None),
        (PREMIUM_MINUTE_LIMIT, False, None, 60.0),
        (NOTE_LIMIT, False, None, 60.0),
        ({"Note": "Thank you for using Alpha Vantage! Slow down."}, False, None, 60.0),
    ],
    ids=[
        "free-daily",
        "daily-as-note",
        "free-burst",
        "premium-burst",
        "premium-per-minute",
        "old-per-minute-note",
        "unknown-note",
    ],
)
def test_each_limit_answer_names_its_wait_or_its_window(
    body: dict[str, str], daily: bool, retry_after: float | None, window: float | None
) -> None:
    # The per-minute and daily limits name their window: the adapter, which has the clock,
    # waits for its end. The burst limits count per second.
    with pytest.raises(ProviderRateLimited) as caught:
        parse_quote(body, symbol="IBM")

    limit = caught.value
    assert (limit.daily, limit.retry_after_seconds, limit.window_seconds) == (
        daily,
        retry_after,
        window,
    )


def test_invalid_call_on_search_is_unavailable_not_an_unknown_symbol() -> None:
    with pytest.raises(ProviderError) as caught:
        parse_search(invalid_call("SYMBOL_SEARCH"))

    assert type(caught.value) is ProviderUnavailable


@pytest.mark.parametrize(
    "text",
    ["<html><body>502 Bad Gateway</body></html>", "", '["IBM"]', '"IBM"', "{"],
    ids=["html", "empty", "list", "string", "truncated"],
)
def test_body_that_is_not_a_json_object_is_unavailable(text: str) -> None:
    with pytest.raises(ProviderUnavailable):
        parse_quote(text, symbol="IBM")


def test_long_upstream_text_is_cut_in_error_messages() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        parse_quote("x" * 10_000, symbol="IBM")

    assert len(str(caught.value)) < 300
