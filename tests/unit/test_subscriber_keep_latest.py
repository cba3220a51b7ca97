"""A bounded subscriber keeping the newest pending message per key (a price's symbol): a
burst of one key never pushes out another's, and the reader sees each key's newest."""

from broadcaster import Event

from app.adapters.events.subscriber import BoundedSubscriber, Delivery

CHANNEL = "stocks:all"


def price(symbol: str, number: int) -> Event:
    return Event(CHANNEL, f"{symbol}:{number}")


def symbol_of(message: Event) -> str:
    return str(message.message).split(":")[0]


async def drained(subscriber: BoundedSubscriber) -> list[Event]:
    subscriber.close()
    return [message async for message in subscriber]


async def test_one_pending_message_per_key_each_the_newest_in_the_first_ones_place() -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=8, keep_latest_per=symbol_of)
    deliveries = [
        subscriber.deliver(message)
        for message in (price("AAPL", 1), price("MSFT", 1), price("AAPL", 2), price("TSLA", 1))
    ]
    assert deliveries == [Delivery.QUEUED, Delivery.QUEUED, Delivery.REPLACED, Delivery.QUEUED]
    assert await drained(subscriber) == [price("AAPL", 2), price("MSFT", 1), price("TSLA", 1)]


async def test_a_tick_of_every_symbol_reaches_a_reader_that_was_busy_whole() -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=8, keep_latest_per=symbol_of)
    tick = [price(symbol, 1) for symbol in ("AAPL", "MSFT", "GOOG", "AMZN", "TSLA")]
    assert {subscriber.deliver(message) for message in tick} == {Delivery.QUEUED}
    assert await drained(subscriber) == tick


async def test_past_max_pending_keys_the_oldest_pending_makes_room() -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=2, keep_latest_per=symbol_of)
    subscriber.deliver(price("AAPL", 1))
    subscriber.deliver(price("MSFT", 1))
    assert subscriber.deliver(price("TSLA", 1)) is Delivery.REPLACED
    assert await drained(subscriber) == [price("MSFT", 1), price("TSLA", 1)]


async def test_a_message_without_a_key_is_kept_on_its_own() -> None:
    def picky(message: Event) -> str:
        if "odd" in str(message.message):
            raise ValueError("no symbol")
        return symbol_of(message)

    subscriber = BoundedSubscriber(CHANNEL, max_pending=8, keep_latest_per=picky)
    odd = Event(CHANNEL, "odd")
    for message in (odd, price("AAPL", 1), Event(CHANNEL, "odd"), price("AAPL", 2)):
        subscriber.deliver(message)
    assert await drained(subscriber) == [odd, price("AAPL", 2), Event(CHANNEL, "odd")]


async def test_keep_latest_only_keeps_one_message_whatever_its_key() -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=8, keep_latest_only=True)
    assert subscriber.deliver(price("AAPL", 1)) is Delivery.QUEUED
    assert subscriber.deliver(price("MSFT", 1)) is Delivery.REPLACED
    assert await drained(subscriber) == [price("MSFT", 1)]
