"""What the API needs from the daemon (Crossbar's view of the ``webhooks`` app).

Everything arrives through :class:`ApiDeps`, stored under one typed ``web.AppKey``; nothing is
module-level state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from webhooksd.accounts.cache import AccountCache
from webhooksd.bus import Bus
from webhooksd.config import Settings
from webhooksd.records import AttemptRecord, Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store


class HookTester(Protocol):
    """Protocol: send one payload to a hook now (the delivery engineer's ``Dispatcher``)."""

    async def send_test(self, hook: Hook, payload: Mapping[str, Any]) -> AttemptRecord:
        """Send ``payload`` to ``hook`` once, record the attempt and return it."""

    async def replay(self, attempt: AttemptRecord) -> AttemptRecord:
        """Send the payload of a recorded attempt again, record and return the new attempt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiDeps:
    """The resources the API serves from; the daemon builds them, the API only uses them."""

    settings: Settings
    store: Store
    bus: Bus
    metrics: Metrics
    tester: HookTester
    #: names of readiness checks → ok; ``/readyz`` is 200 only when all are true
    readiness: Callable[[], Mapping[str, bool]]
    #: the accounts every request reads; the daemon shares it with its config listener so
    #: that another instance's change is forgotten at once (one is made when not given)
    accounts: AccountCache | None = None


DEPS = web.AppKey("deps", ApiDeps)
