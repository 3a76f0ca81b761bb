"""The ``channel_destroy`` hook, Kazoo's ``webhooks_channel_destroy.erl``.

Bound to ``call.CHANNEL_DESTROY.*`` on ``callevt``; the work is :mod:`webhooksd_hooks._channel`'s.

The payload adds ``hangup_cause``, ``hangup_code`` and ``duration_seconds``,
``ringing_seconds``, ``billing_seconds`` (integers). A ``CHANNEL_DISCONNECTED`` handed to this
module is treated as a destroy, as in Kazoo (it is never bound).
"""

from __future__ import annotations

from webhooksd.hooks import Metadata
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_destroy",
    name="Channel Destroy",
    description=(
        "This webhook is triggered when a channel is destroyed, usually as a result of a hangup"
    ),
)


#: the work is the shared channel body's, bound to ``call.CHANNEL_DESTROY.*``
init, bindings_and_responders, handle_event = channel_util.entry_points(METADATA, "CHANNEL_DESTROY")
