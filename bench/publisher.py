"""Kazoo-format CHANNEL_CREATE publisher: full speed or a fixed rate, confirms pipelined."""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
import orjson

WINDOW = 200  # confirms awaited per batch


def channel_create(account_id: str) -> tuple[str, bytes]:
    call_id = uuid.uuid4().hex
    body = {
        "Event-Category": "call_event",
        "Event-Name": "CHANNEL_CREATE",
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Msg-ID": str(time.time_ns()),
        "Node": "freeswitch@bench",
        "Timestamp": 63724349409,
        "Call-ID": call_id,
        "Call-Direction": "inbound",
        "Channel-Name": "sofia/sipinterface_1/+15556783945@10.0.0.1",
        "Caller-ID-Name": "Bench",
        "Caller-ID-Number": "+15556783945",
        "Callee-ID-Name": "Bench",
        "Callee-ID-Number": "+15552345678",
        "From": "+15556783945@bench.example",
        "To": "+15552345678@bench.example",
        "Request": "+15552345678@bench.example",
        "Custom-Channel-Vars": {"Account-ID": account_id, "Bench-Published-At": repr(time.time())},
        "Custom-Application-Vars": {},
    }
    return f"call.CHANNEL_CREATE.{call_id}", orjson.dumps(body)


async def publish(amqp_url: str, account_id: str, count: int, rate: float | None) -> float:
    """Publish ``count`` events (at ``rate`` per second, or as fast as confirms allow);
    return the wall-clock time of the first publish."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            "callevt", aio_pika.ExchangeType.TOPIC, durable=False
        )
        started = time.time()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        pending: list[asyncio.Future[object]] = []
        for n in range(count):
            if rate:
                due = t0 + n / rate
                delay = due - loop.time()
                if delay > 0.0005:
                    await asyncio.sleep(delay)
            key, body = channel_create(account_id)
            pending.append(
                asyncio.ensure_future(
                    exchange.publish(
                        aio_pika.Message(body, content_type="application/json"), routing_key=key
                    )
                )
            )
            if len(pending) >= WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return started
