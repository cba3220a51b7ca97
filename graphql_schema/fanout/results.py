"""The latest events' results, by event and request, each encoded at most once."""

from collections import OrderedDict

from graphql import ExecutionResult


class EventResults:
    """The latest events' results by the subscription that asked (its document and
    variables), with the result's `next` payload as JSON once someone asked for it. Events
    are keyed by identity and kept alive by their entry, so an id is never reused while its
    entry exists; the oldest entries go first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[int, str], EventResult] = OrderedDict()

    def get(self, event: object, request: str) -> "EventResult | None":
        entry = self._entries.get((id(event), request))
        return entry if entry is not None and entry.event is event else None

    def put(self, event: object, request: str, result: ExecutionResult) -> None:
        self._entries[(id(event), request)] = EventResult(event, result)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class EventResult:
    __slots__ = ("encoded", "event", "result")

    def __init__(self, event: object, result: ExecutionResult) -> None:
        self.event = event
        self.result = result
        self.encoded: str | None = None


# Per process: an event is published once and reaches every subscriber within moments.
EVENT_RESULTS = EventResults(max_entries=4096)
