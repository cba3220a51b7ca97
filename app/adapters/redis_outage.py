"""Telling a Redis outage from a Redis error, and logging one warning per outage.

The adapters that keep working without Redis (rate limits, call budget, cache) fall back on
every call while it is down; logging each call would flood the logs exactly then."""

from __future__ import annotations

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Errors that mean "Redis is unreachable right now", as opposed to a wrong command or type.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


class OutageLog:
    """Logs to `log` when `what` ("Redis rate limiter") becomes unreachable, saying how it
    carries on (`fallback`), and when it is back; calls in between are logged at debug."""

    def __init__(self, log: logging.Logger, what: str, fallback: str) -> None:
        self._log = log
        self._what = what
        self._fallback = fallback
        self.reachable = True

    def lost(self, operation: str, error: Exception) -> None:
        if self.reachable:
            self.reachable = False
            self._log.warning(
                "%s unavailable (%s: %s); %s", self._what, operation, error, self._fallback
            )
        else:
            self._log.debug("%s still unavailable (%s: %s)", self._what, operation, error)

    def found(self) -> None:
        if not self.reachable:
            self.reachable = True
            self._log.warning("%s available again", self._what)
