"""The ``channel_create`` hook, Kazoo's ``webhooks_channel_create.erl``.

Bound to ``call.CHANNEL_CREATE.*`` on ``callevt``; the work is :mod:`webhooksd_hooks._channel`'s.
"""

from __future__ import annotations

from webhooksd.hooks import Metadata
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_create",
    name="Channel Create",
    description=("This webhook is triggered when a new channel is created"),
)


#: the work is the shared channel body's, bound to ``call.CHANNEL_CREATE.*``
init, bindings_and_responders, handle_event = channel_util.entry_points(METADATA, "CHANNEL_CREATE")
