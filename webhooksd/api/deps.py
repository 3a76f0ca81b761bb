"""Everything the API reads from the application, each under one typed ``web.AppKey``.

The daemon hands its resources over in one :class:`ApiDeps`; :func:`webhooksd.api.create_app`
stores them, with the account cache, the rate limiter and (once the store answers) the shared
token secret, under the keys below. Handlers and the middleware reach application state only
through these keys; nothing is module-level state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from webhooksd.accounts.cache import AccountCache
from webhooksd.bus import Bus
from webhooksd.config import Settings
from webhooksd.kazoo.authkeys import KazooTokens
from webhooksd.records import AttemptRecord, Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store

from .ratelimit import RateLimiter


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
    #: checks ``/readyz`` shows without letting them decide readiness (a false one makes the
    #: status ``degraded``, still 200): the Kazoo mirror's CouchDB once the accounts are loaded
    advisories: Callable[[], Mapping[str, bool]] = dict
    #: the accounts every request reads; the daemon shares it with its config listener so
    #: that another instance's change is forgotten at once (one is made when not given)
    accounts: AccountCache | None = None


#: the daemon's resources (store, bus, settings, metrics, tester, readiness)
DEPS = web.AppKey("deps", ApiDeps)
#: the accounts every request reads (the URL's account, the token's account)
ACCOUNTS = web.AppKey("accounts", AccountCache)
#: the callers' request budgets; None when ``rate_limit_per_s`` is 0 (no limit)
LIMITER: web.AppKey[RateLimiter | None] = web.AppKey("limiter")
#: the secret every instance signs and checks tokens with (set when the app starts)
TOKEN_SECRET = web.AppKey("token_secret", str)
#: the checker of Kazoo-issued tokens; None when neither a key file nor Kazoo's CouchDB is set
KAZOO_TOKENS: web.AppKey[KazooTokens | None] = web.AppKey("kazoo_tokens")
