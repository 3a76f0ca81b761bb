"""The public plugin API: everything a hook module needs, in one import.

A third-party hook module (see ``webhooksd_hooks.skel``) imports from here only::

    from webhooksd.hooks import Binding, Event, HookContext, Metadata, Responder

The rest of this package is the daemon's side of the contract: ``contract`` (the protocol and
entry-point discovery), ``table`` (the in-memory hook table), ``matching`` (the sequence that
decides which hooks an event is sent to), ``context`` (the :class:`HookContext` the daemon
hands modules) and ``reenable``. The JSON accessors modules
share are in :mod:`webhooksd.kazoo.payloads`, re-exported here for the same reason.
"""

from __future__ import annotations

from webhooksd.delivery.v2 import envelope as v2_envelope
from webhooksd.delivery.v2 import sanitize_event
from webhooksd.errors import MalformedMessage
from webhooksd.hooks.contract import (
    ENTRY_POINT_GROUP,
    AccountInfo,
    Binding,
    HookContext,
    HookModule,
    Metadata,
    ModuleSettings,
    Responder,
)
from webhooksd.kazoo.events import Event
from webhooksd.kazoo.payloads import (
    ENVELOPE_KEYS,
    first_defined,
    from_pairs,
    get_path,
    hook_custom_data,
    is_true,
    json_object,
    ne_str,
    normalize,
    normalize_key,
    normalize_name,
    object_field,
    require_envelope,
    str_field,
    to_int,
    to_number,
)
from webhooksd.records import Hook, HookDoc

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENVELOPE_KEYS",
    "AccountInfo",
    "Binding",
    "Event",
    "Hook",
    "HookContext",
    "HookDoc",
    "HookModule",
    "MalformedMessage",
    "Metadata",
    "ModuleSettings",
    "Responder",
    "first_defined",
    "from_pairs",
    "get_path",
    "hook_custom_data",
    "is_true",
    "json_object",
    "ne_str",
    "normalize",
    "normalize_key",
    "normalize_name",
    "object_field",
    "require_envelope",
    "sanitize_event",
    "str_field",
    "to_int",
    "to_number",
    "v2_envelope",
]
