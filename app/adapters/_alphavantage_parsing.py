"""Alpha Vantage response bodies -> domain values, or the provider error the body means.

Alpha Vantage answers nearly everything, failures included, as HTTP 200 JSON. A failure is a
one-key object ("Error Message", "Information" or "Note") whose English text is the only way
to tell a bad symbol from a bad key, a rate limit or a premium-only call. Pure functions.

The limit answers seen from Alpha Vantage (key, plan: text, abridged) and what they mean:

- Information, free: "...our standard API rate limit is 25 requests per day..." -> the daily
  limit, until the next UTC day;
- Information, free: "...spreading out your free API requests more sparingly (1 request per
  second)..." -> the burst limit, retry after a second;
- Information, premium: "...Please contact premium@alphavantage.co if you are targeting a
  higher API call volume." -> the plan's per-minute limit;
- Information, premium: "Burst pattern detected. ...no more than N requests per second..."
  -> the burst limit;
- Note, free before 2024: "...standard API call frequency is 5 calls per minute and 500 calls
  per day..." -> the per-minute limit.

The per-minute and daily limits name their window, not a wait: the adapter knows the clock
and waits for the window's end (the next clock minute, the next 00:00 UTC).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.market import Bar, Interval, Quote, SymbolMatch
from domain.providers import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    UnknownSymbol,
)

SOURCE = "alphavantage"

Body = Mapping[str, object] | str | bytes

# Intraday keys and the quote's trading day are exchange-local (US/Eastern) times.
EXCHANGE_ZONE = ZoneInfo("America/New_York")
_MARKET_CLOSE = time(16, 0)
# Both burst limits count requests per second.
_BURST_RETRY_AFTER_SECONDS = 1.0
# The windows the other limits count calls in (the day's resets at 00:00 UTC).
_MINUTE_SECONDS = 60.0
_DAY_SECONDS = 86_400.0
# Lower-case phrases of the limit answers (see the table above).
_BURST_PHRASES = ("request per second", "spreading out your free api requests", "burst pattern")
_PER_MINUTE_PHRASES = ("higher api call volume", "calls per minute")
# Upstream text kept in error messages (for logs) is cut to this many characters.
_SNIPPET = 200


def decode_body(body: Body) -> Mapping[str, object]:
    """Decode raw text to a JSON object; raise ProviderUnavailable if it is not one."""
    if isinstance(body, Mapping):
        return body
    try:
        decoded = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        raise ProviderUnavailable(f"not JSON: {_snippet(body)!r}") from None
    if not isinstance(decoded, dict):
        raise ProviderUnavailable(f"not a JSON object: {_snippet(body)!r}")
    return decoded


def raise_for_message(body: Mapping[str, object], *, symbol: str | None) -> NoReturn:
    """Raise the provider error an Alpha Vantage failure body stands for.

    Called once the expected data key is missing. `symbol` is None for calls that name no
    symbol (search), where "Invalid API call" cannot mean an unknown symbol.
    Always raises; unrecognised bodies (including `{}`) raise ProviderUnavailable.
    """
    error = body.get("Error Message")
    information = body.get("Information")
    note = body.get("Note")
    if isinstance(error, str):
        if _names_bad_key(error):
            raise ProviderRejected(f"api key refused: {_snippet(error)}")
        if symbol is not None:
            raise UnknownSymbol(f"unknown symbol {symbol!r}: {_snippet(error)}")
        raise ProviderUnavailable(f"call refused: {_snippet(error)}")
    if isinstance(information, str):
        _raise_for_information(information)
    if isinstance(note, str):
        # "Note" only ever carried rate limits (the per-minute one before 2024).
        _raise_for_limit(note)
        raise ProviderRateLimited(
            f"rate limited: {_snippet(note)}", daily=False, window_seconds=_MINUTE_SECONDS
        )
    raise ProviderUnavailable(f"unexpected body: {_snippet(json.dumps(body, default=str))}")


def _raise_for_information(text: str) -> NoReturn:
    lowered = text.lower()
    if _names_bad_key(text) or "demo** api key" in lowered or "demo api key" in lowered:
        raise ProviderRejected(f"api key refused: {_snippet(text)}")
    _raise_for_limit(text)
    if "premium endpoint" in lowered or "premium feature" in lowered:
        raise ProviderRejected(f"premium only: {_snippet(text)}")
    raise ProviderUnavailable(f"unexpected information: {_snippet(text)}")


def _raise_for_limit(text: str) -> None:
    """Raise ProviderRateLimited when `text` is one of the limit answers; else return."""
    lowered = text.lower()
    # The free burst notice also mentions the daily limit ("25 requests per day"): test first.
    if any(phrase in lowered for phrase in _BURST_PHRASES):
        raise ProviderRateLimited(
            f"burst limit: {_snippet(text)}",
            daily=False,
            retry_after_seconds=_BURST_RETRY_AFTER_SECONDS,
        )
    if "requests per day" in lowered and "rate limit" in lowered:
        raise ProviderRateLimited(
            f"daily limit: {_snippet(text)}", daily=True, window_seconds=_DAY_SECONDS
        )
    if any(phrase in lowered for phrase in _PER_MINUTE_PHRASES):
        raise ProviderRateLimited(
            f"per-minute limit: {_snippet(text)}", daily=False, window_seconds=_MINUTE_SECONDS
        )


def _names_bad_key(text: str) -> bool:
    lowered = text.lower()
    return "apikey is invalid or missing" in lowered or "api key is invalid" in lowered


def parse_bars(body: Body, interval: Interval, *, symbol: str) -> list[Bar]:
    """TIME_SERIES_DAILY or TIME_SERIES_INTRADAY body -> bars, oldest first.

    Daily dates become midnight UTC; intraday "YYYY-MM-DD HH:MM:SS" keys are read in the
    body's "Time Zone" (US/Eastern) and converted to UTC. An empty series gives [].
    """
    data = decode_body(body)
    series_key = f"Time Series ({'Daily' if interval is Interval.DAILY else interval.value})"
    series = data.get(series_key)
    if series is None:
        raise_for_message(data, symbol=symbol)
    if not isinstance(series, Mapping):
        raise ProviderUnavailable(f"{series_key} is not an object")
    zone = None if interval is Interval.DAILY else _series_zone(data)
    bars = []
    for key, row in series.items():
        timestamp = _daily_timestamp(key) if zone is None else _intraday_timestamp(key, zone)
        fields = _fields(row, key)
        bars.append(
            Bar(
                timestamp=timestamp,
                open=_non_negative(fields, "1. open"),
                high=_non_negative(fields, "2. high"),
                low=_non_negative(fields, "3. low"),
                close=_non_negative(fields, "4. close"),
                volume=_non_negative(fields, "5. volume"),
            )
        )
    bars.sort(key=lambda bar: bar.timestamp)
    return bars


def parse_quote(body: Body, *, symbol: str, now: datetime | None = None) -> Quote:
    """GLOBAL_QUOTE body -> Quote, stamped at the trading day's 16:00 New York time in UTC,
    or at `now` (the fetch time, default the current time) when that is earlier.

    The body names only the "latest trading day": during that day's session the price is
    the latest one, and its close is hours away. `{"Global Quote": {}}` is Alpha Vantage's
    answer for an unknown symbol.
    """
    data = decode_body(body)
    # Delayed-data plans name the key "Global Quote - DATA DELAYED BY 15 MINUTES".
    key = next((k for k in data if k.startswith("Global Quote")), None)
    if key is None:
        raise_for_message(data, symbol=symbol)
    fields = data[key]
    if isinstance(fields, Mapping) and not fields:
        raise UnknownSymbol(f"unknown symbol {symbol!r}: empty Global Quote")
    fields = _fields(fields, key)
    trading_day = _date(_text(fields, "07. latest trading day"))
    close = datetime.combine(trading_day, _MARKET_CLOSE, EXCHANGE_ZONE).astimezone(UTC)
    fetched = (now or datetime.now(UTC)).astimezone(UTC)
    return Quote(
        symbol=_text(fields, "01. symbol") or symbol,
        price=_non_negative(fields, "05. price"),
        timestamp=min(close, fetched),
        source=SOURCE,
        open=_non_negative(fields, "02. open"),
        high=_non_negative(fields, "03. high"),
        low=_non_negative(fields, "04. low"),
        previous_close=_non_negative(fields, "08. previous close"),
        change=_number(fields, "09. change"),
        change_percent=_number(fields, "10. change percent", suffix="%"),
        volume=_non_negative(fields, "06. volume"),
    )


def parse_search(body: Body) -> list[SymbolMatch]:
    """SYMBOL_SEARCH body -> matches, best first (Alpha Vantage's order, kept stable)."""
    data = decode_body(body)
    rows = data.get("bestMatches")
    if rows is None:
        raise_for_message(data, symbol=None)
    if not isinstance(rows, list):
        raise ProviderUnavailable("bestMatches is not a list")
    matches = []
    for row in rows:
        fields = _fields(row, "bestMatches")
        score = _number(fields, "9. matchScore")
        if not 0.0 <= score <= 1.0:
            raise ProviderUnavailable(f"matchScore out of range: {score}")
        matches.append(
            SymbolMatch(
                symbol=_text(fields, "1. symbol"),
                name=_text(fields, "2. name"),
                score=score,
                region=_optional_text(fields, "4. region"),
                currency=_optional_text(fields, "8. currency"),
            )
        )
    matches.sort(key=lambda match: match.score, reverse=True)
    return matches


def _series_zone(data: Mapping[str, object]) -> ZoneInfo:
    meta = data.get("Meta Data")
    name = None
    if isinstance(meta, Mapping):
        name = next((v for k, v in meta.items() if k.endswith("Time Zone")), None)
    if not isinstance(name, str):
        return EXCHANGE_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProviderUnavailable(f"unknown time zone {_snippet(name)!r}") from None


def _daily_timestamp(key: str) -> datetime:
    return datetime.combine(_date(key), time(), UTC)


def _intraday_timestamp(key: str, zone: ZoneInfo) -> datetime:
    try:
        local = datetime.strptime(key, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        raise ProviderUnavailable(f"bad timestamp {_snippet(key)!r}") from None
    # Trading hours (04:00-20:00) never fall in a DST gap or fold, so fold=0 is right.
    return local.astimezone(UTC)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ProviderUnavailable(f"bad date {_snippet(text)!r}") from None


def _fields(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ProviderUnavailable(f"{_snippet(where)} is not an object")
    return value


def _text(fields: Mapping[str, object], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str):
        raise ProviderUnavailable(f"missing or non-text {key!r}")
    return value


def _optional_text(fields: Mapping[str, object], key: str) -> str | None:
    value = fields.get(key)
    return value if isinstance(value, str) and value else None


def _number(fields: Mapping[str, object], key: str, *, suffix: str = "") -> float:
    text = _text(fields, key)
    try:
        value = float(text.removesuffix(suffix))
    except ValueError:
        raise ProviderUnavailable(f"{key!r} is not a number: {_snippet(text)!r}") from None
    if not math.isfinite(value):
        raise ProviderUnavailable(f"{key!r} is not finite: {_snippet(text)!r}")
    return value


def _non_negative(fields: Mapping[str, object], key: str) -> float:
    value = _number(fields, key)
    if value < 0:
        raise ProviderUnavailable(f"{key!r} is negative: {value}")
    return value


def _snippet(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."
