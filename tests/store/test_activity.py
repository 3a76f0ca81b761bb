"""Conformance: the per-hook activity the health listing reads (newest attempt, counts over
a day, an hour and the newest few), the same from both stores."""

from __future__ import annotations

from dataclasses import replace

from webhooksd.store import Store

from .factories import attempt

HOUR_MS = 3_600_000
NOW = 100 * HOUR_MS


async def test_activity_per_hook(store: Store) -> None:
    """h1: three old successes then four failures, two in the last hour; h2: one success;
    attempts before the day, of another account and of a quiet hook are not counted."""
    h1 = [attempt("a1", "h1", NOW - 20 * HOUR_MS + n, attempt_id=f"ok{n}") for n in range(3)]
    h1 += [
        attempt("a1", "h1", NOW - 2 * HOUR_MS, failed=True, attempt_id="f1"),
        attempt("a1", "h1", NOW - 2 * HOUR_MS, failed=True, attempt_id="f2"),
        attempt("a1", "h1", NOW - HOUR_MS // 2, failed=True, attempt_id="f3"),
        attempt("a1", "h1", NOW - 10, failed=True, attempt_id="f4", payload={"big": "x"}),
    ]
    others = [
        attempt("a1", "h2", NOW - 5, attempt_id="h2ok"),
        attempt("a1", "h3", NOW - 30 * HOUR_MS, failed=True, attempt_id="too-old"),
        attempt("a2", "h1", NOW - 5, failed=True, attempt_id="other-account"),
    ]
    await store.add_attempts(h1 + others)
    found = await store.hook_activity(
        "a1", since_ms=NOW - 24 * HOUR_MS, hour_from_ms=NOW - HOUR_MS, recent=5
    )
    assert [a.hook_id for a in found] == ["h1", "h2"]
    first, second = found
    assert first.last == replace(h1[-1], payload=None)  # the newest; its payload is not read
    assert (first.day_attempts, first.day_successes) == (7, 3)
    assert (first.hour_attempts, first.hour_successes) == (2, 0)
    assert (first.recent_attempts, first.recent_failures) == (5, 4)
    assert second.last.id == "h2ok"
    assert (second.day_attempts, second.day_successes, second.hour_attempts) == (1, 1, 1)
    assert (second.recent_attempts, second.recent_failures) == (1, 0)


async def test_ties_pick_the_highest_id_and_nothing_is_empty(store: Store) -> None:
    """Two attempts in the same millisecond: the newest is the one with the higher id (the
    listing's order); an account without attempts has no activity."""
    await store.add_attempts(
        [attempt("a1", "h1", NOW, attempt_id="b"), attempt("a1", "h1", NOW, attempt_id="a")]
    )
    (only,) = await store.hook_activity("a1", since_ms=0, hour_from_ms=0, recent=1)
    assert (only.last.id, only.recent_attempts, only.day_attempts) == ("b", 1, 2)
    assert await store.hook_activity("nobody", since_ms=0, hour_from_ms=0, recent=10) == []
