"""The ``channel_answer`` hook, Kazoo's ``webhooks_channel_answer.erl``.

Bound to ``call.CHANNEL_ANSWER.*`` on ``callevt``; the work is :mod:`webhooksd_hooks._channel`'s.
"""

from __future__ import annotations

from webhooksd.hooks import Metadata
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_answer",
    name="Channel Answer",
    description=(
        "This webhook is triggered when a channel establishes two-way audio, such as a "
        "voicemail box or the called party answering"
    ),
)


#: the work is the shared channel body's, bound to ``call.CHANNEL_ANSWER.*``
init, bindings_and_responders, handle_event = channel_util.entry_points(METADATA, "CHANNEL_ANSWER")
