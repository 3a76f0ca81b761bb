"""Meta-tests: every built-in hook module is registered, loads, validates and is tested."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import webhooksd_hooks
from webhooksd.hooks.contract import BUILTIN_MODULES, ENTRY_POINT_GROUP, Binding, discover, validate

from . import test_channel_modules, test_im, test_kazoo5_channel_modules

HERE = Path(__file__).resolve().parent


def test_every_entry_point_loads_and_validates() -> None:
    """discover() loads each webhooksd.hooks entry point and each passes validate()."""
    found = discover()
    assert set(BUILTIN_MODULES) <= set(found)
    for name, module in found.items():
        assert validate(name, module) is module
        assert module.METADATA.id == name


def test_builtins_are_registered_from_this_package() -> None:
    """Each built-in's entry point names webhooksd_hooks.<id>."""
    registered = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name in BUILTIN_MODULES:
        assert registered[name] == f"webhooksd_hooks.{name}"


def test_every_builtin_module_has_a_test_file() -> None:
    """tests/hookmods has a test_<id>.py for each built-in module and for the skel template,
    or runs a family's tests per module (the channel modules; sms and mms)."""
    channel = (
        *test_channel_modules.CHANNEL_MODULES,
        *test_kazoo5_channel_modules.KAZOO5_CHANNEL_MODULES,
    )
    per_module = {m.METADATA.id for m in channel} | set(test_im.KINDS)
    missing = [
        n
        for n in (*BUILTIN_MODULES, "skel")
        if n not in per_module and not (HERE / f"test_{n}.py").is_file()
    ]
    assert missing == []


def test_every_module_file_is_registered_or_a_helper() -> None:
    """Each hook-looking file in the package is registered, the template, or a helper."""
    package = Path(webhooksd_hooks.__file__).parent
    names = {p.stem for p in package.glob("*.py")} - {"__init__"}
    helpers = {"_channel", "_im", "notification_types", "skel"}
    assert names - helpers == set(BUILTIN_MODULES)


def test_bindings_use_kazoo_exchanges() -> None:
    """Every binding of the built-ins is on one of Kazoo's event exchanges."""
    exchanges = {"callevt", "configuration", "notifications", "im", "cdr"}
    for module in discover().values():
        bindings, _ = module.bindings_and_responders()
        assert all(isinstance(b, Binding) and b.exchange in exchanges for b in bindings)
