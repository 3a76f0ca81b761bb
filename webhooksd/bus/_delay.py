"""Delay buckets for ``publish_delayed`` on RabbitMQ (Kazoo has none: it sleeps 2 s in-process).

RabbitMQ has no delayed delivery without a plugin, so a delayed message waits in a durable
"bucket" queue whose ``x-message-ttl`` is the delay and which dead-letters into the target
queue through the default exchange. A queue's TTL only expires its head, so every message in
one bucket must share the same TTL: there is one bucket per (target queue, rounded delay).

Rounding rule: a delay is rounded *up* to the next ``ceil(STEP ** k)`` milliseconds
(k = 0, 1, 2, …; STEP = 1.125). A message is therefore never delivered early, and at most
12.5 % + 1 ms late; the number of buckets per target stays small (about 155 from 1 ms to a
day). Idle buckets delete themselves (``x-expires``) a while after their last message is due.

With ``queue_type = quorum`` a bucket is a quorum queue: RabbitMQ 3.10 brought message TTL to
quorum queues (expiring, as in classic ones, at the head only, which the one-TTL-per-bucket
rule already respects) and at-least-once dead-lettering, without which a message that
expires while the target's leader is changing could be dropped. At-least-once requires
``x-overflow: reject-publish``; no bucket has a length limit, so it never rejects.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

#: ratio between consecutive bucket delays (the most a delay is rounded up by)
STEP = 1.125

#: bucket queues are named ``<PREFIX><target queue>.<bucket ms>``
PREFIX = "webhooksd.delay."

#: how long an unused bucket outlives the last message it may hold
EXPIRES_MARGIN_MS = 60_000


#: the arguments of a quorum queue that dead-letters: at least once (RabbitMQ's default for
#: quorum queues is at most once), which RabbitMQ allows only with ``reject-publish`` overflow
QUORUM_DEAD_LETTERING = MappingProxyType(
    {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
)


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


def bucket_arguments(queue: str, bucket: int, *, quorum: bool = False) -> dict[str, Any]:
    """Queue arguments of a bucket: expire after ``bucket`` ms into ``queue``."""
    arguments: dict[str, Any] = {
        "x-message-ttl": bucket,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
        # an idle queue is deleted even if it holds messages, so outlive the last one due
        "x-expires": 2 * bucket + EXPIRES_MARGIN_MS,
    }
    if quorum:
        arguments.update(QUORUM_DEAD_LETTERING)
        arguments["x-queue-type"] = "quorum"
    return arguments
