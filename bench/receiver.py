"""The benchmark's receiver: a separate process that counts deliveries and their latency.

Latency is publish → receipt: the publisher writes its wall-clock time into the event's
``Custom-Channel-Vars`` (``Bench-Published-At``), which Kazoo's channel payload carries as
``custom_channel_vars``; the bare relay posts the Kazoo event itself, where the same key sits
under ``Custom-Channel-Vars``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson
from aiohttp import web

KEY = "Bench-Published-At"


class Stats:
    def __init__(self) -> None:
        self.count = 0
        self.latencies_ms: list[float] = []
        self.first = 0.0
        self.last = 0.0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def published_at(body: bytes) -> float | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    for outer in ("custom_channel_vars", "Custom-Channel-Vars"):
        value = data.get(outer, {}).get(KEY) if isinstance(data, dict) else None
        if value is not None:
            return float(value)
    return None


def make_app(stats: Stats) -> web.Application:
    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        sent = published_at(body)
        if sent is not None:
            stats.latencies_ms.append((now - sent) * 1000)
        if not stats.count:
            stats.first = now
        stats.count += 1
        stats.last = now
        return web.Response(status=204)

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "count": stats.count,
                "first": stats.first,
                "last": stats.last,
                "latencies_ms": stats.latencies_ms,
            }
        )

    async def reset(request: web.Request) -> web.Response:
        stats.reset()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/reset", reset)
    return app


async def main(port: int) -> None:
    runner = web.AppRunner(make_app(Stats()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
