"""``webhooksd receiver``: a sink that prints every request it gets and answers 200.

For trying webhooksd by hand (``make run`` plus this in another terminal). Not for production.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from aiohttp import web


async def _print_request(request: web.Request) -> web.Response:
    body = await request.read()
    out = sys.stdout
    out.write(f"--- {datetime.now(UTC).isoformat()} {request.method} {request.path_qs}\n")
    for name, value in request.headers.items():
        out.write(f"{name}: {value}\n")
    out.write("\n" + body.decode("utf-8", "replace") + "\n")
    out.flush()
    return web.Response(text="ok\n")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _print_request)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"receiver listening on http://{host}:{port}/", flush=True)
    try:
        await asyncio.Future()
    finally:
        await runner.cleanup()
