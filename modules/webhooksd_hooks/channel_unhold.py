"""The ``channel_unhold`` hook, one of the channel events Kazoo 5 added
(``webhooks_channel_events.erl``, whose meta doc is ``webhooks_channel_unhold``).

Bound to ``call.CHANNEL_UNHOLD.*`` on ``callevt``, where ecallmgr publishes FreeSWITCH's
``CHANNEL_UNHOLD`` (mod_kazoo's ``call_event`` fields); the work is
:mod:`webhooksd_hooks._channel`'s. The payload is the channel payload with Kazoo 5's
``custom_sip_headers`` and nothing else added.
"""

from __future__ import annotations

from webhooksd.hooks import Metadata
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_unhold",
    name="Channel Unhold",
    description="This webhook is triggered when an established call gets taken off hold",
)


#: the work is the shared channel body's, bound to ``call.CHANNEL_UNHOLD.*``
init, bindings_and_responders, handle_event = channel_util.entry_points(METADATA, "CHANNEL_UNHOLD")
