"""The one polling helper: returns the first truthy value, and fails loudly on time-out."""

from __future__ import annotations

import pytest

from tests.waiting import eventually


async def test_returns_the_first_truthy_value_of_a_sync_check() -> None:
    calls = []

    def check() -> int:
        calls.append(1)
        return len(calls) if len(calls) >= 3 else 0

    assert await eventually(check) == 3


async def test_awaits_an_async_check() -> None:
    seen = []

    async def check() -> list[int]:
        seen.append(1)
        return seen if len(seen) > 1 else []

    assert await eventually(check) == [1, 1]


async def test_times_out_naming_the_condition_and_the_last_value() -> None:
    depth = [7]
    with pytest.raises(AssertionError, match=r"queue empty not met within 0.05 s \(last: False\)"):
        await eventually(lambda: depth[0] == 0, timeout=0.05, what="queue empty")
