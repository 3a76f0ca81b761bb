"""``load_entry_points``: third-party hook modules load only when it is on; built-ins always."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from webhooksd.config import load
from webhooksd.hooks.contract import BUILTIN_MODULES, ENTRY_POINT_GROUP
from webhooksd.runtime.daemon import load_modules

PLUGIN = "wh_test_thirdparty_hook"

MODULE = f'''
from webhooksd.hooks import Binding, Metadata, Responder

METADATA = Metadata(id="{PLUGIN}", name="Third party", description="a test plugin")


async def init(ctx):
    await ctx.init_metadata(METADATA)


def bindings_and_responders():
    return [Binding("callevt", "call.CHANNEL_HOLD.*")], [Responder("call_event", "CHANNEL_HOLD")]


async def handle_event(event, ctx):
    return None
'''


@pytest.fixture(name="plugin_installed")
def _plugin_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real installed distribution (a dist-info on sys.path) registering one hook module."""
    (tmp_path / f"{PLUGIN}.py").write_text(MODULE, encoding="utf-8")
    dist_info = tmp_path / f"{PLUGIN}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{PLUGIN} = {PLUGIN}\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop(PLUGIN, None)


@pytest.mark.usefixtures("plugin_installed")
def test_third_party_modules_load_when_enabled() -> None:
    loaded = load_modules(load(environ={}).replace(load_entry_points=True))
    assert PLUGIN in loaded and set(BUILTIN_MODULES) <= set(loaded)


@pytest.mark.usefixtures("plugin_installed")
def test_load_entry_points_false_loads_the_builtins_only() -> None:
    loaded = load_modules(load(environ={}).replace(load_entry_points=False))
    assert set(loaded) == set(BUILTIN_MODULES)
