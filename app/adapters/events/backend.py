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

    def reception(self, channel: str) -> object | None:  # noqa: ARG002 (the subclasses' signature)
        """A token that stays the same while every message published on `channel` reaches
        this process, with nothing lost in between; None when that is not known now. This
        default knows nothing: whoever relies on it reads the source instead."""
        return None


def message_event(channel: str, message: bytes) -> Event:
    """A broadcaster Event carrying `message` as published, as bytes."""
    return Event(channel=channel, message=cast("str", message))


def message_bytes(event: Event) -> bytes:
    """The bytes of an Event made by `message_event`."""
    return cast("bytes", event.message)
