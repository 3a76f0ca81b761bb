"""The ``sms`` module (Kazoo ``webhooks_sms``): inbound SMSs from the ``im`` exchange."""

from __future__ import annotations

import pytest

from ._im_cases import (  # noqa: F401 - imported to be collected here, for this module
    test_ancestors_and_all_hooks_reach_it,
    test_init_writes_metadata,
    test_invalid_messages_are_ignored,
    test_metadata_and_bindings,
    test_optional_keys_absent_and_onnet_accepted,
    test_payload,
)


@pytest.fixture(name="kind")
def _kind() -> str:
    """The hook module under test."""
    return "sms"
