"""Fixtures of the bus suite: each test runs on the in-process bus and on real RabbitMQ."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aio_pika
import pytest

from webhooksd.bus import Bus
from webhooksd.bus.amqp import AmqpBus
from webhooksd.bus.memory import MemoryBus

from .support import Scratch

AMQP_URL = os.environ.get("WEBHOOKSD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def _delete_amqp(scratch: Scratch) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        for name in scratch.queues:
            channel = await connection.channel()
            await channel.queue_delete(name, if_unused=False, if_empty=False)
            await channel.close()
        for name in scratch.exchanges:
            channel = await connection.channel()
            await channel.exchange_delete(name, if_unused=False)
            await channel.close()


@pytest.fixture(
    name="bus_kind",
    params=["memory", pytest.param("amqp", marks=pytest.mark.integration)],
)
def _bus_kind(request: pytest.FixtureRequest) -> str:
    """Which implementation the test runs on: ``memory`` or ``amqp`` (real RabbitMQ)."""
    return str(request.param)


@pytest.fixture(name="scratch")
async def _scratch(bus_kind: str) -> AsyncIterator[Scratch]:
    """Unique names for the test; on RabbitMQ, what they name is deleted afterwards."""
    scratch = Scratch(kind=bus_kind)
    yield scratch
    if bus_kind == "amqp":
        await _delete_amqp(scratch)


@pytest.fixture(name="amqp_scratch")
async def _amqp_scratch() -> AsyncIterator[Scratch]:
    """Unique names for an AMQP-only test, deleted from RabbitMQ afterwards."""
    scratch = Scratch(kind="amqp")
    yield scratch
    await _delete_amqp(scratch)


@pytest.fixture(name="bus")
async def _bus(bus_kind: str, scratch: Scratch) -> AsyncIterator[Bus]:
    """The bus under test, opened as ``open_bus`` opens it."""
    if bus_kind == "memory":
        async with MemoryBus.open() as memory_bus:
            yield memory_bus
    else:
        async with AmqpBus.open(AMQP_URL, connection_name=scratch.prefix) as amqp_bus:
            yield amqp_bus
