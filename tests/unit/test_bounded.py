"""The one cache helper: least recently used first, reads count as use, bounded size."""

from __future__ import annotations

import pytest

from webhooksd.bounded import BoundedCache


def test_a_write_past_the_bound_drops_the_least_recently_used() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now more recent than b
    cache.put("c", 3)
    assert "b" not in cache
    assert list(cache) == ["a", "c"]
    assert len(cache) == 2


def test_setdefault_makes_once_and_pop_forgets() -> None:
    cache: BoundedCache[str, list[int]] = BoundedCache(4)
    made = cache.setdefault("k", list)
    made.append(1)
    assert cache.setdefault("k", list) == [1]
    assert cache.pop("k") == [1]
    assert cache.get("k") is None
    assert cache.pop("k") is None


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BoundedCache[str, int](0)
