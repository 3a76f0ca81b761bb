"""``workers`` > 1: one service made of N daemon processes on one host.

Each worker is the whole daemon (:func:`webhooksd.runtime.daemon.serve`) in its own process
with its own event loop: the shared queue spreads events over them as it does over
instances on several hosts, so a host's cores all deliver. The parent does no delivery. It

- starts the workers and tells systemd ``READY=1`` once, when every worker has said it to
  the parent (each worker's ``NOTIFY_SOCKET`` is a datagram socket of the parent's);
- restarts a worker that exits, giving up (exit 1, systemd restarts the unit) when workers
  exited more than ``max_restarts`` times within ``restart_period_s``, as the supervisor does
  with its children; a worker's configuration error (exit 78) stops the service at once,
  since a restart cannot mend a setting;
- passes SIGTERM/SIGINT to every worker and exits when all have drained and exited;
- pets systemd's watchdog only while every worker is petting its own.

Worker ``i`` is node ``<node_name>-w<i>`` (its metrics' ``node`` label, its config queue and
its AMQP connection name) and logs ``worker=i``. The API: worker 0 listens on
``api_listen``, worker ``i`` on its port + ``i``. Not SO_REUSEPORT: the kernel would spread
Prometheus' scrapes over the workers, and each scrape would show another worker's counters;
with a port each, every worker's ``/metrics`` and ``/readyz`` can be read, and any port serves
the whole API (all workers share the store and hear every change).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import structlog

from webhooksd.config import Settings
from webhooksd.errors import SupervisorGaveUp
from webhooksd.runtime.sdnotify import Notifier

log = structlog.get_logger(__name__)

#: the environment variable that tells a process it is worker ``i`` of a parent (not a
#: setting: the parent sets it)
WORKER_ENV = "WEBHOOKSD_WORKER_INDEX"
#: a worker's exit status for a configuration error (the CLI's EX_CONFIG)
EX_CONFIG = 78
#: after SIGTERM, how much longer than ``drain_timeout_s`` a worker gets before SIGKILL
EXIT_GRACE_S = 15.0


class WorkerConfigError(Exception):
    """A worker exited with EX_CONFIG: every restart would too."""


def worker_environment(
    settings: Settings, index: int, notify_socket: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """Worker ``index``'s environment: the parent's, with its own node, API port and
    NOTIFY_SOCKET, and a watchdog of the parent's period when systemd gave the parent one."""
    env = {k: v for k, v in environ.items() if k not in ("WATCHDOG_PID", "WATCHDOG_USEC")}
    host = settings.api_listen.rsplit(":", 1)[0]
    port = settings.api_port + index if settings.api_port else 0
    env.update(
        {
            "WEBHOOKSD_WORKERS": "1",
            "WEBHOOKSD_NODE_NAME": f"{settings.node}-w{index}",
            "WEBHOOKSD_API_LISTEN": f"{host}:{port}",
            "NOTIFY_SOCKET": notify_socket,
            WORKER_ENV: str(index),
        }
    )
    interval = Notifier.watchdog_interval_s()
    if interval is not None:
        env["WATCHDOG_USEC"] = str(int(interval * 2_000_000))
    return env


class _Slot:
    """One worker's place: its notify socket (kept across restarts) and its process."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.address = f"@webhooksd-{os.getpid()}-{secrets.token_hex(6)}-w{index}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind("\0" + self.address[1:])
        self.sock.setblocking(False)
        self.proc: asyncio.subprocess.Process | None = None
        self.ready = False
        #: monotonic time of its last READY=1 or WATCHDOG=1
        self.seen = 0.0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


class Workers:
    """The parent of ``settings.workers`` daemon processes; :meth:`run` returns the exit
    status: 0 after a clean stop, 1 when it gave up, 78 for a worker's configuration error."""

    def __init__(
        self,
        settings: Settings,
        command: Sequence[str],
        notifier: Notifier,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._command = tuple(command)
        self._notifier = notifier
        self._environ = dict(os.environ if environ is None else environ)
        self._slots = [_Slot(i) for i in range(settings.workers)]
        self._changed = asyncio.Event()
        self._exits: deque[float] = deque()
        self._stopping = False
        self._stop = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> int:
        self._stop = stopping
        tasks = [asyncio.create_task(self._listen(slot)) for slot in self._slots]
        tasks.append(asyncio.create_task(self._announce_ready()))
        interval = self._notifier.watchdog_interval_s()
        if interval:
            tasks.append(asyncio.create_task(self._watchdog(interval)))
        keepers = {asyncio.create_task(self._keep(slot)) for slot in self._slots}
        stop_waiter = asyncio.create_task(stopping.wait())
        try:
            done, _ = await asyncio.wait(
                {stop_waiter, *keepers}, return_when=asyncio.FIRST_COMPLETED
            )
            code = 0
            for task in done - {stop_waiter}:
                exc = task.exception()
                if isinstance(exc, WorkerConfigError):
                    log.critical("worker configuration error", error=str(exc))
                    code = EX_CONFIG
                elif isinstance(exc, SupervisorGaveUp):
                    log.critical("gave up restarting workers", error=str(exc))
                    code = 1
                elif exc is not None:
                    raise exc
            self._stopping = True
            for task in keepers:
                task.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            failed = await self._stop_all()
            log.info("workers stopped", failed=failed)
            return code or (1 if failed else 0)
        finally:
            for task in (*tasks, stop_waiter):
                task.cancel()
            await asyncio.gather(*tasks, stop_waiter, return_exceptions=True)
            for slot in self._slots:
                slot.sock.close()

    async def _keep(self, slot: _Slot) -> None:
        """Run the slot's worker; start it again when it exits (unless the service stops)."""
        while True:
            env = worker_environment(self._settings, slot.index, slot.address, self._environ)
            slot.ready = False
            slot.proc = await asyncio.create_subprocess_exec(*self._command, env=env)
            log.info("worker started", worker=slot.index, pid=slot.proc.pid)
            code = await slot.proc.wait()
            # a terminal's Ctrl-C reaches the workers too: their exit then is no crash
            if self._stopping or self._stop.is_set():
                return
            slot.ready = False
            log.error("worker exited; restarting", worker=slot.index, code=code)
            if code == EX_CONFIG:
                raise WorkerConfigError(f"worker {slot.index} exited {code}")
            self._note_exit()
            # a worker that fails at once must not spin the parent
            await asyncio.sleep(min(0.1 * len(self._exits), 1.0))

    def _note_exit(self) -> None:
        now = time.monotonic()
        period = float(self._settings.restart_period_s)
        self._exits.append(now)
        while self._exits and self._exits[0] < now - period:
            self._exits.popleft()
        if len(self._exits) > self._settings.max_restarts:
            raise SupervisorGaveUp(f"workers exited {len(self._exits)} times in {period:g} s")

    async def _stop_all(self) -> int:
        """SIGTERM every worker, wait for each to drain and exit (SIGKILL past the bound);
        how many exited with a status other than 0."""
        self._notifier.stopping()
        live = [slot.proc for slot in self._slots if slot.proc is not None and slot.alive]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        bound = self._settings.drain_timeout_s + EXIT_GRACE_S
        codes = await asyncio.gather(*(self._reap(proc, bound) for proc in live))
        return sum(1 for code in codes if code != 0)

    @staticmethod
    async def _reap(proc: asyncio.subprocess.Process, bound: float) -> int:
        try:
            async with asyncio.timeout(bound):
                return await proc.wait()
        except TimeoutError:
            log.error("worker did not stop in time; killed", pid=proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            return await proc.wait()

    async def _listen(self, slot: _Slot) -> None:
        """The slot's notify datagrams: READY=1 and WATCHDOG=1 from its worker."""
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(slot.sock, 4096)
            fields = data.decode(errors="replace").split("\n")
            if "READY=1" in fields:
                slot.ready = True
                log.info("worker ready", worker=slot.index)
            if "READY=1" in fields or "WATCHDOG=1" in fields:
                slot.seen = time.monotonic()
                self._changed.set()

    async def _announce_ready(self) -> None:
        """One READY=1 for the service, when every worker has said it (a restarted worker's
        READY only shows in STATUS)."""
        while not all(slot.ready for slot in self._slots):
            await self._changed.wait()
            self._changed.clear()
        count = len(self._slots)
        self._notifier.ready(f"{count} workers ready")
        log.info("all workers ready", workers=count)

    async def _watchdog(self, interval: float) -> None:
        # a worker pets its socket every interval while all its children are up; the parent
        # pets systemd only while every worker did within the period (two intervals)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            if all(slot.alive and now - slot.seen < 2 * interval for slot in self._slots):
                self._notifier.watchdog()


async def serve_workers(settings: Settings, config: Path | None) -> int:
    """Run ``settings.workers`` workers until SIGTERM/SIGINT (exit 0 once all have exited)."""
    command = [sys.executable, "-m", "webhooksd"]
    if config is not None:
        command += ["--config", str(config)]
    command.append("run")
    notifier = Notifier()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal(signum: signal.Signals) -> None:
        if not stopping.is_set():
            log.info("stopping workers", signal=signum.name)
            stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await Workers(settings, command, notifier).run(stopping)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def watch_parent(
    parent_pid: int, on_gone: Callable[[signal.Signals], None], every_s: float = 1.0
) -> None:
    """A worker's guard: when its parent is gone (killed outright, so it could not pass
    SIGTERM on), the worker stops as if told to instead of serving on unsupervised."""
    # polled: no event tells a process its parent died (short of PR_SET_DEATHSIG, which
    # the event loop's child watcher makes awkward to set)
    while os.getppid() == parent_pid:  # noqa: ASYNC110
        await asyncio.sleep(every_s)
    log.warning("parent process gone; stopping")
    on_gone(signal.SIGTERM)
