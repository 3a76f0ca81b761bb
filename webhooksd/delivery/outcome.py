"""What one HTTP attempt came to — a value, never an exception — and when to try again.

Kazoo counts only 200 (and 201 on PUT) as success and retries only transport errors; the
documentation promises retries "if it fails". Here any 2xx succeeds; transport errors,
timeouts, 429 and 5xx are retried; other 4xx and 3xx (redirects are not followed) are final;
410 Gone is final and switches the hook off at once.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

Kind = Literal["success", "retryable", "final", "gone"]

#: Kazoo's ``reason`` strings
BAD_RESPONSE = "bad response code"
CLIENT_ERROR = "kazoo http client error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    kind: Kind
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    client_error: str | None = None
    reason: str | None = None
    duration_ms: float = 0.0
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "success"


def classify(status: int) -> Kind:
    if 200 <= status < 300:
        return "success"
    if status == 410:
        return "gone"
    if status == 429 or status >= 500:
        return "retryable"
    return "final"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_ms(attempt: int, *, base_ms: int, max_ms: int, retry_after_s: float | None) -> int:
    """Delay before attempt ``attempt + 1``: exponential from ``base_ms`` with full jitter on
    the upper half, at least ``Retry-After``, never over ``max_ms``."""
    ceiling = min(max_ms, base_ms * 2 ** max(0, attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s * 1000)
    return int(min(delay, max_ms))
