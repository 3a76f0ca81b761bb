"""The ``channel_hold`` hook, one of the channel events Kazoo 5 added
(``webhooks_channel_events.erl``, whose meta doc is ``webhooks_channel_hold``).

Bound to ``call.CHANNEL_HOLD.*`` on ``callevt``, where ecallmgr publishes FreeSWITCH's
``CHANNEL_HOLD`` (mod_kazoo's ``call_event`` fields); the work is
:mod:`webhooksd_hooks._channel`'s. The payload is the channel payload with Kazoo 5's
``custom_sip_headers`` and nothing else added.
"""

from __future__ import annotations

from webhooksd.hooks import Metadata
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_hold",
    name="Channel Hold",
    description="This webhook is triggered when an established call gets put on hold",
)


#: the work is the shared channel body's, bound to ``call.CHANNEL_HOLD.*``
init, bindings_and_responders, handle_event = channel_util.entry_points(METADATA, "CHANNEL_HOLD")
