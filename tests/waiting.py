"""Waiting on a condition, the one way tests wait for state that has no event to await.

A test never sleeps for a fixed time to let something happen: it polls the condition it needs
until it holds or the deadline passes, so a slow machine only makes the test slower, never red.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

#: how often a condition is polled: short enough not to slow tests, long enough to yield
POLL_S = 0.02


# two signatures so that an async check's value is its awaited result, not the coroutine; the
# value returned is truthy, so never None
@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = ..., what: str = ...
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T | None], *, timeout: float = ..., what: str = ...
) -> T: ...
async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 5.0,
    what: str = "condition",
) -> Any:
    """Call ``check`` (sync or async) until it returns something truthy; return that value.

    Raises :class:`AssertionError` naming ``what`` and the last value seen when ``timeout``
    seconds pass first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s (last: {value!r})")
        await asyncio.sleep(POLL_S)
