"""Logging a repeated condition once per key per interval."""

from __future__ import annotations

from webhooksd.logonce import LogOnce


def test_first_occurrence_is_due_then_counted_until_the_interval_passes() -> None:
    now = [100.0]
    once = LogOnce(interval_s=30, clock=lambda: now[0])
    assert once.due("a") == 0
    assert [once.due("a") for _ in range(5)] == [None] * 5
    assert once.due("b") == 0  # keys are independent
    now[0] += 29.9
    assert once.due("a") is None
    now[0] += 0.2
    assert once.due("a") == 6  # the line stands for the six not written
    assert once.due("a") is None


def test_keys_are_bounded() -> None:
    """A tenant inventing keys cannot grow it: the oldest key is forgotten (and is due again
    at once, which only means one more line)."""
    once = LogOnce(interval_s=60, max_keys=2)
    assert [once.due(k) for k in ("a", "b", "c")] == [0, 0, 0]
    assert once.due("c") is None and once.due("b") is None
    assert once.due("a") == 0
