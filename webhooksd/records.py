"""Frozen records shared by the store, the hook table, the dispatcher and the API.

``HookDoc`` and ``Account`` are what the store keeps; ``Hook`` is the compiled form the
dispatcher fires (Kazoo's ``#webhook{}`` record, ``webhooks.hrl``); ``AttemptRecord`` is one
delivery attempt with Kazoo's live field names in ``doc``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from webhooksd.kazoo.term import to_integer

HttpVerb = Literal["get", "post", "put"]
BodyFormat = Literal["form-data", "json"]
PayloadVersion = Literal["v1", "v2"]
AttemptResult = Literal["success", "failure"]

#: The reason Kazoo writes into ``pvt_disabled_message`` when the disabler switches a hook off.
AUTO_DISABLE_REASON = "too many failed attempts"

#: Kazoo's name for the catch-all hook.
ALL_HOOK = "all"

#: one empty mapping shared by every hook without custom data, headers or extra keys: with
#: 100k hooks loaded, a fresh ``{}`` each costs megabytes
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


#: the document keys a ``Hook`` holds in its own fields (``pvt_*`` and ``id`` never reach it)
_FIELD_KEYS = frozenset(
    {
        "name",
        "uri",
        "hook",
        "http_verb",
        "format",
        "retries",
        "enabled",
        "include_subaccounts",
        "include_internal_legs",
        "modifiers",
        "custom_request_headers",
        "secret",
        "version",
        "security_settings",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An account, Kazoo-shaped: ``tree`` is ``pvt_tree``, the ancestors root first."""

    id: str
    name: str
    parent_id: str | None = None
    tree: tuple[str, ...] = ()
    realm: str | None = None
    is_reseller: bool = False
    enabled: bool = True
    #: other public fields a client stored (Kazoo keeps unknown fields)
    doc: Mapping[str, Any] = field(default_factory=dict)
    created_ms: int = 0
    modified_ms: int = 0
    revision: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class HookDoc:
    """A stored hook: Crossbar's public document (without ``id``) plus the private fields."""

    id: str
    account_id: str
    #: the public document exactly as the API validated and stored it (defaults applied)
    doc: Mapping[str, Any]
    #: ``pvt_disabled_message``: set only when the server switched the hook off
    disabled_reason: str | None = None
    created_ms: int = 0
    modified_ms: int = 0
    revision: int = 1

    @property
    def enabled(self) -> bool:
        return self.doc.get("enabled", True) is not False

    @property
    def is_auto_disabled(self) -> bool:
        """Kazoo's ``kzd_webhooks:is_auto_disabled/1``: off, and off because of the disabler."""
        return not self.enabled and self.disabled_reason is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hook:
    """A hook compiled for dispatch (Kazoo's ``#webhook{}``)."""

    id: str
    account_id: str
    name: str
    uri: str
    hook: str
    http_verb: HttpVerb = "post"
    format: BodyFormat = "form-data"
    #: retries after the first attempt (the schema's 0..4)
    retries: int = 2
    enabled: bool = True
    include_subaccounts: bool = False
    include_internal_legs: bool = True
    custom_data: Mapping[str, Any] = field(default_factory=_empty)
    #: the undocumented hook-document ``modifiers`` (Kazoo ``maybe_fire_hook/2``)
    modifiers: Mapping[str, Any] | None = None
    custom_request_headers: Mapping[str, str] = field(default_factory=_empty)
    #: Standard Webhooks signing secret (``whsec_…``), if the hook has one
    secret: str | None = None
    #: Kazoo 5's payload ``version``: ``v2`` wraps the event in Kazoo 5's envelope
    #: (:mod:`webhooksd.delivery.v2`)
    version: PayloadVersion = "v1"
    #: Kazoo 5's ``security_settings.sha256_key``: the HMAC key of ``v2`` payloads (never in a
    #: repr, so never in a log line that prints a hook)
    sha256_key: str | None = field(default=None, repr=False)
    #: the document's keys that no field above holds: the transforms (``filter``,
    #: ``body_template``, ``auth``…), ``custom_data`` as stored, anything a client added.
    #: Keeping only these (not the whole document) is what fits 100k hooks in the memory
    #: budget; the store has the whole document.
    doc: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def from_doc(cls, stored: HookDoc) -> Hook:
        doc = stored.doc
        verb = str(doc.get("http_verb", "post")).lower()
        fmt = str(doc.get("format", "form-data")).lower()
        custom_data = doc.get("custom_data")
        modifiers = doc.get("modifiers")
        headers = doc.get("custom_request_headers")
        secret = doc.get("secret")
        security = doc.get("security_settings")
        sha256_key = security.get("sha256_key") if isinstance(security, Mapping) else None
        extra = {k: v for k, v in doc.items() if k not in _FIELD_KEYS and not k.startswith("pvt_")}
        return cls(
            id=stored.id,
            # shared strings: many hooks have the same account, event and URL
            account_id=sys.intern(stored.account_id),
            name=str(doc.get("name", "")),
            uri=sys.intern(str(doc.get("uri", ""))),
            hook=sys.intern(str(doc.get("hook", "")).lower()),
            http_verb=_VERBS.get(verb, "post"),
            format="json" if fmt == "json" else "form-data",
            retries=_clamp_retries(doc.get("retries", 2)),
            enabled=stored.enabled,
            include_subaccounts=doc.get("include_subaccounts") is True,
            include_internal_legs=doc.get("include_internal_legs", True) is not False,
            custom_data=custom_data if isinstance(custom_data, Mapping) and custom_data else _EMPTY,
            modifiers=modifiers if isinstance(modifiers, Mapping) and modifiers else None,
            custom_request_headers=(
                {str(k): str(v) for k, v in headers.items()}
                if isinstance(headers, Mapping) and headers
                else _EMPTY
            ),
            secret=secret if isinstance(secret, str) and secret else None,
            version="v2" if doc.get("version") == "v2" else "v1",
            # Kazoo reads it with get_ne_binary_value: an empty key is no key
            sha256_key=sha256_key if isinstance(sha256_key, str) and sha256_key else None,
            doc=extra or _EMPTY,
        )


_VERBS: dict[str, HttpVerb] = {"get": "get", "put": "put", "post": "post"}


def _clamp_retries(value: object) -> int:
    # kzd_webhooks:retries/1 reads the field with kz_json:get_integer_value (2.5 → 3)
    retries = to_integer(value)
    return 2 if retries is None else max(0, min(4, retries))


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRecord:
    """One delivery attempt; ``doc`` holds Kazoo's attempt fields (``hook_id``, ``result``…)."""

    id: str
    #: the hook owner (Kazoo writes attempts to the owner's MODb)
    account_id: str
    hook_id: str
    event_id: str
    created_ms: int
    result: AttemptResult
    #: failures count towards auto-disable until flushed (re-enable flushes them)
    counts_as_failure: bool
    doc: Mapping[str, Any]
    #: the payload as sent (after custom_data and cluster_id), so the attempt can be replayed
    payload: Mapping[str, Any] | None = None
    #: ``doc["req_body"]`` is the payload's JSON, so the store keeps that one copy and reads
    #: the payload back from it (see :func:`webhooksd.delivery.attempts.body_is_payload`)
    payload_in_body: bool = False

    @property
    def call_id(self) -> str | None:
        """The call whose event this attempt delivered (``doc["call_id"]``, ours), if any."""
        value = self.doc.get("call_id")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptSearch:
    """What the request log's search asks of the store beyond account, hook and time; each
    field None matches everything."""

    event_id: str | None = None
    call_id: str | None = None
    #: a response's status code, ``"503"``, or a class of them, ``"5xx"``
    status: str | None = None
    result: AttemptResult | None = None

    @property
    def empty(self) -> bool:
        return (self.event_id, self.call_id, self.status, self.result) == (None,) * 4


@dataclass(frozen=True, slots=True, kw_only=True)
class HookActivity:
    """One hook's recent attempts, as the health listing reads them from the store: its
    newest attempt (without payload) and counts over a day, an hour and its newest few."""

    hook_id: str
    last: AttemptRecord
    day_attempts: int
    day_successes: int
    hour_attempts: int
    hour_successes: int
    #: of the hook's ``recent`` newest attempts in the day: how many there are, how many failed
    recent_attempts: int
    recent_failures: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureCount:
    """In-window failures of one hook, as the disabler reads them from the store."""

    account_id: str
    hook_id: str
    count: int
