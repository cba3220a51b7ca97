"""Stored predictions and trained models: values and the ports that keep them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.signals.recommendations import Signal


@dataclass(frozen=True, slots=True)
class Prediction:
    """A signal for one symbol as it was made and stored."""

    id: str
    symbol: str
    signal: Signal
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredModel:
    """A trained model's record: `info` is ModelInfo.to_dict(), `artifact` the skops bytes."""

    version: str
    info: dict[str, Any]
    artifact: bytes
    active: bool
    created_at: datetime


class PredictionStore(Protocol):
    async def add(self, prediction: Prediction) -> None: ...

    async def recent(self, symbol: str, *, limit: int) -> list[Prediction]:
        """The symbol's predictions, newest first."""
        ...

    async def latest(self, symbol: str) -> Prediction | None: ...

    async def delete_older_than(self, cutoff: datetime) -> int: ...


class ModelStore(Protocol):
    async def save(self, model: StoredModel, *, activate: bool) -> None:
        """Store a model version; with `activate` it becomes the only active one, atomically."""
        ...

    async def active(self) -> StoredModel | None: ...

    async def active_version(self) -> str | None:
        """The active model's version, without its artifact: cheap enough to ask often."""
        ...

    async def get(self, version: str) -> StoredModel | None: ...

    async def activate(self, version: str) -> bool:
        """Make `version` the only active model; False when there is no such version."""
        ...
