"""The hook-module contract and its discovery (Kazoo ``modules/webhooks_skel.erl``).

A hook module is a plain Python module with:

``METADATA``
    a :class:`Metadata`: the hook id clients put in ``hook``, a friendly name, a description
    and optional ``modifiers`` that the API requires in ``custom_data``.
``async def init(ctx: HookContext) -> None``
    runs once at start-up; normally ``await ctx.init_metadata(METADATA)``.
``def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]``
    the routing keys the shared queue must be bound to, and the (``Event-Category``,
    ``Event-Name``) pairs, ``*`` a wildcard, whose messages go to ``handle_event``.
``async def handle_event(event: Event, ctx: HookContext) -> None``
    find the account, ``ctx.find_hooks``, filter, format Kazoo's payload once, ``ctx.fire``.

Modules are found through the ``webhooksd.hooks`` entry-point group — the built-ins too, so the
plugin path is the one always exercised — and validated before the daemon starts.
``webhooksd_hooks.skel`` is the documented template.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Protocol, cast, runtime_checkable

from webhooksd.errors import InvalidHookModule
from webhooksd.kazoo.events import Event
from webhooksd.records import Hook

#: the entry-point group third-party hook modules register in
ENTRY_POINT_GROUP = "webhooksd.hooks"

#: the modules this distribution ships; start-up fails if one of them is not registered
BUILTIN_MODULES: tuple[str, ...] = (
    "channel_create",
    "channel_answer",
    "channel_bridge",
    "channel_destroy",
    "object",
    "notifications",
    "parking",
    "sms",
    "mms",
    # the hook types Kazoo 5 added
    "cdr",
    "channel_hold",
    "channel_unhold",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata:
    """A hook type as ``GET /v2/webhooks`` lists it (Kazoo's ``webhooks_<id>`` meta doc)."""

    id: str
    name: str
    description: str
    modifiers: Mapping[str, Any] | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "name": self.name, "description": self.description}
        if self.modifiers:
            doc["modifiers"] = dict(self.modifiers)
        return doc


@dataclass(frozen=True, slots=True)
class Binding:
    """Bind the shared queue to ``exchange`` with ``routing_key``."""

    exchange: str
    routing_key: str


@dataclass(frozen=True, slots=True)
class Responder:
    """Messages whose (``Event-Category``, ``Event-Name``) match go to the module (``*`` any)."""

    category: str
    name: str

    def matches(self, category: str, name: str) -> bool:
        return self.category in ("*", category) and self.name in ("*", name)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountInfo:
    """What hook modules may know about an account."""

    id: str
    #: ancestors, root first (Kazoo's ``pvt_tree``)
    tree: tuple[str, ...]
    reseller_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModuleSettings:
    """Settings hook modules read (Kazoo's ``system_config`` values)."""

    cluster_id: str
    #: ``call_command.reserved_ccv_keys``: CCVs left out of ``custom_channel_vars``
    reserved_ccv_keys: frozenset[str] = field(default_factory=frozenset)
    #: ``webhooks.object_types``: the ``type`` items of the object module's modifiers
    object_types: tuple[str, ...] = ()


class HookContext(Protocol):
    """Protocol: what the daemon offers a hook module (Kazoo's ``webhooks_util``)."""

    @property
    def settings(self) -> ModuleSettings: ...

    def account(self, account_id: str) -> AccountInfo | None:
        """The account, or None when webhooksd does not know it (then no hook fires)."""

    def find_hooks(self, hook_event: str, account_id: str | None) -> list[Hook]:
        """Kazoo's ``find_webhooks/2``: the account's enabled hooks for ``hook_event`` and its
        ``all`` hooks, then each ancestor's that have ``include_subaccounts`` (step 1 of
        :mod:`webhooksd.hooks.matching`; the module's own filter is step 2)."""

    async def fire(
        self,
        event: Event,
        payload: Mapping[str, Any],
        hooks: Sequence[Hook],
        *,
        v2: Mapping[str, Any] | None = None,
    ) -> None:
        """Send ``payload`` to each hook (modifiers, ``custom_data``, ``cluster_id`` and the
        hook's filter applied per hook: steps 3 to 5 of :mod:`webhooksd.hooks.matching`).
        ``v2`` is Kazoo 5's envelope for hooks whose ``version`` is ``v2``
        (``webhooksd.hooks.v2_envelope``); None builds the usual one, the message's
        ``Event-Name`` and its sanitized body. Returns once every first attempt finished or
        its retry is safely queued."""

    async def init_metadata(self, metadata: Metadata) -> None:
        """Store the module's metadata (written only when it changed)."""


@runtime_checkable
class HookModule(Protocol):
    """Protocol: a hook module (see the module docstring)."""

    METADATA: Metadata

    async def init(self, ctx: HookContext) -> None: ...

    def bindings_and_responders(self) -> tuple[Sequence[Binding], Sequence[Responder]]: ...

    async def handle_event(self, event: Event, ctx: HookContext) -> None: ...


def validate(name: str, module: object) -> HookModule:
    """Check a loaded module against the contract, as pluggy does at registration."""
    for attr in ("METADATA", "init", "bindings_and_responders", "handle_event"):
        if not hasattr(module, attr):
            raise InvalidHookModule(name, f"has no {attr!r}")
    meta = getattr(module, "METADATA")  # noqa: B009 - checked dynamically on purpose
    if not isinstance(meta, Metadata):
        raise InvalidHookModule(name, "METADATA is not a webhooksd.hooks.contract.Metadata")
    if meta.id != name:
        raise InvalidHookModule(name, f"METADATA.id is {meta.id!r}, registered as {name!r}")
    for attr in ("init", "handle_event"):
        if not inspect.iscoroutinefunction(getattr(module, attr)):
            raise InvalidHookModule(name, f"{attr} must be an async function")
    bindings, responders = getattr(module, "bindings_and_responders")()  # noqa: B009
    if not all(isinstance(b, Binding) for b in bindings):
        raise InvalidHookModule(name, "bindings_and_responders() returned a non-Binding")
    if not responders or not all(isinstance(r, Responder) for r in responders):
        raise InvalidHookModule(name, "bindings_and_responders() needs Responder values")
    return cast(HookModule, module)


def is_builtin(ep: EntryPoint) -> bool:
    """Whether an entry point registers one of this distribution's modules."""
    return ep.name in BUILTIN_MODULES and ep.value == f"webhooksd_hooks.{ep.name}"


def discover(
    *, enabled: Iterable[str] | None = None, third_party: bool = True
) -> dict[str, HookModule]:
    """Load every module of the entry-point group, validate each, and insist the built-ins are
    there. ``enabled`` limits which are loaded (None: all); ``third_party=False`` (the
    ``load_entry_points`` setting) loads the built-ins only."""
    wanted = set(enabled) if enabled is not None else None
    found: dict[str, HookModule] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        if not third_party and not is_builtin(ep):
            continue
        if ep.name in found:
            raise InvalidHookModule(ep.name, "registered twice")
        try:
            loaded = ep.load()
        except Exception as exc:  # an import error in a plugin must name the plugin
            raise InvalidHookModule(ep.name, f"cannot be imported: {exc!r}") from exc
        if not isinstance(loaded, ModuleType):
            raise InvalidHookModule(ep.name, "the entry point must name a module")
        found[ep.name] = validate(ep.name, loaded)
    missing = [m for m in BUILTIN_MODULES if m not in found and (wanted is None or m in wanted)]
    if missing:
        raise InvalidHookModule(
            ",".join(missing), "built-in module not registered; is webhooksd installed?"
        )
    return found
