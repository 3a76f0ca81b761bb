"""Delay buckets for ``publish_delayed`` on RabbitMQ (Kazoo has none: it sleeps 2 s in-process).

RabbitMQ has no delayed delivery without a plugin, so a delayed message waits in a durable
"bucket" queue whose ``x-message-ttl`` is the delay and which dead-letters into the target
queue through the default exchange. A queue's TTL only expires its head, so every message in
one bucket must share the same TTL: there is one bucket per (target queue, rounded delay).

Rounding rule: a delay is rounded *up* to the next ``ceil(STEP ** k)`` milliseconds
(k = 0, 1, 2, …; STEP = 1.125). A message is therefore never delivered early, and at most
12.5 % + 1 ms late; the number of buckets per target stays small (about 155 from 1 ms to a
day). Idle buckets delete themselves (``x-expires``) a while after their last message is due.
"""

from __future__ import annotations

import math
from typing import Any

#: ratio between consecutive bucket delays (the most a delay is rounded up by)
STEP = 1.125

#: bucket queues are named ``<PREFIX><target queue>.<bucket ms>``
PREFIX = "webhooksd.delay."

#: how long an unused bucket outlives the last message it may hold
EXPIRES_MARGIN_MS = 60_000


def bucket_ms(delay_ms: int) -> int:
    """The bucket delay for ``delay_ms``: the smallest ``ceil(STEP**k)`` not below it."""
    if delay_ms <= 1:
        return max(delay_ms, 0)
    k = max(math.floor(math.log(delay_ms, STEP)) - 1, 0)
    while math.ceil(STEP**k) < delay_ms:  # float log may land one step short
        k += 1
    return math.ceil(STEP**k)


def bucket_name(queue: str, bucket: int) -> str:
    """The name of the bucket queue holding messages for ``queue`` delayed ``bucket`` ms."""
    return f"{PREFIX}{queue}.{bucket}"


def bucket_arguments(queue: str, bucket: int) -> dict[str, Any]:
    """Queue arguments of a bucket: expire after ``bucket`` ms into ``queue``."""
    return {
        "x-message-ttl": bucket,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
        # an idle queue is deleted even if it holds messages, so outlive the last one due
        "x-expires": 2 * bucket + EXPIRES_MARGIN_MS,
    }
