"""What this project's broadcaster backends share: bytes messages and a health flag."""

from __future__ import annotations

from typing import cast

from broadcaster import BroadcastBackend, Event


class EventBackend(BroadcastBackend):
    """A broadcaster backend (same methods) that can also tell whether it is connected.

    Messages travel as bytes end to end (the EventBus port is bytes). broadcaster annotates
    `Event.message` as str, but nothing in it looks inside a message; `message_event` and
    `message_bytes` are the one place that bridges the annotation.
    """

    def __init__(self) -> None:
        # broadcaster's base __init__ only raises NotImplementedError; there is nothing to share.
        pass

    @property
    def connected(self) -> bool:
        """Whether messages published now can reach this backend's subscribers."""
        raise NotImplementedError


def message_event(channel: str, message: bytes) -> Event:
    """A broadcaster Event carrying `message` as published, as bytes."""
    return Event(channel=channel, message=cast("str", message))


def message_bytes(event: Event) -> bytes:
    """The bytes of an Event made by `message_event`."""
    return cast("bytes", event.message)
