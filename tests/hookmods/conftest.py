"""Fixtures for the hook-module tests: the real HookTable and a recording context."""

from __future__ import annotations

import pytest

from webhooksd import config
from webhooksd.hooks.contract import ModuleSettings
from webhooksd.hooks.table import HookTable

from .helpers import RecordingContext, accounts


@pytest.fixture(name="module_settings")
def _module_settings() -> ModuleSettings:
    """The module settings built from the shipped defaults, as the daemon builds them."""
    defaults = config.load(environ={})
    return ModuleSettings(
        cluster_id="0123456789abcdef0123456789abcdef",
        reserved_ccv_keys=frozenset(defaults.reserved_ccv_keys),
        object_types=defaults.object_types,
    )


@pytest.fixture(name="table")
def _table() -> HookTable:
    """A real hook table loaded with the test account tree and no hooks."""
    table = HookTable()
    table.put_accounts(accounts())
    return table


@pytest.fixture(name="ctx")
def _ctx(table: HookTable, module_settings: ModuleSettings) -> RecordingContext:
    """A hook context over ``table`` that records every ``fire`` call."""
    return RecordingContext(table, module_settings)
