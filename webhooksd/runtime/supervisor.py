"""The supervisor (Kazoo ``webhooks_sup``): one_for_one with bounded restart intensity.

``asyncio.TaskGroup`` alone is one_for_all with no restarts: the first crash cancels every
sibling. So each child runs inside a small loop that catches ``Exception`` (never
``BaseException``: cancellation must pass) and starts the child again. Only when a child has
crashed more than ``max_restarts`` times within ``period_s`` does :class:`SupervisorGaveUp`
reach the TaskGroup, which then cancels everything on purpose — OTP's "supervisor gives up",
after which systemd restarts the unit.

Children start in order: the next one starts only when the previous one said it is ready (or,
for a TRANSIENT child such as ``init``, when it finished), as OTP's ``start_link`` does.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from webhooksd.errors import SupervisorGaveUp

log = structlog.get_logger(__name__)


class Restart(enum.Enum):
    #: always restarted, also when it returns (a listener, the API)
    PERMANENT = "permanent"
    #: restarted only when it crashed; returning means done (``init``)
    TRANSIENT = "transient"


class ChildHandle:
    """What a running child may tell its supervisor."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._ready = asyncio.Event()

    def ready(self) -> None:
        """The child is serving (queues bound, socket listening)."""
        self._ready.set()

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        await self._ready.wait()


ChildMain = Callable[[ChildHandle], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    name: str
    main: ChildMain
    restart: Restart = Restart.PERMANENT


class Supervisor:
    """Runs children one_for_one; :meth:`run` returns only by cancellation or by giving up."""

    def __init__(
        self,
        children: Sequence[ChildSpec],
        *,
        max_restarts: int = 5,
        period_s: float = 10.0,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self._children = tuple(children)
        self._max_restarts = max_restarts
        self._period_s = period_s
        self._on_restart = on_restart
        self._handles: dict[str, ChildHandle] = {}
        self._done: set[str] = set()
        self.all_started = asyncio.Event()

    def readiness(self) -> dict[str, bool]:
        """Each child's state: ready (or finished, for a transient child) or not."""
        return {
            spec.name: spec.name in self._done
            or (spec.name in self._handles and self._handles[spec.name].is_ready)
            for spec in self._children
        }

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for spec in self._children:
                    started = asyncio.Event()
                    group.create_task(self._supervise(spec, started), name=f"child:{spec.name}")
                    await started.wait()
                self.all_started.set()
                log.info("all children started", children=[c.name for c in self._children])
        except* SupervisorGaveUp as eg:
            raise eg.exceptions[0] from None

    async def _supervise(self, spec: ChildSpec, started: asyncio.Event) -> None:
        crashes: deque[float] = deque()
        while True:
            handle = ChildHandle(spec.name)
            self._handles[spec.name] = handle
            waiter = asyncio.create_task(self._signal_started(handle, started))
            try:
                await spec.main(handle)
            except Exception as exc:
                log.error("child crashed", child=spec.name, error=repr(exc), exc_info=exc)
            else:
                if spec.restart is Restart.TRANSIENT:
                    self._done.add(spec.name)
                    started.set()
                    return
                log.warning("permanent child returned; restarting", child=spec.name)
            finally:
                waiter.cancel()
            self._note_crash(spec.name, crashes)
            if self._on_restart is not None:
                self._on_restart(spec.name)
            # a short pause so a child that fails at once does not spin the loop
            await asyncio.sleep(min(0.1 * len(crashes), 1.0))

    def _note_crash(self, name: str, crashes: deque[float]) -> None:
        now = time.monotonic()
        crashes.append(now)
        while crashes and crashes[0] < now - self._period_s:
            crashes.popleft()
        if len(crashes) > self._max_restarts:
            raise SupervisorGaveUp(
                f"child {name!r} crashed {len(crashes)} times in {self._period_s:g} s"
            )

    @staticmethod
    async def _signal_started(handle: ChildHandle, started: asyncio.Event) -> None:
        await handle.wait_ready()
        started.set()
