"""The model this process predicts with: the active one of the model store, loaded once,
followed when another process activates one (domain/model_activation.py), and stored and
announced when training activates a new one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from domain.events import MODEL_ACTIVATIONS_CHANNEL, EventBus, ModelActivated, model_activation_json
from domain.predictions import ModelStore, StoredModel
from domain.signals.model import TrainedModel
from domain.signals.model_info import ModelInfo

log = logging.getLogger(__name__)


class ActiveModel:
    def __init__(
        self,
        *,
        store: ModelStore,
        bus: EventBus,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._model: TrainedModel | None = None
        # The active version this process failed to load: logged once, not tried again.
        self._unloadable_version: str | None = None
        # One load at a time: an announcement and the interval check may arrive together.
        self._loading = asyncio.Lock()

    @property
    def model(self) -> TrainedModel | None:
        return self._model

    async def load_active_model(self) -> TrainedModel | None:
        """Load the active model (at start-up, and when it changes); RULES serve without one.
        A stored model this code cannot load is logged once and skipped: RULES answer, with
        a reason saying so."""
        async with self._loading:
            stored = await self._store.active()
            if stored is None:
                self._model, self._unloadable_version = None, None
                return None
            if stored.version == self._loaded_version:
                return self._model
            try:
                model = await asyncio.to_thread(TrainedModel.from_bytes, stored.artifact)
            except ValueError as error:
                log.error("active model %s cannot be loaded: %s", stored.version, error)
                self._model, self._unloadable_version = None, stored.version
                return None
            self._model, self._unloadable_version = model, None
            log.info("predicting with model %s", model.version)
            return model

    async def sync_active_model(self) -> TrainedModel | None:
        """Load the active model when it is not the one this process has: a cheap version
        check, the artifact only when the version changed (announced, or found by the
        interval check). Raises what the model store raises (the database is down)."""
        if await self._store.active_version() == self._loaded_version:
            return self._model
        return await self.load_active_model()

    @property
    def _loaded_version(self) -> str | None:
        """The active version this process last saw: loaded, or found unloadable."""
        return self._model.version if self._model is not None else self._unloadable_version

    async def save_model(self, model: TrainedModel, *, activate: bool = True) -> None:
        """Store `model`; with `activate` it becomes the active one here at once and, once
        committed, is announced to every other process (which load it within seconds; see
        domain/model_activation.py)."""
        stored = StoredModel(
            version=model.version,
            info=model.info.to_dict(),
            artifact=await asyncio.to_thread(model.to_bytes),
            active=activate,
            created_at=self._clock(),
        )
        await self._store.save(stored, activate=activate)
        if not activate:
            return
        async with self._loading:
            self._model, self._unloadable_version = model, None
        message = model_activation_json(ModelActivated(model.version, self._clock()))
        try:
            await self._bus.publish(MODEL_ACTIVATIONS_CHANNEL, message)
        except Exception as error:  # stored and active; the others' interval check finds it
            log.warning("announcing model %s failed: %s", model.version, error)

    async def model_info(self) -> ModelInfo | None:
        stored = await self._store.active()
        return None if stored is None else ModelInfo.from_dict(stored.info)

    @property
    def unloadable_version(self) -> str | None:
        """The active version this process could not load (RULES answer, saying so)."""
        return self._unloadable_version
