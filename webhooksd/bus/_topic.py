"""Exchange routing for the in-process bus, as RabbitMQ's ``rabbit_exchange_type_*`` do it.

Topic: a routing key and a binding key are lists of ``.``-separated words; in the binding key
``*`` matches exactly one word and ``#`` matches zero or more words. Direct: the keys are
equal. Fanout: every bound queue. (On ``amqp://`` RabbitMQ does its own matching.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from webhooksd.bounded import BoundedCache
from webhooksd.bus import ExchangeKind

#: routing results cached per exchange at most (call ids make routing keys unique)
ROUTE_CACHE_SIZE = 4096


def topic_matches(binding_key: str, routing_key: str) -> bool:
    """Whether ``routing_key`` matches the topic ``binding_key``."""
    return _match(binding_key.split("."), routing_key.split("."))


def _match(pattern: Sequence[str], words: Sequence[str]) -> bool:
    # reachable[j]: the pattern prefix seen so far can consume exactly words[:j]
    reachable = [True] + [False] * len(words)
    for part in pattern:
        if part == "#":
            # zero or more words: once a prefix is reachable, every longer one is too
            for j in range(1, len(words) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
            continue
        nxt = [False] * (len(words) + 1)
        for j, word in enumerate(words):
            nxt[j + 1] = reachable[j] and (part == "*" or part == word)
        reachable = nxt
    return reachable[-1]


@dataclasses.dataclass(slots=True)
class Exchange:
    """An exchange of the in-process bus: its kind, bindings and a cache of routes."""

    kind: ExchangeKind
    durable: bool
    bindings: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    routes: BoundedCache[str, frozenset[str]] = dataclasses.field(
        default_factory=lambda: BoundedCache(ROUTE_CACHE_SIZE)
    )

    def route(self, routing_key: str) -> frozenset[str]:
        """The queues a message with ``routing_key`` goes to."""
        queues = self.routes.get(routing_key)
        if queues is None:
            queues = frozenset(q for q, key in self.bindings if self._matches(key, routing_key))
            self.routes.put(routing_key, queues)
        return queues

    def _matches(self, binding_key: str, routing_key: str) -> bool:
        if self.kind == "fanout":
            return True
        if self.kind == "direct":
            return binding_key == routing_key
        return topic_matches(binding_key, routing_key)
