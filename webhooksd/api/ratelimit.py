"""Per-caller request budgets (Kazoo ``kz_buckets``, the token buckets of ``api_resource``).

Each caller has a bucket of ``2 * rate`` tokens refilled at ``rate`` per second; an empty bucket
means 429 ``too_many_requests``. The buckets belong to one app instance (no module state).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from webhooksd.bounded import BoundedCache

#: buckets kept at most; the least recently used go first
_MAX_BUCKETS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Take:
    """The outcome of one request against a bucket (reported in the envelope's ``tokens``)."""

    allowed: bool
    consumed: int
    remaining: int


class RateLimiter:
    """Token buckets keyed by caller."""

    def __init__(self, rate_per_s: int) -> None:
        self._rate = float(rate_per_s)
        self._burst = float(2 * rate_per_s)
        self._buckets: BoundedCache[str, _Bucket] = BoundedCache(_MAX_BUCKETS)

    def take(self, key: str, *, now: float | None = None) -> Take:
        stamp = time.monotonic() if now is None else now
        bucket = self._buckets.setdefault(key, lambda: _Bucket(tokens=self._burst, stamp=stamp))
        bucket.tokens = min(self._burst, bucket.tokens + (stamp - bucket.stamp) * self._rate)
        bucket.stamp = stamp
        if bucket.tokens < 1:
            return Take(allowed=False, consumed=0, remaining=0)
        bucket.tokens -= 1
        return Take(allowed=True, consumed=1, remaining=int(bucket.tokens))
