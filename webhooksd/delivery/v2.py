"""Kazoo 5's ``v2`` payloads: the envelope, its timestamp and its HMAC, in one place.

What Kazoo 5 does (``openkazoo/kazoo5-dev``, read at commit ``37a7781``):

* ``kazoo-crossbar/priv/couchdb/schemas/webhooks.json``: ``version`` is ``v1`` (the default)
  or ``v2``; ``security_settings`` is an object whose ``sha256_key`` is a string (no length or
  format rule beyond that; webhooksd bounds it at 512 characters).
* Every module of ``kazoo-webhooks/src/modules`` builds two payloads per event: the ``v1`` one
  it always built, and ``format_v2_event``, ``{"action": "event", "name": N, "data": D}``.
  ``D`` is the Kazoo message "sanitized" (``webhooks_util:sanitize_event``): the AMQP
  envelope keys (``Node``, ``Message-ID``, ``Server-ID``, ``Origin-Cache``, ``App-Name``,
  ``App-Version``, ``Event-Name``, ``Event-Category``, ``Msg-ID``, ``Doc``) and ``Password``
  removed, then every key normalised as ``kz_json:normalize_jobj`` does (lower case, ``-`` →
  ``_``). ``N`` is the message's ``Event-Name`` for parking, SMS, MMS, notifications and
  object (``doc_created``…); for channel events the upper-case hook event
  (``CHANNEL_CREATE``…, ``CHANNEL_DISCONNECTED`` read as ``CHANNEL_DESTROY``); for ``cdr`` the
  ``Event-Category``. ``object`` adds ``metadata`` to ``D`` (and the changed document, when it
  can open it).
* ``webhooks_util:fire_hooks/3`` sends ``v1`` hooks the ``v1`` payload with ``cluster_id``
  and ``v2`` hooks the envelope plus ``timestamp`` (``kz_time:now_s``: Gregorian seconds;
  ``cluster_id`` is commented out there, "not including for now") and, when the hook has a
  non-empty ``security_settings.sha256_key``, ``hmac``. Then the usual steps follow on that
  object: modifiers, ``custom_data`` merged at its top level, the body encoding.
* The HMAC (``add_hmac/2``; ``kazoo-crossbar/doc/webhooks.md``, "Hook Security") is
  HMAC-SHA256 keyed with the key's bytes over the decimal timestamp followed by the JSON of
  ``data`` (``kz_json:encode(Data, ['canonical'])``), base64-encoded (standard alphabet, with
  padding). The documentation's example: key ``123``, timestamp ``63834206532``, data
  ``{"foo":"bar"}`` gives ``z481V/jZHAnFEjNCMORc2FgX03CyzxV+fLV6BWhnY6U=``.
* ``format`` and ``http_verb`` apply as for ``v1``: JSON bodies are
  ``kz_json:encode(JObj, ['canonical'])``, form bodies and GET query strings
  ``kz_http_util:json_to_querystring`` of the whole envelope (``data[call_id]=…``); the
  documentation warns that form-data turns numbers into strings.

Where webhooksd decides (docs/compatibility.md, "Kazoo 5"): the ``canonical`` JSON is compact
with keys sorted at every level (the option lives in Kazoo's core library, which kazoo5-dev
does not carry; the documented example is compact); the HMAC is computed with the same
timestamp the envelope carries (Kazoo reads the clock twice, so across a second boundary its
``hmac`` does not verify against its own ``timestamp``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from webhooksd.delivery.encoding import canonical_json
from webhooksd.kazoo.payloads import normalize
from webhooksd.records import Hook

#: ``webhooks_util.erl`` ``?PRIVATE_AMQP_FIELDS ++ ?SENSITIVE_AMQP_FIELDS``
SANITIZED_KEYS = frozenset(
    {
        "Node",
        "Message-ID",
        "Server-ID",
        "Origin-Cache",
        "App-Name",
        "App-Version",
        "Event-Name",
        "Event-Category",
        "Msg-ID",
        "Doc",
        "Password",
    }
)


def sanitize_event(body: Mapping[str, Any]) -> dict[str, Any]:
    """``webhooks_util:sanitize_event/1``: the message without its envelope keys and
    ``Password``, keys normalised."""
    return normalize({k: v for k, v in body.items() if k not in SANITIZED_KEYS})


def envelope(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """``format_v2_event``: what every module builds for ``v2`` hooks."""
    return {"action": "event", "name": name, "data": dict(data)}


def signature(key: str, timestamp: int, data: Any) -> str:
    """The ``hmac`` of a ``v2`` payload: base64 of HMAC-SHA256(key, timestamp + data JSON)."""
    signed = str(timestamp).encode() + canonical_json(data)
    return base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()


def stamped(hook: Hook, body: Mapping[str, Any], timestamp: int) -> dict[str, Any]:
    """``maybe_augment_event/2``: the envelope with ``timestamp`` (Gregorian seconds) and, for
    a hook with a key, ``hmac``."""
    out = {**body, "timestamp": timestamp}
    if hook.sha256_key:
        out["hmac"] = signature(hook.sha256_key, timestamp, body.get("data"))
    return out
