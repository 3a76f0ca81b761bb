"""The ``channel_bridge`` hook, Kazoo's ``webhooks_channel_bridge.erl``.

Bound to ``call.CHANNEL_BRIDGE.*`` on ``callevt``; the work is :mod:`webhooksd_hooks._channel`'s.

The payload adds ``original_number`` and ``other_leg_destination_number``; FreeSWITCH's
``CHANNEL_BRIDGE`` carries no ``From``/``To``/``Request``, so those keys are usually absent.
"""

from __future__ import annotations

from webhooksd.hooks import Metadata
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_bridge",
    name="Channel Bridge",
    description=(
        "This webhook is triggered when two channels are bridged together, such as two "
        "users/devices connected together"
    ),
)


#: the work is the shared channel body's, bound to ``call.CHANNEL_BRIDGE.*``
init, bindings_and_responders, handle_event = channel_util.entry_points(METADATA, "CHANNEL_BRIDGE")
