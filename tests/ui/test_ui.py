"""The web UI end to end in real headless Chromium, against a real daemon and a real loopback
receiver: every check goes through what a developer sees and does, and is confirmed through
the API or the receiver where the UI could lie."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import orjson
import pytest
from playwright.async_api import Page, expect

from tests.conftest import Receiver
from tests.integration.conftest import free_port
from tests.ui.conftest import API_KEY, UiDaemon, UiPage
from tests.waiting import eventually

pytestmark = pytest.mark.ui


async def sign_in(page: Page, key: str = API_KEY) -> None:
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()


async def create_hook(page: Page, name: str, url: str, **options: Any) -> None:
    """Fill the add form the way a developer would and submit it."""
    await page.get_by_role("link", name=re.compile(r"New webhook|first webhook")).first.click()
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Event", exact=True).select_option(
        options.get("event", "channel_create")
    )
    await page.get_by_label("URL", exact=True).fill(url)
    await page.get_by_label("Retries").select_option(str(options.get("retries", 2)))
    if "format" in options:
        await page.get_by_label("Body format").select_option(options["format"])
    for n, (key, value) in enumerate(options.get("custom_data", {}).items(), start=1):
        await page.get_by_role("button", name="+ Add data row").click()
        await page.get_by_label(f"Key {n}", exact=True).fill(key)
        await page.get_by_label(f"Value {n}", exact=True).fill(value)
    for n, (key, value) in enumerate(options.get("headers", {}).items(), start=1):
        await page.get_by_role("button", name="+ Add header").click()
        await page.get_by_label(f"Header {n}", exact=True).fill(key)
        await page.get_by_label(f"Header value {n}", exact=True).fill(value)
    if "group" in options:
        await page.get_by_label("Group", exact=True).select_option("__new__")
        await page.get_by_label("New group name").fill(options["group"])
    await page.get_by_role("button", name="Create webhook").click()


async def open_empty_form(ui: UiPage, name: str) -> Page:
    """Sign in to the empty account and start a hook from the empty state's link."""
    await sign_in(ui.page)
    await ui.page.get_by_role("link", name="Create your first webhook").click()
    await ui.page.get_by_label("Name", exact=True).fill(name)
    return ui.page


def row(page: Page, name: str) -> Any:
    return page.locator(".hook-row", has=page.get_by_role("link", name=name, exact=True))


async def only_hook(ui_daemon: UiDaemon, account_id: str | None = None) -> dict[str, Any]:
    account = account_id or ui_daemon.account_id
    listing = await ui_daemon.api("GET", f"/accounts/{account}/webhooks")
    assert len(listing["data"]) == 1, listing["data"]
    doc = await ui_daemon.api("GET", f"/accounts/{account}/webhooks/{listing['data'][0]['id']}")
    hook: dict[str, Any] = doc["data"]
    return hook


async def test_configure_test_troubleshoot_disable_reenable_delete(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    """The issue's walk: sign in, create a hook against a loopback receiver, see it listed,
    send a test event and see the attempt, edit custom data, watch it get auto-disabled and
    re-enable it, delete it."""
    page = ui.page
    await ui.screenshot("sign-in")
    await sign_in(page)
    await expect(page.get_by_role("heading", name="No webhooks yet")).to_be_visible()

    await create_hook(
        page,
        "New calls",
        receiver.url + "/calls",
        retries=0,
        format="json",
        custom_data={"crm_id": "42"},
        headers={"X-Team": "billing"},
        group="Billing",
    )
    await expect(page.get_by_role("status")).to_contain_text(
        "You have successfully added New calls"
    )
    listed = row(page, "New calls")
    await expect(listed).to_contain_text(receiver.url + "/calls")
    await expect(listed).to_contain_text("Channel Create")
    await expect(page.get_by_role("region", name="Group Billing")).to_be_visible()
    await expect(page.locator("[data-count=active] .count")).to_have_text("1")
    stored = await only_hook(ui_daemon)
    assert stored["custom_data"] == {"crm_id": "42"}
    assert stored["custom_request_headers"] == {"X-Team": "billing"}
    assert (stored["format"], stored["retries"], stored["group"]) == ("json", 0, "Billing")
    await ui.screenshot("list")

    # send a test event: the receiver gets it and the attempt shows at once
    await listed.get_by_role("button", name="Send a test event to New calls").click()
    # the editor opens on the sample; sent as it is
    await page.get_by_role("button", name="Send this event").click()
    dialog = page.get_by_role("dialog", name="Attempt details")
    await expect(dialog).to_contain_text("Delivered")
    await expect(dialog).to_contain_text(receiver.url + "/calls")
    await expect(dialog).to_contain_text('"crm_id": "42"')
    await expect(dialog).to_contain_text("x-team")
    sent = await receiver.wait_for(1)
    assert orjson.loads(sent[0].body)["crm_id"] == "42"
    assert sent[0].headers["X-Team"] == "billing"
    await ui.screenshot("attempt", full_page=False)
    await dialog.get_by_role("button", name="Close", exact=True).click()

    # the hook's request log lists it
    await listed.get_by_role("link", name="Request log of New calls").click()
    await expect(page.get_by_role("heading", name="Request log: New calls")).to_be_visible()
    log_rows = page.locator("table.log tbody tr")
    await expect(log_rows).to_have_count(1)
    await expect(log_rows.first).to_contain_text("success")
    await expect(log_rows.first).to_contain_text("POST")
    await ui.screenshot("log")

    # edit custom data: a duplicate key is refused beside the field, then the change is saved
    await page.get_by_role("link", name="Edit", exact=True).click()
    await expect(page.get_by_role("heading", name="Edit New calls")).to_be_visible()
    await expect(page.get_by_label("Key 1", exact=True)).to_have_value("crm_id")
    await page.get_by_label("Value 1", exact=True).fill("43")
    await page.get_by_role("button", name="+ Add data row").click()
    await page.get_by_label("Key 2", exact=True).fill("crm_id")
    await page.get_by_label("Value 2", exact=True).fill("dup")
    await expect(page.get_by_text("The same key is used twice: crm_id")).to_be_visible()
    await page.get_by_role("button", name="Update webhook").click()
    await expect(page.get_by_text("Please correct the highlighted fields.")).to_be_visible()
    await expect(page.get_by_text("The same key is used twice: crm_id")).to_be_visible()
    assert (await only_hook(ui_daemon))["custom_data"] == {"crm_id": "42"}
    await ui.screenshot("edit")
    await page.get_by_role("button", name="Remove key 2").click()
    await page.get_by_role("button", name="+ Add data row").click()
    await page.get_by_label("Key 2", exact=True).fill("region")
    await page.get_by_label("Value 2", exact=True).fill("eu")
    await page.get_by_role("button", name="Update webhook").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "You have successfully changed New calls"
    )
    assert (await only_hook(ui_daemon))["custom_data"] == {"crm_id": "43", "region": "eu"}

    # the receiver fails: six failures inside the window and the server switches the hook off
    receiver.status = 500
    for n in range(6):
        await ui_daemon.publish_channel_create(ui_daemon.account_id, f"failing-{n}")
    # not all six need reach the receiver: when the publishes come slowly (a loaded machine),
    # five failures in a row open the endpoint's breaker and the sixth is deferred, which
    # counts toward the disable all the same; one failure received is enough for the log
    await receiver.wait_for(2, timeout=15)

    async def disabled() -> bool:
        return not (await only_hook(ui_daemon))["enabled"]

    await eventually(disabled, timeout=15, what="the hook disabled by the server")
    await page.reload()
    listed = row(page, "New calls")
    await expect(listed).to_contain_text("Disabled by the server: too many failed attempts")
    await expect(page.locator("[data-count=failing] .count")).to_have_text("1")
    await expect(page.locator("[data-count=active] .count")).to_have_text("0")
    await ui.screenshot("auto-disabled")

    # its log shows the failures with their status code
    await listed.get_by_role("link", name="Request log of New calls").click()
    failed = page.locator("table.log tbody tr.failed")
    await expect(failed.filter(has_text="HTTP 500").first).to_be_visible()
    await expect(
        page.get_by_text("Disabled by the server: too many failed attempts")
    ).to_be_visible()
    await page.get_by_role("link", name="← Back to webhooks").click()

    receiver.status = 200
    await row(page, "New calls").get_by_role("button", name="Re-enable").click()
    await expect(page.get_by_role("status")).to_contain_text("New calls was re-enabled")
    await expect(row(page, "New calls").get_by_role("switch")).to_be_checked()
    doc = await only_hook(ui_daemon)
    assert doc["enabled"] is True and "disable_reason" not in doc

    # delete, with a confirmation first
    await row(page, "New calls").get_by_role("button", name="Delete New calls").click()
    confirm = page.get_by_role("dialog", name="Delete this webhook?")
    await expect(confirm).to_contain_text("Are you sure you want to delete New calls?")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(row(page, "New calls")).to_be_visible()
    await row(page, "New calls").get_by_role("button", name="Delete New calls").click()
    await confirm.get_by_role("button", name="Delete", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text(
        "You have successfully deleted New calls"
    )
    await expect(page.get_by_role("heading", name="No webhooks yet")).to_be_visible()
    listing = await ui_daemon.api("GET", f"/accounts/{ui_daemon.account_id}/webhooks")
    assert listing["data"] == []


async def test_switch_search_filter_and_reenable_all(ui: UiPage, ui_daemon: UiDaemon) -> None:
    """The On/Off switch writes `enabled`; search matches name and URL; counters filter."""
    account = ui_daemon.account_id
    for name, url in (("Alpha", "http://alpha.example/x"), ("Beta", "http://beta.example/y")):
        await ui_daemon.api(
            "PUT",
            f"/accounts/{account}/webhooks",
            {"name": name, "hook": "channel_answer", "uri": url},
        )
    page = ui.page
    await sign_in(page)
    await row(page, "Beta").get_by_role("switch", name="Enabled: Beta").uncheck()
    await expect(page.locator("[data-count=disabled] .count")).to_have_text("1")
    listing = await ui_daemon.api("GET", f"/accounts/{account}/webhooks")
    assert {h["name"]: h["enabled"] for h in listing["data"]} == {"Alpha": True, "Beta": False}

    await page.get_by_label("Search").fill("alpha.example")
    await expect(row(page, "Alpha")).to_be_visible()
    await expect(row(page, "Beta")).to_be_hidden()
    await page.get_by_label("Search").fill("nothing-like-this")
    await expect(page.get_by_text("No webhook matches your search.")).to_be_visible()
    await page.get_by_label("Search").fill("")
    await page.locator("[data-count=disabled]").click()
    await expect(row(page, "Alpha")).to_be_hidden()
    await expect(row(page, "Beta")).to_be_visible()
    # a hand-disabled hook is not "failing": the bulk re-enable has nothing to do
    await expect(page.get_by_role("button", name="Re-enable all failing webhooks")).to_be_disabled()


async def test_server_validation_errors_appear_beside_their_fields(
    ui: UiPage, ui_daemon: UiDaemon
) -> None:
    page = await open_empty_form(ui, "Signed")
    await page.get_by_label("URL", exact=True).fill("not a url")
    await page.get_by_role("button", name="Create webhook").click()
    # the browser's own check first: nothing reaches the server
    await expect(page.get_by_text("Please correct the highlighted fields.")).to_be_visible()
    await page.get_by_label("URL", exact=True).fill("https://hooks.example/signed")
    await page.get_by_label("Signing secret").fill("too-short")
    await page.get_by_role("button", name="Create webhook").click()
    error = page.locator("[data-field=secret] .field-error")
    await expect(error).to_have_text("String must be at least 24 characters")
    await expect(page.get_by_label("Signing secret")).to_have_attribute("aria-invalid", "true")
    listing = await ui_daemon.api("GET", f"/accounts/{ui_daemon.account_id}/webhooks")
    assert listing["data"] == []
    # a generated secret is accepted and comes back masked; saving again keeps it
    await page.get_by_role("button", name="Generate").click()
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.get_by_role("status")).to_contain_text("You have successfully added Signed")
    stored = await only_hook(ui_daemon)
    assert "…" in stored["secret"]
    await row(page, "Signed").get_by_role("link", name="Edit Signed").click()
    await expect(page.get_by_label("Signing secret")).to_have_value(stored["secret"])
    await page.get_by_role("button", name="Update webhook").click()
    await expect(page.get_by_role("status")).to_contain_text("You have successfully changed Signed")
    assert (await only_hook(ui_daemon))["secret"] == stored["secret"]
    assert ui.console.errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]  # the refused secret, and nothing else
    ui.console.errors.clear()


async def test_modifiers_are_required_choices_and_saved_in_custom_data(
    ui: UiPage, ui_daemon: UiDaemon
) -> None:
    page = await open_empty_form(ui, "Users edited")
    await page.get_by_label("Event", exact=True).select_option("object")
    await expect(page.get_by_text("Receive notifications when objects")).to_be_visible()
    await page.get_by_label("URL", exact=True).fill("https://hooks.example/objects")
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.get_by_text("Please correct the highlighted fields.")).to_be_visible()
    await page.get_by_label("action (required)").select_option("doc_edited")
    await page.get_by_label("type (required)").select_option("user")
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.get_by_role("status")).to_contain_text("You have successfully added")
    stored = await only_hook(ui_daemon)
    assert stored["custom_data"] == {"action": "doc_edited", "type": "user"}
    # editing shows the choices in their selects, not as custom data rows
    await row(page, "Users edited").get_by_role("link", name="Edit Users edited").click()
    await expect(page.get_by_label("type (required)")).to_have_value("user")
    await expect(page.get_by_label("Key 1", exact=True)).to_have_count(0)


async def test_non_string_custom_data_is_skipped_with_a_notice(
    ui: UiPage, ui_daemon: UiDaemon
) -> None:
    """Stored custom data with non-string values (older clients wrote them): the form shows
    the valid ones, says which it does not show, and keeps them on save."""
    reply = await ui_daemon.api(
        "PUT",
        f"/accounts/{ui_daemon.account_id}/webhooks",
        {
            "name": "Legacy",
            "hook": "channel_create",
            "uri": "https://hooks.example/legacy",
            "custom_data": {"crm": "7"},
        },
    )
    with sqlite3.connect(ui_daemon.db_path) as db:  # the API refuses such values now
        db.execute(
            "UPDATE hooks SET doc = json_set(doc, '$.custom_data.answer', 42, "
            "'$.custom_data.screen_pop', json('true')) WHERE id = ?",
            (reply["data"]["id"],),
        )
    page = ui.page
    await sign_in(page)
    await row(page, "Legacy").get_by_role("link", name="Edit Legacy").click()
    notice = page.get_by_role("note")
    await expect(notice).to_contain_text("answer (a number)")
    await expect(notice).to_contain_text("screen_pop (a boolean)")
    await expect(page.get_by_label("Key 1", exact=True)).to_have_value("crm")
    await expect(page.get_by_label("Key 2", exact=True)).to_have_count(0)
    await page.get_by_role("button", name="Update webhook").click()
    await expect(page.get_by_role("status")).to_contain_text("You have successfully changed Legacy")
    stored = (await only_hook(ui_daemon))["custom_data"]
    assert stored == {"crm": "7", "answer": 42, "screen_pop": True}


async def test_resend_a_failed_attempt_from_the_account_log(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    account = ui_daemon.account_id
    await ui_daemon.api(
        "PUT",
        f"/accounts/{account}/webhooks",
        {"name": "Flaky", "hook": "channel_create", "uri": receiver.url + "/flaky", "retries": 0},
    )
    receiver.status = 503
    page = ui.page
    await sign_in(page)
    await row(page, "Flaky").get_by_role("button", name="Send a test event to Flaky").click()
    # the editor opens on the sample; sent as it is
    await page.get_by_role("button", name="Send this event").click()
    dialog = page.get_by_role("dialog", name="Attempt details")
    await expect(dialog).to_contain_text("Failed")
    await expect(dialog).to_contain_text("503")
    await dialog.get_by_role("button", name="Close", exact=True).click()
    receiver.status = 200
    await page.get_by_role("link", name="Request log", exact=True).click()
    failed = page.locator("table.log tbody tr.failed")
    await expect(failed).to_have_count(1)
    await expect(failed).to_contain_text("Flaky")
    await failed.get_by_role("button", name=re.compile("Resend")).click()
    await expect(dialog).to_contain_text("Delivered")
    await dialog.get_by_role("button", name="Close", exact=True).click()
    await expect(page.locator("table.log tbody tr.ok")).to_have_count(1)
    hits = await receiver.wait_for(2)
    assert [h.path for h in hits] == ["/flaky", "/flaky"]
    await page.get_by_label("Result").select_option("failure")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("table.log tbody tr")).to_have_count(1)
    await expect(page.locator("table.log tbody tr.failed")).to_have_count(1)


async def test_sample_payloads(ui: UiPage) -> None:
    page = ui.page
    await sign_in(page)
    await page.get_by_role("link", name="Sample payloads").click()
    await page.get_by_label("Event").select_option("channel_destroy")
    payload = page.get_by_label("Sample payload")
    await expect(payload).to_contain_text('"hook_event": "channel_destroy"')
    await expect(payload).to_contain_text('"hangup_cause"')
    await ui.screenshot("samples", full_page=False)


async def test_account_picker_switches_to_a_sub_account(ui: UiPage, ui_daemon: UiDaemon) -> None:
    child = await ui_daemon.api("PUT", f"/accounts/{ui_daemon.account_id}", {"name": "Child Co"})
    child_id = child["data"]["id"]
    await ui_daemon.api(
        "PUT",
        f"/accounts/{child_id}/webhooks",
        {"name": "Child hook", "hook": "channel_create", "uri": "https://child.example/x"},
    )
    page = ui.page
    await sign_in(page)
    await expect(page.get_by_role("heading", name="No webhooks yet")).to_be_visible()
    await page.get_by_label("Account").select_option(label="Child Co")
    await expect(row(page, "Child hook")).to_be_visible()
    await create_hook(page, "Second child hook", "https://child.example/y")
    await expect(page.get_by_role("status")).to_contain_text("successfully added")
    listing = await ui_daemon.api("GET", f"/accounts/{child_id}/webhooks")
    assert sorted(h["name"] for h in listing["data"]) == ["Child hook", "Second child hook"]


async def test_keyboard_only_and_phone_width(ui: UiPage, ui_daemon: UiDaemon) -> None:
    await ui_daemon.api(
        "PUT",
        f"/accounts/{ui_daemon.account_id}/webhooks",
        {
            "name": "Pocket",
            "hook": "channel_create",
            "uri": "https://a-rather-long-host-name.example/and/a/long/path",
        },
    )
    page = ui.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.keyboard.type(API_KEY)  # the key field has focus on arrival
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    await expect(page.get_by_label("Search")).to_be_focused()
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"
    await ui.screenshot("phone")
    # reach the row's Edit link with Tab alone and open it with Enter
    for _ in range(40):
        await page.keyboard.press("Tab")
        label = await page.evaluate("document.activeElement.getAttribute('aria-label')")
        if label == "Edit Pocket":
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Edit Pocket")).to_be_visible()
    await expect(page.get_by_label("Name", exact=True)).to_be_focused()


async def test_network_and_api_errors_are_shown(ui: UiPage, ui_daemon: UiDaemon) -> None:
    page = ui.page
    await page.get_by_label("API key").fill("0" * 64)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("That API key was not accepted.")
    await sign_in(page)
    # the network drops under the list: the page says so instead of showing stale data
    await page.route("**/v2/accounts/**", lambda route: route.abort("connectionrefused"))
    await page.get_by_role("link", name="Request log").click()
    await expect(page.locator("#error")).to_contain_text("Cannot reach the server")
    await page.unroute("**/v2/accounts/**")
    # an expired or revoked token returns to the sign-in form with a reason
    await page.evaluate(
        "() => { const k = 'webhooksd.session'; const s = JSON.parse(sessionStorage.getItem(k));"
        " s.token = 'not-a-token'; sessionStorage.setItem(k, JSON.stringify(s)); }"
    )
    await page.reload()
    await expect(page.get_by_text("Your session has ended; sign in again.")).to_be_visible()
    # the browser logged the refused requests: expected here
    ui.console.errors.clear()


async def test_log_pages_and_shows_a_client_error(
    ui: UiPage, ui_daemon: UiDaemon, receiver: Receiver
) -> None:
    """More attempts than a page: "Load more" fetches the next page through start_key; an
    attempt that got no response shows the client error instead of a response."""
    account = ui_daemon.account_id
    hook = await ui_daemon.api(
        "PUT",
        f"/accounts/{account}/webhooks",
        {"name": "Busy", "hook": "channel_create", "uri": receiver.url + "/busy"},
    )
    hook_id = hook["data"]["id"]
    for _ in range(55):
        await ui_daemon.api("POST", f"/accounts/{account}/webhooks/{hook_id}/test")
    closed = free_port()  # nothing listens there
    await ui_daemon.api(
        "POST",
        f"/accounts/{account}/webhooks/{hook_id}",
        {"name": "Busy", "hook": "channel_create", "uri": f"http://127.0.0.1:{closed}/busy"},
    )
    page = ui.page
    await sign_in(page)
    await row(page, "Busy").get_by_role("link", name="Request log of Busy").click()
    rows = page.locator("table.log tbody tr")
    await expect(rows).to_have_count(50)
    await expect(page.get_by_role("status").last).to_contain_text("more are available")
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(55)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()

    await page.get_by_role("button", name="Send test event").click()
    # the editor opens on the sample; sent as it is
    await page.get_by_role("button", name="Send this event").click()
    dialog = page.get_by_role("dialog", name="Attempt details")
    await expect(dialog).to_contain_text(f"Failed: Connection refused by 127.0.0.1:{closed}")
    await expect(dialog).to_contain_text("No response: Connection refused")
    await expect(dialog).to_contain_text("failed_connect: econnrefused")
    await dialog.get_by_role("button", name="Close", exact=True).click()
    await expect(rows).to_have_count(56)
    await expect(rows.first).to_have_class("failed")


async def test_reenable_all_failing_webhooks(ui: UiPage, ui_daemon: UiDaemon) -> None:
    """The bulk button re-enables what the server switched off and leaves hand-disabled
    hooks alone."""
    account = ui_daemon.account_id
    for name in ("Gone one", "Gone two", "Paused"):
        await ui_daemon.api(
            "PUT",
            f"/accounts/{account}/webhooks",
            {"name": name, "hook": "channel_create", "uri": "https://hooks.example/" + name[-3:]},
        )
    listing = await ui_daemon.api("GET", f"/accounts/{account}/webhooks")
    ids = {h["name"]: h["id"] for h in listing["data"]}
    await ui_daemon.api(
        "PATCH", f"/accounts/{account}/webhooks/{ids['Paused']}", {"enabled": False}
    )
    with sqlite3.connect(ui_daemon.db_path) as db:  # what the disabler writes
        for name in ("Gone one", "Gone two"):
            db.execute(
                "UPDATE hooks SET enabled = 0, disabled_reason = 'too many failed attempts', "
                "doc = json_set(doc, '$.enabled', json('false')) WHERE id = ?",
                (ids[name],),
            )
    page = ui.page
    await sign_in(page)
    await expect(page.locator("[data-count=failing] .count")).to_have_text("2")
    await page.get_by_role("button", name="Re-enable all failing webhooks").click()
    await expect(page.get_by_role("status")).to_contain_text("Failing webhooks were re-enabled")
    await expect(page.locator("[data-count=active] .count")).to_have_text("2")
    await expect(page.locator("[data-count=disabled] .count")).to_have_text("1")
    await expect(page.locator("[data-count=failing] .count")).to_have_text("0")
    listing = await ui_daemon.api("GET", f"/accounts/{account}/webhooks")
    assert {h["name"]: h["enabled"] for h in listing["data"]} == {
        "Gone one": True,
        "Gone two": True,
        "Paused": False,
    }
