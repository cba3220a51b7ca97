"""Label values of channels, cache keys and provider outcomes: a small, fixed set."""

from __future__ import annotations

import pytest

from app.adapters.events.broadcast import channel_kind
from app.adapters.metered import cache_kind, provider_outcome
from domain.cache import symbol_key
from domain.events import (
    ALL_PREDICTIONS_CHANNEL,
    ALL_STOCKS_CHANNEL,
    MODEL_ACTIVATIONS_CHANNEL,
    predictions_channel,
    stock_channel,
    user_channel,
)
from domain.providers import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    UnknownSymbol,
)


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        (stock_channel("AAPL"), "stock"),
        (ALL_STOCKS_CHANNEL, "stocks_all"),
        (user_channel("6f1c"), "user"),
        (predictions_channel("MSFT"), "predictions"),
        (ALL_PREDICTIONS_CHANNEL, "predictions_all"),
        (MODEL_ACTIVATIONS_CHANNEL, "models"),
        ("stock", "other"),
        ("somebody:else", "other"),
    ],
)
def test_channels_are_labelled_by_kind_never_by_symbol_or_user(channel: str, kind: str) -> None:
    assert channel_kind(channel) == kind


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (symbol_key("AAPL", "bars", "daily"), "bars"),
        (symbol_key("AAPL", "quote"), "quote"),
        (symbol_key("AAPL", "unknown"), "unknown"),
        ("stockql:search:simulator:apple", "search"),
        (symbol_key("AAPL"), "other"),
        ("unrelated", "other"),
        ("stockql:whatever:1", "other"),
    ],
)
def test_cache_keys_are_labelled_by_the_kind_of_entry(key: str, kind: str) -> None:
    assert cache_kind(key) == kind


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (ProviderRateLimited("limit", daily=True), "rate_limited"),
        (ProviderRejected("premium"), "rejected"),
        (UnknownSymbol("ZZZ"), "unknown_symbol"),
        (ProviderUnavailable("timeout"), "unavailable"),
        (RuntimeError("bug"), "error"),
    ],
)
def test_provider_failures_are_labelled_by_what_went_wrong(error: Exception, outcome: str) -> None:
    assert provider_outcome(error) == outcome
