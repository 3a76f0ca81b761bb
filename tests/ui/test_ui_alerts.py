"""The alert settings screen end to end in headless Chromium against a real daemon: set
where the account is told, see refusals beside their fields, and save again without losing
the secret (checked through the API)."""

from __future__ import annotations

import sqlite3

import orjson
import pytest
from playwright.async_api import expect

from tests.ui.conftest import UiDaemon, UiPage
from tests.ui.test_ui import sign_in

pytestmark = pytest.mark.ui

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_alert_settings_saved_validated_and_kept(ui: UiPage, ui_daemon: UiDaemon) -> None:
    page = ui.page
    path = f"/accounts/{ui_daemon.account_id}/webhooks/alerts"
    await sign_in(page)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    await expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    # the test daemon has no SMTP server: the page says so rather than pretend
    await expect(page.get_by_text("no SMTP server configured")).to_be_visible()

    await page.get_by_label("Addresses").fill("ops@example.com\nnot-an-address")
    await page.get_by_label("Alert URL", exact=True).fill("http://127.0.0.1:9/alerts")
    await page.get_by_label("Alert signing secret").fill(SECRET)
    await page.get_by_role("button", name="Save alert settings").click()
    error = page.locator("[data-field=emails] .field-error")
    await expect(error).to_have_text("invalid e-mail address")
    await expect(page.get_by_label("Addresses")).to_have_attribute("aria-invalid", "true")
    assert (await ui_daemon.api("GET", path))["data"] == {"emails": [], "email_enabled": False}
    assert ui.console.errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    ui.console.errors.clear()

    await page.get_by_label("Addresses").fill("ops@example.com\noncall@example.org")
    await page.get_by_role("button", name="Save alert settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Alert settings saved.")
    await expect(page.get_by_label("Alert signing secret")).to_have_value("whsec_…LaSw")
    saved = (await ui_daemon.api("GET", path))["data"]
    assert saved["emails"] == ["ops@example.com", "oncall@example.org"]
    assert saved["url"] == "http://127.0.0.1:9/alerts" and saved["secret"] == "whsec_…LaSw"

    # a fresh visit shows what is stored; saving it unchanged keeps the secret
    await page.reload()
    await expect(page.get_by_label("Alert URL", exact=True)).to_have_value(saved["url"])
    await expect(page.get_by_label("Addresses")).to_have_value(
        "ops@example.com\noncall@example.org"
    )
    await page.get_by_role("button", name="Save alert settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Alert settings saved.")
    settings_now = (await ui_daemon.api("GET", path))["data"]
    assert settings_now == saved
    with sqlite3.connect(ui_daemon.db_path) as db:
        (stored,) = db.execute(
            "SELECT value FROM settings WHERE scope = ? AND key = 'alerts'",
            (ui_daemon.account_id,),
        ).fetchone()
    assert orjson.loads(stored)["secret"] == SECRET
    await ui.screenshot("alerts")
