"""Prometheus metrics, one registry per daemon (no module-level state).

Every label comes from a bounded set, since each distinct value is a series kept forever:
``category``/``name`` of consumed events through :class:`EventLabels`; ``reason`` and
``child`` are names in the code; ``status_class`` is one of ``1xx``…``9xx`` or ``none`` (HTTP
parsers accept three-digit statuses only); ``queue`` names come from the configuration, and
so does ``node``, this instance's one value, which lets a fleet's instances be told apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: the label of every value outside the known set
OTHER = "other"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The daemon's counters; labels are bounded (no URLs, no account ids)."""

    def __init__(self, *, node: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        #: events this instance handled to the end (every module done, the event acked next):
        #: summed over the instances, the events of the shared queue, each counted once
        self.events_handled = Counter(
            "webhooksd_instance_events_handled",
            "Events of the shared queue this instance handled",
            ["node"],
            registry=r,
        ).labels(node=node)
        self.events_consumed = Counter(
            "webhooksd_events_consumed", "AMQP events consumed", ["category", "name"], registry=r
        )
        self.events_dead_lettered = Counter(
            "webhooksd_events_dead_lettered", "AMQP messages dead-lettered", ["reason"], registry=r
        )
        self.deliveries = Counter(
            "webhooksd_deliveries", "Delivery attempts", ["result", "status_class"], registry=r
        )
        self.delivery_seconds = Histogram(
            "webhooksd_delivery_seconds",
            "HTTP request duration of an attempt",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retries_queued = Counter(
            "webhooksd_retries_queued", "Retries handed to the delay queue", registry=r
        )
        #: attempts handed to the retry queue untried: the account held its share of the
        #: prefetch ("account") or the endpoint could not take them ("endpoint"); with
        #: healthy endpoints this stays 0, however busy the daemon itself is
        self.attempts_deferred = Counter(
            "webhooksd_attempts_deferred",
            "Attempts deferred to the retry queue untried",
            ["reason"],
            registry=r,
        )
        self.hooks_loaded = Gauge(
            "webhooksd_hooks_loaded", "Enabled hooks in the table", registry=r
        )
        self.hooks_auto_disabled = Counter(
            "webhooksd_hooks_auto_disabled", "Hooks switched off by the disabler", registry=r
        )
        self.queue_depth = Gauge(
            "webhooksd_queue_depth", "Messages ready in a queue", ["queue"], registry=r
        )
        self.kazoo_accounts = Gauge(
            "webhooksd_kazoo_accounts",
            "Accounts in the store while Kazoo's accounts are mirrored",
            registry=r,
        )
        self.kazoo_accounts_docs_read = Counter(
            "webhooksd_kazoo_accounts_docs_read",
            "Documents read from Kazoo's accounts database (full read and changes)",
            registry=r,
        )
        # seconds since the mirror last applied an answer of Kazoo's _changes feed (an empty
        # one counts: it says nothing changed); the kazoo_accounts child sets its function
        self.kazoo_accounts_sync_age = Gauge(
            "webhooksd_kazoo_accounts_sync_age_seconds",
            "Seconds since the accounts mirror last applied Kazoo's changes feed",
            registry=r,
        )
        self.child_restarts = Counter(
            "webhooksd_child_restarts", "Supervised children restarted", ["child"], registry=r
        )


class EventLabels:
    """The (category, name) labels of a consumed event, from a bounded set.

    Known: the pairs a responder names exactly (a module taking a whole category, such as
    ``notification``/``*``, also names the events it knows: Kazoo's notification types).
    Any other name counts as ``other`` in its category, and a category no responder names as
    ``other``/``other``: publishers choose these values, so a burst of invented names must
    not grow ``/metrics`` without bound.
    """

    def __init__(self, known: Iterable[tuple[str, str]]) -> None:
        pairs = [(c, n) for c, n in known if c != "*"]  # a "*" category names nothing
        self._exact = frozenset((c, n) for c, n in pairs if n != "*")
        self._categories = frozenset(c for c, _ in pairs)

    def __call__(self, category: str, name: str) -> tuple[str, str]:
        if (category, name) in self._exact:
            return category, name
        return (category if category in self._categories else OTHER), OTHER
