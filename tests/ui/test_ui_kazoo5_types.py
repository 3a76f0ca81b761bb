"""Kazoo 5 in the UI: its hook types offered as events with their samples, and a hook's
payload ``version`` and ``security_settings.sha256_key`` (shown masked, kept when untouched)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import pytest
from playwright.async_api import expect

from tests.ui.conftest import UiDaemon, UiPage
from tests.ui.test_ui import row, sign_in
from tests.waiting import eventually

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


KEY = "ui-sha256-key-kept-unless-changed"


def _stored(ui_daemon: UiDaemon, hook_id: str) -> dict[str, Any]:
    """The hook document as the store holds it (the API only ever shows the key masked)."""
    with sqlite3.connect(ui_daemon.db_path) as db:
        (doc,) = db.execute("SELECT doc FROM hooks WHERE id = ?", (hook_id,)).fetchone()
    stored: dict[str, Any] = orjson.loads(doc)
    return stored


async def test_v2_version_and_key_round_trip(ui: UiPage, ui_daemon: UiDaemon) -> None:
    """An edit that leaves the key alone keeps it (and a setting the form does not show);
    a new key typed in replaces it; the version picker switches back to v1."""
    created = await ui_daemon.api(
        "PUT",
        f"/accounts/{ui_daemon.account_id}/webhooks",
        {
            "name": "Signed v2",
            "hook": "channel_create",
            "uri": "https://hooks.example/v2",
            "format": "json",
            "version": "v2",
            "security_settings": {"sha256_key": KEY, "note": "set through the API"},
        },
    )
    hook_id = created["data"]["id"]
    page = ui.page
    await sign_in(page)
    await row(page, "Signed v2").get_by_role("link", name="Edit Signed v2").click()
    await expect(page.get_by_label("Payload version")).to_have_value("v2")
    key = page.get_by_label("HMAC key (SHA-256)")
    await expect(key).to_have_value("…" + KEY[-4:])
    await page.get_by_label("Name", exact=True).fill("Signed v2 renamed")
    await page.get_by_role("button", name="Update webhook").click()
    await expect(page.get_by_role("status")).to_contain_text("successfully changed")
    stored = _stored(ui_daemon, hook_id)
    assert stored["name"] == "Signed v2 renamed" and stored["version"] == "v2"
    assert stored["security_settings"] == {"sha256_key": KEY, "note": "set through the API"}

    await row(page, "Signed v2 renamed").get_by_role("link", name="Edit Signed v2 renamed").click()
    await page.get_by_label("HMAC key (SHA-256)").fill("a-new-key")
    await page.get_by_label("Payload version").select_option("v1")
    await page.get_by_role("button", name="Update webhook").click()
    # the first save's toast may still be up: wait for the store, not the message
    await eventually(lambda: _stored(ui_daemon, hook_id)["version"] == "v1", what="v1 saved")
    stored = _stored(ui_daemon, hook_id)
    assert stored["security_settings"] == {"sha256_key": "a-new-key", "note": "set through the API"}
    assert ui.console.errors == []
