"""A real aiohttp server on 127.0.0.1 at a port the OS picks: the tests' receivers, token
endpoints and trace collectors all start this way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serving(app: web.Application, *, shutdown_timeout: float = 60.0) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL, ``http://127.0.0.1:<port>``.
    ``shutdown_timeout`` bounds how long closing waits for requests still being answered."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
