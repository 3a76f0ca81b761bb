"""``queue_type``: what each queue is declared as, and a conflicting declaration refused in
one line — on the shared RabbitMQ with queues of this test's own (the quorum fault tests on
a cluster are in tests/faults/test_fault_cluster.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aio_pika
import pytest

from webhooksd.bus import QueueSpec
from webhooksd.bus._delay import bucket_arguments
from webhooksd.bus.amqp import AmqpBus, queue_args
from webhooksd.errors import QueueConflict

from .conftest import AMQP_URL
from .support import Scratch


def test_quorum_applies_to_durable_shared_queues_only() -> None:
    """Durable queues become quorum ones, dead-lettering at least once; a per-instance
    (exclusive, auto-delete) queue stays classic, which is all RabbitMQ allows."""
    shared = queue_args(QueueSpec(name="s", durable=True, dead_letter=True), "quorum")
    assert shared["arguments"] == {
        "x-dead-letter-exchange": "webhooksd.dead_letter",
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    plain = queue_args(QueueSpec(name="d", durable=True), "quorum")
    assert plain["arguments"] == {"x-queue-type": "quorum"}
    mine = queue_args(QueueSpec(exclusive=True, auto_delete=True), "quorum")
    assert mine["arguments"] is None
    assert queue_args(QueueSpec(name="s", durable=True), "classic")["arguments"] is None
    bucket = bucket_arguments("target", 5_000, quorum=True)
    assert bucket["x-queue-type"] == "quorum"
    assert bucket["x-dead-letter-strategy"] == "at-least-once"
    assert "x-queue-type" not in bucket_arguments("target", 5_000)


@pytest.mark.integration
async def test_conflicting_declaration_is_a_queue_conflict(amqp_scratch: Scratch) -> None:
    """A queue that exists as a quorum queue, declared classic: QueueConflict naming it and
    the argument; the bus stays usable."""
    name = amqp_scratch.queue("quorum")
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        with pytest.raises(QueueConflict) as caught:
            await bus.declare_queue(QueueSpec(name=name, durable=True))
        assert caught.value.queue == name
        assert "x-queue-type" in caught.value.detail
        assert caught.value.existing_type == "quorum"
        other = amqp_scratch.queue("after")
        assert await bus.declare_queue(QueueSpec(name=other, durable=True)) == other


@pytest.mark.integration
@pytest.mark.slow
async def test_daemon_refuses_to_start_in_one_line(amqp_scratch: Scratch, tmp_path: Path) -> None:
    """The daemon whose shared queue exists as another type exits 78 (EX_CONFIG, which the
    unit does not restart) with one line naming the queue and the setting."""
    shared = amqp_scratch.queue("shared")
    retry = amqp_scratch.queue("retry")
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        # as a quorum deployment declared it; this daemon has the default, classic
        spec = QueueSpec(name=shared, durable=True, dead_letter=True)
        await channel.declare_queue(shared, **queue_args(spec, "quorum"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKSD_")}
    env.update(
        WEBHOOKSD_AMQP_URL=AMQP_URL,
        WEBHOOKSD_STORE_URL=f"sqlite:///{tmp_path / 'store.sqlite3'}",
        WEBHOOKSD_API_LISTEN=f"127.0.0.1:{port}",
        WEBHOOKSD_SHARED_QUEUE=shared,
        WEBHOOKSD_RETRY_QUEUE=retry,
        WEBHOOKSD_NODE_NAME=amqp_scratch.prefix,
        WEBHOOKSD_LOG_LEVEL="error",
    )
    webhooksd = str(Path(sys.executable).parent / "webhooksd")
    proc = await asyncio.create_subprocess_exec(
        webhooksd, "run", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert proc.returncode == 78, lines
    assert len(lines) == 1, lines
    assert "'queue_type'" in lines[0] and repr(shared) in lines[0], lines
    assert "is a quorum queue" in lines[0] and "queues migrate" in lines[0], lines
