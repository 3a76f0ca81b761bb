"""Kazoo's ``webhooks_maintenance`` as CLI commands (``webhooksd hooks …``, ``settings set``,
``modules reset``). Each works on the store directly; changes that running instances must
hear are announced on the bus when it is a shared broker."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TextIO

from webhooksd.bus import Bus, open_bus
from webhooksd.config import Settings
from webhooksd.hooks.context import DaemonHookContext
from webhooksd.hooks.contract import ModuleSettings, discover
from webhooksd.hooks.reenable import reenable
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import Hook
from webhooksd.store import SYSTEM, Store, open_store

#: the settings ``settings set`` accepts (Kazoo's set_failure_expiry / set_disable_threshold)
TUNABLE = ("attempt_failure_count", "attempt_failure_expiry_ms")


@asynccontextmanager
async def resources(
    settings: Settings, *, with_bus: bool
) -> AsyncIterator[tuple[Store, Bus | None]]:
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(settings.store_url))
        bus: Bus | None = None
        if with_bus and not settings.amqp_url.startswith("memory://"):
            bus = await stack.enter_async_context(
                open_bus(
                    settings.amqp_url,
                    connection_name=f"{settings.node}-cli",
                    queue_type=settings.queue_kind,
                )
            )
        yield store, bus


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str], out: TextIO) -> None:
    widths = [max(len(str(v)) for v in col) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        out.write(
            "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() + "\n"
        )


async def hooks_list(store: Store, account_id: str | None, out: TextIO = sys.stdout) -> int:
    """Kazoo's ``hooks_configured``: every enabled hook (of one account)."""
    stored = (
        await store.list_hooks(account_id)
        if account_id
        else await store.list_all_hooks(enabled_only=True)
    )
    hooks = [Hook.from_doc(s) for s in stored if s.enabled]
    rows = [(h.uri, h.http_verb, h.hook, h.retries, h.account_id, h.id) for h in hooks]
    print_table(rows, ("URI", "VERB", "EVENT", "RETRIES", "ACCOUNT ID", "HOOK ID"), out)
    out.write(f"found {len(hooks)} webhooks\n")
    return 0


async def hooks_failures(
    store: Store, settings: Settings, account_id: str | None, out: TextIO = sys.stdout
) -> int:
    """Kazoo's ``failure_status``: in-window failure counts per (account, hook)."""
    expiry = (await store.get_settings(SYSTEM)).get(TUNABLE[1], settings.attempt_failure_expiry_ms)
    counts = await store.count_failures(now_ms() - int(expiry), account_id=account_id)
    rows = sorted((f.account_id, f.hook_id, f.count) for f in counts)
    print_table(rows, ("ACCOUNT ID", "HOOK ID", "FAILURES"), out)
    return 0


async def hooks_enable(
    store: Store,
    bus: Bus | None,
    settings: Settings,
    account_id: str,
    descendants: bool,
    out: TextIO = sys.stdout,
) -> int:
    """Kazoo's ``enable_account_hooks`` / ``enable_descendant_hooks``."""
    if bus is None:
        from webhooksd.bus.memory import MemoryBus

        async with MemoryBus.open() as local:  # nobody else hears an in-process bus
            enabled = await reenable(
                store, local, account_id, descendants=descendants, node=settings.node
            )
    else:
        enabled = await reenable(
            store, bus, account_id, descendants=descendants, node=settings.node
        )
    out.write(f"re-enabled {len(enabled)} webhooks\n")
    return 0


async def flush_failures(
    store: Store, account_id: str, hook_id: str | None, out: TextIO = sys.stdout
) -> int:
    """Kazoo's ``flush_account_failures`` / ``flush_hook_failures``."""
    count = await store.flush_failures(account_id, hook_id)
    out.write(f"flushed {count} failures\n")
    return 0


async def settings_set(
    store: Store, key: str, value: str, account_id: str | None, out: TextIO = sys.stdout
) -> int:
    """Kazoo's ``set_failure_expiry`` / ``set_disable_threshold``, system-wide or per account."""
    if key not in TUNABLE:
        out.write(f"unknown setting {key!r}; one of {', '.join(TUNABLE)}\n")
        return 2
    if not value.isdigit() or int(value) <= 0:
        out.write(f"{key} must be a positive integer, not {value!r}\n")
        return 2
    scope = account_id or SYSTEM
    await store.set_setting(scope, key, int(value))
    out.write(f"{key} = {int(value)} ({'account ' + account_id if account_id else 'system'})\n")
    return 0


async def modules_reset(
    store: Store,
    settings: Settings,
    module_id: str | None,
    out: TextIO = sys.stdout,
    modules: Mapping[str, Any] | None = None,
) -> int:
    """Kazoo's ``reset_hook_definitions``: delete the metadata and let each module write it
    again."""
    loaded = (
        dict(modules) if modules is not None else discover(third_party=settings.load_entry_points)
    )
    wanted = [module_id.removeprefix("webhooks_")] if module_id else list(loaded)
    unknown = [m for m in wanted if m not in loaded]
    if unknown:
        out.write(f"unknown hook module {unknown[0]!r}\n")
        return 2

    for name in wanted:
        await store.delete_module_meta(name)
    await write_module_meta(store, settings, {name: loaded[name] for name in wanted})
    out.write(f"reset {len(wanted)} hook definitions\n")
    return 0


async def write_module_meta(store: Store, settings: Settings, modules: Mapping[str, Any]) -> None:
    """Let each hook module write its definition, as the daemon's ``init`` child does."""

    async def no_fire(*_: Any) -> None:
        raise AssertionError("writing hook definitions fires nothing")

    module_settings = ModuleSettings(
        cluster_id="",
        reserved_ccv_keys=frozenset(settings.reserved_ccv_keys),
        object_types=settings.object_types,
    )
    ctx = DaemonHookContext(settings=module_settings, table=HookTable(), store=store, fire=no_fire)
    for module in modules.values():
        await module.init(ctx)
