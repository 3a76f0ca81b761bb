"""The shared listener (Kazoo ``webhooks_shared_listener``): events in, hook modules called.

One durable queue shared by every instance, so each event is handled by exactly one of them.
The message is acked only when every module's ``handle_event`` returned — that is, when every
first attempt finished or its retry is safely queued — so a crash loses nothing.

It also answers Kazoo's bulk re-enable request (``doc_type_update`` from crossbar) and replies
on ``targeted`` to the requester's ``Server-ID``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

import orjson
import structlog
from prometheus_client import Counter

from webhooksd.bounded import BoundedCache
from webhooksd.bus import Bus, Message, QueueSpec
from webhooksd.hooks.contract import Binding, HookContext, HookModule, Responder
from webhooksd.hooks.reenable import reenable
from webhooksd.kazoo.events import Event, decode
from webhooksd.listeners.base import QueueListener
from webhooksd.runtime.logs import context_vars
from webhooksd.runtime.metrics import EventLabels, Metrics
from webhooksd.store import Store
from webhooksd.tracing import NO_TRACER, Tracer

log = structlog.get_logger(__name__)

REENABLE_BINDING = Binding("configuration", "configuration.doc_type_update.webhook")
#: kinds of event (category, name) whose routing is remembered at most
MAX_ROUTES = 1024


class SharedListener(QueueListener):
    name = "shared_listener"

    def __init__(
        self,
        *,
        bus: Bus,
        metrics: Metrics,
        store: Store,
        modules: Mapping[str, HookModule],
        ctx: HookContext,
        queue_name: str,
        prefetch: int,
        node: str,
        drain_timeout_s: float,
        probe: Callable[[], Awaitable[None]] | None = None,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        super().__init__(
            bus=bus,
            metrics=metrics,
            prefetch=prefetch,
            drain_timeout_s=drain_timeout_s,
            probe=probe,
            tracer=tracer,
        )
        self._store = store
        self._ctx = ctx
        self._queue_name = queue_name
        self._node = node
        self._bindings: list[Binding] = [REENABLE_BINDING]
        self._responders: list[tuple[Responder, HookModule]] = []
        for module in modules.values():
            bindings, responders = module.bindings_and_responders()
            self._bindings.extend(b for b in bindings if b not in self._bindings)
            self._responders.extend((r, module) for r in responders)
        #: publishers choose event names: the consumed counter's labels come from a bounded set
        self._labels = EventLabels(
            [(r.category, r.name) for r, _ in self._responders]
            + [("configuration", "doc_type_update")]
        )
        #: (category, name) → the modules that respond and the event's consumed counter,
        #: worked out once per kind of event rather than once per event; names come from
        #: publishers, so the kinds remembered are bounded
        self._routes: BoundedCache[tuple[str, str], tuple[list[HookModule], Counter]] = (
            BoundedCache(MAX_ROUTES)
        )
        #: structlog's context variable of the ``event_id`` every line of an event carries
        (self._event_id,) = context_vars("event_id")

    def queue_spec(self) -> QueueSpec:
        return QueueSpec(name=self._queue_name, durable=True, dead_letter=True)

    def bindings(self) -> Sequence[Binding]:
        return self._bindings

    def modules_for(self, event: Event) -> list[HookModule]:
        """Every module with a responder matching the event, each once."""
        found: list[HookModule] = []
        for responder, module in self._responders:
            if responder.matches(event.category, event.name) and module not in found:
                found.append(module)
        return found

    def _route(self, event: Event) -> tuple[list[HookModule], Counter]:
        key = (event.category, event.name)
        route = self._routes.get(key)
        if route is None:
            category, name = self._labels(*key)
            counter = self._metrics.events_consumed.labels(category=category, name=name)
            route = (self.modules_for(event), counter)
            self._routes.put(key, route)
        return route

    async def process(self, message: Message) -> None:
        event = decode(message)
        self._tracer.event(event)
        modules, consumed = self._route(event)
        consumed.inc()
        # set directly rather than through bound_contextvars, a generator context manager
        # that read and rebound the whole context (ten calls an event); the reset restores
        # what was bound before, as it did
        token = self._event_id.set(event.event_id)
        try:
            await self._dispatch(event, modules)
        finally:
            self._event_id.reset(token)
        self._metrics.events_handled.inc()

    async def _dispatch(self, event: Event, modules: list[HookModule]) -> None:
        if event.category == "configuration" and event.name == "doc_type_update":
            await self._reenable_request(event)
            return
        if not modules:
            log.debug("no module for event", category=event.category, name=event.name)
            return
        if len(modules) == 1:
            # the common case needs no task and no gather: the same exception, the same wait
            await modules[0].handle_event(event, self._ctx)
            return
        results = await asyncio.gather(
            *(m.handle_event(event, self._ctx) for m in modules), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _reenable_request(self, event: Event) -> None:
        body = event.body
        account_id, action = body.get("Account-ID"), body.get("Action")
        if body.get("Type") != "webhook" or not isinstance(account_id, str):
            log.info("doc_type_update ignored", type=body.get("Type"))
            return
        if action not in ("account", "descendants"):
            log.warning("doc_type_update with unknown action", action=action)
            return
        await reenable(
            self._store, self._bus, account_id, descendants=action == "descendants", node=self._node
        )
        server_id = body.get("Server-ID")
        if isinstance(server_id, str) and server_id:
            reply = {
                "status": "success",
                "Event-Category": "configuration",
                "Event-Name": "doc_type_updated",
                "Msg-ID": body.get("Msg-ID", ""),
                "App-Name": "webhooks",
                "App-Version": "4.0.0",
                "Node": self._node,
            }
            await self._bus.publish("targeted", server_id, orjson.dumps(reply))
