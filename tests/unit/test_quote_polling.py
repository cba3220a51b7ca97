"""Quote polling within the provider's budget: every symbol each round without a budget;
with Alpha Vantage, as many calls as the budget gives, least recently polled symbols first."""

import pytest

from app.quote_polling import QuotePollPlan, QuoteRotation, quote_poll_plan
from app.settings import Settings


def settings(**values: object) -> Settings:
    return Settings.model_validate({"env": "test", **values})


def test_without_a_budget_every_symbol_is_polled_each_simulator_tick() -> None:
    assert quote_poll_plan(settings(simulator_tick_seconds=0.5), "simulator") == QuotePollPlan(0.5)
    assert quote_poll_plan(settings(quote_poll_seconds=3), "csv") == QuotePollPlan(3.0)


@pytest.mark.parametrize(
    ("per_minute", "per_day", "poll_seconds", "plan"),
    [
        # The free key: 20 of its 25 daily calls for quotes, one every 72 minutes.
        (5, 25, None, QuotePollPlan(4320.0, 1)),
        # A day budget that does not bind: four of five calls a minute.
        (5, 100_000, None, QuotePollPlan(60.0, 4)),
        # A premium key polled every ten seconds: ten calls a round, 60 of its 75 a minute.
        (75, 1_000_000, 10.0, QuotePollPlan(10.0, 10)),
        # Asked for more often than the budget allows: as often as it does.
        (5, 25, 60.0, QuotePollPlan(4320.0, 1)),
    ],
)
def test_alpha_vantage_rounds_never_spend_more_than_their_share_of_the_budget(
    per_minute: int, per_day: int, poll_seconds: float | None, plan: QuotePollPlan
) -> None:
    chosen = quote_poll_plan(
        settings(
            alphavantage_calls_per_minute=per_minute,
            alphavantage_calls_per_day=per_day,
            quote_poll_seconds=poll_seconds,
        ),
        "alphavantage",
    )
    assert chosen == plan
    assert chosen.calls_per_round is not None
    rounds_per_day = 86_400 / chosen.interval_seconds
    assert chosen.calls_per_round * rounds_per_day <= per_day * 0.8 + 1e-6
    assert chosen.calls_per_round * 60 / chosen.interval_seconds <= per_minute * 0.8 + 1e-6


def test_every_round_polls_every_symbol_without_a_call_limit() -> None:
    rotation = QuoteRotation(None)
    assert rotation.next_round(["AAPL", "MSFT"]) == ["AAPL", "MSFT"]
    assert rotation.next_round(["AAPL", "MSFT", "IBM"]) == ["AAPL", "MSFT", "IBM"]


def test_limited_rounds_take_turns_and_a_newly_tracked_symbol_is_polled_next() -> None:
    rotation = QuoteRotation(2)
    tracked = ["AAPL", "MSFT", "GOOG"]
    assert rotation.next_round(tracked) == ["AAPL", "MSFT"]
    assert rotation.next_round(tracked) == ["GOOG", "AAPL"]
    assert rotation.next_round([*tracked, "IBM"]) == ["IBM", "MSFT"]
    assert rotation.next_round([*tracked, "IBM"]) == ["AAPL", "GOOG"]


def test_a_symbol_no_longer_tracked_is_forgotten_and_starts_afresh() -> None:
    rotation = QuoteRotation(1)
    assert [rotation.next_round(["AAPL", "IBM"]) for _ in range(2)] == [["AAPL"], ["IBM"]]
    assert rotation.next_round(["AAPL"]) == ["AAPL"]
    assert rotation.next_round(["AAPL", "IBM"]) == ["IBM"]
