"""The ``webhooksd`` command: ``run``, ``bootstrap``, ``accounts create``, ``kazoo
import-hooks``, ``queues migrate``, ``receiver``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import orjson

from webhooksd import __version__
from webhooksd.config import Settings, load
from webhooksd.errors import ConfigError, Conflict, NotFound, WebhooksdError

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]

#: the exit status of a configuration error (sysexits' EX_CONFIG): the service unit does not
#: restart on it, since a restart cannot fix a setting
EX_CONFIG = 78


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        sys.exit(2)
    try:
        settings = load(args.config)
    except ConfigError as exc:
        _exit_config(exc)
    from webhooksd.runtime import logs

    logs.configure(settings.log_level, settings.log_format)
    try:
        with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
            code = runner.run(args.command(args, settings))
        sys.exit(code)
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:
        _exit_config(exc)
    except WebhooksdError as exc:
        sys.exit(f"webhooksd: {exc}")


def _exit_config(exc: ConfigError) -> NoReturn:
    sys.stderr.write(f"webhooksd: {exc}\n")
    sys.exit(EX_CONFIG)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``event_loop`` names: uvloop (``auto`` when it is installed) cuts the
    loop's own cost per event by about a third; ``asyncio`` is the standard loop."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            sys.exit("webhooksd: event_loop: uvloop is not installed")
        return None
    return uvloop.new_event_loop


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webhooksd", description=__doc__)
    parser.add_argument("--version", action="version", version=f"webhooksd {__version__}")
    parser.add_argument("--config", type=Path, help="a TOML file overriding the defaults")
    sub = parser.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    run.add_argument(
        "--workers", type=int, help="daemon processes sharing the queue (default: `workers`)"
    )
    run.set_defaults(command=_run)

    boot = sub.add_parser("bootstrap", help="create the master account if there is none")
    boot.add_argument("--api-key", help="store this API key instead of generating one")
    boot.set_defaults(command=_bootstrap)

    accounts = sub.add_parser("accounts", help="manage accounts").add_subparsers(metavar="ACTION")
    create = accounts.add_parser("create", help="create an account")
    create.add_argument("--name", required=True)
    create.add_argument("--id", help="keep this account id (a Kazoo account's); default: a new one")
    create.add_argument("--parent", help="the parent account id (default: a root account)")
    create.add_argument("--api-key", help="store this API key instead of generating one")
    create.set_defaults(command=_accounts_create)

    _maintenance_parsers(sub)

    queues = sub.add_parser("queues", help="the durable RabbitMQ queues").add_subparsers(
        metavar="ACTION"
    )
    migrate = queues.add_parser(
        "migrate", help="make them queue_type, keeping their messages (instances stopped)"
    )
    migrate.set_defaults(command=_queues_migrate)

    kazoo = sub.add_parser("kazoo", help="bring a Kazoo platform's data over").add_subparsers(
        metavar="ACTION"
    )
    imports = kazoo.add_parser("import-hooks", help="copy the hooks of Kazoo's webhooks database")
    imports.add_argument("--couch-url", help="Kazoo's CouchDB (default: kazoo_couch_url)")
    imports.set_defaults(command=_kazoo_import_hooks)

    receiver = sub.add_parser("receiver", help="print every request received and answer 200")
    receiver.add_argument("--host", default="127.0.0.1")
    receiver.add_argument("--port", type=int, default=8080)
    receiver.set_defaults(command=_receiver)
    return parser


def _maintenance_parsers(sub: Any) -> None:
    """Kazoo's ``sup webhooks_maintenance …`` commands."""
    hooks = sub.add_parser("hooks", help="inspect and repair hooks").add_subparsers(
        metavar="ACTION"
    )
    listing = hooks.add_parser("list", help="enabled hooks (hooks_configured)")
    listing.add_argument("--account")
    listing.set_defaults(command=_maint("hooks_list"))
    failures = hooks.add_parser("failures", help="failures inside the window (failure_status)")
    failures.add_argument("--account")
    failures.set_defaults(command=_maint("hooks_failures"))
    enable = hooks.add_parser("enable", help="re-enable auto-disabled hooks")
    enable.add_argument("--account", required=True)
    enable.add_argument("--descendants", action="store_true")
    enable.set_defaults(command=_maint("hooks_enable"))
    flush = hooks.add_parser("flush-failures", help="forget counted failures")
    flush.add_argument("--account", required=True)
    flush.add_argument("--hook")
    flush.set_defaults(command=_maint("flush_failures"))

    settings = sub.add_parser("settings", help="auto-disable settings").add_subparsers(
        metavar="ACTION"
    )
    setting = settings.add_parser("set", help="attempt_failure_count|attempt_failure_expiry_ms")
    setting.add_argument("key")
    setting.add_argument("value")
    setting.add_argument("--account")
    setting.set_defaults(command=_maint("settings_set"))

    modules = sub.add_parser("modules", help="hook module definitions").add_subparsers(
        metavar="ACTION"
    )
    reset = modules.add_parser("reset", help="rewrite hook definitions (reset_hook_definitions)")
    reset.add_argument("module", nargs="?")
    reset.set_defaults(command=_maint("modules_reset"))


def _maint(name: str) -> Command:
    async def command(args: argparse.Namespace, settings: Settings) -> int:
        from webhooksd.cli import maintenance as m

        async with m.resources(settings, with_bus=name == "hooks_enable") as (store, bus):
            if name == "hooks_list":
                return await m.hooks_list(store, args.account)
            if name == "hooks_failures":
                return await m.hooks_failures(store, settings, args.account)
            if name == "hooks_enable":
                return await m.hooks_enable(store, bus, settings, args.account, args.descendants)
            if name == "flush_failures":
                return await m.flush_failures(store, args.account, args.hook)
            if name == "settings_set":
                return await m.settings_set(store, args.key, args.value, args.account)
            return await m.modules_reset(store, settings, args.module)

    return command


def _print_json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj).decode() + "\n")
    sys.stdout.flush()


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers is not None:
        settings = settings.replace(workers=args.workers)  # checked as the setting is
    if settings.workers > 1:
        from webhooksd.runtime.workers import serve_workers

        return await serve_workers(settings, args.config)
    from webhooksd.runtime.daemon import serve

    return await serve(settings)


async def _bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from webhooksd.accounts import bootstrap_master
    from webhooksd.store import open_store

    async with open_store(settings.store_url) as store:
        account, key = await bootstrap_master(store, api_key=args.api_key)
    _print_json({"account_id": account.id, "api_key": key} if key else {"account_id": account.id})
    await _announce_account(settings, account.id)
    return 0


async def _accounts_create(args: argparse.Namespace, settings: Settings) -> int:
    from webhooksd.accounts import InvalidAccountId, create_account
    from webhooksd.store import open_store

    async with open_store(settings.store_url) as store:
        try:
            account, key = await create_account(
                store,
                name=args.name,
                account_id=args.id,
                parent_id=args.parent,
                api_key=args.api_key,
            )
        except (NotFound, InvalidAccountId, Conflict) as exc:
            sys.stderr.write(f"webhooksd: {exc}\n")
            return 1
    _print_json({"account_id": account.id, "api_key": key})
    await _announce_account(settings, account.id)
    return 0


async def _announce_account(settings: Settings, account_id: str) -> None:
    """Tell running instances about a new account (only a shared broker can carry it)."""
    if settings.amqp_url.startswith("memory://"):
        return
    from webhooksd.bus import open_bus
    from webhooksd.kazoo.docchanges import publish_account_change

    async with open_bus(
        settings.amqp_url,
        connection_name=f"{settings.node}-cli",
        queue_type=settings.queue_kind,
    ) as bus:
        await publish_account_change(bus, "doc_created", account_id=account_id, node=settings.node)


async def _queues_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from webhooksd.cli.queues import migrate_command

    return await migrate_command(settings)


async def _kazoo_import_hooks(args: argparse.Namespace, settings: Settings) -> int:
    from webhooksd.cli.kazoo import import_hooks_command

    return await import_hooks_command(settings, args.couch_url)


async def _receiver(args: argparse.Namespace, settings: Settings) -> int:
    from webhooksd.cli.receiver import serve

    await serve(args.host, args.port)
    return 0
