"""The supervisor: start order, one_for_one restarts, giving up, clean cancellation."""

from __future__ import annotations

import asyncio

import pytest

from webhooksd.errors import SupervisorGaveUp
from webhooksd.runtime.supervisor import ChildHandle, ChildSpec, Restart, Supervisor


class Crasher:
    """A child that crashes ``times`` times, then serves until cancelled."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.starts = 0
        # an Event, not a bool: mypy would keep a bool narrowed across the awaits that set it
        self.stopped = asyncio.Event()

    async def __call__(self, handle: ChildHandle) -> None:
        self.starts += 1
        if self.starts <= self.times:
            raise RuntimeError(f"crash {self.starts}")
        handle.ready()
        try:
            await asyncio.Future()
        finally:
            self.stopped.set()


async def test_children_start_in_order_after_ready() -> None:
    """A child starts only once the previous one is ready or, if transient, finished."""
    order: list[str] = []

    async def init(handle: ChildHandle) -> None:
        await asyncio.sleep(0.01)
        order.append("init")

    async def listener(handle: ChildHandle) -> None:
        order.append("listener")
        handle.ready()
        await asyncio.Future()

    sup = Supervisor(
        [
            ChildSpec(name="init", main=init, restart=Restart.TRANSIENT),
            ChildSpec(name="listener", main=listener),
        ]
    )
    task = asyncio.create_task(sup.run())
    await asyncio.wait_for(sup.all_started.wait(), 2)
    assert order == ["init", "listener"]
    assert sup.readiness() == {"init": True, "listener": True}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_crashing_child_is_restarted_alone() -> None:
    """A child that crashes three times is restarted; its sibling never stops."""
    crasher, steady = Crasher(3), Crasher(0)
    restarts: list[str] = []
    sup = Supervisor(
        [ChildSpec(name="steady", main=steady), ChildSpec(name="crasher", main=crasher)],
        max_restarts=5,
        period_s=10,
        on_restart=restarts.append,
    )
    task = asyncio.create_task(sup.run())
    await asyncio.wait_for(sup.all_started.wait(), 5)
    assert crasher.starts == 4
    assert steady.starts == 1 and not steady.stopped.is_set()
    assert restarts == ["crasher"] * 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steady.stopped.is_set() and crasher.stopped.is_set()


async def test_supervisor_gives_up_after_too_many_restarts() -> None:
    """More crashes than the intensity allows stops everything with SupervisorGaveUp."""
    steady, crasher = Crasher(0), Crasher(100)
    sup = Supervisor(
        [ChildSpec(name="steady", main=steady), ChildSpec(name="crasher", main=crasher)],
        max_restarts=2,
        period_s=10,
    )
    with pytest.raises(SupervisorGaveUp, match="crasher"):
        await asyncio.wait_for(sup.run(), 5)
    assert crasher.starts == 3
    assert steady.stopped.is_set()


async def test_transient_child_crash_is_retried_then_done() -> None:
    """A transient child that crashed once runs again and is then done for good."""
    runs = 0

    async def init(handle: ChildHandle) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("first boot race")

    sup = Supervisor([ChildSpec(name="init", main=init, restart=Restart.TRANSIENT)])
    # with nothing permanent left, the supervisor's run simply ends
    await asyncio.wait_for(sup.run(), 2)
    assert runs == 2
    assert sup.readiness() == {"init": True}
