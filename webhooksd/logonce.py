"""Log a repeated condition once per key per interval, not once per occurrence.

A dead endpoint with many hooks fails thousands of attempts a second; a line for each buried
everything else in the log (1.35 MB/s). :meth:`LogOnce.due` says when a key's line is due
and how many occurrences it stands for; the keys (endpoints, hooks: tenant-fed) are held in a
:class:`~webhooksd.bounded.BoundedCache`, so a tenant inventing keys cannot grow the process —
a key evicted early only means its next line comes sooner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from webhooksd.bounded import BoundedCache

#: keys remembered at most
MAX_KEYS = 10_000


class _Seen:
    __slots__ = ("logged_at", "suppressed")

    def __init__(self, logged_at: float) -> None:
        self.logged_at = logged_at
        self.suppressed = 0


class LogOnce:
    """Per key: the first occurrence is logged, then at most one line per ``interval_s``."""

    __slots__ = ("_clock", "_interval_s", "_seen")

    def __init__(
        self,
        interval_s: float,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._seen: BoundedCache[Hashable, _Seen] = BoundedCache(max_keys)

    def due(self, key: Hashable) -> int | None:
        """None when ``key`` was logged less than an interval ago (this occurrence is counted
        instead); else the number of occurrences not logged since its last line (0 the first
        time), and the line is the caller's to write now."""
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None:
            self._seen.put(key, _Seen(now))
            return 0
        if now - seen.logged_at < self._interval_s:
            seen.suppressed += 1
            return None
        suppressed, seen.suppressed, seen.logged_at = seen.suppressed, 0, now
        return suppressed
