"""How many retry jobs each hook has in the retry queue, bounded (issue 13).

A dead endpoint's hooks fail on every event; each failure with retries left is a job in the
retry queue. ``max_pending_retries`` bounds the jobs one hook may have there: at the bound a
failure is final instead. The count is this instance's: a job it queued is counted until it
comes back. With several instances one may consume the jobs another queued, and a restart
forgets the count, so a hook's count also lapses once every job it counts is due back (its
longest delay and a grace period have passed): it can only ever under-count, which lets a
few more jobs through, never blocks a hook for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from webhooksd.bounded import BoundedCache

#: hooks counted at most (a hook forgotten early only starts its count again)
MAX_HOOKS = 100_000
#: how long past its due time a job may take to come back (a busy retry queue) before it is
#: no longer counted
GRACE_S = 60.0


class _Pending:
    __slots__ = ("count", "due_by")

    def __init__(self) -> None:
        self.count = 0
        self.due_by = 0.0


class Backlog:
    __slots__ = ("_clock", "_hooks", "_limit")

    def __init__(
        self,
        limit: int,
        *,
        max_hooks: int = MAX_HOOKS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._clock = clock
        self._hooks: BoundedCache[str, _Pending] = BoundedCache(max_hooks)

    def reserve(self, hook_id: str, delay_ms: int) -> bool:
        """A place for one more job of the hook, due in ``delay_ms``; False at the bound."""
        now = self._clock()
        pending = self._hooks.setdefault(hook_id, _Pending)
        if pending.count and now > pending.due_by:
            pending.count = 0  # every job counted is due back by now, here or elsewhere
        if pending.count >= self._limit:
            return False
        pending.count += 1
        pending.due_by = max(pending.due_by, now + delay_ms / 1000 + GRACE_S)
        return True

    def release(self, hook_id: str) -> None:
        """One of the hook's jobs came back (or was never queued)."""
        pending = self._hooks.get(hook_id)
        if pending is not None and pending.count:
            pending.count -= 1

    def pending(self, hook_id: str) -> int:
        found = self._hooks.get(hook_id)
        return found.count if found is not None else 0
