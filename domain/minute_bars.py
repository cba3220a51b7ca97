"""Trades aggregated into 1-minute bars (OHLCV, trade count, VWAP), the MIN1 interval.

A bar is open while trades of its minute may still come: late and out-of-order trades
update the bar of their own minute (by trade time, not arrival). A bar is final
`FINAL_AFTER` after its minute closes (the bar of 14:30 is final at 14:32): it is handed out
one last time and forgotten, and a trade for it that arrives later is too late and dropped.
A provider's own bar for a minute (Alpaca sends one when the minute closes, and an updated
one after late trades) replaces ours: it saw every trade, we may have missed some.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from domain.streaming import MinuteBar, Trade

MINUTE = timedelta(minutes=1)
FINAL_AFTER = timedelta(minutes=1)


def minute_of(at: datetime) -> datetime:
    """The start of `at`'s minute, in UTC (`at` must be aware)."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(slots=True)
class _OpenBar:
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    # Sum of price x size, for the VWAP; and the time of the trade the close is from, so an
    # out-of-order trade does not become the close (nor an earlier one the open).
    notional: float
    opened_at: datetime
    closed_at: datetime

    def add(self, trade: Trade) -> None:
        if trade.at < self.opened_at:
            self.open, self.opened_at = trade.price, trade.at
        if trade.at >= self.closed_at:
            self.close, self.closed_at = trade.price, trade.at
        self.high = max(self.high, trade.price)
        self.low = min(self.low, trade.price)
        self.volume += trade.size
        self.trades += 1
        self.notional += trade.price * trade.size

    def bar(self, symbol: str, start: datetime) -> MinuteBar:
        # Price updates without size (Finnhub sends some with v=0) leave no volume to weigh:
        # their VWAP is undefined, not the close.
        vwap = self.notional / self.volume if self.volume > 0 else None
        prices = (self.open, self.high, self.low, self.close)
        return MinuteBar(symbol, start, *prices, self.volume, self.trades, vwap)


class MinuteBarBook:
    """The open minute bars of every symbol, and which changed since they were last taken.

    Not thread-safe; one worker task owns it. `now` arguments are aware datetimes (the wall
    clock in production, fixed in tests)."""

    def __init__(self, *, final_after: timedelta = FINAL_AFTER) -> None:
        self._final_after = final_after
        # A provider's own bar stands as it came for its minute; ours are still being built.
        self._open: dict[tuple[str, datetime], _OpenBar | MinuteBar] = {}
        self._changed: set[tuple[str, datetime]] = set()
        self.too_late = 0

    def is_final(self, start: datetime, now: datetime) -> bool:
        """Whether the bar of the minute starting at `start` can no longer change at `now`."""
        return now >= start + MINUTE + self._final_after

    def add(self, trade: Trade, *, now: datetime) -> bool:
        """Count `trade` into the bar of its minute. False (and counted in `too_late`) when
        that bar is final already, or when the provider's own bar stands for that minute."""
        start = minute_of(trade.at)
        if self.is_final(start, now):
            self.too_late += 1
            return False
        key = (trade.symbol, start)
        bar = self._open.get(key)
        if bar is None:
            p = trade.price
            self._open[key] = _OpenBar(
                p, p, p, p, trade.size, 1, p * trade.size, trade.at, trade.at
            )
        elif isinstance(bar, MinuteBar):
            return False
        else:
            bar.add(trade)
        self._changed.add(key)
        return True

    def use_provider_bar(self, bar: MinuteBar, *, now: datetime) -> bool:
        """Let the provider's bar stand for its minute. False when that minute is final."""
        start = minute_of(bar.start)
        if self.is_final(start, now):
            self.too_late += 1
            return False
        key = (bar.symbol, start)
        self._open[key] = replace(bar, start=start)
        self._changed.add(key)
        return True

    def take_changed(self) -> list[MinuteBar]:
        """The bars changed since the last call, as they are now, oldest first per symbol."""
        keys = sorted(self._changed, key=lambda key: (key[1], key[0]))
        self._changed.clear()
        return [self._bar(key) for key in keys if key in self._open]

    def finish(self, now: datetime) -> list[MinuteBar]:
        """Forget the bars that are final at `now`; returns those still unsaved (changed since
        they were last taken), which the caller stores one last time."""
        final = [key for key in self._open if self.is_final(key[1], now)]
        unsaved = [self._bar(key) for key in sorted(final) if key in self._changed]
        for key in final:
            del self._open[key]
            self._changed.discard(key)
        return unsaved

    def open_bar(self, symbol: str, start: datetime) -> MinuteBar | None:
        """The open bar of `symbol` for the minute at `start`, if any."""
        key = (symbol, minute_of(start))
        return self._bar(key) if key in self._open else None

    def _bar(self, key: tuple[str, datetime]) -> MinuteBar:
        bar = self._open[key]
        return bar if isinstance(bar, MinuteBar) else bar.bar(*key)
