"""The project's one exception tree.

::

    WebhooksdError
     ├── ConfigError            a setting is missing or malformed (start-up stops)
     ├── StoreError             the store failed or refused an operation
     │    ├── NotFound          a record that must exist does not
     │    └── Conflict          a record with that id already exists
     ├── BusError               the message bus failed or refused an operation
     │    └── QueueConflict     a queue exists with other arguments (start-up stops)
 ├── CouchError             Kazoo's CouchDB failed or answered what it should not
     ├── MalformedMessage       an AMQP message cannot be understood (it is dead-lettered)
     ├── InvalidHookModule      a hook module does not satisfy the contract (start-up stops)
     └── SupervisorGaveUp       a child crashed too often (the daemon exits non-zero)

Expected outcomes of a delivery (a receiver answering 500, a refused connection) are not
exceptions: they are :class:`webhooksd.delivery.outcome.Outcome` values.
"""

from __future__ import annotations


class WebhooksdError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(WebhooksdError):
    """A setting is missing or malformed; ``setting`` names it."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"setting {setting!r}: {message}")
        self.setting = setting


class StoreError(WebhooksdError):
    """The store failed or refused an operation."""


class NotFound(StoreError):
    """A record that the caller said must exist does not."""


class Conflict(StoreError):
    """A record with that id already exists (Crossbar's 409 ``datastore_conflict``)."""


class RealmTaken(Conflict):
    """Another account already has that realm (compared case-insensitively)."""


class BusError(WebhooksdError):
    """The message bus failed or refused an operation (publish not confirmed, channel lost)."""


class QueueConflict(BusError):
    """RabbitMQ refused a queue declaration (PRECONDITION_FAILED): the queue exists with other
    arguments; ``queue`` names it, ``detail`` is the broker's reason, ``existing_type`` the
    other queue type the queue turned out to be of (None: not the type that differs)."""

    def __init__(self, queue: str, detail: str, existing_type: str | None = None) -> None:
        super().__init__(f"queue {queue!r} exists with other arguments: {detail}")
        self.queue = queue
        self.detail = detail
        self.existing_type = existing_type


class CouchError(WebhooksdError):
    """Kazoo's CouchDB could not be reached or answered an unexpected status."""


class MalformedMessage(WebhooksdError):
    """An AMQP message cannot be understood: not JSON, not an object, or missing keys.

    Raised while decoding; the listener logs it and dead-letters the message.
    """


class InvalidHookModule(WebhooksdError):
    """A hook module does not satisfy the contract of :mod:`webhooksd.hooks.contract`."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"hook module {name!r}: {problem}")
        self.name = name


class SupervisorGaveUp(WebhooksdError):
    """A child crashed more often than the restart intensity allows."""
