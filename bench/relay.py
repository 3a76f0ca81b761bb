"""The bare relay the daemon is measured against: consume, POST the JSON, ack.

No matching, no payload formatting, no records — the floor of what any AMQP → HTTP bridge
costs on this machine with the same libraries and the same prefetch.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import aio_pika
import aiohttp

from webhooksd.cli import loop_factory


async def main(amqp_url: str, queue_name: str, target: str, prefetch: int) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection, aiohttp.ClientSession() as http:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        exchange = await channel.declare_exchange(
            "callevt", aio_pika.ExchangeType.TOPIC, durable=False
        )
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "call.CHANNEL_CREATE.*")

        async def relay(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with http.post(
                target, data=message.body, headers={"Content-Type": "application/json"}
            ) as resp:
                await resp.read()
            await message.ack()

        await queue.consume(relay)
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--prefetch", type=int, default=100)
    args = parser.parse_args()
    # the daemon's event loop, so that the comparison is like for like
    factory = loop_factory(os.environ.get("WEBHOOKSD_EVENT_LOOP", "auto"))
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(args.amqp_url, args.queue, args.target, args.prefetch))
