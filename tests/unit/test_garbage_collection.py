"""The collector's thresholds that `stockql serve` and `stockql worker` set."""

import gc
from collections.abc import Iterator

import pytest

from app.garbage_collection import DEFAULT_YOUNG_THRESHOLD, tune_garbage_collector
from app.settings import Settings


@pytest.fixture(autouse=True)
def restored_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_young_generation_threshold_is_raised_by_default() -> None:
    tune_garbage_collector(Settings().gc_young_threshold)
    assert gc.get_threshold()[0] == DEFAULT_YOUNG_THRESHOLD == 50_000


def test_the_threshold_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKQL_GC_YOUNG_THRESHOLD", "700")
    tune_garbage_collector(Settings().gc_young_threshold)
    assert gc.get_threshold()[0] == 700


def test_a_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        tune_garbage_collector(0)
