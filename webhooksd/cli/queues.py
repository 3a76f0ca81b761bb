"""``webhooksd queues migrate``: the durable queues to ``queue_type``, keeping their messages.

Run it with every instance stopped, after setting ``queue_type``; see
:mod:`webhooksd.bus.migrate` for how nothing is lost on the way.
"""

from __future__ import annotations

import sys
from typing import TextIO

from webhooksd.bus import DEAD_LETTER, QueueSpec
from webhooksd.bus.migrate import Target, migrate
from webhooksd.config import Settings
from webhooksd.hooks.contract import discover
from webhooksd.listeners.shared import REENABLE_BINDING


def targets(settings: Settings) -> list[Target]:
    """Every durable queue the daemon declares, declared as the daemon declares it."""
    bindings = [REENABLE_BINDING]
    for module in discover(third_party=settings.load_entry_points).values():
        module_bindings, _responders = module.bindings_and_responders()
        bindings.extend(b for b in module_bindings if b not in bindings)
    return [
        Target(spec=QueueSpec(name=DEAD_LETTER, durable=True), bindings=[(DEAD_LETTER, "")]),
        Target(
            spec=QueueSpec(name=settings.retry_queue, durable=True, dead_letter=True),
            buckets=True,
        ),
        Target(
            spec=QueueSpec(name=settings.shared_queue, durable=True, dead_letter=True),
            bindings=[(b.exchange, b.routing_key) for b in bindings],
        ),
    ]


async def migrate_command(settings: Settings, out: TextIO = sys.stdout) -> int:
    if not settings.amqp_url.startswith(("amqp://", "amqps://")):
        sys.stderr.write("webhooksd: queues migrate needs amqp_url to name a RabbitMQ broker\n")
        return 1
    moved = await migrate(settings.amqp_url, targets(settings), settings.queue_kind)
    for name, count in moved.messages.items():
        out.write(f"{name}: now {settings.queue_type}, {count} messages moved\n")
    for name in moved.skipped:
        out.write(f"{name}: already {settings.queue_type} (or absent), left as it is\n")
    out.write(f"delay buckets emptied and made again: {moved.buckets}\n")
    return 0
