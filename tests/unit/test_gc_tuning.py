"""The daemon's young-generation threshold: events in flight alone no longer trigger
collections (see webhooksd.runtime.daemon.YOUNG_GC_THRESHOLD)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from webhooksd.runtime.daemon import YOUNG_GC_THRESHOLD, tune_gc


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    try:
        yield before
    finally:
        gc.set_threshold(*before)


def _young_collections_while_holding(count: int) -> int:
    """Young collections while ``count`` tracked objects are allocated and kept alive."""
    before = gc.get_stats()[0]["collections"]
    held = [[n] for n in range(count)]
    after = gc.get_stats()[0]["collections"]
    assert len(held) == count
    return int(after - before)


def test_tune_gc_raises_only_the_young_threshold(thresholds: tuple[int, int, int]) -> None:
    tune_gc()
    assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, thresholds[1], thresholds[2])


def test_objects_in_flight_no_longer_trigger_young_collections(
    thresholds: tuple[int, int, int],
) -> None:
    gc.set_threshold(700, thresholds[1], thresholds[2])
    assert _young_collections_while_holding(5_000) >= 5
    tune_gc()
    gc.collect(0)  # the count starts from nothing
    assert _young_collections_while_holding(5_000) == 0
