"""The ``api`` child: the aiohttp server for the API, the UI, /metrics and the probes.

Run through ``AppRunner`` inside the supervisor (not ``run_app``), because the supervisor owns
the signals and the event loop.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from webhooksd.runtime.supervisor import ChildHandle

log = structlog.get_logger(__name__)


class ApiServer:
    def __init__(self, *, app: web.Application, host: str, port: int, shutdown_s: float) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._shutdown_s = shutdown_s

    async def __call__(self, handle: ChildHandle) -> None:
        runner = web.AppRunner(
            self._app, handle_signals=False, access_log=None, shutdown_timeout=self._shutdown_s
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port, reuse_address=True)
            await site.start()
            log.info("api listening", host=self._host, port=self._port)
            handle.ready()
            await asyncio.Future()
        finally:
            await runner.cleanup()
