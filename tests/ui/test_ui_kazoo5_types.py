"""Kazoo 5's hook types in the UI: offered as events, with their samples in the samples view."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.ui.conftest import UiPage
from tests.ui.test_ui import sign_in

pytestmark = pytest.mark.ui


async def test_kazoo5_sample_payloads(ui: UiPage) -> None:
    """The samples view offers cdr, channel_hold and channel_unhold and shows Kazoo 5's
    payload for each: a hold's custom SIP headers, a CDR's integer timestamp."""
    page = ui.page
    await sign_in(page)
    await page.get_by_role("link", name="Sample payloads").click()
    payload = page.get_by_label("Sample payload")
    for kind, shown in (
        ("channel_hold", '"custom_sip_headers"'),
        ("channel_unhold", '"custom_sip_headers"'),
        ("cdr", '"timestamp": 63724349409'),
    ):
        await page.get_by_label("Event").select_option(kind)
        await expect(payload).to_contain_text(f'"hook_event": "{kind}"')
        await expect(payload).to_contain_text(shown)
